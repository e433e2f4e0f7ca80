//! [`ModelResponse`]: the one record every transport produces, and the
//! [`Assembler`] that builds it from deltas in arrival order.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::separate::{Flags, Separator};

/// A model's answer, normalized across APIs, with the reasoning apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelResponse {
    /// The answer text with all reasoning removed.
    #[serde(rename = "final")]
    pub final_text: String,
    /// All reasoning: structured fields first, then spans found in the text.
    pub reasoning: String,
    /// The answer channel as it arrived, before separation.
    pub raw_text: String,
    /// In Bedrock's vocabulary: end_turn, max_tokens, tool_use, stop_sequence,
    /// content_filtered, guardrail_intervened.
    pub stop_reason: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
    pub latency_ms: u64,
    pub flags: Flags,
    pub error: Option<CallError>,
    /// How many requests it took (retries included).
    pub attempts: u32,
    /// The service tier the server says it answered on (`default`, `flex`, `priority`;
    /// chat servers may say `auto`), when it says one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// An agent's trajectory, one entry per model turn (empty for other APIs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<Turn>,
    /// The response as the wire carried it, rebuilt from what the client decoded, when
    /// the call was asked to capture it (record mode). Never in reports.
    #[serde(skip)]
    pub wire: Option<crate::wire::WireResponse>,
    /// Something the user should know about how the answer was got (in `auto` mode: a
    /// stale cassette that was run live instead).
    #[serde(skip)]
    pub note: Option<String>,
    /// Where the answer came from: the endpoint, or a cassette.
    #[serde(skip)]
    pub source: Source,
    /// The batch inference job that answered, when `source` is batch.
    #[serde(skip)]
    pub batch_job: Option<String>,
}

/// Where an answer came from, as the JSON report records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Source {
    /// The endpoint, nothing written.
    #[default]
    #[serde(rename = "live")]
    Live,
    /// The endpoint, and the case's cassette was written from it.
    #[serde(rename = "record")]
    Recorded,
    /// The case's cassette (a missing or broken one too: the case did not go live).
    #[serde(rename = "replay")]
    Replayed,
    /// A Bedrock batch inference job, through the cassette its output made.
    #[serde(rename = "batch")]
    Batch,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub(crate) id: String,
    pub name: String,
    /// The parsed JSON input; a string when the model produced text that is not JSON.
    pub input: Value,
}

/// One model turn of an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub(crate) reasoning: String,
    pub(crate) text: String,
    pub(crate) stop_reason: Option<String>,
    pub(crate) tool_calls: Vec<ToolRun>,
    /// The request of this turn and its response as the wire carried it (record mode).
    #[serde(skip)]
    pub(crate) recorded: Option<(crate::wire::WireRequest, crate::wire::WireResponse)>,
}

/// A tool call and what running it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ToolRun {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) result: String,
    pub(crate) is_error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    /// The sum of `usages`, or `None` when none reported any (which is not zero).
    pub(crate) fn sum(usages: impl IntoIterator<Item = Usage>) -> Option<Usage> {
        usages.into_iter().reduce(|a, b| Usage {
            input_tokens: a.input_tokens.saturating_add(b.input_tokens),
            output_tokens: a.output_tokens.saturating_add(b.output_tokens),
        })
    }
}

/// How long a `Retry-After` header asks to wait: delay-seconds (a fraction is
/// tolerated) or an HTTP-date, relative to `now`. Values no duration can hold, negative
/// or non-finite ones and unparseable text give `None`; a date in the past gives zero.
pub(crate) fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return if seconds >= 0.0 { Duration::try_from_secs_f64(seconds).ok() } else { None };
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// Said by whatever stops reading a response at the size limit; the providers
/// recognise it in an error chain.
pub(crate) const TOO_LARGE: &str = "the response is larger than the limit of";

/// The error for a response over `limit` bytes.
/// The start of something a server sent that could not be read, for an error message.
pub(crate) fn preview(text: &str) -> String {
    text.chars().take(120).collect()
}

pub(crate) fn too_large(limit: u64) -> CallError {
    CallError::new(ErrorKind::TooLarge, None, format!("{TOO_LARGE} {} MiB (--max-response-mib)", limit >> 20))
}

/// Why a call failed, in one vocabulary across APIs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallError {
    pub kind: ErrorKind,
    pub retryable: bool,
    /// The HTTP status, when the failure came with one.
    pub status: Option<u16>,
    /// One sentence for the user.
    pub message: String,
    /// What the server asked us to wait before retrying.
    #[serde(skip)]
    pub(crate) retry_after: Option<Duration>,
}

