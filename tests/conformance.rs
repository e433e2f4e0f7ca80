//! The wire corpus (`tests/fixtures/wire/cases`), two tests per case:
//! - conformance: the loopback wire server serves the recorded bytes, the real AWS SDK
//!   or async-openai client reads them, and the normalized response must match the
//!   case's `expected` outcome;
//! - round trip: record the case into a cassette (the loopback server playing "live"),
//!   replay the cassette, and get an identical normalized response.

use std::path::Path;
use std::sync::Arc;

use gpt_oss_scenarios::execute::{self, Clients, RetryPolicy};
use gpt_oss_scenarios::plan::Case;
use gpt_oss_scenarios::providers::Connection;
use gpt_oss_scenarios::response::ModelResponse;
use gpt_oss_scenarios::scenario::Mode;
use gpt_oss_scenarios::scenario::Scenario;
use gpt_oss_scenarios::wire::WireCase;
use gpt_oss_scenarios::wire::server::{Reply, WireServer};
use serde_json::{Value, json};

/// Whitespace runs become one space and the ends are trimmed.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `got` says `expected` up to whitespace. An engine may join separate blocks
/// or spans with a newline where the corpus joins them with nothing (its README allows
/// it), so `got` may have a space more; a space lost between two words is a failure.
fn same_text(got: &str, expected: &str) -> bool {
    let (got, expected) = (squash(got), squash(expected));
    let (mut g, mut e) = (got.chars().peekable(), expected.chars().peekable());
    loop {
        match (g.peek(), e.peek()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {
                g.next();
                e.next();
            }
            (Some(' '), _) => {
                g.next();
            }
            _ => return false,
        }
    }
}

fn case_for(wire: &WireCase) -> Case {
    case_in(wire, std::env::temp_dir())
}

fn case_in(wire: &WireCase, project_root: std::path::PathBuf) -> Case {
    let spec: Scenario = serde_json::from_value(json!({
        "name": wire.id, "api": wire.api, "model": wire.model, "prompt": "replayed"
    }))
    .expect("scenario");
    Case {
        id: wire.id.clone(),
        file: "corpus".into(),
        project_root,
        source: "corpus.yaml".into(),
        variant: Vec::new(),
        api: wire.api,
        model: wire.model.clone(),
        region: "us-west-2".into(),
        samples: 1,
        timeout: std::time::Duration::from_secs(30),
        tool_timeouts: Default::default(),
        row: None,
        skip: None,
        spec: spec.into(),
    }
}

/// Clients pointed at a loopback server that plays the case's response.
async fn serving(wire: &WireCase) -> (WireServer, Arc<Clients>) {
    let reply = Reply::from_wire(&wire.response).expect("encodable response");
    let server = WireServer::start(Arc::new(reply)).await.expect("server starts");
    let flags = Connection {
        bedrock_endpoint: Some(server.url()),
        openai_base_url: Some(format!("{}/openai/v1", server.url())),
        responses_base_url: Some(format!("{}/v1", server.url())),
    };
    (server, Clients::loopback(flags))
}

async fn replay(wire: &WireCase) -> ModelResponse {
    let (_server, clients) = serving(wire).await;
    // One attempt: the point is how each response is read, not the retry policy.
    execute::Caller::new(&clients, &RetryPolicy::none()).case(&case_for(wire)).await
}

/// Everything a run judges: the response without timing and bookkeeping.
fn normalized(r: &ModelResponse) -> ModelResponse {
    ModelResponse { latency_ms: 0, attempts: 0, wire: None, source: Default::default(), ..r.clone() }
}

fn round_trips(_path: &Path, text: String) -> datatest_stable::Result<()> {
    let wire: WireCase = serde_json::from_str(&text)?;
    let project = tempfile::tempdir()?;
    let case = case_in(&wire, project.path().to_path_buf());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (live, replayed) = runtime.block_on(async {
        let (_server, clients) = serving(&wire).await;
        let live =
            execute::session::run_samples(&case, &clients, &Default::default(), &RetryPolicy::none(), Mode::Record)
                .await;
        // Replay never reaches the "live" server: it gets clients of its own.
        let replayed =
            execute::session::run_samples(&case, &clients, &Default::default(), &RetryPolicy::none(), Mode::Replay)
                .await;
        (live, replayed)
    });
    let cassette = gpt_oss_scenarios::recordings::path_for(&case);
    if !cassette.exists() {
        return Err(format!("recording wrote no cassette at {}", cassette.display()).into());
    }
    let (live, replayed) = (normalized(&live[0]), normalized(&replayed[0]));
    if live != replayed {
        return Err(format!("replay differs from the recording:\n live: {live:?}\n replayed: {replayed:?}").into());
    }
    Ok(())
}

fn conforms(path: &Path, text: String) -> datatest_stable::Result<()> {
    let wire: WireCase = serde_json::from_str(&text)?;
    let expected = wire.expected.clone().ok_or("the case has no `expected`")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let got = runtime.block_on(replay(&wire));
    let mut problems = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        if !ok {
            problems.push(format!("{what}: {detail}"));
        }
    };
    let exp_final = expected["final"].as_str().unwrap_or_default();
    check("final", same_text(&got.final_text, exp_final), format!("got {:?}, expected {exp_final:?}", got.final_text));
    let exp_reasoning = expected["reasoning"].as_str().unwrap_or_default();
    check(
        "reasoning",
        same_text(&got.reasoning, exp_reasoning),
        format!("got {:?}, expected {exp_reasoning:?}", got.reasoning),
    );
    let exp_stop = expected["stop_reason"].as_str();
    check(
        "stop_reason",
        got.stop_reason.as_deref() == exp_stop,
        format!("got {:?}, expected {exp_stop:?}", got.stop_reason),
    );
    let got_tools: Vec<Value> = got.tool_calls.iter().map(|t| json!({"name": t.name, "input": t.input})).collect();
    let exp_tools: Vec<Value> = expected["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!({"name": t["name"], "input": t["input"]}))
        .collect();
    check("tool_calls", got_tools == exp_tools, format!("got {got_tools:?}, expected {exp_tools:?}"));
    let got_usage = got.usage.map(|u| json!({"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}));
    let exp_usage = Some(expected["usage"].clone()).filter(|u| !u.is_null());
    check("usage", got_usage == exp_usage, format!("got {got_usage:?}, expected {exp_usage:?}"));
    let got_error = got.error.as_ref().map(|e| json!({"kind": e.kind, "retryable": e.retryable, "status": e.status}));
    let exp_error = Some(expected["error"].clone()).filter(|e| !e.is_null());
    check(
        "error",
        got_error == exp_error,
        format!("got {got_error:?} ({:?}), expected {exp_error:?}", got.error.as_ref().map(|e| &e.message)),
    );
    let mut got_flags = got.flags.names();
    got_flags.sort_unstable();
    let mut exp_flags: Vec<&str> =
        expected["flags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    exp_flags.sort_unstable();
    check("flags", got_flags == exp_flags, format!("got {got_flags:?}, expected {exp_flags:?}"));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} does not conform:\n  {}", path.display(), problems.join("\n  ")).into())
    }
}

datatest_stable::harness! {
    { test = conforms, root = "tests/fixtures/wire/cases", pattern = r"\.json$" },
    { test = round_trips, root = "tests/fixtures/wire/cases", pattern = r"\.json$" },
}
