//! `invoke` and `invoke-stream`: Bedrock's InvokeModel and InvokeModelWithResponseStream,
//! the path promptfoo's `bedrock:` provider takes to gpt-oss.
//!
//! For OpenAI models the body is a chat completions request and the answer a chat
//! completion, reasoning inside `<reasoning>` tags before the text (AWS's
//! model-parameters page for OpenAI models). Streamed, each eventstream `chunk` event
//! carries one chat completion chunk, base64 in `bytes`. Both are read by the chat
//! completions reader ([`completion`](crate::providers::completion)); the client,
//! credentials and error classification are Converse's.

use std::time::Instant;

use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{ResponseStream, ServiceTierType};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::capture::exception_json;
use super::errors::{classify_stream, invoke_frame};
use super::request::model_path;
use super::{BedrockClient, refused, stream_end};
use crate::providers::completion::{error_in, error_object, read_chunk, read_completion, request_body};
use crate::providers::{Call, CallRequest, Encoded};
use crate::response::{Assembler, CallError, ErrorKind, ModelResponse, preview, too_large};
use crate::wire::{WireEvent, WireResponse};

/// The path and body of an InvokeModel (or, with `stream`, InvokeModelWithResponseStream)
/// request. The body names the model and has no `stream` field: the operation decides.
pub(crate) fn encode(req: &CallRequest, stream: bool) -> Encoded {
    let operation = if stream { "invoke-with-response-stream" } else { "invoke" };
    Encoded { path: model_path(&req.model, operation), body: request_body(req, None) }
}

/// One InvokeModel or InvokeModelWithResponseStream call. With `capture`, the response
/// is also kept as the wire carried it: the JSON body, or the `chunk` events.
pub(crate) async fn call(client: &BedrockClient, req: &CallRequest, call: Call) -> ModelResponse {
    let started = Instant::now();
    let mut assembler = Assembler::new();
    let mut wire = call.capture.then(WireResponse::default);
    let body = Blob::new(encode(req, call.stream).body.to_string());
    let error = if call.stream {
        invoke_stream(client, req, body, &mut assembler, wire.as_mut(), call).await
    } else {
        invoke(client, req, body, &mut assembler, wire.as_mut()).await
    };
    let mut response = assembler.finish(error, started.elapsed());
    response.wire = wire;
    response
}

async fn invoke(
    client: &BedrockClient,
    req: &CallRequest,
    body: Blob,
    assembler: &mut Assembler,
    wire: Option<&mut WireResponse>,
) -> Option<CallError> {
    let operation = client
        .client
        .invoke_model()
        .model_id(&req.model)
        .content_type("application/json")
        .accept("application/json")
        .set_service_tier(tier(req))
        .body(body);
    let sent = send!(client, operation);
    let output = match sent {
        Ok(output) => output,
        Err(e) => return Some(refused(&e, client, &req.model, wire)),
    };
    let served = output.service_tier().map(|t| t.as_str().to_owned());
    if let Some(tier) = &served {
        assembler.service_tier(tier);
    }
    let bytes = output.body().as_ref();
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => {
            let shown = preview(&String::from_utf8_lossy(bytes));
            if let Some(w) = wire {
                *w = WireResponse::json(200, Value::String(String::from_utf8_lossy(bytes).into_owned()));
            }
            return Some(CallError::new(
                ErrorKind::Server,
                None,
                format!("{} answered InvokeModel with a body that is not JSON ({e}): {shown}", client.target),
            ));
        }
    };
    let error = read_completion(&value, assembler);
    read_metrics(&value, assembler);
    if let Some(w) = wire {
        *w = WireResponse::json(200, value);
        w.headers.extend(served.map(|tier| (TIER_HEADER.to_owned(), tier)));
    }
    error
}

/// Where InvokeModel says a tier, asked for and served: a header, not the body (the
/// body is the model's own, chat completions for gpt-oss).
const TIER_HEADER: &str = "x-amzn-bedrock-service-tier";

/// The tier a scenario asks for, in the SDK's type.
fn tier(req: &CallRequest) -> Option<ServiceTierType> {
    req.params.service_tier.map(|t| ServiceTierType::from(t.as_str()))
}

