//! Execute: runs one case against its API and returns a [`ModelResponse`], retrying
//! throttling and transient failures within the case's deadline.
//!
//! Clients are built once per endpoint and reused ([`Clients`]). The runner that
//! schedules cases and emits events is built on top of [`execute_case`].

pub(crate) mod agent;
pub mod cassette;
mod clients;
pub(crate) mod judges;
pub mod modes;
pub(crate) mod playback;
mod recordings;
pub(crate) mod retry;
pub(crate) mod tools;

use std::time::{Duration, Instant};

pub use clients::Clients;
pub use recordings::Recordings;
pub use retry::RetryPolicy;

use crate::plan::Case;
use crate::providers::{
    Call, CallRequest, authority, bedrock, endpoint, openai_chat, openai_responses, streams,
};
use crate::response::{CallError, ErrorKind, ModelResponse};
use crate::scenario::Api;
use crate::secrets;

/// One attempt of one case (for an agent: its whole loop). With `capture`, the
/// response is also kept as the wire carried it (record mode).
pub async fn call_once(clients: &Clients, case: &Case, capture: bool) -> ModelResponse {
    let deadline = Instant::now() + case.timeout;
    match case.api {
        Api::Agent => agent::run(clients, case, &RetryPolicy::none(), capture, deadline).await,
        api => call_api(clients, case, api, &CallRequest::new(&case.model, &case.region, &case.spec), capture, deadline).await,
    }
}

/// One request on `api`, to the endpoint the case resolves to, with every credential
/// value redacted from what came back. A stream still going at `deadline` stops there,
/// keeping what arrived.
pub(crate) async fn call_api(
    clients: &Clients,
    case: &Case,
    api: Api,
    request: &CallRequest,
    capture: bool,
    deadline: Instant,
) -> ModelResponse {
    let call = Call { stream: streams(api), capture, deadline };
    let mut response = send(clients, case, api, request, call).await;
    // A response over the size limit is not a recording worth keeping (replayed, it
    // would only be too large again), and its capture may be the biggest thing held.
    if response.error.as_ref().is_some_and(|e| e.kind == ErrorKind::TooLarge) {
        response.wire = None;
    }
    redact_secrets(&mut response);
    response
}

async fn send(clients: &Clients, case: &Case, api: Api, request: &CallRequest, call: Call) -> ModelResponse {
    let connection = clients.connection(case);
    match api {
        Api::Converse | Api::ConverseStream | Api::Invoke | Api::InvokeStream => {
            let client = clients.bedrock(&case.region, connection.bedrock_endpoint).await;
            match api {
                Api::Invoke | Api::InvokeStream => bedrock::invoke::call(&client, request, call).await,
                _ => bedrock::call(&client, request, call).await,
            }
        }
        Api::Chat | Api::ChatStream | Api::Agent | Api::Responses | Api::ResponsesStream => {
            let base = endpoint(api, &connection, &case.region);
            match clients.openai(&base).await {
                Ok(client) if matches!(api, Api::Responses | Api::ResponsesStream) => {
                    openai_responses::call(&client, request, call).await
                }
                Ok(client) => openai_chat::call(&client, request, call).await,
                Err(e) => failed(e),
            }
        }
    }
}

/// Removes credential values from everything a response carries into reports,
/// snapshots, the terminal and cassettes (a server may echo request headers back).
fn redact_secrets(r: &mut ModelResponse) {
    for text in [&mut r.final_text, &mut r.reasoning, &mut r.raw_text] {
        secrets::redact_in_place(text);
    }
    if let Some(e) = &mut r.error {
        secrets::redact_in_place(&mut e.message);
    }
    for call in &mut r.tool_calls {
        secrets::redact_json(&mut call.input);
    }
    if let Some(w) = &mut r.wire {
        w.redact_secrets();
    }
}

/// The host a case's requests go to, for cassette headers.
pub(crate) fn endpoint_host(clients: &Clients, case: &Case) -> String {
    let connection = clients.connection(case);
    authority(&endpoint(case.wire_api(), &connection, &case.region)).to_owned()
}

pub(crate) fn failed(error: CallError) -> ModelResponse {
    ModelResponse { error: Some(error), attempts: 1, ..ModelResponse::default() }
}

/// Runs a case: attempts with retries and backoff, all within the case's timeout. A
/// retried stream starts the whole request again. An agent retries each model turn.
/// With `capture`, the last attempt's response is kept as the wire carried it.
pub(crate) async fn execute_case(clients: &Clients, case: &Case, policy: &RetryPolicy, capture: bool) -> ModelResponse {
    let deadline = Instant::now() + case.timeout;
    if case.api == Api::Agent {
        return agent::run(clients, case, policy, capture, deadline).await;
    }
    let request = CallRequest::new(&case.model, &case.region, &case.spec);
    with_retries(clients, case, case.api, &request, policy, capture, deadline).await
}

/// One request, retried as `policy` says until `deadline`.
pub(crate) async fn with_retries(
    clients: &Clients,
    case: &Case,
    api: Api,
    request: &CallRequest,
    policy: &RetryPolicy,
    capture: bool,
    deadline: Instant,
) -> ModelResponse {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let started = Instant::now();
        // A stream ends itself at the deadline, keeping what arrived; this bound, a
        // moment later, ends whatever else is still waiting.
        let bound = remaining + Duration::from_millis(250);
        let mut response =
            match tokio::time::timeout(bound, call_api(clients, case, api, request, capture, deadline)).await {
                Ok(response) => response,
                Err(_) => ModelResponse {
                    // The time it really took, not 0: the wait is the news.
                    latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    ..failed(CallError::new(
                        ErrorKind::Timeout,
                        None,
                        format!("no answer within the case's timeout of {}", humanize(case.timeout)),
                    ))
                },
            };
        response.attempts = attempt;
        let Some(error) = &response.error else { return response };
        match policy.next_delay(attempt, error, deadline.saturating_duration_since(Instant::now())) {
            Some(delay) => tokio::time::sleep(delay).await,
            None => return response,
        }
    }
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}
