//! `chat` and `chat-stream`: OpenAI-compatible chat completions through async-openai,
//! and the [`OpenAiClient`] the Responses API (`openai_responses`) shares,
//! on Bedrock's `/openai/v1` endpoint or any compatible server.
//!
//! Requests and responses are `serde_json::Value` (async-openai's bring-your-own-types
//! mode) because the typed responses drop the `reasoning` / `reasoning_content` fields
//! that carry gpt-oss reasoning. async-openai's built-in retry layer is replaced by a
//! plain transport that keeps the status, `Retry-After` and body of failed responses,
//! so that the caller's retry policy is the only one.

use std::time::{Duration, Instant, SystemTime};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, StreamError};
use async_openai::middleware::HttpRequestFactory;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::completion::{error_in, error_object, error_text, read_chunk, read_completion, request_body};
use super::{Call, CallRequest, Encoded, Limits};
use crate::response::{Assembler, CallError, ErrorKind, ModelResponse, TOO_LARGE, preview, retry_after, too_large};
use crate::wire::WireResponse;

/// The path and body of a chat completions request (streamed with `stream`).
pub(crate) fn encode(req: &CallRequest, stream: bool) -> Encoded {
    let mut body = request_body(req, Some(stream));
    // Not in `request_body`: InvokeModel shares it, and takes the tier as a header.
    // `extra` may still say otherwise.
    if let (Some(tier), Some(fields)) = (req.params.service_tier, body.as_object_mut()) {
        fields.entry("service_tier").or_insert_with(|| json!(tier.as_str()));
    }
    Encoded { path: "/chat/completions".to_owned(), body }
}

/// An OpenAI-compatible client for one base URL: chat completions, and the Responses API.
#[derive(Clone)]
pub(crate) struct OpenAiClient {
    pub(super) client: Client<OpenAIConfig>,
    pub(super) base_url: String,
    pub(super) max_response_bytes: u64,
}

/// A non-2xx answer, kept whole for classification.
#[derive(Debug, thiserror::Error)]
#[error("http status {status}")]
struct HttpFailure {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

/// The HTTP client under every chat client: building one loads the TLS roots, so a run
/// builds it once and shares it.
pub(crate) fn http_client(limits: Limits) -> Result<reqwest::Client, CallError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(limits.read_timeout)
        .retry(reqwest::retry::never())
        .build()
        .map_err(|e| CallError::new(ErrorKind::InvalidRequest, None, format!("cannot build an HTTP client: {e}")))
}

impl OpenAiClient {
    /// `api_key` may be `None` for local servers that need none. `http` comes from
    /// [`http_client`]; this wrapper around it is cheap.
    pub(crate) fn new(base_url: &str, api_key: Option<&str>, limits: Limits, http: reqwest::Client) -> OpenAiClient {
        let base_url = base_url.trim_end_matches('/').to_owned();
        // Empty org and project ids keep OPENAI_ORG_ID / OPENAI_PROJECT_ID from the
        // environment out of requests to servers that are not OpenAI.
        let config = OpenAIConfig::new()
            .with_api_base(&base_url)
            .with_api_key(api_key.unwrap_or_default())
            .with_org_id("")
            .with_project_id("");
        // `Client::build`, not `with_config`: that one builds a reqwest client of its
        // own, loading the TLS roots again for every chat client.
        let shared = http.clone();
        let service = tower::service_fn(move |factory: HttpRequestFactory| {
            let http = http.clone();
            async move {
                let response = http.execute(factory.build().await?).await.map_err(OpenAIError::Reqwest)?;
                if response.status().is_success() {
                    return limited(response, limits.max_response_bytes);
                }
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, SystemTime::now()));
                let body = response.text().await.unwrap_or_default();
                Err(OpenAIError::Boxed(Box::new(HttpFailure { status, retry_after, body })))
            }
        });
        let client = Client::build(shared, config).with_http_service(service);
        OpenAiClient { client, base_url, max_response_bytes: limits.max_response_bytes }
    }
}

/// A response whose body ends in an error once it passes `limit` bytes, so that an
/// endless or huge answer costs at most that much memory.
fn limited(response: reqwest::Response, limit: u64) -> Result<reqwest::Response, OpenAIError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(OpenAIError::Boxed(Box::new(OverLimit(limit))));
    }
    // An event stream is counted event by event where it is read, which can stop
    // reading and say why; a cut body would read as a broken connection.
    let streamed = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if streamed {
        return Ok(response);
    }
    let mut builder = http::Response::builder().status(response.status()).version(response.version());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut seen: u64 = 0;
    let body = response.bytes_stream().map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > limit {
            return Err(Box::new(OverLimit(limit)) as Box<dyn std::error::Error + Send + Sync>);
        }
        Ok(chunk)
    });
    let rebuilt = builder.body(reqwest::Body::wrap_stream(body)).map_err(|e| OpenAIError::Boxed(Box::new(e)))?;
    Ok(reqwest::Response::from(rebuilt))
}

