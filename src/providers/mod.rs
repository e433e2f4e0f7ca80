//! Transports: one module per client and wire format gpt-oss is reached through
//! (`bedrock`: Converse and InvokeModel; `openai_chat`; `openai_responses`), each
//! turning a [`CallRequest`] into a [`ModelResponse`](crate::response::ModelResponse)
//! through the real client crate (aws-sdk-bedrockruntime, async-openai). No retries here: one call, one
//! attempt; the caller decides whether to try again.

pub(crate) mod bedrock;
pub(crate) mod completion;
pub(crate) mod credentials;
pub(crate) mod openai_chat;
pub(crate) mod openai_responses;
pub(crate) mod short_term;

use serde_json::Value;

use crate::scenario::{Api, Endpoints, Params, Role, Scenario};

/// What to send, independent of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRequest {
    pub(crate) model: String,
    pub(crate) region: String,
    pub(crate) system: Option<String>,
    pub(crate) messages: Vec<Message>,
    pub(crate) params: Params,
    /// Tools the model may call (agents).
    pub(crate) tools: Vec<ToolSpec>,
}

/// One message of the conversation sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub(crate) role: Role,
    pub(crate) content: Vec<Content>,
}

impl Message {
    pub(crate) fn text(role: Role, text: impl Into<String>) -> Message {
        Message { role, content: vec![Content::Text(text.into())] }
    }
}

/// A part of a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Content {
    Text(String),
    /// A tool call the model made (sent back in later turns).
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// The result of a tool call.
    ToolResult {
        id: String,
        text: String,
        is_error: bool,
    },
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolSpec {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) input_schema: Value,
}

impl CallRequest {
    /// What a scenario sends to `model` in `region`.
    pub fn new(model: &str, region: &str, spec: &Scenario) -> CallRequest {
        let messages = match (&spec.messages, &spec.prompt) {
            (Some(messages), _) => messages.iter().map(|m| Message::text(m.role, m.content.clone())).collect(),
            (None, Some(prompt)) => vec![Message::text(Role::User, prompt.clone())],
            // The loader refuses scenarios with neither; an empty conversation is what
            // the server would then be sent, and it will say so.
            (None, None) => Vec::new(),
        };
        let tools = spec
            .tools
            .iter()
            .map(|t| ToolSpec {
                name: t.name.clone(),
                description: t.description.clone(),
                input_schema: t.input_schema.clone(),
            })
            .collect();
        CallRequest {
            model: model.to_owned(),
            region: region.to_owned(),
            system: spec.system.clone(),
            messages,
            params: spec.params.clone().unwrap_or_default(),
            tools,
        }
    }
}

/// How one call is made: streamed or not, whether its response is also kept as the
/// wire carried it (record mode), and when it must be over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub(crate) stream: bool,
    pub(crate) capture: bool,
    pub(crate) deadline: std::time::Instant,
}

impl Call {
    /// The next piece of a stream, if it comes before the deadline. A stream stopped
    /// here keeps what it received: the error is the call's, the partial answer stays.
    pub(crate) async fn next<F: std::future::Future>(&self, piece: F) -> Result<F::Output, crate::response::CallError> {
        tokio::time::timeout_at(self.deadline.into(), piece).await.map_err(|_| {
            crate::response::CallError::new(
                crate::response::ErrorKind::Timeout,
                None,
                "the stream was still going at the case's timeout; what arrived until then is kept",
            )
        })
    }
}

/// What one response may cost: how long it may go quiet, and how many bytes it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) read_timeout: std::time::Duration,
    pub(crate) max_response_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { read_timeout: std::time::Duration::from_secs(120), max_response_bytes: 32 << 20 }
    }
}

/// Where requests go and with which credentials, after flags, scenario fields and
/// environment variables have been weighed (in that order of precedence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// Bedrock runtime endpoint; `None` lets the SDK resolve the regional one.
    pub bedrock_endpoint: Option<String>,
    /// Chat completions base URL; `None` means Bedrock's `/openai/v1` for the region.
    pub openai_base_url: Option<String>,
    /// Responses API base URL; `None` means Bedrock Mantle's `/v1` for the region.
    pub responses_base_url: Option<String>,
}

