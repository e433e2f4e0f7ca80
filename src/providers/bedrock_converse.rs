//! `converse` and `converse-stream`: Amazon Bedrock through aws-sdk-bedrockruntime.
//!
//! Credentials are the SDK's own: it sends `AWS_BEARER_TOKEN_BEDROCK` (a Bedrock API
//! key) as bearer auth when set, and otherwise signs with the standard chain
//! (environment, profile, SSO, web identity, container, IMDS). Replay gives a fixed
//! placeholder key instead, so no chain is consulted. The SDK's own retries are off: the
//! caller's retry policy is the only one. Reasoning signatures are never sent back:
//! Bedrock rejects them for gpt-oss. Record mode's capture of responses lives in
//! [`super::bedrock_capture`].

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::timeout::TimeoutConfig;
use aws_sdk_bedrockruntime::config::{Builder, Token};
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ContentBlockStart, ConversationRole, ConverseOutput as Output,
    ConverseStreamOutput, InferenceConfiguration, Message, ReasoningContentBlock, ReasoningContentBlockDelta,
    SystemContentBlock, Tool, ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock,
    ToolResultStatus, ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::{Document, Number};
use serde_json::{Map, Value};

use super::bedrock_capture::{error_response, event_json, exception_json, output_json};
use super::{CallRequest, Content};
use crate::response::{Assembler, CallError, ErrorKind, ModelResponse};
use crate::scenario::Role;
use crate::wire::{WireEvent, WireResponse};

/// A Bedrock runtime client for one region and endpoint.
#[derive(Clone)]
pub struct ConverseClient {
    client: aws_sdk_bedrockruntime::Client,
    /// For messages: the endpoint override, or the region.
    target: String,
    region: String,
}

impl ConverseClient {
    /// `placeholder_key`: a fixed bearer key that replaces every credential source
    /// (replay and loopback tests).
    pub async fn new(
        region: &str,
        endpoint: Option<&str>,
        placeholder_key: Option<&str>,
        read_timeout: Duration,
    ) -> ConverseClient {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
        if placeholder_key.is_some() {
            // With a credentials provider configured the SDK prefers SigV4, and building
            // one walks the chain (which can reach IMDS): no chain at all forces bearer.
            loader = loader.no_credentials();
        }
        let shared = loader.load().await;
        let mut config = Builder::from(&shared).retry_config(RetryConfig::disabled()).timeout_config(
            TimeoutConfig::builder().connect_timeout(Duration::from_secs(10)).read_timeout(read_timeout).build(),
        );
        if let Some(key) = placeholder_key {
            config = config.bearer_token(Token::new(key.to_owned(), None));
        }
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        ConverseClient {
            client: aws_sdk_bedrockruntime::Client::from_conf(config.build()),
            target: endpoint.map_or_else(|| format!("Bedrock in {region}"), str::to_owned),
            region: region.to_owned(),
        }
    }
}

/// The request, in the SDK's types.
struct Parts {
    messages: Vec<Message>,
    system: Vec<SystemContentBlock>,
    inference: InferenceConfiguration,
    additional: Option<Document>,
    tools: Option<ToolConfiguration>,
}

fn build_error(e: impl std::fmt::Display) -> CallError {
    CallError::new(ErrorKind::InvalidRequest, None, format!("cannot build the request: {e}"))
}

/// A message part in the SDK's types. Reasoning is never sent back, so no signature is.
fn block(content: &Content) -> Result<ContentBlock, CallError> {
    Ok(match content {
        Content::Text(t) => ContentBlock::Text(t.clone()),
        Content::ToolUse { id, name, input } => ContentBlock::ToolUse(
            ToolUseBlock::builder()
                .tool_use_id(id)
                .name(name)
                .input(json_to_document(input))
                .build()
                .map_err(build_error)?,
        ),
        Content::ToolResult { id, text, is_error } => ContentBlock::ToolResult(
            ToolResultBlock::builder()
                .tool_use_id(id)
                .content(ToolResultContentBlock::Text(text.clone()))
                .status(if *is_error { ToolResultStatus::Error } else { ToolResultStatus::Success })
                .build()
                .map_err(build_error)?,
        ),
    })
}

