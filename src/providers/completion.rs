//! The chat completions format (pure): the request body, and completions read whole or
//! chunk by chunk into an [`Assembler`]. Shared by `chat`/`chat-stream` (async-openai)
//! and by Bedrock's InvokeModel, whose bodies for gpt-oss are chat completions too.

use serde_json::{Map, Value, json};

use super::{CallRequest, Content, Message};

use crate::response::{Assembler, CallError, ErrorKind, stop_reason_from_finish};

/// The request body. `system` goes first as a `developer` message, as the upstream
/// samples send it; `extra` is merged last so it can override anything. `stream`:
/// whether to ask for a stream, or `None` to send no such field (InvokeModel, where
/// the operation decides).
pub(crate) fn request_body(req: &CallRequest, stream: Option<bool>) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &req.system {
        messages.push(json!({"role": "developer", "content": system}));
    }
    for m in &req.messages {
        push_message(&mut messages, m);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let p = &req.params;
    if let Some(n) = p.max_tokens {
        body.insert("max_completion_tokens".into(), json!(n));
    }
    if let Some(t) = p.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".into(), json!(t));
    }
    if let Some(stop) = &p.stop {
        body.insert("stop".into(), json!(stop));
    }
    if let Some(effort) = p.reasoning_effort {
        body.insert("reasoning_effort".into(), json!(effort.as_str()));
    }
    if let Some(stream) = stream {
        body.insert("stream".into(), json!(stream));
        if stream {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    for (k, v) in p.extra.iter().flatten() {
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}

/// A message in chat completions' shape: text; an assistant turn with `tool_calls`; or
/// one `role: tool` message per tool result. Earlier reasoning is never sent back.
fn push_message(messages: &mut Vec<Value>, m: &Message) {
    let role = serde_json::to_value(m.role).unwrap_or(Value::Null);
    let text: String =
        m.content.iter().filter_map(|c| if let Content::Text(t) = c { Some(t.as_str()) } else { None }).collect();
    let calls: Vec<Value> = m
        .content
        .iter()
        .filter_map(|c| match c {
            Content::ToolUse { id, name, input } => Some(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}
            })),
            _ => None,
        })
        .collect();
    let results: Vec<Value> = m
        .content
        .iter()
        .filter_map(|c| match c {
            Content::ToolResult { id, text, .. } => Some(json!({"role": "tool", "tool_call_id": id, "content": text})),
            _ => None,
        })
        .collect();
    if !results.is_empty() {
        messages.extend(results);
    } else if !calls.is_empty() {
        messages.push(json!({"role": role, "content": text, "tool_calls": calls}));
    } else {
        messages.push(json!({"role": role, "content": text}));
    }
}

/// A whole (non-streamed) chat completion.
pub(crate) fn read_completion(value: &Value, assembler: &mut Assembler) -> Option<CallError> {
    if let Some(error) = error_in(value) {
        return Some(error_object(error, ErrorKind::Server));
    }
    if let Some(tier) = value["service_tier"].as_str() {
        assembler.service_tier(tier);
    }
    let choice = &value["choices"][0];
    let message = &choice["message"];
    if let Some(reasoning) = reasoning_of(message) {
        assembler.reasoning(&reasoning);
    }
    match &message["content"] {
        Value::String(text) => assembler.text(text),
        // Content as a list of parts: the text parts, in order.
        Value::Array(parts) => {
            for part in parts {
                if let Some(text) = part["text"].as_str() {
                    assembler.text(text);
                }
            }
        }
        _ => {}
    }
    for (i, call) in message["tool_calls"].as_array().into_iter().flatten().enumerate() {
        assembler.tool_start(i as u64, call["id"].as_str(), call["function"]["name"].as_str());
        assembler.tool_arguments(i as u64, call["function"]["arguments"].as_str().unwrap_or_default());
    }
    if let Some(finish) = choice["finish_reason"].as_str() {
        assembler.stop_reason(stop_reason_from_finish(finish));
    }
    read_usage(value, assembler);
    None
}

/// One streamed chunk.
pub(crate) fn read_chunk(chunk: &Value, assembler: &mut Assembler) {
    if let Some(tier) = chunk["service_tier"].as_str() {
        assembler.service_tier(tier);
    }
    for choice in chunk["choices"].as_array().into_iter().flatten() {
        // Only the first choice is the answer (n > 1 is not a scenario feature).
        if choice["index"].as_u64().unwrap_or(0) != 0 {
            continue;
        }
        let delta = &choice["delta"];
        if let Some(reasoning) = reasoning_of(delta) {
            assembler.reasoning(&reasoning);
        }
        if let Some(text) = delta["content"].as_str() {
            assembler.text(text);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap_or(0);
            assembler.tool_start(index, call["id"].as_str(), call["function"]["name"].as_str());
            if let Some(fragment) = call["function"]["arguments"].as_str() {
                assembler.tool_arguments(index, fragment);
            }
        }
        if let Some(finish) = choice["finish_reason"].as_str() {
            assembler.stop_reason(stop_reason_from_finish(finish));
        }
    }
    read_usage(chunk, assembler);
}