/// The environment variables the transports read, captured once so that tests can
/// supply their own instead of mutating the process environment.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Environment {
    /// `AWS_BEARER_TOKEN_BEDROCK`: a Bedrock API key.
    pub(crate) bedrock_bearer_token: Option<String>,
    /// `OPENAI_API_KEY`.
    pub(crate) openai_api_key: Option<String>,
    /// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`.
    pub(crate) bedrock_endpoint: Option<String>,
    /// `OPENAI_BASE_URL`.
    pub(crate) openai_base_url: Option<String>,
    /// `GPT_OSS_SCENARIOS_RESPONSES_BASE_URL`. Not `OPENAI_BASE_URL`: Bedrock's
    /// `/openai/v1` refuses the Responses API for gpt-oss, so the chat URL is no default.
    pub(crate) responses_base_url: Option<String>,
    /// `GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS`: hosts besides Bedrock's own that may
    /// receive the Bedrock API key (a proxy in front of Bedrock), comma-separated.
    pub(crate) bedrock_key_hosts: Vec<String>,
}

impl std::fmt::Debug for Environment {
    // Keys never reach logs or reports, not even through a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Environment")
            .field("bedrock_bearer_token", &set(&self.bedrock_bearer_token))
            .field("openai_api_key", &set(&self.openai_api_key))
            .field("bedrock_endpoint", &self.bedrock_endpoint)
            .field("openai_base_url", &self.openai_base_url)
            .field("responses_base_url", &self.responses_base_url)
            .field("bedrock_key_hosts", &self.bedrock_key_hosts)
            .finish()
    }
}

impl Environment {
    /// Reads the process environment (after `.env` has been loaded, if any).
    pub(crate) fn from_process() -> Environment {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Environment {
            bedrock_bearer_token: var("AWS_BEARER_TOKEN_BEDROCK"),
            openai_api_key: var("OPENAI_API_KEY"),
            bedrock_endpoint: var("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"),
            openai_base_url: var("OPENAI_BASE_URL"),
            responses_base_url: var("GPT_OSS_SCENARIOS_RESPONSES_BASE_URL"),
            bedrock_key_hosts: var("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS")
                .map(|v| v.split(',').map(|h| h.trim().to_owned()).filter(|h| !h.is_empty()).collect())
                .unwrap_or_default(),
        }
    }

    /// The key for an OpenAI-compatible server (chat completions, the Responses API),
    /// and the variable it came from. Where the Bedrock key may go (see
    /// [`Environment::takes_bedrock_key`]): the Bedrock API key, else `OPENAI_API_KEY`
    /// (AWS's Mantle guide puts the Bedrock key there). Anywhere else: `OPENAI_API_KEY`
    /// only. So the Bedrock key never leaves Bedrock, and an OpenAI key set for other
    /// servers is not sent to AWS when the Bedrock key is there.
    pub(crate) fn chat_key(&self, base_url: &str) -> Option<(&'static str, &str)> {
        let bedrock_key = self.bedrock_bearer_token.as_deref().filter(|_| self.takes_bedrock_key(base_url));
        bedrock_key
            .map(|key| ("AWS_BEARER_TOKEN_BEDROCK", key))
            .or_else(|| self.openai_api_key.as_deref().map(|key| ("OPENAI_API_KEY", key)))
    }
}

