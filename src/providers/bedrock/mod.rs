//! Amazon Bedrock Runtime through aws-sdk-bedrockruntime: `converse` and
//! `converse-stream` here, `invoke` and `invoke-stream` (InvokeModel, whose bodies for
//! gpt-oss are chat completions) in [`invoke`].
//!
//! Credentials are the SDK's own: it sends `AWS_BEARER_TOKEN_BEDROCK` (a Bedrock API
//! key) as bearer auth when set, and otherwise signs with the standard chain
//! (environment, profile, SSO, web identity, container, IMDS). Replay gives a fixed
//! placeholder key instead, so no chain is consulted. The SDK's own retries are off: the
//! caller's retry policy is the only one. Reasoning signatures are never sent back:
//! Bedrock rejects them for gpt-oss. The request is encoded once ([`request`]); errors
//! are classified in [`errors`]; record mode's capture of responses is in [`capture`].

/// Sends an SDK operation, to the client view's own endpoint when it has one (a replay
/// route): the override is per call, so the client and its connections stay shared.
macro_rules! send {
    ($client:expr, $operation:expr) => {
        match $client.call_config() {
            Some(config) => $operation.customize().config_override(config).send().await,
            None => $operation.send().await,
        }
    };
}

mod capture;
mod errors;
pub(crate) mod invoke;
mod limit;
mod request;

pub(crate) use request::encode;

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_bedrockruntime::config::StalledStreamProtectionConfig;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::timeout::TimeoutConfig;
use aws_sdk_bedrockruntime::config::{Builder, Token};
use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ContentBlockStart, ConverseOutput as Output, ConverseStreamOutput,
    ReasoningContentBlock, ReasoningContentBlockDelta,
};

use self::capture::{error_response, event_json, exception_json, output_json};
use self::errors::{classify, classify_stream, converse_frame};
use self::request::{Parts, document_to_json, parts};
use super::{Call, CallRequest, Limits};
use crate::response::{Assembler, CallError, ErrorKind, ModelResponse};
use crate::wire::{WireEvent, WireResponse};

/// The raw HTTP response type of the SDK's errors.
type HttpResponse = aws_smithy_runtime_api::http::Response;

/// A Bedrock runtime client for one region and endpoint.
#[derive(Clone)]
pub(crate) struct BedrockClient {
    client: aws_sdk_bedrockruntime::Client,
    /// An endpoint for this view's calls only (a replay route), set per call so that
    /// the client, its HTTPS stack and its connections stay shared.
    endpoint: Option<String>,
    /// For messages: the endpoint override, or the region.
    target: String,
    region: String,
    max_response_bytes: u64,
}

impl BedrockClient {
    /// `placeholder_key`: a fixed bearer key that replaces every credential source
    /// (replay and loopback tests). `withhold_key`: the endpoint is not Bedrock's own, so
    /// the Bedrock API key the SDK reads from `AWS_BEARER_TOKEN_BEDROCK` is not sent there
    /// (requests are signed with the credential chain instead, or fail saying why).
    pub(crate) async fn new(
        region: &str,
        endpoint: Option<&str>,
        placeholder_key: Option<&str>,
        withhold_key: bool,
        limits: Limits,
    ) -> BedrockClient {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
        if placeholder_key.is_some() {
            // With a credentials provider configured the SDK prefers SigV4, and building
            // one walks the chain (which can reach IMDS): no chain at all forces bearer.
            loader = loader.no_credentials();
        }
        let shared = loader.load().await;
        // The SDK's stalled-stream protection is off: it ended a stalled body after about
        // five seconds whatever the case's `timeout` said. The case's timeout (and the
        // read timeout between bytes) decide, as on every other API.
        let mut config = Builder::from(&shared)
            .retry_config(RetryConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .read_timeout(limits.read_timeout)
                    .build(),
            );
        config = config.interceptor(limit::SizeLimit(limits.max_response_bytes));
        if let Some(chain) = shared.credentials_provider() {
            config = config.credentials_provider(super::credentials::Remembered(chain));
        }
        if let Some(key) = placeholder_key {
            config = config.bearer_token(Token::new(key.to_owned(), None));
        } else if withhold_key {
            let to = endpoint.unwrap_or_default().to_owned();
            config = config
                .auth_scheme_preference([aws_smithy_runtime_api::client::auth::AuthSchemeId::new("sigv4")])
                .bearer_token_resolver(WithheldKey(to));
        }
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        BedrockClient {
            client: aws_sdk_bedrockruntime::Client::from_conf(config.build()),
            endpoint: None,
            target: endpoint.map_or_else(|| format!("Bedrock in {region}"), str::to_owned),
            region: region.to_owned(),
            max_response_bytes: limits.max_response_bytes,
        }
    }

    /// This client, sending to `endpoint` instead: same SDK client, same connections.
    pub(crate) fn with_endpoint(&self, endpoint: &str) -> BedrockClient {
        BedrockClient { endpoint: Some(endpoint.to_owned()), target: endpoint.to_owned(), ..self.clone() }
    }

    /// The per-call configuration: the view's endpoint, if any.
    fn call_config(&self) -> Option<Builder> {
        self.endpoint.as_ref().map(|e| Builder::default().endpoint_url(e))
    }
}

impl BedrockClient {
    /// One cheap authenticated call (`doctor --probe`): ListAsyncInvokes for one item,
    /// which costs nothing and proves the credentials reach the endpoint. A refusal
    /// says why, as a call's would.
    pub(crate) async fn probe(&self) -> Result<(), CallError> {
        let operation = self.client.list_async_invokes().max_results(1);
        match send!(self, operation) {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e, self, "")),
        }
    }
}

