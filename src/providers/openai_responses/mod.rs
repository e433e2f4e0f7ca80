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

mod read;

use std::time::Instant;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use self::read::{StreamReader, read_response};
use super::openai_chat::{OpenAiClient, classify};
use super::{Call, CallRequest, Content, Encoded, Message};
use crate::response::{Assembler, CallError, ErrorKind, ModelResponse, preview, too_large};
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
    if let Some(tier) = p.service_tier {
        body.insert("service_tier".into(), json!(tier.as_str()));
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
pub(crate) async fn call(client: &OpenAiClient, req: &CallRequest, call: Call) -> ModelResponse {
    let started = Instant::now();
    let body = encode(req, call.stream).body;
    let mut assembler = Assembler::new();
    let mut wire = call.capture.then(WireResponse::default);
    let error = if call.stream {
        call_stream(client, &body, &mut assembler, wire.as_mut(), call).await
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

/// Whether a server's event `type` can stand on an `event:` line as it is (a line
/// break in it would cut the recorded stream differently from the one received).
fn is_event_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
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
    call: Call,
) -> Option<CallError> {
    let model = body["model"].as_str().unwrap_or_default();
    let mut events = match client.client.responses().create_stream_byot::<_, Value>(body).await {
        Ok(events) => events,
        Err(e) => return Some(wrong_route(classify(e, &client.base_url, model, wire), &client.base_url)),
    };
    let mut reader = StreamReader::default();
    // The stream's text is kept only for a cassette.
    let mut raw: Option<String> = wire.is_some().then(String::new);
    let mut received: u64 = 0;
    let mut error = None;
    loop {
        let event = match call.next(events.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(timeout) => {
                error = Some(timeout);
                break;
            }
        };
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
                let name = event["type"].as_str().filter(|t| is_event_name(t)).unwrap_or("message");
                if let Some(raw) = &mut raw {
                    raw.push_str(&format!("event: {name}\ndata: {payload}\n\n"));
                }
                if let Some(e) = reader.event(&event, assembler) {
                    error = Some(e);
                    break;
                }
            }
            Err(async_openai::error::OpenAIError::JSONDeserialize(e, data)) => {
                if let Some(raw) = &mut raw {
                    raw.push_str(&format!("data: {data}\n\n"));
                }
                let shown = preview(&data);
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
        w.sse_raw = raw;
    }
    error.or_else(|| reader.end(assembler))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Params, ReasoningEffort};

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
