//! The one encoding of a Converse request: [`encode`] builds the body Bedrock receives,
//! and [`parts`] reads the SDK's input types back from that body. Live calls, record,
//! `--dry-run` and cassette hashes all start from [`encode`], so what is hashed, shown
//! and sent cannot drift apart.

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, ServiceTier, ServiceTierType, SystemContentBlock,
    Tool, ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock, ToolResultStatus,
    ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::{Document, Number};
use serde_json::{Map, Value};

use crate::providers::{CallRequest, Content, Encoded};
use crate::response::{CallError, ErrorKind};
use crate::scenario::Role;

/// The request, in the SDK's types.
pub(super) struct Parts {
    pub(super) messages: Vec<Message>,
    pub(super) system: Option<Vec<SystemContentBlock>>,
    pub(super) inference: Option<InferenceConfiguration>,
    pub(super) additional: Option<Document>,
    pub(super) tools: Option<ToolConfiguration>,
    pub(super) tier: Option<ServiceTier>,
}

/// The path and body of a Converse (or, with `stream`, ConverseStream) request.
pub(crate) fn encode(req: &CallRequest, stream: bool) -> Encoded {
    Encoded { path: request_path(&req.model, stream), body: request_json(req) }
}

/// The request body as Bedrock receives it. Converse has no system or developer turns:
/// they join the system prompt. Reasoning is never sent back, so no signature is.
fn request_json(req: &CallRequest) -> Value {
    let mut system = Vec::new();
    if let Some(s) = &req.system {
        system.push(serde_json::json!({"text": s}));
    }
    let mut messages = Vec::new();
    for m in &req.messages {
        let blocks: Vec<Value> = m
            .content
            .iter()
            .map(|c| match c {
                Content::Text(t) => serde_json::json!({"text": t}),
                Content::ToolUse { id, name, input } => {
                    serde_json::json!({"toolUse": {"toolUseId": id, "name": name, "input": input}})
                }
                Content::ToolResult { id, text, is_error } => serde_json::json!({"toolResult": {
                    "toolUseId": id, "content": [{"text": text}], "status": if *is_error { "error" } else { "success" }
                }}),
            })
            .collect();
        match m.role {
            Role::System | Role::Developer => system.extend(blocks),
            Role::User | Role::Assistant => {
                let role = if m.role == Role::User { "user" } else { "assistant" };
                messages.push(serde_json::json!({"role": role, "content": blocks}));
            }
        }
    }
    let p = &req.params;
    let mut inference = Map::new();
    if let Some(n) = p.max_tokens {
        inference.insert("maxTokens".into(), n.into());
    }
    if let Some(t) = p.temperature {
        inference.insert("temperature".into(), t.into());
    }
    if let Some(t) = p.top_p {
        inference.insert("topP".into(), t.into());
    }
    if let Some(stop) = &p.stop {
        inference.insert("stopSequences".into(), stop.clone().into());
    }
    let mut body = Map::new();
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let mut additional = Map::new();
    if let Some(effort) = p.reasoning_effort {
        additional.insert("reasoning_effort".into(), Value::String(effort.as_str().into()));
    }
    for (k, v) in p.extra.iter().flatten() {
        additional.insert(k.clone(), v.clone());
    }
    if !additional.is_empty() {
        body.insert("additionalModelRequestFields".into(), Value::Object(additional));
    }
    if let Some(tier) = p.service_tier {
        body.insert("serviceTier".into(), serde_json::json!({"type": tier.as_str()}));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| serde_json::json!({"toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": t.input_schema}}}))
            .collect();
        body.insert("toolConfig".into(), serde_json::json!({"tools": tools}));
    }
    Value::Object(body)
}

/// The path of a Converse call: the model id percent-encoded, as the SDK sends it.
fn request_path(model: &str, stream: bool) -> String {
    model_path(model, if stream { "converse-stream" } else { "converse" })
}

/// `/model/<id>/<operation>`, the id percent-encoded as the SDK sends it.
pub(super) fn model_path(model: &str, operation: &str) -> String {
    let encoded: String = model
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/model/{encoded}/{operation}")
}

