//! Credentials as the transports resolve them. [`Remembered`] wraps the AWS credential
//! chain so that every value it resolves (a profile's keys, an SSO or web-identity
//! session, a container role's) is handed to [`crate::secrets`] the moment it exists:
//! a 401 that echoes a session token from a credentials file is redacted like one from
//! the environment.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

/// The chain, remembering what it hands out.
#[derive(Debug)]
pub(crate) struct Remembered(pub(crate) SharedCredentialsProvider);

impl ProvideCredentials for Remembered {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let credentials = self.0.provide_credentials().await?;
            crate::secrets::add("AWS_ACCESS_KEY_ID", credentials.access_key_id());
            crate::secrets::add("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key());
            if let Some(token) = credentials.session_token() {
                crate::secrets::add("AWS_SESSION_TOKEN", token);
            }
            Ok(credentials)
        })
    }
}

/// Short-term Bedrock API keys derived from the AWS credential chain, one per region,
/// each replaced before it expires: what chat and the Responses API send to Bedrock when
/// no API key is set, so an IAM role alone reaches every API.
pub(crate) struct DerivedKeys {
    source: Source,
    /// Each region's key behind a lock of its own, held while it is derived: a region's
    /// cases wait for one derivation (which may ask STS or SSO), other regions not at all.
    regions: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<Slot>>>>,
}

/// A region's key, or why there is none.
#[derive(Default)]
struct Slot {
    key: Option<Derived>,
    /// The last failure and when: told again for a minute rather than asked of the chain
    /// by every case (a chain that finds nothing may wait on instance metadata).
    failed: Option<(SystemTime, DeriveError)>,
}

enum Source {
    /// The standard chain (environment, profile, SSO, web identity, container,
    /// instance), loaded on first use for each region: a role assumed with web identity
    /// asks STS in that region.
    Chain(tokio::sync::Mutex<std::collections::HashMap<String, SharedCredentialsProvider>>),
    #[cfg(test)]
    Given(SharedCredentialsProvider),
}

/// A derived key and what stands behind it.
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    pub(crate) key: String,
    /// The key's own expiry, or the credentials' if they end sooner.
    pub(crate) valid_until: SystemTime,
    pub(crate) derived_at: SystemTime,
    /// Where the credentials came from (`describe`).
    pub(crate) source: String,
}

/// A key is replaced this long before it expires: it must still be valid when a request
/// signed now reaches the server, and a slow stream holds its request open.
const REFRESH_MARGIN: Duration = Duration::from_secs(10 * 60);

/// Credentials that themselves end within the margin (an SSO session near its end)
/// make a key that is never fresh: it is derived again at most this often.
const REDERIVE_AFTER: Duration = Duration::from_secs(60);

/// A failure is told again for this long before the chain is asked again.
const FAILURE_KEPT: Duration = Duration::from_secs(60);

/// The chain gave no credentials to derive a key from.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum DeriveError {
    #[error("no AWS credentials to derive a short-term Bedrock API key from: {0}")]
    Credentials(String),
    #[error(transparent)]
    Sign(#[from] std::sync::Arc<super::short_term::SignError>),
}

impl DerivedKeys {
    /// Keys from the standard credential chain.
    pub(crate) fn from_chain() -> DerivedKeys {
        DerivedKeys { source: Source::Chain(Default::default()), regions: Default::default() }
    }

    #[cfg(test)]
    pub(crate) fn from_provider(provider: SharedCredentialsProvider) -> DerivedKeys {
        DerivedKeys { source: Source::Given(provider), regions: Default::default() }
    }

    /// The key for `region`, derived now if there is none or the one there is ends
    /// within the refresh margin.
    pub(crate) async fn key(&self, region: &str) -> Result<Derived, DeriveError> {
        self.key_at(region, SystemTime::now()).await
    }