/// A response past the size limit.
#[derive(Debug, thiserror::Error)]
#[error("{TOO_LARGE} {} MiB", .0 >> 20)]
struct OverLimit(u64);

/// One chat completions call. With `capture`, the response is also kept as the wire
/// carried it (the JSON body, or the SSE payloads), for a cassette.
pub(crate) async fn call(client: &OpenAiClient, req: &CallRequest, call: Call) -> ModelResponse {
    let started = Instant::now();
    let body = encode(req, call.stream).body;
    let mut assembler = Assembler::new();
    let mut wire = call.capture.then(WireResponse::default);
    let error = if call.stream {
        call_stream(client, &body, &mut assembler, wire.as_mut(), call).await
    } else {
        match client.client.chat().create_byot::<_, Value>(&body).await {
            Ok(value) => {
                let error = read_completion(&value, &mut assembler);
                if let Some(w) = wire.as_mut() {
                    *w = WireResponse::json(200, value);
                }
                error
            }
            Err(e) => Some(classify(e, &client.base_url, &req.model, wire.as_mut())),
        }
    };
    let mut response = assembler.finish(error, started.elapsed());
    response.wire = wire;
    response
}

async fn call_stream(
    client: &OpenAiClient,
    body: &Value,
    assembler: &mut Assembler,
    mut wire: Option<&mut WireResponse>,
    call: Call,
) -> Option<CallError> {
    let model = body["model"].as_str().unwrap_or_default();
    let mut events = match client.client.chat().create_stream_byot::<_, Value>(body).await {
        Ok(events) => events,
        Err(e) => return Some(classify(e, &client.base_url, model, wire)),
    };
    if let Some(w) = wire.as_deref_mut() {
        w.status = 200;
        w.headers.insert("content-type".into(), "text/event-stream".into());
        w.sse = Some(Vec::new());
    }
    // The payloads are kept only for a cassette: without one they would double what a
    // long answer holds.
    let mut payloads: Option<Vec<String>> = wire.is_some().then(Vec::new);
    let error = read_stream(&mut events, assembler, payloads.as_mut(), client, model, call).await;
    if let (Some(w), Some(mut payloads)) = (wire, payloads) {
        // `[DONE]` is not handed over by the client; a finished stream had one.
        if error.is_none() {
            payloads.push("[DONE]".into());
        }
        w.sse = Some(payloads);
    }
    error
}

async fn read_stream(
    events: &mut async_openai::types::stream::StreamResponse<Value>,
    assembler: &mut Assembler,
    mut payloads: Option<&mut Vec<String>>,
    client: &OpenAiClient,
    model: &str,
    call: Call,
) -> Option<CallError> {
    let base_url = client.base_url.as_str();
    let mut received: u64 = 0;
    loop {
        let event = match call.next(events.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(timeout) => return Some(timeout),
        };
        if let Ok(chunk) = &event {
            let payload = chunk.to_string();
            received = received.saturating_add(payload.len() as u64);
            if received > client.max_response_bytes {
                // Dropping the stream closes the connection: nothing more is read.
                return Some(too_large(client.max_response_bytes));
            }
            if let Some(p) = payloads.as_deref_mut() {
                p.push(payload);
            }
        }
        match event {
            Ok(chunk) => {
                // An error object inside a 200 stream: the server gave up mid-answer.
                if let Some(error) = error_in(&chunk) {
                    return Some(error_object(error, ErrorKind::StreamError));
                }
                read_chunk(&chunk, assembler);
            }
            Err(OpenAIError::JSONDeserialize(e, data)) => {
                if let Some(p) = payloads.as_deref_mut() {
                    p.push(data.clone());
                }
                let shown = preview(&data);
                return Some(CallError::new(
                    ErrorKind::StreamError,
                    None,
                    format!("the server sent a stream event that is not JSON ({e}): {shown}"),
                ));
            }
            Err(e) => return Some(classify(e, base_url, model, None)),
        }
    }
    // `[DONE]` is swallowed by the client, so a finish_reason is the proof that the
    // model finished; without one the connection closed mid-answer.
    if !assembler.has_stop_reason() {
        return Some(CallError::new(
            ErrorKind::Truncated,
            None,
            "the stream ended before the model finished (no finish_reason, no [DONE])",
        ));
    }
    None
}

