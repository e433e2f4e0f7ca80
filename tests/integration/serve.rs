//! `serve` for real clients: a recorded multi-turn agent cassette served to the real
//! async-openai client, turn after turn; matching by hash; the request log; a 400 for
//! another API; and no usage chunk for a client that did not ask for usage.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionStreamResponse};
use futures_util::StreamExt;
use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};
use serde_json::{Value, json};

use crate::support::{binary, corpus, repo, run_isolated, stderr, stdout, write};

const AGENT: &str = "name: weather
api: agent
transport: chat-stream
model: openai.gpt-oss-20b-1:0
prompt: What is the weather in Paris?
tools:
  - name: get_weather
    description: Get weather information for a specified location
    input_schema: {type: object, properties: {location: {type: string}}}
    result: {condition: sunny, temperature_c: 22}
";

/// The two turns of a real chat-stream tool loop, one after the other.
struct TwoTurns(std::sync::atomic::AtomicUsize);

impl Responder for TwoTurns {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        match self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => corpus("chat-stream-20b-tool-call"),
            _ => corpus("chat-stream-20b-after-tool-result"),
        }
    }
}

/// A suite with the agent scenario and its cassette, recorded by the tool itself.
fn recorded_agent() -> (tempfile::TempDir, PathBuf) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(TwoTurns(0.into())))).unwrap();
    let dir = repo();
    write(dir.path(), "scenarios/weather.yaml", AGENT);
    let base = format!("{}/v1", server.url());
    let out = run_isolated(
        dir.path(),
        &["run", "scenarios", "--mode", "record", "--accept", "--openai-base-url", &base],
        &[("OPENAI_API_KEY", "k")],
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let cassette = dir.path().join("cassettes/weather.json");
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&cassette).unwrap()).unwrap();
    assert_eq!(recorded["interactions"].as_array().unwrap().len(), 2, "{recorded}");
    (dir, cassette)
}