impl CallError {
    pub(crate) fn new(kind: ErrorKind, status: Option<u16>, message: impl Into<String>) -> CallError {
        CallError { kind, retryable: kind.retryable(), status, message: message.into(), retry_after: None }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind.as_str())?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CallError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Throttled,
    Unavailable,
    Server,
    Timeout,
    InvalidRequest,
    Auth,
    NotFound,
    Model,
    StreamError,
    Truncated,
    /// Replay could not use the case's cassette (missing, stale, unreadable).
    Cassette,
    /// An agent loop did not end: `max_turns` reached, or a tool call cut by max_tokens.
    Agent,
    /// The run stopped the case before it finished: Ctrl-C, SIGTERM or `--deadline`.
    Cancelled,
    /// The case's task failed inside the tool (a bug): never the server's fault.
    Internal,
    /// The response was larger than `--max-response-mib`.
    TooLarge,
    /// A batch inference job gave no answer for the record: it failed, was stopped or
    /// expired first, or left the record out.
    Batch,
}

impl ErrorKind {
    /// Throttling and transient server trouble are worth another attempt; a request
    /// the server rejected will be rejected again.
    pub(crate) fn retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Unavailable | ErrorKind::Server)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Model => "model",
            ErrorKind::StreamError => "stream_error",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Cassette => "cassette",
            ErrorKind::Agent => "agent",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Batch => "batch",
        }
    }

    /// The kind an HTTP status means on its own.
    pub(crate) fn from_status(status: u16) -> ErrorKind {
        match status {
            401 | 403 => ErrorKind::Auth,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            424 => ErrorKind::Model,
            429 => ErrorKind::Throttled,
            502..=504 => ErrorKind::Unavailable,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::InvalidRequest,
        }
    }
}

/// Maps a chat `finish_reason` onto Bedrock's stop reasons.
pub(crate) fn stop_reason_from_finish(finish_reason: &str) -> String {
    match finish_reason {
        "stop" => "end_turn",
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "content_filtered",
        other => other,
    }
    .to_owned()
}

#[derive(Debug, Default)]
struct PartialTool {
    id: String,
    name: String,
    arguments: String,
    input: Option<Value>,
}

/// Collects one response from deltas, whatever the API.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    separator: Separator,
    tools: BTreeMap<u64, PartialTool>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
    service_tier: Option<String>,
}

impl Assembler {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn reasoning(&mut self, text: &str) {
        self.separator.push_reasoning(text);
    }

    pub(crate) fn text(&mut self, text: &str) {
        self.separator.push_text(text);
    }

    /// A tool call starts (or its id or name arrives) at `index`.
    pub(crate) fn tool_start(&mut self, index: u64, id: Option<&str>, name: Option<&str>) {
        let tool = self.tools.entry(index).or_default();
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            tool.id = id.to_owned();
        }
        if let Some(name) = name.filter(|s| !s.is_empty()) {
            tool.name.push_str(name);
        }
    }

    /// A fragment of a tool call's JSON arguments.
    pub(crate) fn tool_arguments(&mut self, index: u64, fragment: &str) {
        self.tools.entry(index).or_default().arguments.push_str(fragment);
    }

    /// A tool call whose input arrived whole (Converse).
    pub(crate) fn tool_input(&mut self, index: u64, input: Value) {
        self.tools.entry(index).or_default().input = Some(input);
    }

    pub(crate) fn has_stop_reason(&self) -> bool {
        self.stop_reason.is_some()
    }

    pub(crate) fn stop_reason(&mut self, reason: impl Into<String>) {
        self.stop_reason = Some(reason.into());
    }

    /// The service tier the server says it answered on.
    pub(crate) fn service_tier(&mut self, tier: &str) {
        if !tier.is_empty() {
            self.service_tier = Some(tier.to_owned());
        }
    }

    pub(crate) fn usage(&mut self, input_tokens: u64, output_tokens: u64) {
        self.usage = Some(Usage { input_tokens, output_tokens });
    }

    pub(crate) fn finish(self, error: Option<CallError>, latency: Duration) -> ModelResponse {
        let hit_limit = self.stop_reason.as_deref() == Some("max_tokens");
        // A response cut at the size limit is kept as a prefix, not whole: eight of them
        // at once would otherwise hold gigabytes, and every report would copy them.
        let too_large = error.as_ref().is_some_and(|e| e.kind == ErrorKind::TooLarge);
        let separated =
            self.separator.finish_keeping(hit_limit, if too_large { KEPT_OF_TOO_LARGE } else { usize::MAX });
        let tool_calls = self
            .tools
            .into_values()
            .map(|mut t| {
                // Arguments past the limit were cut anyway: kept as a prefix, as text.
                let input = match t.input {
                    Some(input) => input,
                    None if too_large && t.arguments.len() > KEPT_OF_TOO_LARGE => {
                        crate::separate::keep_prefix(&mut t.arguments, KEPT_OF_TOO_LARGE);
                        Value::String(t.arguments)
                    }
                    None => parse_arguments(&t.arguments),
                };
                ToolCall { id: t.id, name: t.name, input }
            })
            .collect();
        ModelResponse {
            final_text: separated.final_text,
            reasoning: separated.reasoning,
            raw_text: separated.raw_text,
            stop_reason: self.stop_reason,
            tool_calls,
            usage: self.usage,
            service_tier: self.service_tier,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            flags: separated.flags,
            error,
            attempts: 1,
            turns: Vec::new(),
            wire: None,
            note: None,
            source: Source::Live,
            batch_job: None,
        }
    }
}

