//! Misbehaving servers: each fault reads as the kind of error a user would expect, on
//! Converse and on chat alike, through the real clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gpt_oss_scenarios::wire::WireResponse;
use gpt_oss_scenarios::wire::server::{Ending, RecordedRequest, Reply, Responder, WireServer};
use serde_json::{Value, json};

use crate::reports::json_file;
use crate::support::{corpus, repo, run_isolated, stdout, write};

/// Serves `reply` and counts the requests.
struct Counted {
    reply: Reply,
    calls: AtomicUsize,
}

impl Responder for Counted {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.reply.clone()
    }
}

/// Runs one case on `api` against `reply`; returns the case's report record and how
/// many requests reached the server.
fn outcome(api: &str, reply: Reply, timeout: &str) -> (Value, usize) {
    outcome_with(api, reply, timeout, &[])
}

fn outcome_with(api: &str, reply: Reply, timeout: &str, extra: &[&str]) -> (Value, usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let counted = Arc::new(Counted { reply, calls: AtomicUsize::new(0) });
    let server = rt.block_on(WireServer::start(counted.clone())).unwrap();
    let dir = repo();
    let scenario = format!(
        "name: fault\napi: {api}\nmodel: openai.gpt-oss-20b-1:0\nprompt: hi\ntimeout: {timeout}\nsnapshot: {{final: ignore}}\n"
    );
    write(dir.path(), "scenarios/fault.yaml", &scenario);
    let base = server.url();
    let chat = format!("{base}/openai/v1");
    let responses = format!("{base}/v1");
    let mut args = vec!["run", "scenarios", "--report-json", "r.json", "--bedrock-endpoint", &base];
    args.extend(["--openai-base-url", &chat, "--responses-base-url", &responses]);
    args.extend_from_slice(extra);
    let out = run_isolated(
        dir.path(),
        &args,
        &[
            ("AWS_BEARER_TOKEN_BEDROCK", "t"),
            ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1"),
            ("OPENAI_API_KEY", "k"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = json_file(&dir.path().join("r.json"));
    (report["cases"][0].clone(), counted.calls.load(Ordering::SeqCst))
}

fn kind(case: &Value) -> &str {
    case["error"]["kind"].as_str().unwrap_or_default()
}

/// A recorded answer for each API.
const ANSWERS: [(&str, &str); 4] = [
    ("converse", "converse-120b-ok-effort-medium"),
    ("converse-stream", "converse-stream-120b-hi"),
    ("chat", "chat-20b-planet"),
    ("chat-stream", "chat-stream-20b-sun-per-chunk-tags"),
];

/// Issue 13: reset or truncated bodies got different kinds on Converse and on chat.
#[test]
fn a_cut_connection_reads_the_same_on_converse_and_chat() {
    for (api, recording) in ANSWERS {
        let reply = corpus(recording);
        let half = reply.body_len() / 2;
        let (case, calls) = outcome(api, reply.cut(half, Ending::Reset), "30s");
        assert_eq!(kind(&case), "unavailable", "{api}: {case}");
        assert_eq!(case["error"]["retryable"], true, "{api}: {case}");
        assert_eq!(calls, 3, "{api}: retried as a transient failure");
    }
}

/// Issues 13 and 25: a stalled Converse body read as `server`, and then ended after
/// about 5.9 s (the SDK's stalled-stream protection) whatever the case's `timeout`
/// said. On every API a stall now ends at the case's timeout: 7 s here, run side by side.
#[test]
fn a_stall_ends_at_the_case_timeout_on_every_api() {
    let recordings = [
        ("converse", "converse-120b-ok-effort-medium"),
        ("converse-stream", "converse-stream-120b-hi"),
        ("invoke", "invoke-120b-capital"),
        ("invoke-stream", "invoke-stream-120b-capital"),
        ("chat", "chat-20b-planet"),
        ("chat-stream", "chat-stream-20b-sun-per-chunk-tags"),
        ("responses", "responses-20b-capital"),
        ("responses-stream", "responses-stream-20b-capital"),
    ];
    for (api, (case, calls)) in stalled_side_by_side(&recordings, 1, 2, "7s") {
        assert_eq!(kind(&case), "timeout", "{api}: {case}");
        assert_eq!(calls, 1, "{api}: a stall is not retried");
        // Issue 13: a timed-out case showed "in 0 ms"; issue 25: it ended at 5.9 s.
        let took = case["duration_ms"].as_u64().unwrap();
        assert!((6_900..12_000).contains(&took), "{api}: ended after {took} ms: {case}");
        assert!(case["latency_ms"].as_u64().unwrap() >= 6_000, "{api}: the real duration: {case}");
    }
}

/// Each recording on its API, stalled after `num/den` of its body, with the case's
/// `timeout`: all at once (each waits out its timeout), in the order given.
fn stalled_side_by_side(
    recordings: &[(&'static str, &'static str)],
    num: usize,
    den: usize,
    timeout: &str,
) -> Vec<(&'static str, (Value, usize))> {
    std::thread::scope(|scope| {
        let runs: Vec<_> = recordings
            .iter()
            .map(|(api, recording)| {
                scope.spawn(move || {
                    let reply = corpus(recording);
                    let keep = reply.body_len() * num / den;
                    (*api, outcome(api, reply.cut(keep, Ending::Stall), timeout))
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    })
}

/// Issue 25 (left from November): a non-stream body that arrives whole but is not
/// what the API sends read as `invalid_request` with no message on Converse, where
/// InvokeModel, chat and Responses said `server`. One kind on every API, with a
/// message, retried; a connection cut mid-body is `unavailable` on every API.
#[test]
fn a_broken_body_reads_the_same_on_every_non_stream_api() {
    let recordings = [
        ("converse", "converse-120b-ok-effort-medium"),
        ("invoke", "invoke-120b-capital"),
        ("chat", "chat-20b-planet"),
        ("responses", "responses-20b-capital"),
    ];
    for (api, recording) in recordings {
        for (ending, expected) in [(Ending::Complete, "server"), (Ending::Reset, "unavailable")] {
            let reply = corpus(recording);
            let half = reply.body_len() / 2;
            let (case, calls) = outcome(api, reply.cut(half, ending), "30s");
            assert_eq!(kind(&case), expected, "{api} {ending:?}: {case}");
            assert_eq!(calls, 3, "{api} {ending:?}: retried as a transient failure");
            assert!(case["error"]["message"].as_str().is_some_and(|m| m.len() > 20), "{api} {ending:?}: {case}");
        }
    }
}

fn sse(body: &[u8]) -> Reply {
    use base64::Engine;
    let response = WireResponse {
        status: 200,
        headers: [("content-type".to_owned(), "text/event-stream".to_owned())].into(),
        sse_raw: Some(String::new()),
        writes: Some(vec![base64::engine::general_purpose::STANDARD.encode(body)]),
        ..WireResponse::default()
    };
    Reply::from_wire(&response).unwrap()
}

/// Issue 13: invalid UTF-8 in an SSE stream read as `unavailable` and was retried.
#[test]
fn invalid_utf8_in_a_stream_is_a_stream_error_and_not_retried() {
    let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\xc3\"}}]}\n\ndata: [DONE]\n\n";
    let (case, calls) = outcome("chat-stream", sse(body), "30s");
    assert_eq!(kind(&case), "stream_error", "{case}");
    assert!(case["error"]["message"].as_str().unwrap().contains("malformed event stream: utf8 error"), "{case}");
    assert_eq!(calls, 1, "bytes the server sent are not fixed by sending again");
}

/// Issue 13: an error object inside a chat stream that says 429 (LiteLLM's way of
/// passing on a Bedrock throttle) was a non-retryable `stream_error`.
#[test]
fn a_throttle_inside_a_chat_stream_is_throttled_and_retried() {
    let error = json!({"error": {"message": "litellm.RateLimitError: BedrockException - Too many requests, please wait before trying again.", "type": "throttling_error", "code": "429"}});
    let body =
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"Hel\"}}}}]}}\n\ndata: {error}\n\n");
    let (case, calls) = outcome("chat-stream", sse(body.as_bytes()), "30s");
    assert_eq!(kind(&case), "throttled", "{case}");
    assert_eq!(calls, 3, "retried, as a 429 is");
}

/// A 2 MiB answer on `api`, in its own wire format.
fn huge(api: &str) -> Reply {
    let piece = "x".repeat(64 << 10);
    let pieces = 32;
    let json_reply = |body: Value| WireResponse::json(200, body);
    let response = match api {
        "converse" => json_reply(
            json!({"output": {"message": {"role": "assistant", "content": [{"text": piece.repeat(pieces)}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}),
        ),
        "chat" => json_reply(json!({"id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": piece.repeat(pieces)}, "finish_reason": "stop"}]})),
        "chat-stream" => {
            let mut sse: Vec<String> = (0..pieces)
                .map(|_| json!({"choices": [{"index": 0, "delta": {"content": piece}}]}).to_string())
                .collect();
            sse.push(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string());
            sse.push("[DONE]".into());
            WireResponse {
                status: 200,
                headers: [("content-type".to_owned(), "text/event-stream".to_owned())].into(),
                sse: Some(sse),
                ..WireResponse::default()
            }
        }
        _ => {
            let event = |kind: &str, payload: Value| {
                serde_json::from_value(json!({"type": kind, "message_type": "event", "payload": payload})).unwrap()
            };
            let mut events = vec![event("messageStart", json!({"role": "assistant"}))];
            events.extend(
                (0..pieces)
                    .map(|_| event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": piece}}))),
            );
            events.push(event("messageStop", json!({"stopReason": "end_turn"})));
            WireResponse {
                status: 200,
                headers: [("content-type".to_owned(), "application/vnd.amazon.eventstream".to_owned())].into(),
                events: Some(events),
                ..WireResponse::default()
            }
        }
    };
    Reply::from_wire(&response).unwrap()
}

/// Issue 13: a 200 MB body peaked at 1.3 GB of memory. A response over
/// `--max-response-mib` is cut off and classified, on every API, and not retried.
#[test]
fn a_response_over_the_size_limit_is_too_large_on_every_api() {
    for api in ["converse", "converse-stream", "chat", "chat-stream"] {
        let (case, calls) = outcome_with(api, huge(api), "30s", &["--max-response-mib", "1"]);
        assert_eq!(kind(&case), "too_large", "{api}: {}", case["error"]);
        assert!(case["error"]["message"].as_str().unwrap().contains("larger than the limit of 1 MiB"), "{api}: {case}");
        assert_eq!(calls, 1, "{api}");
    }
    // Under the limit, the same answers pass through.
    let (case, _) = outcome_with("chat", huge("chat"), "30s", &["--max-response-mib", "3"]);
    assert_eq!(case["error"], Value::Null, "{case}");
}

/// A 429 whose `Retry-After` is `value`, in `api`'s wire format.
fn throttled(api: &str, value: &str) -> Reply {
    let (body, error_type) = if api.starts_with("converse") {
        (json!({"message": "Too many requests, please wait before trying again."}), Some("ThrottlingException"))
    } else {
        (json!({"error": {"message": "Rate limit exceeded", "type": "rate_limit_error", "code": "429"}}), None)
    };
    let mut response = WireResponse::json(429, body);
    response.headers.insert("retry-after".into(), value.into());
    if let Some(t) = error_type {
        response.headers.insert("x-amzn-errortype".into(), t.into());
    }
    Reply::from_wire(&response).unwrap()
}

/// Issue 13: a `Retry-After` of 2^64 seconds or more panicked the case on all four
/// APIs ("the case's task failed", the 429 lost).
#[test]
fn a_retry_after_no_duration_can_hold_is_a_throttle_not_a_panic() {
    for api in ["converse", "converse-stream", "chat", "chat-stream"] {
        for value in ["1e20", "18446744073709551616", "1e308"] {
            let (case, calls) = outcome_with(api, throttled(api, value), "30s", &["--retries", "1"]);
            assert_eq!(kind(&case), "throttled", "{api} {value}: {case}");
            assert_eq!(calls, 2, "{api} {value}: retried with the policy's own backoff");
        }
    }
}

/// Issue 13: a `Retry-After` that outlasts the case's timeout ends the case at once,
/// with the throttle reported, and an HTTP-date is honoured.
#[test]
fn a_retry_after_past_the_deadline_ends_the_case_at_once() {
    for value in ["3600", "Fri, 31 Dec 2100 23:59:59 GMT"] {
        let (case, calls) = outcome_with("chat", throttled("chat", value), "30s", &[]);
        assert_eq!(kind(&case), "throttled", "{value}: {case}");
        assert_eq!(calls, 1, "{value}: no retry that could not finish in time");
    }
}

/// Throttles the first request, asking for a one-second wait, then answers.
struct ThrottledOnce {
    calls: AtomicUsize,
}

impl Responder for ThrottledOnce {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 { throttled("chat", "1") } else { corpus("chat-20b-planet") }
    }
}

/// Issue 14: "in N ms" showed the last attempt: a case that retried for seconds said
/// "in 2 ms". It shows the case's wall time, with its attempts.
#[test]
fn the_case_line_shows_its_wall_time_and_attempts() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(ThrottledOnce { calls: AtomicUsize::new(0) }))).unwrap();
    let dir = repo();
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\nsnapshot: {final: ignore}\n");
    let chat = format!("{}/openai/v1", server.url());
    let out = run_isolated(
        dir.path(),
        &["run", "scenarios", "--accept", "--openai-base-url", &chat],
        &[("OPENAI_API_KEY", "k")],
    );
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains(" a (chat, m)")).expect("the case's line");
    assert!(line.ends_with(" ms (2 attempts)"), "{line}");
    let ms: u64 = line.split(" in ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert!(ms >= 1000, "the one-second wait the server asked for is part of it: {line}");
}

/// Issue 25 (left from November): a timeout dropped the partial stream (`final: ''`).
/// A stream stopped at the case's timeout keeps what arrived, in the report, with the
/// timeout as its error.
#[test]
fn a_timed_out_stream_keeps_what_arrived() {
    let recordings = [
        ("converse-stream", "converse-stream-split-frames"),
        ("invoke-stream", "invoke-stream-120b-capital"),
        ("chat-stream", "chat-stream-20b-sun-per-chunk-tags"),
        ("responses-stream", "responses-stream-20b-capital"),
    ];
    for (api, (case, _)) in stalled_side_by_side(&recordings, 4, 5, "2s") {
        assert_eq!(kind(&case), "timeout", "{api}: {case}");
        let kept = format!("{}{}", case["final"].as_str().unwrap_or(""), case["reasoning"].as_str().unwrap_or(""));
        assert!(!kept.is_empty(), "{api}: nothing kept: {case}");
        assert!(
            case["error"]["message"].as_str().unwrap().contains("what arrived until then is kept"),
            "{api}: {case}"
        );
    }
}