pub(super) fn classify(error: OpenAIError, base_url: &str, model: &str, wire: Option<&mut WireResponse>) -> CallError {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
            Ok(failure) => {
                if let Some(w) = wire {
                    let body = serde_json::from_str(&failure.body)
                        .unwrap_or_else(|_| json!({"error": {"message": failure.body.clone()}}));
                    *w = WireResponse::json(failure.status, body);
                    if let Some(after) = failure.retry_after {
                        w.headers.insert("retry-after".into(), after.as_secs().to_string());
                    }
                }
                http_failure(*failure, base_url, model)
            }
            Err(other) if other.to_string().contains(TOO_LARGE) => {
                CallError::new(ErrorKind::TooLarge, None, other.to_string())
            }
            Err(other) => CallError::new(ErrorKind::Unavailable, None, other.to_string()),
        },
        OpenAIError::Reqwest(e) => transport(&e, base_url),
        OpenAIError::StreamError(e) => match *e {
            // eventsource-stream's own words: a transport error is the connection;
            // "UTF8 error" and "Parse error" are bytes the server sent, and sending them
            // again will not fix them.
            StreamError::EventStream(message) if message.starts_with("Transport error") => CallError::new(
                ErrorKind::Unavailable,
                None,
                format!("the connection to {base_url} broke mid-stream: {}", message.to_lowercase()),
            ),
            StreamError::EventStream(message) => CallError::new(
                ErrorKind::StreamError,
                None,
                format!("{base_url} sent a malformed event stream: {}", message.to_lowercase()),
            ),
            other => CallError::new(ErrorKind::StreamError, None, other.to_string()),
        },
        OpenAIError::ApiError(api) => {
            let status = api.status_code.as_u16();
            CallError::new(ErrorKind::from_status(status), Some(status), api.api_error.message)
        }
        OpenAIError::JSONDeserialize(e, _) => {
            CallError::new(ErrorKind::Server, None, format!("the server's answer is not a chat completion: {e}"))
        }
        other => CallError::new(ErrorKind::InvalidRequest, None, other.to_string()),
    }
}

fn http_failure(failure: HttpFailure, base_url: &str, model: &str) -> CallError {
    let status = failure.status;
    let (message, code) = match serde_json::from_str::<Value>(&failure.body) {
        Ok(body) => error_text(&body),
        Err(_) => (failure.body.chars().take(300).collect(), None),
    };
    let message = if message.is_empty() { format!("HTTP {status} with no message") } else { message };
    let code = code.unwrap_or_default().to_lowercase();
    let kind = if code.contains("throttl") || code.contains("rate_limit") {
        ErrorKind::Throttled
    } else {
        ErrorKind::from_status(status)
    };
    let message = match kind {
        ErrorKind::Auth => format!(
            "{base_url} refused the credentials: {message}; set OPENAI_API_KEY or AWS_BEARER_TOKEN_BEDROCK to a key with access to {model}"
        ),
        ErrorKind::NotFound => {
            format!("{message}; check the model id `{model}` and the base URL {base_url}")
        }
        _ => message,
    };
    let mut error = CallError::new(kind, Some(status), message);
    error.retry_after = failure.retry_after;
    error
}

fn transport(e: &reqwest::Error, base_url: &str) -> CallError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.contains(TOO_LARGE) {
        CallError::new(ErrorKind::TooLarge, None, detail)
    } else if e.is_timeout() {
        CallError::new(ErrorKind::Timeout, None, format!("{base_url} did not answer in time: {detail}"))
    } else if e.is_connect() {
        CallError::new(ErrorKind::Unavailable, None, format!("cannot connect to {base_url}: {detail}"))
    } else {
        CallError::new(ErrorKind::Unavailable, None, format!("the request to {base_url} failed: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_failures_read_as_sentences() {
        let f = HttpFailure { status: 403, retry_after: None, body: r#"{"message":"Invalid API key"}"#.into() };
        let e = http_failure(f, "https://h/openai/v1", "m");
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(
            e.message.starts_with("https://h/openai/v1 refused the credentials: Invalid API key; set OPENAI_API_KEY")
        );
        let f = HttpFailure { status: 429, retry_after: Some(Duration::from_secs(2)), body: "slow down".into() };
        let e = http_failure(f, "b", "m");
        assert_eq!((e.kind, e.retryable, e.retry_after), (ErrorKind::Throttled, true, Some(Duration::from_secs(2))));
    }
}
