//! Agent scenarios through the real binary against the loopback wire server: the tool
//! loop on each transport, what goes back to the model, and how loops end.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gpt_oss_scenarios::wire::WireResponse;
use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};
use serde_json::{Value, json};

use crate::support::{binary, corpus, repo, stderr, stdout, write};

fn json_reply(body: Value) -> Reply {
    let response = WireResponse {
        status: 200,
        headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
        json: Some(body),
        ..WireResponse::default()
    };
    Reply::from_wire(&response).unwrap()
}

/// Answers with each reply in turn; the last one again after that.
struct Script {
    replies: Vec<Reply>,
    served: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
}

impl Script {
    fn new(replies: Vec<Reply>) -> Arc<Script> {
        Arc::new(Script { replies, served: AtomicUsize::new(0), bodies: Mutex::new(Vec::new()) })
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Responder for Script {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        self.bodies.lock().unwrap().push(serde_json::from_slice(&request.body).unwrap_or(Value::Null));
        let n = self.served.fetch_add(1, Ordering::SeqCst);
        self.replies[n.min(self.replies.len() - 1)].clone()
    }
}

const TOOLS: &str = "    tools:
      - name: get_weather
        description: Get the weather.
        input_schema: {type: object, properties: {city: {type: string}, location: {type: string}}}
        result: {condition: sunny, temperature_c: 22}
";

fn scenario(transport: &str, extra: &str) -> String {
    format!(
        "scenarios:\n  - name: agent\n    api: agent\n    transport: {transport}\n    model: openai.gpt-oss-20b-1:0\n    prompt: What is the weather?\n    snapshot: {{final: exact, reasoning: exact}}\n{TOOLS}{extra}"
    )
}

fn run_agent(dir: &Path, server: &WireServer) -> (Output, Value) {
    let out = binary(dir)
        .args(["run", "scenarios", "--mode", "live", "--accept", "--report-json", "report.json"])
        .args(["--bedrock-endpoint", &server.url(), "--openai-base-url", &format!("{}/openai/v1", server.url())])
        .args(["--responses-base-url", &format!("{}/v1", server.url())])
        .env("AWS_BEARER_TOKEN_BEDROCK", "t")
        .env("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1")
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    let report =
        std::fs::read_to_string(dir.join("report.json")).map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    (out, report["cases"][0].clone())
}

fn converse_tool_call() -> Reply {
    json_reply(json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Call the tool.", "signature": "sig-must-not-come-back"}}},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Tokyo"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 50, "outputTokens": 10, "totalTokens": 60}
    }))
}

fn chat_tool_call() -> Reply {
    json_reply(json!({
        "id": "c1", "object": "chat.completion", "model": "openai.gpt-oss-20b-1:0",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "<reasoning>Use the tool.</reasoning>",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}]
        }}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    }))
}

fn responses_tool_call() -> Reply {
    json_reply(json!({
        "id": "resp_1", "object": "response", "status": "completed", "model": "openai.gpt-oss-20b",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "Use the tool."}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}
        ],
        "usage": {"input_tokens": 50, "output_tokens": 10, "total_tokens": 60}
    }))
}

