//! `responses` and `responses-stream`: the Responses API through async-openai, on
//! Bedrock Mantle (`https://bedrock-mantle.{region}.api.aws/v1`, the only Bedrock
//! endpoint where gpt-oss answers it) or any compatible server.
//!
//! Bodies are `serde_json::Value` (async-openai's bring-your-own-types mode): the typed
//! `ReasoningItem` requires a `summary`, which Bedrock's reasoning items may lack.
//! Reasoning is its own output item, its text in `reasoning_text` parts (OpenAI's
//! schema) or in `output_text` parts (seen through a proxy); both are read, and a
//! `summary` stands in when there is no text. The client and error classification
//! are chat's ([`OpenAiClient`]).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::completion::error_text;
use super::openai_chat::{OpenAiClient, classify, is_throttle};
use super::{CallRequest, Content, Encoded, Message};
use crate::response::{Assembler, CallError, ErrorKind, ModelResponse, too_large};
use crate::scenario::Role;
use crate::wire::WireResponse;

/// The path and body of a Responses API request (streamed with `stream`).
pub(crate) fn encode(req: &CallRequest, stream: bool) -> Encoded {
    Encoded { path: "/responses".to_owned(), body: request_body(req, stream) }
}

/// The request body: the system prompt as `instructions`, the conversation as `input`
/// items, `extra` merged last so it can override anything. The API has no stop
/// sequences; the planner refuses `params.stop` for it.
fn request_body(req: &CallRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    if let Some(system) = &req.system {
        body.insert("instructions".into(), json!(system));
    }
    let mut input = Vec::new();
    for m in &req.messages {
        push_items(&mut input, m);
    }
    body.insert("input".into(), Value::Array(input));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"type": "function", "name": t.name, "description": t.description, "parameters": t.input_schema}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let p = &req.params;
    if let Some(n) = p.max_tokens {
        body.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(t) = p.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".into(), json!(t));
    }
    if let Some(effort) = p.reasoning_effort {
        body.insert("reasoning".into(), json!({"effort": effort.as_str()}));
    }
    body.insert("stream".into(), json!(stream));
    for (k, v) in p.extra.iter().flatten() {
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}

/// A message as input items: text as a message of its role; a tool call as a
/// `function_call` item; a tool result as a `function_call_output` item. Earlier
/// reasoning is never sent back.
fn push_items(input: &mut Vec<Value>, m: &Message) {
    let text: String =
        m.content.iter().filter_map(|c| if let Content::Text(t) = c { Some(t.as_str()) } else { None }).collect();
    if !text.is_empty() {
        let role = match m.role {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        input.push(json!({"role": role, "content": text}));
    }
    for c in &m.content {
        match c {
            Content::ToolUse { id, name, input: args } => {
                input.push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": args.to_string()}))
            }
            Content::ToolResult { id, text, .. } => {
                input.push(json!({"type": "function_call_output", "call_id": id, "output": text}))
            }
            Content::Text(_) => {}
        }
    }
}

/// One Responses API call. With `capture`, the response is also kept as the wire
/// carried it (the JSON body, or the typed SSE events), for a cassette.
pub(crate) async fn call(client: &OpenAiClient, req: &CallRequest, stream: bool, capture: bool) -> ModelResponse {
    let started = Instant::now();
    let body = encode(req, stream).body;
    let mut assembler = Assembler::new();
    let mut wire = capture.then(WireResponse::default);
    let error = if stream {
        call_stream(client, &body, &mut assembler, wire.as_mut()).await
    } else {
        match client.client.responses().create_byot::<_, Value>(&body).await {
            Ok(value) => {
                let error = read_response(&value, &mut assembler);
                if let Some(w) = wire.as_mut() {
                    *w = WireResponse::json(200, value);
                }
                error
            }
            Err(e) => Some(wrong_route(classify(e, &client.base_url, &req.model, wire.as_mut()), &client.base_url)),
        }
    };
    let mut response = assembler.finish(error, started.elapsed());
    response.wire = wire;
    response
}

/// Bedrock Runtime's `/openai/v1/responses` refuses gpt-oss: say where it is served.
fn wrong_route(mut error: CallError, base_url: &str) -> CallError {
    let runtime = super::authority(base_url).starts_with("bedrock-runtime.");
    if runtime && matches!(error.status, Some(400 | 404)) {
        error.message.push_str(
            "; gpt-oss answers the Responses API only on Bedrock Mantle (https://bedrock-mantle.<region>.api.aws/v1): leave `endpoints.responses_base_url` unset, or point it there",
        );
    }
    error
}

async fn call_stream(
    client: &OpenAiClient,
    body: &Value,
    assembler: &mut Assembler,
    wire: Option<&mut WireResponse>,
) -> Option<CallError> {
    let model = body["model"].as_str().unwrap_or_default();
    let mut events = match client.client.responses().create_stream_byot::<_, Value>(body).await {
        Ok(events) => events,
        Err(e) => return Some(wrong_route(classify(e, &client.base_url, model, wire), &client.base_url)),
    };
    let mut reader = StreamReader::default();
    let mut raw = String::new();
    let mut received: u64 = 0;
    let mut error = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                let payload = event.to_string();
                received = received.saturating_add(payload.len() as u64);
                if received > client.max_response_bytes {
                    error = Some(too_large(client.max_response_bytes));
                    break;
                }
                // The `event:` line repeats the payload's type; the client drops it, so
                // it is rebuilt for the cassette.
                let name = event["type"].as_str().unwrap_or("message");
                raw.push_str(&format!("event: {name}\ndata: {payload}\n\n"));
                if let Some(e) = reader.event(&event, assembler) {
                    error = Some(e);
                    break;
                }
            }
            Err(async_openai::error::OpenAIError::JSONDeserialize(e, data)) => {
                raw.push_str(&format!("data: {data}\n\n"));
                let shown: String = data.chars().take(120).collect();
                error = Some(CallError::new(
                    ErrorKind::StreamError,
                    None,
                    format!("the server sent a stream event that is not JSON ({e}): {shown}"),
                ));
                break;
            }
            Err(e) => {
                error = Some(classify(e, &client.base_url, model, None));
                break;
            }
        }
    }
    if let Some(w) = wire {
        w.status = 200;
        w.headers.insert("content-type".into(), "text/event-stream".into());
        w.sse_raw = Some(raw);
    }
    error.or_else(|| reader.end(assembler))
}