/// Stands in for the Bedrock API key where it must not go: resolving it fails with a
/// sentence that says why, so the SDK sends nothing.
#[derive(Debug)]
struct WithheldKey(String);

impl aws_smithy_runtime_api::client::identity::ResolveIdentity for WithheldKey {
    fn resolve_identity<'a>(
        &'a self,
        _: &'a aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &'a aws_smithy_types::config_bag::ConfigBag,
    ) -> aws_smithy_runtime_api::client::identity::IdentityFuture<'a> {
        let message = format!(
            "the Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) is not sent to {}, which is not Bedrock's own endpoint: list its host in GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS (https only), or use AWS credentials",
            self.0
        );
        aws_smithy_runtime_api::client::identity::IdentityFuture::ready(Err(message.into()))
    }
}

/// One Converse or ConverseStream call. With `capture`, the response is also kept at the
/// level the wire carries it (the JSON body, or the event stream's events), rebuilt
/// from what the SDK decoded, for a cassette.
pub(crate) async fn call(client: &BedrockClient, req: &CallRequest, call: Call) -> ModelResponse {
    let started = Instant::now();
    let mut assembler = Assembler::new();
    let mut wire = call.capture.then(WireResponse::default);
    let encoded = encode(req, call.stream);
    let error = match parts(&encoded.body) {
        Err(e) => Some(e),
        Ok(parts) if call.stream => converse_stream(client, req, parts, &mut assembler, wire.as_mut(), call).await,
        Ok(parts) => {
            let operation = client
                .client
                .converse()
                .model_id(&req.model)
                .set_messages(Some(parts.messages))
                .set_system(parts.system)
                .set_inference_config(parts.inference)
                .set_additional_model_request_fields(parts.additional)
                .set_tool_config(parts.tools)
                .set_service_tier(parts.tier);
            let sent = send!(client, operation);
            match sent {
                Ok(output) => {
                    read_output(&output, &mut assembler);
                    if let Some(w) = wire.as_mut() {
                        *w = WireResponse::json(200, output_json(&output));
                    }
                    None
                }
                Err(e) => Some(refused(&e, client, &req.model, wire.as_mut())),
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
    if let Some(tier) = output.service_tier() {
        assembler.service_tier(tier.r#type().as_str());
    }
    if let Some(usage) = output.usage() {
        assembler.usage(usage.input_tokens().max(0) as u64, usage.output_tokens().max(0) as u64);
    }
}

async fn converse_stream(
    client: &BedrockClient,
    req: &CallRequest,
    parts: Parts,
    assembler: &mut Assembler,
    wire: Option<&mut WireResponse>,
    call: Call,
) -> Option<CallError> {
    let operation = client
        .client
        .converse_stream()
        .model_id(&req.model)
        .set_messages(Some(parts.messages))
        .set_system(parts.system)
        .set_inference_config(parts.inference)
        .set_additional_model_request_fields(parts.additional)
        .set_tool_config(parts.tools)
        .set_service_tier(parts.tier);
    let sent = send!(client, operation);
    let mut output = match sent {
        Ok(output) => output,
        Err(e) => return Some(refused(&e, client, &req.model, wire)),
    };
    let mut events: Vec<WireEvent> = Vec::new();
    let capturing = wire.is_some();
    let error = loop {
        let next = match call.next(output.stream.recv()).await {
            Ok(next) => next,
            Err(timeout) => break Some(timeout),
        };
        match next {
            Ok(Some(event)) => {
                if capturing && let Some(e) = event_json(&event) {
                    events.push(e);
                }
                read_event(event, assembler);
            }
            Ok(None) => break None,
            Err(e) => {
                if let SdkError::ServiceError(service) = &e {
                    events.push(exception_json(service.err(), converse_frame(service.err())));
                }
                break Some(classify_stream(&e, client, converse_frame));
            }
        }
    };
    stream_end(wire, events, error, assembler, "the stream ended before messageStop")
}

/// A request that failed before any answer: classified, and kept as Bedrock sent it
/// when capturing.
pub(super) fn refused<E>(
    e: &SdkError<E, HttpResponse>,
    client: &BedrockClient,
    model: &str,
    wire: Option<&mut WireResponse>,
) -> CallError
where
    E: aws_sdk_bedrockruntime::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let error = classify(e, client, model);
    if let Some(w) = wire {
        *w = error_response(e, &error);
    }
    error
}

/// An event stream's end: its events kept when capturing, and a stream that closed
/// before the model finished (no stop reason) made a `truncated` error, `unfinished`.
pub(super) fn stream_end(
    wire: Option<&mut WireResponse>,
    events: Vec<WireEvent>,
    error: Option<CallError>,
    assembler: &Assembler,
    unfinished: &str,
) -> Option<CallError> {
    if let Some(w) = wire {
        w.status = 200;
        w.headers.insert("content-type".into(), "application/vnd.amazon.eventstream".into());
        w.events = Some(events);
    }
    if error.is_some() {
        return error;
    }
    if !assembler.has_stop_reason() {
        return Some(CallError::new(ErrorKind::Truncated, None, unfinished));
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
            if let Some(tier) = e.service_tier() {
                assembler.service_tier(tier.r#type().as_str());
            }
            if let Some(usage) = e.usage() {
                assembler.usage(usage.input_tokens().max(0) as u64, usage.output_tokens().max(0) as u64);
            }
        }
        _ => {}
    }
}