#[test]
fn a_two_turn_weather_agent_on_each_transport() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let transports = [
        ("converse", converse_tool_call(), corpus("converse-120b-ok-effort-medium")),
        ("converse-stream", corpus("converse-stream-tool-use"), corpus("converse-stream-120b-hi")),
        ("chat", chat_tool_call(), corpus("chat-20b-planet")),
        ("chat-stream", corpus("chat-stream-20b-tool-call"), corpus("chat-stream-20b-after-tool-result")),
        // InvokeModel's bodies are chat completions: the same tool call, another path.
        ("invoke", chat_tool_call(), corpus("invoke-120b-capital")),
        ("invoke-stream", corpus("invoke-stream-tool-call"), corpus("invoke-stream-120b-capital")),
        ("responses", responses_tool_call(), corpus("responses-20b-capital")),
        ("responses-stream", corpus("responses-stream-function-call"), corpus("responses-stream-20b-capital")),
    ];
    for (transport, first, second) in transports {
        let script = Script::new(vec![first, second]);
        let server = rt.block_on(WireServer::start(script.clone())).unwrap();
        let dir = repo();
        write(
            dir.path(),
            "scenarios/agent.yaml",
            &scenario(
                transport,
                "    expect:\n      - tool_sequence: {calls: [get_weather]}\n      - max_turns_used: 2\n",
            ),
        );
        let (out, case) = run_agent(dir.path(), &server);
        assert_eq!(out.status.code(), Some(0), "{transport}: {}{}", stdout(&out), stderr(&out));
        let turns = case["turns"].as_array().unwrap();
        assert_eq!(turns.len(), 2, "{transport}: {case}");
        assert_eq!(turns[0]["tool_calls"][0]["name"], "get_weather");
        assert_eq!(turns[0]["tool_calls"][0]["result"], "{\"condition\":\"sunny\",\"temperature_c\":22}");
        assert!(!turns[0]["reasoning"].as_str().unwrap().is_empty(), "{transport}: reasoning separated on turn 1");
        assert!(!case["final"].as_str().unwrap().contains("<reasoning>"), "{transport}: {case}");

        let bodies = script.bodies();
        assert_eq!(bodies.len(), 2, "{transport}");
        let history = bodies[1].to_string();
        assert!(
            !history.contains("signature") && !history.contains("reasoningContent"),
            "{transport}: reasoning went back: {history}"
        );
        assert!(
            !history.contains("<reasoning>") && !history.contains("\"reasoning\""),
            "{transport}: reasoning went back: {history}"
        );
        if transport.starts_with("converse") {
            let messages = bodies[1]["messages"].as_array().unwrap();
            let result = &messages.last().unwrap()["content"][0]["toolResult"];
            assert_eq!(
                (result["toolUseId"].as_str(), result["status"].as_str()),
                (Some("tooluse_1"), Some("success")),
                "{history}"
            );
            assert_eq!(
                messages[messages.len() - 2]["content"].as_array().unwrap().last().unwrap()["toolUse"]["name"],
                "get_weather"
            );
        } else if transport.starts_with("responses") {
            // Function call and its output go back as input items, paired by call_id.
            let input = bodies[1]["input"].as_array().unwrap();
            let (call, output) = (&input[input.len() - 2], &input[input.len() - 1]);
            assert_eq!((call["type"].as_str(), call["name"].as_str()), (Some("function_call"), Some("get_weather")));
            assert_eq!(output["type"], "function_call_output");
            assert_eq!(output["call_id"], call["call_id"], "{history}");
            assert_eq!(output["output"], "{\"condition\":\"sunny\",\"temperature_c\":22}");
        } else {
            let messages = bodies[1]["messages"].as_array().unwrap();
            let tool = messages.last().unwrap();
            assert_eq!(tool["role"], "tool");
            assert_eq!(tool["tool_call_id"], messages[messages.len() - 2]["tool_calls"][0]["id"]);
        }
        let snapshot = std::fs::read_to_string(dir.path().join("snapshots/agent.snap")).unwrap();
        assert!(snapshot.contains("turns:\n  - reasoning: ") && snapshot.contains("        result: "), "{snapshot}");
    }
}

#[test]
fn unknown_tools_and_invalid_inputs_go_back_as_error_results() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The model asks for get_weather with {city} (this tool wants {location}) and get_time (not a tool).
    let script = Script::new(vec![corpus("chat-stream-two-tool-calls"), corpus("chat-stream-20b-after-tool-result")]);
    let server = rt.block_on(WireServer::start(script.clone())).unwrap();
    let dir = repo();
    let strict = scenario("chat-stream", "").replace(
        "{type: object, properties: {city: {type: string}, location: {type: string}}}",
        "{type: object, properties: {location: {type: string}}, required: [location], additionalProperties: false}",
    );
    write(dir.path(), "scenarios/agent.yaml", &strict);
    let (out, case) = run_agent(dir.path(), &server);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let results: Vec<(String, String)> = script.bodies()[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| (m["tool_call_id"].as_str().unwrap().to_owned(), m["content"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(results.len(), 2, "both calls of the turn are answered: {results:?}");
    assert!(results[0].1.starts_with("Invalid input for get_weather: "), "{results:?}");
    assert_eq!(results[1].1, "Unknown tool: get_time");
    let calls = &case["turns"][0]["tool_calls"];
    assert_eq!((calls[0]["is_error"].as_bool(), calls[1]["is_error"].as_bool()), (Some(true), Some(true)));
}

#[test]
fn two_calls_in_one_turn_both_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let script = Script::new(vec![corpus("chat-stream-two-tool-calls"), corpus("chat-stream-20b-after-tool-result")]);
    let server = rt.block_on(WireServer::start(script.clone())).unwrap();
    let dir = repo();
    let both = scenario("chat-stream", "").replace(
        TOOLS,
        &format!("{TOOLS}      - name: get_time\n        description: The time.\n        input_schema: {{type: object}}\n        cases:\n          - when: {{tz: Asia/Tokyo}}\n            result: '09:00'\n"),
    );
    write(dir.path(), "scenarios/agent.yaml", &both);
    let (out, case) = run_agent(dir.path(), &server);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let calls = case["turns"][0]["tool_calls"].as_array().unwrap();
    let results: Vec<(&str, &str)> =
        calls.iter().map(|c| (c["name"].as_str().unwrap(), c["result"].as_str().unwrap())).collect();
    assert_eq!(results, [("get_weather", "{\"condition\":\"sunny\",\"temperature_c\":22}"), ("get_time", "09:00")]);
}

#[test]
fn max_turns_exhaustion_is_an_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A model that never stops calling the tool.
    let script = Script::new(vec![corpus("converse-stream-tool-use")]);
    let server = rt.block_on(WireServer::start(script.clone())).unwrap();
    let dir = repo();
    write(dir.path(), "scenarios/agent.yaml", &scenario("converse-stream", "    max_turns: 3\n"));
    let (out, case) = run_agent(dir.path(), &server);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(case["status"], "errored");
    assert_eq!(case["error"]["kind"], "agent");
    assert_eq!(case["error"]["message"], "the agent reached max_turns (3) without a final answer");
    assert_eq!(script.bodies().len(), 3);
}