/// How much of each text of a `too_large` response is kept.
pub(crate) const KEPT_OF_TOO_LARGE: usize = 64 << 10;

/// Tool arguments assembled from fragments. An empty string means no arguments; text
/// that is not JSON (a call cut by max_tokens) is kept as a string for the user to see.
fn parse_arguments(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Default::default());
    }
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_sums_only_what_was_reported() {
        let u = |i, o| Usage { input_tokens: i, output_tokens: o };
        assert_eq!(Usage::sum([u(1, 2), u(3, 4)]), Some(u(4, 6)));
        assert_eq!(Usage::sum([]), None);
        assert_eq!(Usage::sum([u(u64::MAX, 1), u(1, 1)]), Some(u(u64::MAX, 2)));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_without_panicking() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 10:00:00 GMT").unwrap();
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(" 1.5 ", now), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after("Wed, 25 Nov 2026 10:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        for bad in ["1e20", "18446744073709551616", "1e308", "inf", "NaN", "-1", "soon", ""] {
            assert_eq!(retry_after(bad, now), None, "{bad}");
        }
    }
    use serde_json::json;

    #[test]
    fn tool_fragments_are_assembled_in_index_order() {
        let mut a = Assembler::new();
        a.tool_start(1, Some("call_b"), Some("get_time"));
        a.tool_start(0, Some("call_a"), Some("get_weather"));
        a.tool_arguments(0, "{\"city\":");
        a.tool_arguments(1, "");
        a.tool_arguments(0, "\"Tokyo\"}");
        let r = a.finish(None, Duration::ZERO);
        assert_eq!(
            r.tool_calls[0],
            ToolCall { id: "call_a".into(), name: "get_weather".into(), input: json!({"city": "Tokyo"}) }
        );
        assert_eq!(r.tool_calls[1].input, json!({}));
    }

    #[test]
    fn cut_tool_arguments_stay_visible() {
        let mut a = Assembler::new();
        a.tool_start(0, Some("c"), Some("f"));
        a.tool_arguments(0, "{\"city\": \"To");
        assert_eq!(a.finish(None, Duration::ZERO).tool_calls[0].input, json!("{\"city\": \"To"));
    }

    #[test]
    fn max_tokens_marks_unclosed_reasoning_as_truncated() {
        let mut a = Assembler::new();
        a.text("<reasoning>still thinking");
        a.stop_reason("max_tokens");
        let r = a.finish(None, Duration::ZERO);
        assert!(r.flags.truncated_reasoning && r.flags.unclosed);
    }

    /// Issue 25: `too_large` kept the whole answer it cut: 8 at once peaked at 939 MB,
    /// with a 260 MB report.
    #[test]
    fn a_too_large_answer_keeps_a_prefix_and_says_what_was_dropped() {
        let mut a = Assembler::new();
        a.text(&"é".repeat(100_000));
        let r = a.finish(Some(too_large(1 << 20)), Duration::ZERO);
        assert!(r.final_text.len() < KEPT_OF_TOO_LARGE + 100, "{}", r.final_text.len());
        assert!(r.final_text.ends_with("\n[134464 more bytes not kept: the response passed the size limit]"));
        let mut short = "ok".to_owned();
        crate::separate::keep_prefix(&mut short, 10);
        assert_eq!(short, "ok");

        let mut a = Assembler::new();
        a.tool_start(0, Some("c"), Some("f"));
        a.tool_arguments(0, &"x".repeat(200_000));
        let r = a.finish(Some(too_large(1 << 20)), Duration::ZERO);
        let Value::String(kept) = &r.tool_calls[0].input else { panic!("{:?}", r.tool_calls[0].input) };
        assert!(kept.len() < KEPT_OF_TOO_LARGE + 100 && kept.ends_with("size limit]"), "{}", kept.len());
    }

    #[test]
    fn finish_reasons_map_to_bedrock_vocabulary() {
        let mapped: Vec<String> = ["stop", "length", "tool_calls", "content_filter", "other"]
            .iter()
            .map(|f| stop_reason_from_finish(f))
            .collect();
        assert_eq!(mapped, ["end_turn", "max_tokens", "tool_use", "content_filtered", "other"]);
    }

    #[test]
    fn status_codes_classify() {
        let kinds: Vec<_> =
            [400, 401, 403, 404, 429, 500, 503, 424].iter().map(|s| ErrorKind::from_status(*s)).collect();
        use ErrorKind::*;
        assert_eq!(kinds, [InvalidRequest, Auth, Auth, NotFound, Throttled, Server, Unavailable, Model]);
        assert!(Throttled.retryable() && Server.retryable() && !InvalidRequest.retryable() && !Truncated.retryable());
    }
}