fn parts(req: &CallRequest) -> Result<Parts, CallError> {
    let mut system: Vec<SystemContentBlock> = req.system.iter().map(|s| SystemContentBlock::Text(s.clone())).collect();
    let mut messages = Vec::new();
    for m in &req.messages {
        let role = match m.role {
            // Converse has no system or developer turns: they join the system prompt.
            Role::System | Role::Developer => {
                for c in &m.content {
                    if let Content::Text(t) = c {
                        system.push(SystemContentBlock::Text(t.clone()));
                    }
                }
                continue;
            }
            Role::User => ConversationRole::User,
            Role::Assistant => ConversationRole::Assistant,
        };
        let blocks = m.content.iter().map(block).collect::<Result<Vec<_>, _>>()?;
        messages.push(Message::builder().role(role).set_content(Some(blocks)).build().map_err(build_error)?);
    }
    let tools = if req.tools.is_empty() {
        None
    } else {
        let specs = req
            .tools
            .iter()
            .map(|t| {
                ToolSpecification::builder()
                    .name(&t.name)
                    .description(&t.description)
                    .input_schema(ToolInputSchema::Json(json_to_document(&t.input_schema)))
                    .build()
                    .map(Tool::ToolSpec)
                    .map_err(build_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Some(ToolConfiguration::builder().set_tools(Some(specs)).build().map_err(build_error)?)
    };
    let p = &req.params;
    let inference = InferenceConfiguration::builder()
        .set_max_tokens(p.max_tokens.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
        .set_temperature(p.temperature.map(|t| t as f32))
        .set_top_p(p.top_p.map(|t| t as f32))
        .set_stop_sequences(p.stop.clone())
        .build();
    let mut additional = Map::new();
    if let Some(effort) = p.reasoning_effort {
        additional.insert("reasoning_effort".into(), Value::String(effort.as_str().into()));
    }
    for (k, v) in p.extra.iter().flatten() {
        additional.insert(k.clone(), v.clone());
    }
    let additional = (!additional.is_empty()).then(|| json_to_document(&Value::Object(additional)));
    Ok(Parts { messages, system, inference, additional, tools })
}

/// The request body as Bedrock receives it (for `--dry-run` and cassettes); the SDK
/// serializes the same fields.
pub fn request_json(req: &CallRequest) -> Value {
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
pub fn request_path(model: &str, stream: bool) -> String {
    let encoded: String = model
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/model/{encoded}/{}", if stream { "converse-stream" } else { "converse" })
}

/// One Converse or ConverseStream call. With `capture`, the response is also kept at the
/// level the wire carries it (the JSON body, or the event stream's events), rebuilt
/// from what the SDK decoded, for a cassette.
pub async fn call(client: &ConverseClient, req: &CallRequest, stream: bool, capture: bool) -> ModelResponse {
    let started = Instant::now();
    let mut assembler = Assembler::new();
    let mut wire = capture.then(WireResponse::default);
    let error = match parts(req) {
        Err(e) => Some(e),
        Ok(parts) if stream => converse_stream(client, req, parts, &mut assembler, wire.as_mut()).await,
        Ok(parts) => {
            let sent = client
                .client
                .converse()
                .model_id(&req.model)
                .set_messages(Some(parts.messages))
                .set_system(Some(parts.system))
                .inference_config(parts.inference)
                .set_additional_model_request_fields(parts.additional)
                .set_tool_config(parts.tools)
                .send()
                .await;
            match sent {
                Ok(output) => {
                    read_output(&output, &mut assembler);
                    if let Some(w) = wire.as_mut() {
                        *w = WireResponse::json(200, output_json(&output));
                    }
                    None
                }
                Err(e) => {
                    let error = classify(&e, client, &req.model);
                    if let Some(w) = wire.as_mut() {
                        *w = error_response(&e, &error);
                    }
                    Some(error)
                }
            }
        }
    };
    let mut response = assembler.finish(error, started.elapsed());
    response.wire = wire;
    response
}

fn read_output(output: &ConverseOutput, assembler: &mut Assembler) {
    if let Some(Output::Message(message)) = output.output() {
        for (index, block) in message.content().iter().enumerate() {
            match block {
                ContentBlock::Text(text) => assembler.text(text),
                ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(r)) => {
                    assembler.reasoning(r.text())
                }
                ContentBlock::ToolUse(tool) => {
                    assembler.tool_start(index as u64, Some(tool.tool_use_id()), Some(tool.name()));
                    assembler.tool_input(index as u64, document_to_json(tool.input()));
                }
                _ => {}
            }
        }
    }
    assembler.stop_reason(output.stop_reason().as_str());
    if let Some(usage) = output.usage() {
        assembler.usage(usage.input_tokens().max(0) as u64, usage.output_tokens().max(0) as u64);
    }
}

async fn converse_stream(
    client: &ConverseClient,
    req: &CallRequest,
    parts: Parts,
    assembler: &mut Assembler,
    wire: Option<&mut WireResponse>,
) -> Option<CallError> {
    let sent = client
        .client
        .converse_stream()
        .model_id(&req.model)
        .set_messages(Some(parts.messages))
        .set_system(Some(parts.system))
        .inference_config(parts.inference)
        .set_additional_model_request_fields(parts.additional)
        .set_tool_config(parts.tools)
        .send()
        .await;
    let mut output = match sent {
        Ok(output) => output,
        Err(e) => {
            let error = classify(&e, client, &req.model);
            if let Some(w) = wire {
                *w = error_response(&e, &error);
            }
            return Some(error);
        }
    };
    let mut events: Vec<WireEvent> = Vec::new();
    let capturing = wire.is_some();
    let error = loop {
        match output.stream.recv().await {
            Ok(Some(event)) => {
                if capturing && let Some(e) = event_json(&event) {
                    events.push(e);
                }
                read_event(event, assembler);
            }
            Ok(None) => break None,
            Err(e) => {
                if let SdkError::ServiceError(service) = &e {
                    events.push(exception_json(service.err()));
                }
                break Some(classify_stream(&e, client));
            }
        }
    };
    if let Some(w) = wire {
        w.status = 200;
        w.headers.insert("content-type".into(), "application/vnd.amazon.eventstream".into());
        w.events = Some(events);
    }
    if error.is_some() {
        return error;
    }
    if !assembler.has_stop_reason() {
        return Some(CallError::new(ErrorKind::Truncated, None, "the stream ended before messageStop"));
    }
    None
}

fn read_event(event: ConverseStreamOutput, assembler: &mut Assembler) {
    match event {
        ConverseStreamOutput::ContentBlockStart(e) => {
            if let Some(ContentBlockStart::ToolUse(start)) = e.start() {
                let index = e.content_block_index().max(0) as u64;
                assembler.tool_start(index, Some(start.tool_use_id()), Some(start.name()));
            }
        }
        ConverseStreamOutput::ContentBlockDelta(e) => {
            let index = e.content_block_index().max(0) as u64;
            match e.delta() {
                Some(ContentBlockDelta::Text(text)) => assembler.text(text),
                Some(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(text))) => {
                    assembler.reasoning(text)
                }
                Some(ContentBlockDelta::ToolUse(tool)) => assembler.tool_arguments(index, tool.input()),
                _ => {}
            }
        }
        ConverseStreamOutput::MessageStop(e) => assembler.stop_reason(e.stop_reason().as_str()),
        ConverseStreamOutput::Metadata(e) => {
            if let Some(usage) = e.usage() {
                assembler.usage(usage.input_tokens().max(0) as u64, usage.output_tokens().max(0) as u64);
            }
        }
        _ => {}
    }
}

pub(super) type HttpResponse = aws_smithy_runtime_api::http::Response;

/// Classifies a failed Converse or ConverseStream request (not a mid-stream error).
fn classify<E>(error: &SdkError<E, HttpResponse>, client: &ConverseClient, model: &str) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut parts = error_parts(error);
    if let (SdkError::ServiceError(_), Some(raw)) = (error, error.raw_response()) {
        parts.status = Some(raw.status().as_u16());
        parts.retry_after = raw
            .headers()
            .get("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
    }
    classify_parts(parts, client, model)
}

/// What an SDK error says, flattened.
struct ErrorParts {
    status: Option<u16>,
    code: Option<String>,
    message: String,
    retry_after: Option<Duration>,
    /// Not a service answer: a transport failure, a timeout, missing credentials.
    transport: Option<(ErrorKind, String)>,
}

fn error_parts<E, R>(error: &SdkError<E, R>) -> ErrorParts
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let chain = one_line(error);
    let mut parts = ErrorParts { status: None, code: None, message: String::new(), retry_after: None, transport: None };
    match error {
        SdkError::ServiceError(service) => {
            parts.code = service.err().code().map(str::to_owned);
            parts.message = service.err().message().unwrap_or_default().to_owned();
        }
        SdkError::TimeoutError(_) => parts.transport = Some((ErrorKind::Timeout, chain)),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                ErrorKind::Timeout
            } else if chain.contains("credentials") || chain.contains("identity resolver") {
                ErrorKind::Auth
            } else {
                ErrorKind::Unavailable
            };
            parts.transport = Some((kind, chain));
        }
        SdkError::ResponseError(_) => parts.transport = Some((ErrorKind::Server, chain)),
        _ => parts.transport = Some((ErrorKind::InvalidRequest, chain)),
    }
    parts
}