impl Environment {
    /// Whether the Bedrock API key may be sent to `base_url`, on every API: with no
    /// user name or password in the URL, over https to Bedrock's own host for a region
    /// (see [`is_bedrock_host`]) or to a host listed in
    /// `GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS` (a proxy in front of Bedrock). A listed
    /// loopback host (`127.0.0.1`, `::1`, `localhost`) may be plain http: that traffic
    /// never leaves the machine. The URL is parsed as a client parses it (`url`), so
    /// `https://x.amazonaws.com:@127.0.0.1/`, `https://127.0.0.1#.amazonaws.com/` and
    /// `https://127.0.0.1?.amazonaws.com/` are all 127.0.0.1. Other `*.amazonaws.com`
    /// and `*.api.aws` hosts (load balancers, API Gateway, S3 websites) are anyone's.
    pub(crate) fn takes_bedrock_key(&self, base_url: &str) -> bool {
        let Ok(url) = url::Url::parse(base_url) else { return false };
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        let Some(host) = url.host() else { return false };
        let name = url.host_str().unwrap_or_default();
        let https = url.scheme() == "https";
        let listed = self
            .bedrock_key_hosts
            .iter()
            .any(|h| h.trim_matches(['[', ']']).eq_ignore_ascii_case(name.trim_matches(['[', ']'])));
        let loopback = match host {
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        (https && is_bedrock_host(name)) || (listed && (https || (loopback && url.scheme() == "http")))
    }
}

/// Endpoint precedence: command-line flag, then the scenario, then the environment.
pub(crate) fn resolve_connection(flags: &Connection, scenario: Option<&Endpoints>, env: &Environment) -> Connection {
    let scenario = scenario.cloned().unwrap_or_default();
    Connection {
        bedrock_endpoint: flags
            .bedrock_endpoint
            .clone()
            .or(scenario.bedrock_runtime)
            .or_else(|| env.bedrock_endpoint.clone()),
        openai_base_url: flags
            .openai_base_url
            .clone()
            .or(scenario.openai_base_url)
            .or_else(|| env.openai_base_url.clone()),
        responses_base_url: flags
            .responses_base_url
            .clone()
            .or(scenario.responses_base_url)
            .or_else(|| env.responses_base_url.clone()),
    }
}

/// A request as it goes on the wire: the path below the endpoint and the JSON body.
/// Live calls, record mode, `--dry-run` and cassette hashes all use this one encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub(crate) path: String,
    pub body: Value,
}

/// The one encoding of `request` on `api`.
pub fn encode(api: Api, request: &CallRequest) -> Encoded {
    match api {
        Api::Converse | Api::ConverseStream => bedrock::encode(request, streams(api)),
        Api::Invoke | Api::InvokeStream => bedrock::invoke::encode(request, streams(api)),
        Api::Chat | Api::ChatStream | Api::Agent => openai_chat::encode(request, streams(api)),
        Api::Responses | Api::ResponsesStream => openai_responses::encode(request, streams(api)),
    }
}

/// Where requests on `api` go: the connection's endpoint, else Bedrock in `region`
/// (the runtime endpoint for Converse and InvokeModel, its `/openai/v1` for chat
/// completions, Mantle's `/v1` for the Responses API).
pub(crate) fn endpoint(api: Api, connection: &Connection, region: &str) -> String {
    let bedrock = || format!("https://bedrock-runtime.{region}.amazonaws.com");
    match api {
        Api::Converse | Api::ConverseStream | Api::Invoke | Api::InvokeStream => {
            connection.bedrock_endpoint.clone().unwrap_or_else(bedrock)
        }
        Api::Chat | Api::ChatStream | Api::Agent => {
            connection.openai_base_url.clone().unwrap_or_else(|| format!("{}/openai/v1", bedrock()))
        }
        Api::Responses | Api::ResponsesStream => connection
            .responses_base_url
            .clone()
            .unwrap_or_else(|| format!("https://bedrock-mantle.{region}.api.aws/v1")),
    }
}

/// Whether `api` goes through the AWS SDK (SigV4 or a Bedrock API key), rather than
/// an OpenAI-compatible client (a bearer key).
pub(crate) fn uses_aws_sdk(api: Api) -> bool {
    matches!(api, Api::Converse | Api::ConverseStream | Api::Invoke | Api::InvokeStream)
}