fn build_error(e: impl std::fmt::Display) -> CallError {
    CallError::new(ErrorKind::InvalidRequest, None, format!("cannot build the request: {e}"))
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The SDK's input, read from the body [`encode`] built.
pub(super) fn parts(body: &Value) -> Result<Parts, CallError> {
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let system = body["system"]
        .as_array()
        .map(|blocks| blocks.iter().map(|b| SystemContentBlock::Text(text(&b["text"]))).collect());
    let mut messages = Vec::new();
    for m in list(&body["messages"]) {
        let role = if m["role"] == "assistant" { ConversationRole::Assistant } else { ConversationRole::User };
        let blocks = list(&m["content"]).iter().map(block).collect::<Result<Vec<_>, _>>()?;
        messages.push(Message::builder().role(role).set_content(Some(blocks)).build().map_err(build_error)?);
    }
    let tools = match body["toolConfig"]["tools"].as_array() {
        None => None,
        Some(tools) => {
            let specs = tools
                .iter()
                .map(|t| {
                    let spec = &t["toolSpec"];
                    ToolSpecification::builder()
                        .name(text(&spec["name"]))
                        .description(text(&spec["description"]))
                        .input_schema(ToolInputSchema::Json(json_to_document(&spec["inputSchema"]["json"])))
                        .build()
                        .map(Tool::ToolSpec)
                        .map_err(build_error)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(ToolConfiguration::builder().set_tools(Some(specs)).build().map_err(build_error)?)
        }
    };
    let inference = body.get("inferenceConfig").map(|config| {
        InferenceConfiguration::builder()
            .set_max_tokens(config["maxTokens"].as_u64().map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
            .set_temperature(config["temperature"].as_f64().map(|t| t as f32))
            .set_top_p(config["topP"].as_f64().map(|t| t as f32))
            .set_stop_sequences(config["stopSequences"].as_array().map(|s| s.iter().map(text).collect()))
            .build()
    });
    let additional = body.get("additionalModelRequestFields").map(json_to_document);
    let tier = match body["serviceTier"]["type"].as_str() {
        Some(tier) => Some(ServiceTier::builder().r#type(ServiceTierType::from(tier)).build().map_err(build_error)?),
        None => None,
    };
    Ok(Parts { messages, system, inference, additional, tools, tier })
}

/// A message part in the SDK's types.
fn block(b: &Value) -> Result<ContentBlock, CallError> {
    if let Some(t) = b.get("text") {
        return Ok(ContentBlock::Text(text(t)));
    }
    if let Some(u) = b.get("toolUse") {
        let block = ToolUseBlock::builder()
            .tool_use_id(text(&u["toolUseId"]))
            .name(text(&u["name"]))
            .input(json_to_document(&u["input"]))
            .build()
            .map_err(build_error)?;
        return Ok(ContentBlock::ToolUse(block));
    }
    if let Some(r) = b.get("toolResult") {
        let status = if r["status"] == "error" { ToolResultStatus::Error } else { ToolResultStatus::Success };
        let block = ToolResultBlock::builder()
            .tool_use_id(text(&r["toolUseId"]))
            .content(ToolResultContentBlock::Text(text(&r["content"][0]["text"])))
            .status(status)
            .build()
            .map_err(build_error)?;
        return Ok(ContentBlock::ToolResult(block));
    }
    Err(build_error(format!("unknown content block {b}")))
}

/// serde_json -> Smithy document (the SDK has no conversion of its own).
pub(crate) fn json_to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or_default())
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(json_to_document).collect()),
        Value::Object(map) => Document::Object(map.iter().map(|(k, v)| (k.clone(), json_to_document(v))).collect()),
    }
}

/// Smithy document -> serde_json.
pub(crate) fn document_to_json(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(items) => Value::Array(items.iter().map(document_to_json).collect()),
        Document::Object(map) => {
            // HashMap order is random; sorted keys keep requests and snapshots stable.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), document_to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Message as ScenarioMessage;
    use crate::scenario::{Params, ReasoningEffort};
    use serde_json::json;

    #[test]
    fn paths_encode_the_model_id_like_the_sdk() {
        assert_eq!(request_path("openai.gpt-oss-20b-1:0", false), "/model/openai.gpt-oss-20b-1%3A0/converse");
        assert_eq!(request_path("m", true), "/model/m/converse-stream");
    }

    #[test]
    fn documents_round_trip() {
        let v = json!({"a": [1, -2, 1.5, "x", null, true], "b": {"c": {}}});
        assert_eq!(document_to_json(&json_to_document(&v)), v);
    }

    #[test]
    fn params_map_to_inference_config_and_additional_fields() {
        let req = CallRequest {
            model: "m".into(),
            region: "us-west-2".into(),
            system: Some("sys".into()),
            messages: vec![ScenarioMessage::text(Role::Developer, "dev"), ScenarioMessage::text(Role::User, "hi")],
            params: Params {
                max_tokens: Some(1024),
                temperature: Some(1.0),
                top_p: Some(0.5),
                reasoning_effort: Some(ReasoningEffort::High),
                stop: Some(vec!["END".into()]),
                extra: Some(serde_json::from_value(json!({"seed": 3})).unwrap()),
                service_tier: None,
            },
            tools: Vec::new(),
        };
        let p = parts(&encode(&req, false).body).unwrap();
        assert_eq!(p.system.unwrap().len(), 2, "system plus the developer message");
        assert_eq!(p.messages.len(), 1);
        let inference = p.inference.unwrap();
        assert_eq!(inference.max_tokens(), Some(1024));
        assert_eq!(inference.top_p(), Some(0.5));
        assert_eq!(inference.stop_sequences(), ["END"]);
        assert_eq!(document_to_json(&p.additional.unwrap()), json!({"reasoning_effort": "high", "seed": 3}));
    }
}
