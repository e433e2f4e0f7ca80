//! Record mode's capture for Bedrock Runtime (Converse, and InvokeModel's failed
//! requests and exception frames): the response rebuilt, from
//! what the AWS SDK decoded, at the level the wire carries it (the JSON body, or the
//! event stream's events and exception frames), for a cassette.

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ContentBlockStart, ConverseOutput as Output, ConverseStreamOutput,
    ReasoningContentBlock, ReasoningContentBlockDelta, TokenUsage,
};
use serde_json::Value;

use super::HttpResponse;
use super::errors::Frame;
use super::request::document_to_json;
use crate::response::CallError;
use crate::wire::{WireEvent, WireResponse};

fn usage_json(u: &TokenUsage) -> Value {
    serde_json::json!({"inputTokens": u.input_tokens(), "outputTokens": u.output_tokens(), "totalTokens": u.total_tokens()})
}

/// A failed request as Bedrock sends it: the status, the error type header, a message.
pub(super) fn error_response<E: ProvideErrorMetadata>(
    e: &SdkError<E, HttpResponse>,
    error: &CallError,
) -> WireResponse {
    let mut w = WireResponse::json(error.status.unwrap_or(500), serde_json::json!({"message": error.message}));
    if let Some(code) = e.as_service_error().and_then(|s| s.code()) {
        w.headers.insert("x-amzn-errortype".into(), code.to_owned());
    }
    w
}

/// Converse's JSON body, rebuilt from the SDK's output.
pub(super) fn output_json(output: &ConverseOutput) -> Value {
    let mut content = Vec::new();
    if let Some(Output::Message(message)) = output.output() {
        for block in message.content() {
            content.push(match block {
                ContentBlock::Text(text) => serde_json::json!({"text": text}),
                ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(r)) => {
                    let mut text = serde_json::json!({"text": r.text()});
                    if let Some(sig) = r.signature() {
                        text["signature"] = Value::String(sig.to_owned());
                    }
                    serde_json::json!({"reasoningContent": {"reasoningText": text}})
                }
                ContentBlock::ToolUse(t) => serde_json::json!({"toolUse": {
                    "toolUseId": t.tool_use_id(), "name": t.name(), "input": document_to_json(t.input())
                }}),
                _ => continue,
            });
        }
    }
    let mut body = serde_json::json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": output.stop_reason().as_str(),
    });
    if let Some(u) = output.usage() {
        body["usage"] = usage_json(u);
    }
    if let Some(m) = output.metrics() {
        body["metrics"] = serde_json::json!({"latencyMs": m.latency_ms()});
    }
    if let Some(tier) = output.service_tier() {
        body["serviceTier"] = serde_json::json!({"type": tier.r#type().as_str()});
    }
    body
}

/// One ConverseStream event as the wire carries it: its type and JSON payload.
pub(super) fn event_json(event: &ConverseStreamOutput) -> Option<WireEvent> {
    let (event_type, payload) = match event {
        ConverseStreamOutput::MessageStart(_) => ("messageStart", serde_json::json!({"role": "assistant"})),
        ConverseStreamOutput::ContentBlockStart(e) => {
            let start = match e.start() {
                Some(ContentBlockStart::ToolUse(t)) => {
                    serde_json::json!({"toolUse": {"toolUseId": t.tool_use_id(), "name": t.name()}})
                }
                _ => serde_json::json!({}),
            };
            ("contentBlockStart", serde_json::json!({"contentBlockIndex": e.content_block_index(), "start": start}))
        }
        ConverseStreamOutput::ContentBlockDelta(e) => {
            let delta = match e.delta()? {
                ContentBlockDelta::Text(t) => serde_json::json!({"text": t}),
                ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(t)) => {
                    serde_json::json!({"reasoningContent": {"text": t}})
                }
                ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Signature(s)) => {
                    serde_json::json!({"reasoningContent": {"signature": s}})
                }
                ContentBlockDelta::ToolUse(t) => serde_json::json!({"toolUse": {"input": t.input()}}),
                _ => return None,
            };
            ("contentBlockDelta", serde_json::json!({"contentBlockIndex": e.content_block_index(), "delta": delta}))
        }
        ConverseStreamOutput::ContentBlockStop(e) => {
            ("contentBlockStop", serde_json::json!({"contentBlockIndex": e.content_block_index()}))
        }
        ConverseStreamOutput::MessageStop(e) => {
            ("messageStop", serde_json::json!({"stopReason": e.stop_reason().as_str()}))
        }
        ConverseStreamOutput::Metadata(e) => {
            let mut payload = serde_json::json!({});
            if let Some(u) = e.usage() {
                payload["usage"] = usage_json(u);
            }
            if let Some(m) = e.metrics() {
                payload["metrics"] = serde_json::json!({"latencyMs": m.latency_ms()});
            }
            if let Some(tier) = e.service_tier() {
                payload["serviceTier"] = serde_json::json!({"type": tier.r#type().as_str()});
            }
            ("metadata", payload)
        }
        _ => return None,
    };
    Some(WireEvent { event_type: event_type.into(), message_type: "event".into(), payload })
}

/// An exception frame, as Bedrock sends it mid-stream.
pub(super) fn exception_json<E: ProvideErrorMetadata>(error: &E, frame: Frame) -> WireEvent {
    WireEvent {
        event_type: frame.exception_type.into(),
        message_type: "exception".into(),
        payload: serde_json::json!({"message": error.message().unwrap_or_default()}),
    }
}