/// The host and port of an endpoint URL (`bedrock-runtime.us-west-2.amazonaws.com`,
/// `127.0.0.1:8080`), parsed as a client parses it: never the user name or password a
/// URL may carry, which would otherwise reach every cassette.
pub(crate) fn authority(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else { return String::new() };
    let host = parsed.host_str().unwrap_or_default();
    match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// `url` with its user name and password masked, to print: the URL as given when it
/// carries none.
pub(crate) fn masked_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Neither can fail on a URL that already has userinfo.
            let _ = parsed.set_username("****");
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("****"));
            }
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Remembers the password an endpoint URL carries (`https://user:token@proxy/v1`) as a
/// secret: messages that name the URL are then redacted like any key.
pub(crate) fn remember_url_secrets(url: &str) {
    if let Ok(parsed) = url::Url::parse(url)
        && let Some(password) = parsed.password()
    {
        let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
        crate::secrets::add("a password in an endpoint URL", password);
        crate::secrets::add("a password in an endpoint URL", &decoded);
    }
}

/// Whether `host` is one of Amazon Bedrock's own endpoints in a region: the runtime
/// (`bedrock-runtime[-fips].REGION.amazonaws.com`, `.amazonaws.com.cn` in China), the
/// control plane (`bedrock[-fips].REGION.amazonaws.com`) or Mantle
/// (`bedrock-mantle.REGION.api.aws`). Nothing else under those domains is AWS's alone.
pub(crate) fn is_bedrock_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [service, region, "amazonaws", "com"] | [service, region, "amazonaws", "com", "cn"] => {
            matches!(*service, "bedrock-runtime" | "bedrock-runtime-fips" | "bedrock" | "bedrock-fips")
                && is_region(region)
        }
        ["bedrock-mantle", region, "api", "aws"] => is_region(region),
        // An interface VPC endpoint (PrivateLink) of the runtime: AWS's names, in the VPC.
        [endpoint, "bedrock-runtime", region, "vpce", "amazonaws", "com"] => {
            endpoint.starts_with("vpce-") && is_region(region)
        }
        _ => false,
    }
}