/// Servers disagree on the field: `reasoning` (vLLM, Ollama, Groq, OpenRouter),
/// `reasoning_content` (llama.cpp, LM Studio, DeepSeek style), or only
/// `reasoning_details` (OpenRouter, Cerebras, Bedrock Mantle).
fn reasoning_of(delta: &Value) -> Option<String> {
    if let Some(text) = delta["reasoning"].as_str() {
        return Some(text.to_owned());
    }
    if let Some(text) = delta["reasoning_content"].as_str() {
        return Some(text.to_owned());
    }
    let details = delta["reasoning_details"].as_array()?;
    let joined: String = details.iter().filter_map(|d| d["text"].as_str()).collect();
    (!joined.is_empty()).then_some(joined)
}

fn read_usage(value: &Value, assembler: &mut Assembler) {
    let usage = &value["usage"];
    if let (Some(input), Some(output)) = (usage["prompt_tokens"].as_u64(), usage["completion_tokens"].as_u64()) {
        assembler.usage(input, output);
    }
}

/// The sentence inside an error object, and its code or type. Bedrock's chat endpoint
/// double-encodes: `message` holds another JSON error whose `message` is the sentence.
pub(crate) fn error_text(error: &Value) -> (String, Option<String>) {
    let mut node = error.clone();
    let mut code = None;
    for _ in 0..4 {
        let inner = node.get("error").cloned().unwrap_or(node.clone());
        let number = inner["code"].as_u64().map(|n| n.to_string());
        code = code.or_else(|| inner["code"].as_str().or(inner["type"].as_str()).map(str::to_owned).or(number));
        let message = inner["message"].as_str().or(inner["Message"].as_str()).unwrap_or_default().to_owned();
        match serde_json::from_str::<Value>(&message) {
            Ok(nested) if nested.is_object() => node = nested,
            _ => return (message, code),
        }
    }
    (node.to_string(), code)
}

/// The error object a body or stream event carries, if any (`"error": null` is none).
pub(crate) fn error_in(value: &Value) -> Option<&Value> {
    value.get("error").filter(|e| !e.is_null())
}

/// An error object a server sent instead of (or in the middle of) an answer, as a
/// [`CallError`]: throttling when its code or words say so, else `otherwise`. A proxy
/// (LiteLLM) passes a Bedrock throttle on this way: worth a retry and a lower
/// concurrency.
pub(crate) fn error_object(error: &Value, otherwise: ErrorKind) -> CallError {
    let (message, code) = error_text(error);
    let kind = if is_throttle(code.as_deref(), &message) { ErrorKind::Throttled } else { otherwise };
    let message = if message.is_empty() { "the server sent an error with no message".to_owned() } else { message };
    CallError::new(kind, None, message)
}

/// Whether an error's code or words say "slow down".
pub(crate) fn is_throttle(code: Option<&str>, message: &str) -> bool {
    let code = code.unwrap_or_default().to_ascii_lowercase();
    let message = message.to_ascii_lowercase();
    code == "429"
        || code.contains("throttl")
        || code.contains("rate_limit")
        || ["too many requests", "rate limit", "ratelimit", "throttl"].iter().any(|w| message.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Params, ReasoningEffort, Role};

    fn request() -> CallRequest {
        CallRequest {
            model: "openai.gpt-oss-20b-1:0".into(),
            region: "us-west-2".into(),
            system: Some("Answer in Japanese.".into()),
            messages: vec![Message::text(Role::User, "3.11 or 3.9?")],
            params: Params {
                max_tokens: Some(1024),
                temperature: Some(1.0),
                top_p: Some(1.0),
                reasoning_effort: Some(ReasoningEffort::Medium),
                stop: None,
                extra: Some(serde_json::from_value(json!({"top_p": 0.5, "seed": 7})).unwrap()),
                service_tier: None,
            },
            tools: Vec::new(),
        }
    }

    #[test]
    fn body_maps_params_and_sends_system_as_developer() {
        let body = request_body(&request(), Some(true));
        assert_eq!(
            body,
            json!({
                "model": "openai.gpt-oss-20b-1:0",
                "messages": [{"role": "developer", "content": "Answer in Japanese."}, {"role": "user", "content": "3.11 or 3.9?"}],
                "max_completion_tokens": 1024,
                "temperature": 1.0,
                "top_p": 0.5,
                "reasoning_effort": "medium",
                "stream": true,
                "stream_options": {"include_usage": true},
                "seed": 7
            })
        );
    }

    #[test]
    fn double_encoded_error_messages_are_unwrapped() {
        let body = json!({"error": {"message": "{\"error\":{\"code\":\"validation_error\",\"message\":\"Model does not support image modality\"}}", "type": "invalid_request_error"}});
        let (message, code) = error_text(&body);
        assert_eq!(message, "Model does not support image modality");
        assert_eq!(code.as_deref(), Some("invalid_request_error"));
    }

    #[test]
    fn reasoning_field_precedence() {
        assert_eq!(reasoning_of(&json!({"reasoning": "a", "reasoning_content": "b"})).as_deref(), Some("a"));
        assert_eq!(reasoning_of(&json!({"reasoning_content": "b"})).as_deref(), Some("b"));
        assert_eq!(reasoning_of(&json!({"reasoning_details": [{"text": "c"}, {"text": "d"}]})).as_deref(), Some("cd"));
        assert_eq!(reasoning_of(&json!({"content": "x"})), None);
    }
}