    pub(crate) async fn key_at(&self, region: &str, now: SystemTime) -> Result<Derived, DeriveError> {
        let slot = {
            let mut regions = self.regions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            regions.entry(region.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(derived) = &slot.key {
            let fresh = derived.valid_until > now + REFRESH_MARGIN;
            let recent = now < derived.derived_at + REDERIVE_AFTER && now < derived.valid_until;
            if fresh || recent {
                return Ok(derived.clone());
            }
        }
        // A key that is due for refresh but still valid is better than an error: one
        // STS or SSO hiccup must not fail every request until the next try.
        let still_valid = slot.key.clone().filter(|d| now < d.valid_until);
        if let Some((at, error)) = &slot.failed
            && now < *at + FAILURE_KEPT
        {
            return still_valid.ok_or_else(|| error.clone());
        }
        match self.derive(region, now).await {
            Ok(derived) => {
                slot.failed = None;
                slot.key = Some(derived.clone());
                Ok(derived)
            }
            Err(error) => {
                slot.failed = Some((now, error.clone()));
                still_valid.ok_or(error)
            }
        }
    }

    async fn derive(&self, region: &str, now: SystemTime) -> Result<Derived, DeriveError> {
        let provider = self.provider(region).await;
        let credentials = match Remembered(provider).provide_credentials().await {
            Ok(credentials) => credentials,
            Err(e) => return Err(DeriveError::Credentials(explain(&e).await)),
        };
        let key = super::short_term::derive(&credentials, region, now, super::short_term::LIFETIME)
            .map_err(|e| DeriveError::Sign(std::sync::Arc::new(e)))?;
        crate::secrets::add("a short-term Bedrock API key", &key);
        let own = now + super::short_term::LIFETIME;
        let valid_until = credentials.expiry().map_or(own, |e| e.min(own));
        Ok(Derived { key, valid_until, derived_at: now, source: describe(&credentials) })
    }

    async fn provider(&self, region: &str) -> SharedCredentialsProvider {
        match &self.source {
            #[cfg(test)]
            Source::Given(provider) => provider.clone(),
            Source::Chain(loaded) => {
                let mut loaded = loaded.lock().await;
                if let Some(provider) = loaded.get(region) {
                    return provider.clone();
                }
                let provider = chain(region).await;
                loaded.insert(region.to_owned(), provider.clone());
                provider
            }
        }
    }
}

/// The standard credential chain for `region`, as the AWS SDK clients load it.
pub(crate) async fn chain(region: &str) -> SharedCredentialsProvider {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await;
    config.credentials_provider().unwrap_or_else(|| SharedCredentialsProvider::new(NoChain))
}

/// Stands for a chain the SDK did not build (never the case with the defaults).
#[derive(Debug)]
struct NoChain;

impl ProvideCredentials for NoChain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(aws_credential_types::provider::error::CredentialsError::not_loaded(
            "no credential provider is configured",
        )))
    }
}

/// Why the chain gave no credentials, in one sentence: the profile `AWS_PROFILE` names
/// when no file has it, a file that cannot be read, the sources tried when none had
/// any, else the provider's own error and its causes.
pub(crate) async fn explain(error: &aws_credential_types::provider::error::CredentialsError) -> String {
    use aws_credential_types::provider::error::CredentialsError;
    if let Some(profile) = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()) {
        let files = aws_runtime::env_config::file::EnvConfigFiles::default();
        let (fs, env) = (aws_types::os_shim_internal::Fs::real(), aws_types::os_shim_internal::Env::real());
        match aws_config::profile::parser::load(&fs, &env, &files, None).await {
            Ok(set) if set.get_profile(&profile).is_none() => {
                return format!(
                    "AWS_PROFILE names profile `{profile}`, which is in neither the AWS config file nor the credentials file"
                );
            }
            Err(e) => return format!("the AWS config files cannot be read: {}", one_line(&e)),
            Ok(_) => {}
        }
    }
    match error {
        CredentialsError::CredentialsNotLoaded(_) => "none of the chain's sources has any: the environment (AWS_ACCESS_KEY_ID), a profile (AWS_PROFILE), web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE), a container or an instance role".to_owned(),
        other => one_line(other),
    }
}

/// An error and its causes on one line, redacted.
pub(crate) fn one_line(error: &dyn std::error::Error) -> String {
    crate::secrets::redact(&super::one_line(error)).into_owned()
}