async fn invoke_stream(
    client: &BedrockClient,
    req: &CallRequest,
    body: Blob,
    assembler: &mut Assembler,
    wire: Option<&mut WireResponse>,
    call: Call,
) -> Option<CallError> {
    let operation = client
        .client
        .invoke_model_with_response_stream()
        .model_id(&req.model)
        .content_type("application/json")
        .accept("application/json")
        .set_service_tier(tier(req))
        .body(body);
    let sent = send!(client, operation);
    let mut output = match sent {
        Ok(output) => output,
        Err(e) => return Some(refused(&e, client, &req.model, wire)),
    };
    let mut wire = wire;
    if let Some(tier) = output.service_tier() {
        assembler.service_tier(tier.as_str());
        if let Some(w) = wire.as_mut() {
            w.headers.insert(TIER_HEADER.to_owned(), tier.as_str().to_owned());
        }
    }
    let mut events: Vec<WireEvent> = Vec::new();
    let capturing = wire.is_some();
    let mut received: u64 = 0;
    let error = loop {
        let next = match call.next(output.body.recv()).await {
            Ok(next) => next,
            Err(timeout) => break Some(timeout),
        };
        match next {
            Ok(Some(ResponseStream::Chunk(part))) => {
                let bytes = part.bytes().map(Blob::as_ref).unwrap_or_default();
                received = received.saturating_add(bytes.len() as u64);
                if received > client.max_response_bytes {
                    break Some(too_large(client.max_response_bytes));
                }
                if capturing {
                    let payload = json!({"bytes": BASE64.encode(bytes)});
                    events.push(WireEvent { event_type: "chunk".into(), message_type: "event".into(), payload });
                }
                if let Some(error) = read_part(bytes, assembler) {
                    break Some(error);
                }
            }
            // A kind of event this SDK does not know: nothing to read in it.
            Ok(Some(_)) => {}
            Ok(None) => break None,
            Err(e) => {
                if let SdkError::ServiceError(service) = &e {
                    events.push(exception_json(service.err(), invoke_frame(service.err())));
                }
                break Some(classify_stream(&e, client, invoke_frame));
            }
        }
    };
    stream_end(wire, events, error, assembler, "the stream ended before the model finished (no finish_reason)")
}

/// One chunk's bytes: a chat completion chunk, or an error object the model server
/// put in the stream.
fn read_part(bytes: &[u8], assembler: &mut Assembler) -> Option<CallError> {
    let chunk: Value = match serde_json::from_slice(bytes) {
        Ok(chunk) => chunk,
        Err(e) => {
            let shown = preview(&String::from_utf8_lossy(bytes));
            return Some(CallError::new(
                ErrorKind::StreamError,
                None,
                format!("a stream chunk is not JSON ({e}): {shown}"),
            ));
        }
    };
    if let Some(error) = error_in(&chunk) {
        return Some(error_object(error, ErrorKind::StreamError));
    }
    read_chunk(&chunk, assembler);
    read_metrics(&chunk, assembler);
    None
}

/// Bedrock's own token counts, which it adds to the last chunk of an InvokeModel
/// stream (and some bodies): used when the completion carried no `usage`.
fn read_metrics(value: &Value, assembler: &mut Assembler) {
    let metrics = &value["amazon-bedrock-invocationMetrics"];
    if value["usage"].is_object() {
        return;
    }
    if let (Some(input), Some(output)) = (metrics["inputTokenCount"].as_u64(), metrics["outputTokenCount"].as_u64()) {
        assembler.usage(input, output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Message;
    use crate::scenario::{Params, Role};

    fn request() -> CallRequest {
        CallRequest {
            model: "openai.gpt-oss-120b-1:0".into(),
            region: "us-west-2".into(),
            system: None,
            messages: vec![Message::text(Role::User, "Capital of Japan?")],
            params: Params { max_tokens: Some(256), ..Params::default() },
            tools: Vec::new(),
        }
    }

    #[test]
    fn the_body_is_a_chat_request_naming_the_model_without_stream() {
        for stream in [false, true] {
            let encoded = encode(&request(), stream);
            assert_eq!(
                encoded.body,
                json!({"model": "openai.gpt-oss-120b-1:0", "messages": [{"role": "user", "content": "Capital of Japan?"}], "max_completion_tokens": 256})
            );
        }
        assert_eq!(encode(&request(), false).path, "/model/openai.gpt-oss-120b-1%3A0/invoke");
        assert_eq!(encode(&request(), true).path, "/model/openai.gpt-oss-120b-1%3A0/invoke-with-response-stream");
    }

    #[test]
    fn bedrock_metrics_stand_in_for_missing_usage() {
        let mut a = Assembler::new();
        let chunk = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "amazon-bedrock-invocationMetrics": {"inputTokenCount": 7, "outputTokenCount": 3}});
        assert!(read_part(chunk.to_string().as_bytes(), &mut a).is_none());
        let r = a.finish(None, std::time::Duration::ZERO);
        assert_eq!(r.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((7, 3)));
    }

    #[test]
    fn a_chunk_that_is_not_json_is_a_stream_error() {
        let e = read_part(b"{not json", &mut Assembler::new()).expect("an error");
        assert_eq!(e.kind, ErrorKind::StreamError);
    }
}
