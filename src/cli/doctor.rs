//! `doctor`: for the suite at hand, where each API's requests go, with which
//! credentials (where they come from, never their values), the regions and model ids
//! called, and the known traps; with `--probe`, one cheap authenticated call per
//! endpoint. Exit 0 when all is well, 1 with findings, 2 when the suite does not load.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::ProvideCredentials;

use crate::execute::estimate;
use crate::execute::{Clients, KeyFrom};
use crate::exit;
use crate::plan::models::region_lint;
use crate::pricing::{self, Tier};
use crate::providers::credentials::{chain, describe, explain};
use crate::providers::{
    Connection, Environment, Limits, bedrock_region, endpoint, is_bedrock_host, masked_url, remember_url_secrets,
    resolve_connection, short_term, uses_aws_sdk,
};
use crate::scenario::Api;
use crate::stdio::{errln, outln};

/// Options of `doctor`.
#[derive(Debug, Clone)]
pub(crate) struct DoctorOptions {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) connection: Connection,
    pub(crate) probe: bool,
}

/// Something that will make calls fail, said in a sentence.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Finding(String);

/// Where a group of requests goes: the SDK's APIs or the OpenAI-compatible ones, to an
/// endpoint, signed for a region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    sdk: bool,
    endpoint: String,
    region: String,
}

/// What goes there.
#[derive(Debug, Default)]
struct Traffic {
    apis: BTreeSet<&'static str>,
    models: BTreeSet<String>,
    cases: usize,
    /// Bedrock's default endpoint (no override), where the region decides.
    default_endpoint: bool,
}

pub(crate) fn doctor(options: DoctorOptions) -> u8 {
    let started = Instant::now();
    let suite = crate::load::load(&options.paths);
    let plan = crate::plan::plan(&suite.scenarios);
    let problems: Vec<_> = suite.diagnostics.iter().chain(&plan.diagnostics).collect();
    if !problems.is_empty() {
        for d in &problems {
            errln!("{d}");
        }
        errln!("error: the suite does not load; `gpt-oss-scenarios validate` says the same");
        return exit::INVALID;
    }
    if let Err(e) = super::run::load_dotenv() {
        errln!("error: {e}");
        return exit::INVALID;
    }
    crate::secrets::init_from_env();
    let env = Environment::from_process();
    // Warnings (a model id this tool does not know) are said, as `validate` says them:
    // they do not fail the check, as they do not fail a run.
    let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    let mut findings: Vec<String> = Vec::new();
    let targets = targets(&plan, &options.connection, &env);
    findings.extend(stale_keys(&env, SystemTime::now()));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let clients = Clients::new(env.clone(), options.connection.clone(), Limits::default());
    outln!(
        "{} cases in {}",
        plan.len(),
        options.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
    );
    targets.keys().for_each(|t| remember_url_secrets(&t.endpoint));
    for (target, traffic) in &targets {
        let shown = masked_url(&target.endpoint);
        outln!("\n{} -> {shown}", traffic.apis.iter().copied().collect::<Vec<_>>().join(", "));
        outln!("  region:      {}", target.region);
        outln!(
            "  models:      {} ({} cases)",
            traffic.models.iter().cloned().collect::<Vec<_>>().join(", "),
            traffic.cases
        );
        let said = runtime.block_on(credentials(&clients, &env, target));
        match said {
            Ok(source) => outln!("  credentials: {source}"),
            Err(finding) => {
                outln!("  credentials: none ({finding})");
                findings.push(format!("{shown}: {finding}"));
            }
        }
        findings.extend(traps(target, traffic, &env));
        if options.probe {
            let (answer, problem) = runtime.block_on(probe(&clients, target, traffic));
            outln!("  probe:       {answer}");
            findings.extend(problem.map(|p| format!("{shown}: {p}")));
        }
    }
    outln!(
        "\nprices: the table of {} ({}), under any pricing: of defaults.yaml",
        pricing::TABLE_DATE,
        pricing::TABLE_SOURCE
    );
    let models: BTreeSet<&String> = targets.values().flat_map(|t| &t.models).collect();
    for model in models {
        let tiers: Vec<String> = [Tier::Default, Tier::Flex, Tier::Priority, Tier::Batch]
            .iter()
            .filter_map(|t| {
                pricing::price(None, model, *t)
                    .map(|p| format!("{} ${}/${}", t.as_str(), dollars(p.input), dollars(p.output)))
            })
            .collect();
        if !tiers.is_empty() {
            outln!("  {model}: {} per million tokens in/out", tiers.join(", "));
        }
    }
    outln!("");
    for warning in &warnings {
        outln!("warning: {warning}");
    }
    for finding in &findings {
        outln!("finding: {finding}");
    }
    let took = started.elapsed().as_secs_f64();
    if findings.is_empty() {
        outln!("all well ({took:.2} s)");
        exit::SUCCESS
    } else {
        outln!("{} finding{} ({took:.2} s)", findings.len(), if findings.len() == 1 { "" } else { "s" });
        exit::FAILURES
    }
}