/// A whole (non-streamed) response.
pub(crate) fn read_response(value: &Value, assembler: &mut Assembler) -> Option<CallError> {
    read_output(&value["output"], assembler);
    read_ending(value, assembler, has_function_call(&value["output"]))
}

fn has_function_call(output: &Value) -> bool {
    output.as_array().into_iter().flatten().any(|item| item["type"] == "function_call")
}

/// The output items: reasoning, message text, function calls, in order.
fn read_output(output: &Value, assembler: &mut Assembler) {
    for (index, item) in output.as_array().into_iter().flatten().enumerate() {
        match item["type"].as_str() {
            Some("reasoning") => {
                let text = texts(&item["content"]);
                let text = if text.is_empty() { texts(&item["summary"]) } else { text };
                if !text.is_empty() {
                    assembler.reasoning(&text);
                }
            }
            Some("message") => {
                for part in item["content"].as_array().into_iter().flatten() {
                    if let Some(text) = part["text"].as_str().or(part["refusal"].as_str()) {
                        assembler.text(text);
                    }
                }
            }
            Some("function_call") => {
                let index = index as u64;
                assembler.tool_start(index, item["call_id"].as_str(), item["name"].as_str());
                assembler.tool_arguments(index, item["arguments"].as_str().unwrap_or_default());
            }
            _ => {}
        }
    }
}

/// The `text` of every part, joined.
fn texts(parts: &Value) -> String {
    parts.as_array().into_iter().flatten().filter_map(|p| p["text"].as_str()).collect()
}

/// How a response ended: its error (`failed`), its stop reason in Bedrock's vocabulary
/// (`incomplete` for max_output_tokens is max_tokens), and its usage.
fn read_ending(response: &Value, assembler: &mut Assembler, called_tools: bool) -> Option<CallError> {
    let usage = &response["usage"];
    if let (Some(input), Some(output)) = (usage["input_tokens"].as_u64(), usage["output_tokens"].as_u64()) {
        assembler.usage(input, output);
    }
    let failed = response["status"] == "failed" || response["error"].is_object();
    if failed {
        let (message, code) = error_text(&response["error"]);
        let message = if message.is_empty() { "the response failed with no message".to_owned() } else { message };
        return Some(stream_failure(code.as_deref(), message));
    }
    let stop = match response["status"].as_str() {
        Some("incomplete") => match response["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") => "max_tokens".to_owned(),
            Some("content_filter") => "content_filtered".to_owned(),
            Some(other) => other.to_owned(),
            None => "incomplete".to_owned(),
        },
        _ if called_tools => "tool_use".to_owned(),
        _ => "end_turn".to_owned(),
    };
    assembler.stop_reason(stop);
    None
}