/// Where `credentials` came from, in words, from what the SDK's providers mark on them
/// (never a secret: at most the access key id's last four characters).
pub(crate) fn describe(credentials: &aws_credential_types::Credentials) -> String {
    use aws_credential_types::credential_feature::AwsCredentialFeature as F;
    let features = credentials.get_property::<Vec<F>>().cloned().unwrap_or_default();
    let profile = || std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into());
    let role = || std::env::var("AWS_ROLE_ARN").ok().filter(|r| !r.is_empty());
    let has = |f: F| features.contains(&f);
    let what = if has(F::CredentialsEnvVarsStsWebIdToken) || has(F::CredentialsStsAssumeRoleWebId) {
        match role() {
            Some(role) => format!("web identity: role {role} (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)"),
            None => "web identity (a role assumed with an OIDC token)".to_owned(),
        }
    } else if has(F::CredentialsProfileSso) || has(F::CredentialsSso) {
        format!("SSO session of profile `{}`", profile())
    } else if has(F::CredentialsProfileProcess) || has(F::CredentialsProcess) {
        format!("credential_process of profile `{}`", profile())
    } else if has(F::CredentialsStsAssumeRole) {
        format!("role assumed by profile `{}`", profile())
    } else if has(F::CredentialsProfile) || has(F::CredentialsProfileSourceProfile) {
        format!("profile `{}` (the AWS credentials and config files)", profile())
    } else if has(F::CredentialsEnvVars) {
        "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned()
            + if credentials.session_token().is_some() { " with AWS_SESSION_TOKEN" } else { "" }
    } else if has(F::CredentialsHttp) {
        "container role (AWS_CONTAINER_CREDENTIALS_*)".to_owned()
    } else if has(F::CredentialsImds) {
        "instance role (EC2 instance metadata)".to_owned()
    } else {
        "the AWS credential chain".to_owned()
    };
    let id = credentials.access_key_id();
    let tail = id.get(id.len().saturating_sub(4)..).unwrap_or_default();
    format!("{what}, access key ...{tail}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_credential_types::Credentials;

    use super::*;

    /// Credentials that end at `expiry` (or fail, with `fail`), counting how often they
    /// are asked for.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicU32>,
        expiry: Option<SystemTime>,
        fail: bool,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return future::ProvideCredentials::ready(Err(
                    aws_credential_types::provider::error::CredentialsError::not_loaded("none in this test"),
                ));
            }
            let id = format!("AKIDTEST{n:08}");
            future::ProvideCredentials::ready(Ok(Credentials::new(id, "secret-for-tests", None, self.expiry, "test")))
        }
    }

    fn keys(expiry: Option<SystemTime>) -> (DerivedKeys, Arc<AtomicU32>) {
        counting(expiry, false)
    }

    fn counting(expiry: Option<SystemTime>, fail: bool) -> (DerivedKeys, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let provider = SharedCredentialsProvider::new(Counting { calls: calls.clone(), expiry, fail });
        (DerivedKeys::from_provider(provider), calls)
    }

    fn t0() -> SystemTime {
        humantime::parse_rfc3339("2026-12-03T09:00:00Z").unwrap()
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_key_is_reused_until_near_its_end_then_derived_again() {
        let (keys, calls) = keys(None);
        let first = keys.key_at("us-west-2", t0()).await.unwrap();
        assert_eq!(first.valid_until, t0() + 12 * HOUR);
        assert_eq!(keys.key_at("us-west-2", t0() + 11 * HOUR).await.unwrap().key, first.key);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one derivation for eleven hours");
        // Within the margin of its twelve hours: a new one, signed now.
        let later = keys.key_at("us-west-2", t0() + 12 * HOUR - Duration::from_secs(300)).await.unwrap();
        assert_ne!(later.key, first.key);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Each region its own key.
        let east = keys.key_at("us-east-1", t0()).await.unwrap();
        assert_eq!(crate::providers::short_term::read(&east.key).unwrap().region, "us-east-1");
        assert!(!crate::secrets::redact(&first.key).contains(&first.key), "a derived key is a secret");
    }

    #[tokio::test]
    async fn credentials_that_end_sooner_end_the_key_sooner() {
        let (keys, calls) = keys(Some(t0() + HOUR));
        let first = keys.key_at("us-west-2", t0()).await.unwrap();
        assert_eq!(first.valid_until, t0() + HOUR, "a key is no better than the session that signed it");
        keys.key_at("us-west-2", t0() + HOUR / 2).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        keys.key_at("us-west-2", t0() + HOUR - Duration::from_secs(300)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // These credentials end within the margin whenever they are asked for: the key
        // is not derived again for every request, only once a minute.
        keys.key_at("us-west-2", t0() + HOUR - Duration::from_secs(280)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        keys.key_at("us-west-2", t0() + HOUR - Duration::from_secs(200)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refresh_that_fails_keeps_the_key_that_is_still_valid() {
        let calls = Arc::new(AtomicU32::new(0));
        let provider = Counting { calls: calls.clone(), expiry: None, fail: false };
        let keys = DerivedKeys::from_provider(SharedCredentialsProvider::new(provider));
        let first = keys.key_at("us-west-2", t0()).await.unwrap();
        // The chain starts failing (an STS outage) while the key is due for refresh.
        let failing = Counting { calls: calls.clone(), expiry: None, fail: true };
        let keys = DerivedKeys { source: Source::Given(SharedCredentialsProvider::new(failing)), ..keys };
        let due = t0() + 12 * HOUR - Duration::from_secs(120);
        assert_eq!(keys.key_at("us-west-2", due).await.unwrap().key, first.key);
        assert_eq!(keys.key_at("us-west-2", due + Duration::from_secs(30)).await.unwrap().key, first.key);
        assert!(keys.key_at("us-west-2", t0() + 12 * HOUR).await.is_err(), "not once it has expired");
    }

    #[tokio::test]
    async fn a_failure_is_told_again_for_a_minute_before_the_chain_is_asked_again() {
        let (keys, calls) = counting(None, true);
        for after in [0, 30, 59] {
            assert!(keys.key_at("us-west-2", t0() + Duration::from_secs(after)).await.is_err());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(keys.key_at("us-west-2", t0() + Duration::from_secs(61)).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_credentials_is_a_sentence() {
        let keys = DerivedKeys::from_provider(SharedCredentialsProvider::new(NoChain));
        let error = keys.key_at("us-west-2", t0()).await.unwrap_err().to_string();
        assert!(error.starts_with("no AWS credentials to derive a short-term Bedrock API key from"), "{error}");
    }
}
