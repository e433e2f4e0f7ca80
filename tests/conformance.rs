//! The wire corpus (`../shared/fixtures/wire/cases`), one test per case: the loopback
//! wire server serves the recorded bytes, the real AWS SDK or async-openai client reads
//! them, and the normalized response must match the case's `expected` outcome.

use std::path::Path;
use std::sync::Arc;

use gpt_oss_scenarios::execute::{self, Clients, ModelResponse};
use gpt_oss_scenarios::plan::Case;
use gpt_oss_scenarios::providers::{Connection, Environment};
use gpt_oss_scenarios::scenario::Scenario;
use gpt_oss_scenarios::wire::WireCase;
use gpt_oss_scenarios::wire::server::{Reply, WireServer};
use serde_json::{Value, json};

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn case_for(wire: &WireCase) -> Case {
    let spec: Scenario = serde_json::from_value(json!({
        "name": wire.id, "api": wire.api, "model": wire.model, "prompt": "replayed"
    }))
    .expect("scenario");
    Case {
        id: wire.id.clone(),
        file: "corpus".into(),
        project_root: std::env::temp_dir(),
        source: "corpus.yaml".into(),
        variant: Vec::new(),
        api: wire.api,
        model: wire.model.clone(),
        region: "us-west-2".into(),
        samples: 1,
        timeout: std::time::Duration::from_secs(30),
        skip: None,
        spec,
    }
}

async fn replay(wire: &WireCase) -> ModelResponse {
    let reply = Reply::from_wire(&wire.response).expect("encodable response");
    let server = WireServer::start(Arc::new(reply)).await.expect("server starts");
    let env = Environment {
        bedrock_bearer_token: Some("conformance-token".into()),
        openai_api_key: Some("conformance-key".into()),
        ..Environment::default()
    };
    let flags = Connection {
        bedrock_endpoint: Some(server.url()),
        openai_base_url: Some(format!("{}/openai/v1", server.url())),
    };
    let clients = Clients::new(env, flags);
    // One attempt: the point is how each response is read, not the retry policy.
    execute::call_once(&clients, &case_for(wire)).await
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
    check(
        "final",
        squash(&got.final_text) == squash(exp_final),
        format!("got {:?}, expected {exp_final:?}", got.final_text),
    );
    let exp_reasoning = expected["reasoning"].as_str().unwrap_or_default();
    check(
        "reasoning",
        squash(&got.reasoning) == squash(exp_reasoning),
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
    { test = conforms, root = "../shared/fixtures/wire/cases", pattern = r"\.json$" },
}