/// An error the server sent on an HTTP 200: throttling when its code or words say so.
fn stream_failure(code: Option<&str>, message: String) -> CallError {
    let kind = if is_throttle(code, &message) { ErrorKind::Throttled } else { ErrorKind::StreamError };
    CallError::new(kind, None, message)
}

/// Reads typed stream events in order. Deltas are the answer; the closing
/// `response.completed` (or `incomplete`, `failed`) says how it ended, and is read
/// whole only when no delta came before it.
#[derive(Default)]
struct StreamReader {
    /// The type of each output item, by `output_index`, from `response.output_item.added`.
    kinds: HashMap<u64, String>,
    /// Function calls whose arguments arrived as deltas.
    streamed_arguments: HashSet<u64>,
    called_tools: bool,
    any_delta: bool,
    reasoning_seen: bool,
    /// Reasoning summaries, used only when no reasoning text came.
    summary: String,
    ended: bool,
}

impl StreamReader {
    fn event(&mut self, event: &Value, assembler: &mut Assembler) -> Option<CallError> {
        let index = event["output_index"].as_u64().unwrap_or(0);
        let delta = event["delta"].as_str().unwrap_or_default();
        match event["type"].as_str().unwrap_or_default() {
            "response.output_item.added" => {
                let item = &event["item"];
                let kind = item["type"].as_str().unwrap_or_default().to_owned();
                if kind == "function_call" {
                    self.called_tools = true;
                    assembler.tool_start(index, item["call_id"].as_str(), item["name"].as_str());
                }
                self.kinds.insert(index, kind);
            }
            "response.reasoning_text.delta" => self.reasoning(delta, assembler),
            "response.reasoning_summary_text.delta" => self.summary.push_str(delta),
            // Text parts of a reasoning item are reasoning (the proxy shape).
            "response.output_text.delta" if self.kinds.get(&index).is_some_and(|k| k == "reasoning") => {
                self.reasoning(delta, assembler)
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.any_delta = true;
                assembler.text(delta);
            }
            "response.function_call_arguments.delta" => {
                self.any_delta = true;
                self.streamed_arguments.insert(index);
                assembler.tool_arguments(index, delta);
            }
            "response.output_item.done" if event["item"]["type"] == "function_call" => {
                let item = &event["item"];
                self.called_tools = true;
                if !self.streamed_arguments.contains(&index) {
                    self.any_delta = true;
                    assembler.tool_start(index, item["call_id"].as_str(), item["name"].as_str());
                    assembler.tool_arguments(index, item["arguments"].as_str().unwrap_or_default());
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.ended = true;
                let response = &event["response"];
                if !self.any_delta && !self.reasoning_seen {
                    read_output(&response["output"], assembler);
                    self.reasoning_seen = true;
                }
                let called = self.called_tools || has_function_call(&response["output"]);
                return read_ending(response, assembler, called);
            }
            "error" => {
                let (message, code) = error_text(event);
                let message = if message.is_empty() { "the server sent an error event".to_owned() } else { message };
                return Some(stream_failure(code.as_deref(), message));
            }
            _ => {}
        }
        None
    }

    fn reasoning(&mut self, delta: &str, assembler: &mut Assembler) {
        self.reasoning_seen = true;
        assembler.reasoning(delta);
    }

    /// The stream closed: without a closing event, the answer was cut off.
    fn end(self, assembler: &mut Assembler) -> Option<CallError> {
        if !self.reasoning_seen && !self.summary.is_empty() {
            assembler.reasoning(&self.summary);
        }
        if !self.ended {
            return Some(CallError::new(
                ErrorKind::Truncated,
                None,
                "the stream ended before the response did (no response.completed)",
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Params, ReasoningEffort};

    fn read_events(events: &[Value]) -> ModelResponse {
        let mut a = Assembler::new();
        let mut reader = StreamReader::default();
        let error = events.iter().find_map(|e| reader.event(e, &mut a)).or_else(|| reader.end(&mut a));
        a.finish(error, std::time::Duration::ZERO)
    }

    #[test]
    fn the_body_maps_params_and_the_conversation_to_responses_fields() {
        let req = CallRequest {
            model: "openai.gpt-oss-120b".into(),
            region: "us-east-1".into(),
            system: Some("Be brief.".into()),
            messages: vec![
                Message::text(Role::User, "Weather?"),
                Message {
                    role: Role::Assistant,
                    content: vec![Content::ToolUse {
                        id: "c1".into(),
                        name: "w".into(),
                        input: json!({"city": "Oslo"}),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Content::ToolResult { id: "c1".into(), text: "rain".into(), is_error: false }],
                },
            ],
            params: Params {
                max_tokens: Some(100),
                reasoning_effort: Some(ReasoningEffort::Low),
                extra: Some(serde_json::from_value(json!({"store": false})).unwrap()),
                ..Params::default()
            },
            tools: Vec::new(),
        };
        assert_eq!(
            request_body(&req, true),
            json!({
                "model": "openai.gpt-oss-120b",
                "instructions": "Be brief.",
                "input": [
                    {"role": "user", "content": "Weather?"},
                    {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{\"city\":\"Oslo\"}"},
                    {"type": "function_call_output", "call_id": "c1", "output": "rain"}
                ],
                "max_output_tokens": 100,
                "reasoning": {"effort": "low"},
                "stream": true,
                "store": false
            })
        );
    }

    #[test]
    fn both_reasoning_shapes_are_read() {
        for content in
            [json!([{"type": "reasoning_text", "text": "think"}]), json!([{"type": "output_text", "text": "think"}])]
        {
            let mut a = Assembler::new();
            let value = json!({"status": "completed", "output": [
                {"type": "reasoning", "content": content},
                {"type": "message", "content": [{"type": "output_text", "text": "pong"}]}
            ]});
            assert!(read_response(&value, &mut a).is_none());
            let r = a.finish(None, std::time::Duration::ZERO);
            assert_eq!((r.reasoning.as_str(), r.final_text.as_str()), ("think", "pong"));
        }
    }

    #[test]
    fn a_summary_stands_in_for_missing_reasoning_text() {
        let value = json!({"status": "completed", "output": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "brief"}]}]});
        let mut a = Assembler::new();
        assert!(read_response(&value, &mut a).is_none());
        assert_eq!(a.finish(None, std::time::Duration::ZERO).reasoning, "brief");
    }

    #[test]
    fn output_text_of_a_reasoning_item_streams_as_reasoning() {
        let r = read_events(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning"}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "delta": "hmm"}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message"}}),
            json!({"type": "response.output_text.delta", "output_index": 1, "delta": "pong"}),
            json!({"type": "response.completed", "response": {"status": "completed", "output": []}}),
        ]);
        assert_eq!(
            (r.reasoning.as_str(), r.final_text.as_str(), r.stop_reason.as_deref()),
            ("hmm", "pong", Some("end_turn"))
        );
    }

    #[test]
    fn streamed_function_calls_are_assembled_once() {
        let r = read_events(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "call_id": "c1", "name": "w"}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"city\":"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "\"Oslo\"}"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{\"city\":\"Oslo\"}"}}),
            json!({"type": "response.completed", "response": {"status": "completed", "output": []}}),
        ]);
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!((r.tool_calls[0].name.as_str(), &r.tool_calls[0].input), ("w", &json!({"city": "Oslo"})));
        assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
    }

    #[test]
    fn incomplete_and_error_events_and_cut_streams() {
        let r = read_events(&[
            json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}}),
        ]);
        assert_eq!(r.stop_reason.as_deref(), Some("max_tokens"));
        let r = read_events(&[json!({"type": "error", "code": "server_error", "message": "boom"})]);
        assert_eq!(r.error.map(|e| (e.kind, e.message)), Some((ErrorKind::StreamError, "boom".to_owned())));
        let r = read_events(&[json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"})]);
        assert_eq!(r.error.map(|e| e.kind), Some(ErrorKind::Throttled));
        let r = read_events(&[json!({"type": "response.output_text.delta", "output_index": 0, "delta": "to"})]);
        assert_eq!(r.error.map(|e| e.kind), Some(ErrorKind::Truncated));
    }

    #[test]
    fn the_wrong_bedrock_route_says_where_to_go() {
        let e = wrong_route(
            CallError::new(ErrorKind::InvalidRequest, Some(400), "no"),
            "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1",
        );
        assert!(e.message.contains("only on Bedrock Mantle"), "{}", e.message);
        let e = wrong_route(CallError::new(ErrorKind::InvalidRequest, Some(400), "no"), "http://127.0.0.1:1/v1");
        assert_eq!(e.message, "no");
    }
}
