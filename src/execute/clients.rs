//! [`Clients`]: the transports' clients, built once and shared by every case of a run,
//! and the run's one loopback replay server.
//!
//! What is costly to build is built once: the AWS SDK client per region and endpoint
//! (its HTTPS stack and TLS roots), and one reqwest client under every chat client.
//! Replay reuses them too: every case's cassette is routed on one server under its own
//! path prefix, and the case's clients are a cheap view with that prefix
//! ([`Clients::routed`]), not new clients.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use tokio::sync::{Mutex, OnceCell};

use crate::plan::Case;
use crate::providers::bedrock::BedrockClient;
use crate::providers::credentials::DerivedKeys;
use crate::providers::openai_chat::{OpenAiClient, http_client};
use crate::providers::{Connection, Environment, Limits, bedrock_region, remember_url_secrets, resolve_connection};
use crate::response::{CallError, ErrorKind};
use crate::wire::server::{Responder, Route, Router, WireServer};

/// Clients by endpoint, built on first use and shared by all cases.
pub struct Clients {
    shared: Arc<Shared>,
    /// Replay: this case's route on the run's loopback server (`/replay/<id>`),
    /// appended to every endpoint.
    route: Option<String>,
}

struct Shared {
    env: Environment,
    flags: Connection,
    /// Replay and loopback tests: every client gets this key and no credential chain.
    placeholder_key: Option<&'static str>,
    limits: Limits,
    bedrock: Mutex<HashMap<(String, Option<String>), BedrockClient>>,
    /// By base URL: the client, and the key it was built with (a derived key is
    /// replaced before it expires, and its client with it).
    openai: Mutex<HashMap<String, (Option<String>, OpenAiClient)>>,
    /// Short-term Bedrock API keys derived from the AWS credentials, where no API key
    /// is set.
    derived: DerivedKeys,
    /// Under every chat client: one connection pool, TLS roots loaded once.
    http: OnceLock<Result<reqwest::Client, CallError>>,
    /// The run's replay server, started by the first case that replays.
    replay: OnceCell<Result<Replay, ReplayError>>,
}

/// The placeholder key of loopback clients.
const LOOPBACK_KEY: Option<&str> = Some("loopback");

/// The run's replay server could not start (kept: every case that replays reports the
/// same first failure).
#[derive(Debug, Clone, thiserror::Error)]
#[error("failed to start the replay server: {0}")]
pub(crate) struct ReplayError(Arc<std::io::Error>);

/// One loopback server for a whole run's replay, and the clients pointed at it.
struct Replay {
    router: Arc<Router>,
    clients: Clients,
    /// Kept for as long as the run: dropping it stops the server.
    _server: WireServer,
}

impl Clients {
    fn with(env: Environment, flags: Connection, placeholder_key: Option<&'static str>, limits: Limits) -> Clients {
        let shared = Shared {
            env,
            flags,
            placeholder_key,
            limits,
            bedrock: Mutex::default(),
            openai: Mutex::default(),
            derived: DerivedKeys::from_chain(),
            http: OnceLock::new(),
            replay: OnceCell::new(),
        };
        Clients { shared: Arc::new(shared), route: None }
    }

    /// `flags` are endpoint overrides from the command line; they win over scenario
    /// fields, which win over the environment.
    pub(crate) fn new(env: Environment, flags: Connection, limits: Limits) -> Arc<Clients> {
        Arc::new(Clients::with(env, flags, None, limits))
    }

    /// Clients for a loopback server (replay, tests): every endpoint is `flags`', and a
    /// placeholder key stands in for credentials, which the server ignores. With none,
    /// the AWS SDK would walk its credential chain, which can reach the network.
    pub fn loopback(flags: Connection) -> Arc<Clients> {
        Arc::new(Clients::with(Environment::default(), flags, LOOPBACK_KEY, Limits::default()))
    }

    /// Where `case`'s requests go: flags, then scenario fields, then the environment.
    pub(crate) fn connection(&self, case: &Case) -> Connection {
        resolve_connection(&self.shared.flags, case.spec.endpoints.as_ref(), &self.shared.env)
    }

    /// Serves `responder` under a new route of the run's replay server (started on
    /// first use) and returns the route, which lives until dropped, with the clients
    /// that reach it.
    pub(crate) async fn replay(&self, responder: Arc<dyn Responder>) -> Result<(Route, Clients), ReplayError> {
        let replay = self
            .shared
            .replay
            .get_or_init(|| async {
                let router = Arc::new(Router::default());
                let server =
                    WireServer::start_on(0, router.clone(), false).await.map_err(|e| ReplayError(Arc::new(e)))?;
                let url = server.url();
                let flags = Connection {
                    bedrock_endpoint: Some(url.clone()),
                    openai_base_url: Some(url.clone()),
                    responses_base_url: Some(url),
                };
                // The run's limits hold in replay too (`--max-response-mib`).
                let clients = Clients::with(Environment::default(), flags, LOOPBACK_KEY, self.shared.limits);
                Ok(Replay { router, clients, _server: server })
            })
            .await
            .as_ref()
            .map_err(Clone::clone)?;
        let route = replay.router.add(responder);
        let clients = Clients { shared: replay.clients.shared.clone(), route: Some(route.prefix()) };
        Ok((route, clients))
    }