/// A price per million tokens as a price list writes it: `0.15`, `0.2625`.
fn dollars(price: f64) -> String {
    let text = format!("{price:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Every endpoint the suite's cases and their graders reach, with what goes there. A
/// dataset's rows share their scenario's endpoints: its graders are resolved once.
fn targets(plan: &crate::plan::Plan, flags: &Connection, env: &Environment) -> BTreeMap<Target, Traffic> {
    let mut targets: BTreeMap<Target, Traffic> = BTreeMap::new();
    let mut graded: BTreeSet<String> = BTreeSet::new();
    for case in plan.cases() {
        let mut add = |case: &crate::plan::Case| {
            let api = case.wire_api();
            let connection = resolve_connection(flags, case.spec.endpoints.as_ref(), env);
            let url = endpoint(api, &connection, &case.region);
            let default_endpoint = match api {
                Api::Responses | Api::ResponsesStream => connection.responses_base_url.is_none(),
                Api::Chat | Api::ChatStream | Api::Agent => connection.openai_base_url.is_none(),
                _ => connection.bedrock_endpoint.is_none(),
            };
            let target = Target { sdk: uses_aws_sdk(api), endpoint: url, region: case.region.clone() };
            let traffic = targets.entry(target).or_default();
            traffic.apis.insert(api.as_str());
            traffic.models.insert(case.model.clone());
            traffic.cases += 1;
            traffic.default_endpoint |= default_endpoint;
        };
        add(&case);
        if graded.insert(case.group_id().to_owned()) {
            for question in estimate::graders(&case) {
                add(&question.case);
            }
        }
    }
    targets
}

/// Where `target`'s credentials come from, in words; the finding when there are none.
async fn credentials(clients: &Clients, env: &Environment, target: &Target) -> Result<String, Finding> {
    if !target.sdk {
        return match clients.openai_key(&target.endpoint, &target.region).await {
            Ok(Some((KeyFrom::Variable(name), key))) => Ok(format!("Bearer key: {name}{}", key_facts(&key))),
            Ok(Some((KeyFrom::Derived { region, source, valid_until }, _))) => {
                let until = humantime::format_rfc3339_seconds(valid_until);
                Ok(format!(
                    "Bearer key: a short-term Bedrock API key for {region}, derived from {source}, valid until {until}"
                ))
            }
            Ok(Some((KeyFrom::Placeholder, _))) => Ok("Bearer key: a placeholder (replay)".to_owned()),
            Ok(None) => Ok("none sent (a server that needs no key)".to_owned()),
            Err(e) => Err(Finding(e.message)),
        };
    }
    let key_goes = env.takes_bedrock_key(&target.endpoint);
    if let Some(key) = env.bedrock_bearer_token.as_deref().filter(|_| key_goes) {
        return Ok(format!("Bearer key: AWS_BEARER_TOKEN_BEDROCK{}", key_facts(key)));
    }
    let provider = crate::providers::credentials::Remembered(chain(&target.region).await);
    match provider.provide_credentials().await {
        Ok(credentials) => {
            let until = credentials
                .expiry()
                .map(|e| format!(", valid until {}", humantime::format_rfc3339_seconds(e)))
                .unwrap_or_default();
            Ok(format!("SigV4: {}{until}", describe(&credentials)))
        }
        Err(e) => Err(Finding(format!("no AWS credentials: {}", explain(&e).await))),
    }
}

/// What a key says of itself, when it is a short-term one.
fn key_facts(key: &str) -> String {
    match short_term::read(key) {
        Some(info) => format!(
            " (short-term, for {}, signed {} for {}, expires {})",
            info.region,
            humantime::format_rfc3339_seconds(info.signed_at),
            humantime::format_duration(info.lifetime),
            humantime::format_rfc3339_seconds(info.expires_at())
        ),
        None => String::new(),
    }
}

/// A short-term key in a variable that has expired, or ends within half an hour: runs
/// fail with 403s that do not say why.
fn stale_keys(env: &Environment, now: SystemTime) -> Vec<String> {
    let mut out = Vec::new();
    for (name, key) in
        [("AWS_BEARER_TOKEN_BEDROCK", &env.bedrock_bearer_token), ("OPENAI_API_KEY", &env.openai_api_key)]
    {
        let Some(info) = key.as_deref().and_then(short_term::read) else { continue };
        let at = humantime::format_rfc3339_seconds(info.expires_at());
        let signed = humantime::format_rfc3339_seconds(info.signed_at);
        let life = humantime::format_duration(info.lifetime);
        let fix = "unset it to have keys derived from your AWS credentials as needed, or make a new one";
        if info.expires_at() <= now {
            out.push(format!(
                "{name} is a short-term Bedrock API key signed {signed} for {life}: it expired at {at}; {fix}"
            ));
        } else if info.expires_at() <= now + Duration::from_secs(30 * 60) {
            out.push(format!("{name} is a short-term Bedrock API key that expires at {at}, within half an hour: a longer run fails midway; {fix}"));
        }
    }
    out
}

/// The traps of one endpoint: a base URL that misses its API's path, a Bedrock key bound
/// for a host that is not Bedrock's or kept from one, a region without the model.
fn traps(target: &Target, traffic: &Traffic, env: &Environment) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(url) = url::Url::parse(&target.endpoint) else {
        return vec![format!("{} is not a URL", masked_url(&target.endpoint))];
    };
    // Never a password a URL carries: findings go to CI logs.
    let shown = masked_url(&target.endpoint);
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let path = url.path().trim_end_matches('/');
    let chat = traffic.apis.iter().any(|a| a.starts_with("chat") || *a == "agent");
    let responses = traffic.apis.iter().any(|a| a.starts_with("responses"));
    if chat && host.starts_with("bedrock-mantle.") && !path.ends_with("/v1") {
        out.push(format!("{}: chat completions on Bedrock Mantle are under /v1 (https://{host}/v1): requests to this base URL get 404s", shown));
    }
    if responses && host.starts_with("bedrock-runtime") {
        out.push(format!("{shown}: the Responses API is not served on Bedrock Runtime's /openai/v1 for gpt-oss: use Bedrock Mantle, https://bedrock-mantle.{}.api.aws/v1", target.region));
    }
    let bedrock = is_bedrock_host(&host);
    if !bedrock {
        if env.bedrock_bearer_token.is_some() && !env.takes_bedrock_key(&target.endpoint) {
            let instead = if target.sdk {
                "requests are signed with the AWS credential chain instead"
            } else {
                "OPENAI_API_KEY or nothing is sent instead"
            };
            out.push(format!("{}: AWS_BEARER_TOKEN_BEDROCK is set, and this host is not Bedrock's, so the key is not sent there ({instead}); list the host in GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS if it is a proxy in front of Bedrock", shown));
        }
        let openai_holds_bedrock_key =
            env.openai_api_key.as_deref().is_some_and(|k| k.starts_with(short_term::PREFIX) || k.starts_with("ABSK"));
        if !target.sdk
            && openai_holds_bedrock_key
            && env.chat_key(&target.endpoint).is_some_and(|(name, _)| name == "OPENAI_API_KEY")
        {
            out.push(format!("{}: OPENAI_API_KEY holds a Bedrock API key, and this host is not Bedrock's: the key would be sent to it; put the key in AWS_BEARER_TOKEN_BEDROCK, which goes to Bedrock's hosts only", shown));
        }
    }
    // A short-term key is signed for one region: elsewhere it is refused.
    let sent = if target.sdk {
        env.bedrock_bearer_token.as_deref().filter(|_| env.takes_bedrock_key(&target.endpoint))
    } else {
        env.chat_key(&target.endpoint).map(|(_, key)| key)
    };
    let region = bedrock_region(&target.endpoint).unwrap_or_else(|| target.region.clone());
    if let Some(info) = sent.and_then(short_term::read).filter(|i| bedrock && i.region != region) {
        out.push(format!("{shown}: the short-term key sent there was signed for {}, not {region}: Bedrock refuses it; unset it to have a key derived for each region", info.region));
    }
    if bedrock || traffic.default_endpoint {
        out.extend(traffic.models.iter().filter_map(|m| region_lint(m, &region)));
    }
    out
}

/// One cheap authenticated call: ListAsyncInvokes on Bedrock Runtime (free); on its
/// OpenAI-compatible `/openai/v1`, which lists no models, a chat completion of one output
/// token of the first model (about 70 input tokens: a hundred-thousandth of a dollar);
/// elsewhere `GET /models`. What answered, and the finding when it refused.
async fn probe(clients: &Arc<Clients>, target: &Target, traffic: &Traffic) -> (String, Option<String>) {
    let started = Instant::now();
    let ms = || started.elapsed().as_millis();
    if target.sdk {
        let endpoint = (!target.endpoint.starts_with(&format!("https://bedrock-runtime.{}.", target.region)))
            .then(|| target.endpoint.clone());
        let client = clients.bedrock(&target.region, endpoint).await;
        return match client.probe().await {
            Ok(()) => (format!("ListAsyncInvokes answered in {} ms", ms()), None),
            // Refused for want of that one (optional) permission, by name: the
            // credentials were accepted, which is what the probe asks. Any other
            // refusal (a bearer key not allowed, bad credentials) is a finding.
            Err(e) if e.message.contains("bedrock:ListAsyncInvokes") => {
                (format!("ListAsyncInvokes: credentials accepted, the call itself not allowed ({} ms)", ms()), None)
            }
            Err(e) => (
                format!("ListAsyncInvokes: {} ({} ms)", e.message, ms()),
                Some(format!("the probe was refused: {}", e.message)),
            ),
        };
    }
    let key = match clients.openai_key(&target.endpoint, &target.region).await {
        Ok(key) => key.map(|(_, key)| key),
        Err(e) => return ("not sent: no credentials".to_owned(), Some(e.message)),
    };
    let http = match crate::providers::openai_chat::http_client(Limits::default()) {
        Ok(http) => http,
        Err(e) => return (e.message.clone(), Some(e.message)),
    };
    let base = target.endpoint.trim_end_matches('/');
    let runtime =
        url::Url::parse(base).ok().and_then(|u| u.host_str().map(|h| h.starts_with("bedrock-runtime"))) == Some(true);
    let (what, mut request) = match traffic.models.iter().next().filter(|_| runtime) {
        Some(model) => {
            let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_completion_tokens": 1});
            ("POST /chat/completions (1 token)", http.post(format!("{base}/chat/completions")).json(&body))
        }
        None => ("GET /models", http.get(format!("{base}/models"))),
    };
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            (format!("{what} answered HTTP {} in {} ms", response.status().as_u16(), ms()), None)
        }
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            let said = crate::secrets::redact(&crate::response::preview(&body)).into_owned();
            (
                format!("{what} answered HTTP {status} in {} ms: {said}", ms()),
                Some(format!("the probe was refused with HTTP {status}: {said}")),
            )
        }
        Err(e) => {
            let said = crate::providers::credentials::one_line(&e);
            (format!("{what} failed: {said}"), Some(format!("the probe failed: {said}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(sdk: bool, endpoint: &str) -> Target {
        Target { sdk, endpoint: endpoint.to_owned(), region: "us-west-2".to_owned() }
    }

    fn traffic(api: &'static str, model: &str) -> Traffic {
        Traffic { apis: [api].into(), models: [model.to_owned()].into(), cases: 1, default_endpoint: false }
    }

    #[test]
    fn a_base_url_that_misses_its_apis_path_is_a_trap() {
        let env = Environment::default();
        let mantle = traps(
            &target(false, "https://bedrock-mantle.us-west-2.api.aws"),
            &traffic("chat", "openai.gpt-oss-20b"),
            &env,
        );
        assert!(mantle[0].contains("chat completions on Bedrock Mantle are under /v1"), "{mantle:?}");
        assert!(
            traps(&target(false, "https://bedrock-mantle.us-west-2.api.aws/v1/"), &traffic("chat", "m"), &env)
                .is_empty()
        );
        let runtime = traps(
            &target(false, "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1"),
            &traffic("responses", "m"),
            &env,
        );
        assert!(runtime[0].contains("the Responses API is not served on Bedrock Runtime"), "{runtime:?}");
    }

    #[test]
    fn a_bedrock_key_bound_for_or_kept_from_another_host_is_a_trap() {
        let env =
            Environment { openai_api_key: Some("ABSKQmVkcm9ja0FQSUtleS1example".into()), ..Environment::default() };
        let found = traps(&target(false, "https://llm.example.com/v1"), &traffic("chat", "m"), &env);
        assert!(found[0].contains("OPENAI_API_KEY holds a Bedrock API key"), "{found:?}");
        let env = Environment { bedrock_bearer_token: Some("ABSKexample-key".into()), ..Environment::default() };
        let found = traps(&target(true, "https://proxy.example.com"), &traffic("converse", "m"), &env);
        assert!(found[0].contains("the key is not sent there (requests are signed"), "{found:?}");
        assert!(
            traps(&target(true, "https://bedrock-runtime.us-west-2.amazonaws.com"), &traffic("converse", "m"), &env)
                .is_empty()
        );
    }

    #[test]
    fn a_region_without_the_model_is_a_trap() {
        let env = Environment::default();
        let mut t = target(true, "https://bedrock-runtime.ca-central-1.amazonaws.com");
        t.region = "ca-central-1".into();
        let found = traps(&t, &traffic("converse", "openai.gpt-oss-120b-1:0"), &env);
        assert!(found[0].contains("is not offered in ca-central-1"), "{found:?}");
    }

    #[test]
    fn an_expired_or_expiring_short_term_key_is_named_with_its_dates() {
        let credentials = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret-key-value", None, None, "t");
        let signed = humantime::parse_rfc3339("2026-12-03T00:00:00Z").unwrap();
        let key = short_term::derive(&credentials, "us-west-2", signed, short_term::LIFETIME).unwrap();
        let env = Environment { bedrock_bearer_token: Some(key), ..Environment::default() };
        let later = signed + Duration::from_secs(13 * 3600);
        let found = stale_keys(&env, later);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("AWS_BEARER_TOKEN_BEDROCK is a short-term Bedrock API key signed 2026-12-03T00:00:00Z for 12h: it expired at 2026-12-03T12:00:00Z"), "{found:?}");
        let elsewhere =
            Target { region: "us-east-1".into(), ..target(true, "https://bedrock-runtime.us-east-1.amazonaws.com") };
        let found = traps(&elsewhere, &traffic("converse", "m"), &env);
        assert!(found[0].contains("was signed for us-west-2, not us-east-1"), "{found:?}");
        let soon = signed + Duration::from_secs(11 * 3600 + 45 * 60);
        assert!(stale_keys(&env, soon)[0].contains("within half an hour"));
        assert!(stale_keys(&env, signed + Duration::from_secs(3600)).is_empty());
    }
}