fn classify_parts(parts: ErrorParts, client: &ConverseClient, model: &str) -> CallError {
    if let Some((kind, detail)) = parts.transport {
        let message = match kind {
            ErrorKind::Auth => format!(
                "no AWS credentials for {}: set AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key) or configure the AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or SSO)",
                client.target
            ),
            ErrorKind::Timeout => format!("{} did not answer in time", client.target),
            ErrorKind::Unavailable => format!("cannot reach {}: {detail}", client.target),
            _ => detail,
        };
        return CallError::new(kind, None, message);
    }
    let code = parts.code.unwrap_or_default();
    let kind = match code.as_str() {
        "ThrottlingException" | "TooManyRequestsException" => ErrorKind::Throttled,
        "ServiceUnavailableException" | "ModelNotReadyException" => ErrorKind::Unavailable,
        "InternalServerException" => ErrorKind::Server,
        "ValidationException" => ErrorKind::InvalidRequest,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "ExpiredTokenException"
        | "InvalidSignatureException" => ErrorKind::Auth,
        "ResourceNotFoundException" => ErrorKind::NotFound,
        "ModelTimeoutException" => ErrorKind::Timeout,
        "ModelErrorException" | "ModelStreamErrorException" => ErrorKind::Model,
        _ => parts.status.map_or(ErrorKind::Server, ErrorKind::from_status),
    };
    let message = if parts.message.is_empty() { code.clone() } else { parts.message };
    let message = match kind {
        ErrorKind::Auth => format!(
            "{message}; check AWS_BEARER_TOKEN_BEDROCK or the AWS credentials, and that they may invoke {model} in {}",
            client.region
        ),
        ErrorKind::NotFound => {
            format!("{message}; check the model id `{model}` and that it is offered in {}", client.region)
        }
        _ => message,
    };
    let mut error = CallError::new(kind, parts.status, message);
    error.retry_after = parts.retry_after;
    error
}

