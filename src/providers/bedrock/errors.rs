//! How a failed Converse, ConverseStream or InvokeModel call reads: the SDK's error flattened into
//! the shared [`CallError`] vocabulary, with a sentence that says what to do.

use std::time::{Duration, SystemTime};

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types::error::{ConverseStreamOutputError, ResponseStreamError};

use super::{BedrockClient, HttpResponse};
use crate::providers::one_line;
use crate::response::{CallError, ErrorKind, retry_after, too_large};

/// Classifies a failed request (not a mid-stream error).
pub(super) fn classify<E>(error: &SdkError<E, HttpResponse>, client: &BedrockClient, model: &str) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut parts = error_parts(error);
    if let (SdkError::ServiceError(_), Some(raw)) = (error, error.raw_response()) {
        // A 2xx whose body could not be read is no service error but a broken answer:
        // `server`, as chat and InvokeModel say of a body that is not JSON.
        if raw.status().is_success() {
            let detail = format!("{} answered with a body that could not be read: {}", client.target, one_line(error));
            parts.transport = Some((ErrorKind::Server, detail));
        }
        parts.status = Some(raw.status().as_u16());
        parts.retry_after = raw.headers().get("retry-after").and_then(|v| retry_after(v, SystemTime::now()));
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
        // The size limit's interceptor cut the body (see `limit`).
        _ if chain.contains(super::limit::LIMIT_EXCEEDED) => parts.transport = Some((ErrorKind::TooLarge, chain)),
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
        // The SDK's stalled-stream protection reports a body that stopped arriving.
        SdkError::ResponseError(_) if chain.contains("throughput") || chain.contains("timed out") => {
            parts.transport = Some((ErrorKind::Timeout, chain));
        }
        SdkError::ResponseError(_) => parts.transport = Some((ErrorKind::Server, chain)),
        _ => parts.transport = Some((ErrorKind::InvalidRequest, chain)),
    }
    parts
}

fn classify_parts(parts: ErrorParts, client: &BedrockClient, model: &str) -> CallError {
    if let Some((kind, detail)) = parts.transport {
        let message = match kind {
            ErrorKind::Auth => format!(
                "no AWS credentials for {}: set AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key) or configure the AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or SSO)",
                client.target
            ),
            ErrorKind::Timeout => format!("{} did not answer in time", client.target),
            ErrorKind::TooLarge => return too_large(client.max_response_bytes),
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

/// Classifies an error of an event stream (ConverseStream, InvokeModelWithResponseStream):
/// an exception frame, by `frame`, or a stream that broke.
pub(super) fn classify_stream<E, R>(error: &SdkError<E, R>, client: &BedrockClient, frame: fn(&E) -> Frame) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut e = classify_parts(error_parts(error), client, "");
    // Exception frames arrive on an HTTP 200: the kind comes from the frame, and there
    // is no status to report. A frame that cannot be decoded is a broken stream.
    e.status = None;
    if let SdkError::ServiceError(service) = error {
        e.kind = frame(service.err()).kind;
        e.retryable = e.kind.retryable();
    } else if matches!(error, SdkError::ResponseError(_)) && e.kind != ErrorKind::TooLarge {
        e.kind = ErrorKind::StreamError;
        e.retryable = false;
    }
    e
}

/// An exception frame: its `:exception-type` and what it means.
pub(super) struct Frame {
    pub(super) exception_type: &'static str,
    pub(super) kind: ErrorKind,
}

const fn frame(exception_type: &'static str, kind: ErrorKind) -> Frame {
    Frame { exception_type, kind }
}

/// A ConverseStream exception frame.
pub(super) fn converse_frame(error: &ConverseStreamOutputError) -> Frame {
    match error {
        ConverseStreamOutputError::ThrottlingException(_) => frame("throttlingException", ErrorKind::Throttled),
        ConverseStreamOutputError::ValidationException(_) => frame("validationException", ErrorKind::InvalidRequest),
        ConverseStreamOutputError::ServiceUnavailableException(_) => {
            frame("serviceUnavailableException", ErrorKind::Unavailable)
        }
        ConverseStreamOutputError::InternalServerException(_) => frame("internalServerException", ErrorKind::Server),
        ConverseStreamOutputError::ModelStreamErrorException(_) => frame("modelStreamErrorException", ErrorKind::Model),
        _ => frame("unknownException", ErrorKind::StreamError),
    }
}

/// An InvokeModelWithResponseStream exception frame.
pub(super) fn invoke_frame(error: &ResponseStreamError) -> Frame {
    match error {
        ResponseStreamError::ThrottlingException(_) => frame("throttlingException", ErrorKind::Throttled),
        ResponseStreamError::ValidationException(_) => frame("validationException", ErrorKind::InvalidRequest),
        ResponseStreamError::ServiceUnavailableException(_) => {
            frame("serviceUnavailableException", ErrorKind::Unavailable)
        }
        ResponseStreamError::InternalServerException(_) => frame("internalServerException", ErrorKind::Server),
        ResponseStreamError::ModelStreamErrorException(_) => frame("modelStreamErrorException", ErrorKind::Model),
        ResponseStreamError::ModelTimeoutException(_) => frame("modelTimeoutException", ErrorKind::Timeout),
        _ => frame("unknownException", ErrorKind::StreamError),
    }
}