/// The region a Bedrock host names (`bedrock-runtime.us-west-2.amazonaws.com`,
/// `bedrock-mantle.eu-north-1.api.aws`, a VPC endpoint of the runtime): the key for it
/// is signed for that region, whatever the case says.
pub(crate) fn bedrock_region(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    let host = url.host_str()?;
    if !is_bedrock_host(host) {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let at = if labels.first().is_some_and(|l| l.starts_with("vpce-")) { 2 } else { 1 };
    labels.get(at).map(|r| (*r).to_ascii_lowercase())
}

/// An AWS region name: `us-east-1`, `us-gov-west-1`, `ap-southeast-2`, `cn-north-1`,
/// `eusc-de-east-1`.
fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let Some((number, words)) = parts.split_last() else { return false };
    words.len() >= 2
        && (2..=4).contains(&words[0].len())
        && words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// An error and its sources on one line (a source the message already quotes is not
/// repeated), without the SDK's debug dump.
pub(crate) fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

/// Whether an API streams its response.
pub(crate) fn streams(api: Api) -> bool {
    matches!(api, Api::ConverseStream | Api::ChatStream | Api::InvokeStream | Api::ResponsesStream)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 25: the hand-split host was fooled by userinfo, fragments and queries, and
    /// any `*.amazonaws.com` or `*.api.aws` host took the key.
    #[test]
    fn the_bedrock_key_goes_to_no_look_alike_host() {
        let e = env(None, &[]);
        for url in [
            "https://x.amazonaws.com:@127.0.0.1:8443/v1",
            "https://bedrock-runtime.us-east-1.amazonaws.com:@127.0.0.1:8443/v1",
            "https://user@bedrock-runtime.us-east-1.amazonaws.com/openai/v1",
            "https://127.0.0.1#.amazonaws.com/v1",
            "https://127.0.0.1?.amazonaws.com/v1",
            "https://127.0.0.1/.bedrock-runtime.us-east-1.amazonaws.com/v1",
            "https://my-alb-123.us-east-1.elb.amazonaws.com/v1",
            "https://abc123.execute-api.us-east-1.amazonaws.com/v1",
            "https://bucket.s3-website-us-east-1.amazonaws.com/v1",
            "https://evil.api.aws/v1",
            "https://bedrock-mantle.evil.api.aws/v1",
            "https://bedrock-runtime.us-east-1.amazonaws.com.evil.example/v1",
            "https://bedrock-runtime.not_a_region.amazonaws.com/v1",
            "not a url",
        ] {
            assert!(!e.takes_bedrock_key(url), "{url}");
        }
        for url in [
            "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1",
            "https://BEDROCK-RUNTIME.us-west-2.amazonaws.com./openai/v1",
            "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com/openai/v1",
            "https://bedrock-runtime.cn-north-1.amazonaws.com.cn/openai/v1",
            "https://bedrock-mantle.ap-southeast-2.api.aws/v1",
            "https://bedrock-mantle.us-east-1.api.aws:443/v1",
            "https://vpce-0a1b2c3d-x1y2.bedrock-runtime.us-east-1.vpce.amazonaws.com",
            "https://bedrock-runtime.eusc-de-east-1.amazonaws.com/openai/v1",
        ] {
            assert!(e.takes_bedrock_key(url), "{url}");
        }
    }

    #[test]
    fn a_bedrock_host_names_the_region_its_key_is_signed_for() {
        let region = |url| bedrock_region(url);
        assert_eq!(region("https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1").as_deref(), Some("us-west-2"));
        assert_eq!(region("https://bedrock-mantle.EU-NORTH-1.api.aws/v1").as_deref(), Some("eu-north-1"));
        assert_eq!(
            region("https://vpce-0a1b-x1.bedrock-runtime.us-east-1.vpce.amazonaws.com").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(region("http://127.0.0.1:8080/v1"), None, "a listed host: the case's region");
        assert_eq!(region("https://amazonaws.com.evil.example/v1"), None);
    }

    fn env(openai: Option<&str>, hosts: &[&str]) -> Environment {
        Environment {
            bedrock_bearer_token: Some("bedrock-key".into()),
            openai_api_key: openai.map(str::to_owned),
            bedrock_key_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..Environment::default()
        }
    }

    /// Issue 13: the Bedrock API key went to any OpenAI-compatible host, plain http
    /// included, whenever OPENAI_API_KEY was unset.
    #[test]
    fn the_bedrock_key_goes_only_to_bedrock_over_https_or_to_listed_hosts() {
        let e = env(None, &["proxy.internal"]);
        let key = |url| e.chat_key(url).map(|(name, _)| name);
        assert_eq!(key("https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1"), Some("AWS_BEARER_TOKEN_BEDROCK"));
        assert_eq!(key("https://bedrock-mantle.us-east-1.api.aws/v1"), Some("AWS_BEARER_TOKEN_BEDROCK"));
        assert_eq!(key("http://bedrock-runtime.us-west-2.amazonaws.com/openai/v1"), None, "not over plain http");
        assert_eq!(key("https://amazonaws.com.evil.example/v1"), None);
        assert_eq!(key("http://127.0.0.1:8080/v1"), None);
        assert_eq!(key("https://proxy.internal:4000/v1"), Some("AWS_BEARER_TOKEN_BEDROCK"), "listed by the user");
        assert_eq!(key("http://proxy.internal:4000/v1"), None, "a listed host over plain http");
        let local = env(None, &["127.0.0.1", "::1"]);
        assert!(local.takes_bedrock_key("http://127.0.0.1:8080/v1"), "listed loopback, on this machine");
        assert!(local.takes_bedrock_key("http://[::1]:8080/v1"));
        assert!(!local.takes_bedrock_key("http://127.0.0.2:8080/v1"), "not listed");
        let with_openai = env(Some("sk-1"), &[]);
        assert_eq!(with_openai.chat_key("http://127.0.0.1:8080/v1").map(|(n, _)| n), Some("OPENAI_API_KEY"));
        // Both set: Bedrock gets its own key, and the OpenAI key stays off AWS.
        let mantle = "https://bedrock-mantle.us-east-1.api.aws/v1";
        assert_eq!(with_openai.chat_key(mantle).map(|(n, _)| n), Some("AWS_BEARER_TOKEN_BEDROCK"));
        let only_openai = Environment { bedrock_bearer_token: None, ..env(Some("sk-1"), &[]) };
        assert_eq!(only_openai.chat_key(mantle).map(|(n, _)| n), Some("OPENAI_API_KEY"));
    }
}