fn classify_stream<R: std::fmt::Debug>(
    error: &SdkError<ConverseStreamOutputError, R>,
    client: &ConverseClient,
) -> CallError {
    let mut e = classify_parts(error_parts(error), client, "");
    // Exception frames arrive on an HTTP 200: the kind comes from the frame, and there
    // is no status to report. A frame that cannot be decoded is a broken stream.
    e.status = None;
    if let SdkError::ServiceError(service) = error {
        e.kind = match service.err() {
            ConverseStreamOutputError::ThrottlingException(_) => ErrorKind::Throttled,
            ConverseStreamOutputError::ValidationException(_) => ErrorKind::InvalidRequest,
            ConverseStreamOutputError::ServiceUnavailableException(_) => ErrorKind::Unavailable,
            ConverseStreamOutputError::InternalServerException(_) => ErrorKind::Server,
            ConverseStreamOutputError::ModelStreamErrorException(_) => ErrorKind::Model,
            _ => ErrorKind::StreamError,
        };
        e.retryable = e.kind.retryable();
    } else if matches!(error, SdkError::ResponseError(_)) {
        e.kind = ErrorKind::StreamError;
        e.retryable = false;
    }
    e
}

/// An error and its sources on one line, without the SDK's debug dump.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// serde_json -> Smithy document (the SDK has no conversion of its own).
pub fn json_to_document(value: &Value) -> Document {
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
pub fn document_to_json(document: &Document) -> Value {
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
            },
            tools: Vec::new(),
        };
        let p = parts(&req).unwrap();
        assert_eq!(p.system.len(), 2, "system plus the developer message");
        assert_eq!(p.messages.len(), 1);
        assert_eq!(p.inference.max_tokens(), Some(1024));
        assert_eq!(p.inference.top_p(), Some(0.5));
        assert_eq!(p.inference.stop_sequences(), ["END"]);
        assert_eq!(document_to_json(&p.additional.unwrap()), json!({"reasoning_effort": "high", "seed": 3}));
    }
}