/// `serve` running on a free port, and its base URL.
struct Serving {
    child: Child,
    url: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, args: &[&str]) -> Serving {
    let mut child = binary(dir).arg("serve").args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect("serve says its URL").to_owned();
    Serving { child, url }
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// One streamed turn through async-openai: every chunk as the client parsed it.
async fn turn(client: &Client<OpenAIConfig>, body: Value) -> Vec<CreateChatCompletionStreamResponse> {
    let request: CreateChatCompletionRequest = serde_json::from_value(body).unwrap();
    let mut stream = client.chat().create_stream(request).await.unwrap();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    chunks
}

/// The client side of a tool loop, as an application would write it.
fn weather(input: &Value) -> Value {
    json!({"location": input["location"], "condition": "sunny", "temperature_c": 22})
}

#[test]
fn serve_plays_a_multi_turn_agent_cassette_to_async_openai() {
    let (dir, cassette) = recorded_agent();
    let log = dir.path().join("requests.jsonl");
    let serving = serve(dir.path(), &[cassette.to_str().unwrap(), "--log", log.to_str().unwrap()]);
    let client =
        Client::with_config(OpenAIConfig::new().with_api_base(format!("{}/v1", serving.url)).with_api_key("k"));
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Get weather information for a specified location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}
    }}]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut messages = vec![json!({"role": "user", "content": "What is the weather in Paris?"})];
    let mut answer = String::new();
    let mut turns = 0;
    // The loop ends when the model stops asking for tools, as any agent loop does.
    loop {
        turns += 1;
        assert!(turns <= 4, "the served conversation never ends");
        // The second turn asks for usage; the first does not.
        let mut body = json!({"model": "openai.gpt-oss-20b-1:0", "messages": messages, "tools": tools, "stream": true});
        if turns == 2 {
            body["stream_options"] = json!({"include_usage": true});
        }
        let chunks = rt.block_on(turn(&client, body));
        let usage_chunks = chunks.iter().filter(|c| c.choices.is_empty() && c.usage.is_some()).count();
        assert_eq!(usage_chunks, usize::from(turns == 2), "turn {turns}: a usage chunk only when asked for");
        let mut calls: Vec<(String, String, String)> = Vec::new();
        let mut finish = None;
        for choice in chunks.iter().flat_map(|c| &c.choices) {
            answer.push_str(choice.delta.content.as_deref().unwrap_or_default());
            for call in choice.delta.tool_calls.iter().flatten() {
                let i = call.index as usize;
                if calls.len() <= i {
                    calls.resize(i + 1, Default::default());
                }
                if let Some(id) = &call.id {
                    calls[i].0.push_str(id);
                }
                if let Some(f) = &call.function {
                    calls[i].1.push_str(f.name.as_deref().unwrap_or_default());
                    calls[i].2.push_str(f.arguments.as_deref().unwrap_or_default());
                }
            }
            finish = choice.finish_reason.or(finish);
        }
        if calls.is_empty() {
            assert_eq!(format!("{finish:?}"), "Some(Stop)");
            break;
        }
        assert_eq!(calls[0].1, "get_weather");
        let input: Value = serde_json::from_str(&calls[0].2).unwrap();
        assert_eq!(input["location"], "Paris");
        messages.push(json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": calls[0].0, "type": "function", "function": {"name": calls[0].1, "arguments": calls[0].2}}
        ]}));
        messages.push(json!({"role": "tool", "tool_call_id": calls[0].0, "content": weather(&input).to_string()}));
    }
    assert_eq!(turns, 2);
    assert!(answer.contains("-100"), "the recorded final answer: {answer}");

    // Another API than the recording's: a clear 400, not an empty body.
    let chat: CreateChatCompletionRequest =
        serde_json::from_value(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})).unwrap();
    let refused = rt.block_on(client.chat().create(chat)).unwrap_err().to_string();
    assert!(refused.contains("this request is for chat, but") && refused.contains("chat-stream"), "{refused}");

    let lines = log_lines(&log);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["served"], "cassettes/weather.json#1 (weather)");
    assert_eq!(lines[1]["served"], "cassettes/weather.json#2 (weather)");
    assert_eq!(lines[0]["path"], "/v1/chat/completions");
    assert_eq!((lines[0]["status"].as_u64(), lines[1]["status"].as_u64()), (Some(200), Some(200)));
    assert!(lines[0]["mismatch"].is_null() && lines[1]["mismatch"].is_null());
    assert_eq!(lines[2]["status"], 400);
    assert!(lines[2]["served"].is_null());
    assert!(lines[2]["mismatch"].as_str().unwrap().contains("this request is for chat"), "{}", lines[2]);
}

#[test]
fn serve_matches_by_hash_and_logs_a_mismatch() {
    let (dir, cassette) = recorded_agent();
    let log = dir.path().join("hash.jsonl");
    let serving = serve(dir.path(), &["--match", "hash", "--log", log.to_str().unwrap(), cassette.to_str().unwrap()]);
    let base = format!("{}/v1", serving.url);
    // The engine sends exactly what it recorded: both turns match by their bodies.
    let live = ["run", "scenarios", "--mode", "live", "--update-snapshots", "no", "--openai-base-url", &base];
    let out = run_isolated(dir.path(), &live, &[("OPENAI_API_KEY", "k")]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let lines = log_lines(&log);
    let served: Vec<&str> = lines.iter().map(|l| l["served"].as_str().unwrap_or("none")).collect();
    assert_eq!(served, ["cassettes/weather.json#1 (weather)", "cassettes/weather.json#2 (weather)"]);

    // Another prompt is another body: refused with a 400 the log explains.
    write(dir.path(), "scenarios/weather.yaml", &AGENT.replace("in Paris?", "in Rome?"));
    let out = run_isolated(dir.path(), &live, &[("OPENAI_API_KEY", "k")]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("no recorded chat-stream request has this body"), "{}", stdout(&out));
    let last = log_lines(&log).pop().unwrap();
    assert_eq!(last["status"], 400);
    assert!(last["mismatch"].as_str().unwrap().starts_with("no recorded chat-stream request"), "{last}");
}