#[test]
fn a_command_tool_gets_the_input_on_stdin() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let script = Script::new(vec![converse_tool_call(), corpus("converse-120b-ok-effort-medium")]);
    let server = rt.block_on(WireServer::start(script.clone())).unwrap();
    let dir = repo();
    let with_command = scenario("converse", "").replace(
        "        result: {condition: sunny, temperature_c: 22}\n",
        "        command: [sh, -c, 'read input; echo \"forecast for $input\"']\n        timeout: 5s\n",
    );
    write(dir.path(), "scenarios/agent.yaml", &with_command);
    let (out, case) = run_agent(dir.path(), &server);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(case["turns"][0]["tool_calls"][0]["result"], "forecast for {\"city\":\"Tokyo\"}");
    let sent = script.bodies()[1].to_string();
    assert!(sent.contains("forecast for {\\\"city\\\":\\\"Tokyo\\\"}"), "{sent}");
}

/// Issue 13: agent `command` tools run in replay too, and changing a command did not
/// invalidate its cassette.
#[test]
fn changing_a_command_tool_makes_its_cassette_stale() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let script = Script::new(vec![converse_tool_call(), corpus("converse-120b-ok-effort-medium")]);
    let server = rt.block_on(WireServer::start(script)).unwrap();
    let dir = repo();
    let with_command = |text: &str| {
        scenario("converse", "").replace(
            "        result: {condition: sunny, temperature_c: 22}\n",
            &format!("        command: [sh, -c, 'cat >/dev/null; echo {text}']\n"),
        )
    };
    write(dir.path(), "scenarios/agent.yaml", &with_command("sunny"));
    let urls = ["--bedrock-endpoint".to_owned(), server.url()];
    let run = |mode: &str| {
        binary(dir.path())
            .args(["run", "scenarios", "--mode", mode, "--accept"])
            .args(&urls)
            .env("AWS_BEARER_TOKEN_BEDROCK", "t")
            .env("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1")
            .output()
            .unwrap()
    };
    let recorded = run("record");
    assert_eq!(recorded.status.code(), Some(0), "{}{}", stdout(&recorded), stderr(&recorded));
    let replayed = run("replay");
    assert_eq!(replayed.status.code(), Some(0), "{}{}", stdout(&replayed), stderr(&replayed));
    write(dir.path(), "scenarios/agent.yaml", &with_command("rainy"));
    let stale = run("replay");
    assert_eq!(stale.status.code(), Some(1), "{}", stdout(&stale));
    assert!(stdout(&stale).contains("was recorded for a different request"), "{}", stdout(&stale));
}

#[test]
fn max_tokens_cutting_a_tool_call_says_so() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cut = json_reply(json!({
        "id": "c1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "finish_reason": "length", "message": {
            "role": "assistant", "content": "",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"To"}}]
        }}]
    }));
    let script = Script::new(vec![cut]);
    let server = rt.block_on(WireServer::start(script.clone())).unwrap();
    let dir = repo();
    write(dir.path(), "scenarios/agent.yaml", &scenario("chat", ""));
    let (out, case) = run_agent(dir.path(), &server);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(case["error"]["message"], "max_tokens cut a tool call short: raise params.max_tokens");
    assert_eq!(script.bodies().len(), 1, "the cut call was not run");
}