    /// `endpoint` with this view's route, if it has one.
    fn routed(&self, endpoint: &str) -> String {
        match &self.route {
            Some(route) => format!("{}{route}", endpoint.trim_end_matches('/')),
            None => endpoint.to_owned(),
        }
    }

    pub(crate) async fn bedrock(&self, region: &str, endpoint: Option<String>) -> BedrockClient {
        let shared = &self.shared;
        let mut cache = shared.bedrock.lock().await;
        let key = (region.to_owned(), endpoint);
        let client = match cache.get(&key) {
            Some(client) => client.clone(),
            None => {
                if let Some(endpoint) = &key.1 {
                    remember_url_secrets(endpoint);
                }
                let withhold = shared.env.bedrock_bearer_token.is_some()
                    && key.1.as_deref().is_some_and(|e| !shared.env.takes_bedrock_key(e));
                let client =
                    BedrockClient::new(region, key.1.as_deref(), shared.placeholder_key, withhold, shared.limits).await;
                cache.insert(key.clone(), client.clone());
                client
            }
        };
        match (&self.route, &key.1) {
            (Some(_), Some(endpoint)) => client.with_endpoint(&self.routed(endpoint)),
            _ => client,
        }
    }

    /// The client for `base_url`, with its key: the placeholder in replay; an API key
    /// where one is set and may go ([`Environment::chat_key`]); else, where the Bedrock
    /// key may go, a short-term key derived from the AWS credentials for the endpoint's
    /// region (`region` when the host names none); else none (a local server).
    pub(crate) async fn openai(&self, base_url: &str, region: &str) -> Result<OpenAiClient, CallError> {
        let shared = &self.shared;
        let key = self.openai_key(base_url, region).await?.map(|(_, key)| key);
        let http = shared.http.get_or_init(|| http_client(shared.limits)).clone()?;
        // A routed client is one case's view, cheap to build: not cached.
        if self.route.is_some() {
            return Ok(OpenAiClient::new(&self.routed(base_url), key.as_deref(), shared.limits, http));
        }
        let mut cache = shared.openai.lock().await;
        if let Some((built_with, client)) = cache.get(base_url)
            && *built_with == key
        {
            return Ok(client.clone());
        }
        remember_url_secrets(base_url);
        let client = OpenAiClient::new(base_url, key.as_deref(), shared.limits, http);
        cache.insert(base_url.to_owned(), (key, client.clone()));
        Ok(client)
    }
}

/// Where the key an OpenAI-compatible client sends comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyFrom {
    /// Replay's stand-in: no credentials are consulted.
    Placeholder,
    /// An API key in this variable.
    Variable(&'static str),
    /// A short-term Bedrock API key for `region`, derived from credentials that came
    /// from `source` (`credentials::describe`), valid until `valid_until`.
    Derived { region: String, source: String, valid_until: std::time::SystemTime },
}

impl Clients {
    /// The key an OpenAI-compatible client sends to `base_url`, and where it comes
    /// from; `None` where no key is sent.
    pub(crate) async fn openai_key(
        &self,
        base_url: &str,
        region: &str,
    ) -> Result<Option<(KeyFrom, String)>, CallError> {
        let shared = &self.shared;
        if let Some(key) = shared.placeholder_key {
            return Ok(Some((KeyFrom::Placeholder, key.to_owned())));
        }
        if let Some((name, key)) = shared.env.chat_key(base_url) {
            return Ok(Some((KeyFrom::Variable(name), key.to_owned())));
        }
        if !shared.env.takes_bedrock_key(base_url) {
            return Ok(None);
        }
        let region = bedrock_region(base_url).unwrap_or_else(|| region.to_owned());
        let derived = shared.derived.key(&region).await.map_err(|e| {
            CallError::new(
                ErrorKind::Auth,
                None,
                format!("no API key for {base_url}, and {e}; set AWS_BEARER_TOKEN_BEDROCK or OPENAI_API_KEY, or give AWS credentials (a profile, a role)"),
            )
        })?;
        let from = KeyFrom::Derived { region, source: derived.source, valid_until: derived.valid_until };
        Ok(Some((from, derived.key)))
    }
}
