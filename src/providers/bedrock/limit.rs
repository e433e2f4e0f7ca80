//! The response size limit on every Bedrock Runtime call (Converse, InvokeModel and
//! their streams): an interceptor wraps each response body so that reading past the
//! limit fails, before the SDK buffers a whole body or while it decodes an event stream.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

/// What `http_body_util::Limited` says when a body passes its limit; classification
/// looks for it in an error's chain.
pub(super) const LIMIT_EXCEEDED: &str = "length limit exceeded";

#[derive(Debug)]
pub(super) struct SizeLimit(pub(super) u64);

impl Intercept for SizeLimit {
    fn name(&self) -> &'static str {
        "SizeLimit"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let limit = usize::try_from(self.0).unwrap_or(usize::MAX);
        let response = context.response_mut();
        let declared = response.headers().get("content-length").and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.0) {
            return Err(LIMIT_EXCEEDED.into());
        }
        let body = response.take_body();
        *response.body_mut() = SdkBody::from_body_1_x(http_body_util::Limited::new(body, limit));
        Ok(())
    }
}
