//! Execute: runs one case against its API and returns a [`ModelResponse`], retrying
//! throttling and transient failures within the case's deadline.
//!
//! A [`Caller`] makes a session's calls: through which clients (built once per run and
//! shared, [`Clients`]), retried how, and whether each response is also kept as the
//! wire carried it. The last is decided once, by the session's mode ([`session`]), and
//! travels with the caller, not down every call. A call is three steps:
//! [`Caller::case`] (an agent's loop, or one request), [`Caller::ask`] (retries within
//! the deadline) and [`Caller::attempt`] (one request, redacted).

pub(crate) mod agent;
mod clients;
pub(crate) mod estimate;
pub(crate) mod judges;
pub(crate) mod retry;
pub mod session;
pub(crate) mod tools;

use std::time::{Duration, Instant};

pub use clients::Clients;
pub(crate) use clients::KeyFrom;
pub use retry::RetryPolicy;

use crate::plan::Case;
use crate::providers::{Call, CallRequest, authority, bedrock, endpoint, openai_chat, openai_responses, streams};
use crate::response::{CallError, ErrorKind, ModelResponse};
use crate::scenario::Api;

/// How a session's model calls are made: the clients they go through, how a failure is
/// retried, and whether each response is also kept as the wire carried it (record mode,
/// for the case's cassette).
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub(crate) clients: &'a Clients,
    pub(crate) retry: &'a RetryPolicy,
    pub(crate) capture: bool,
}

impl<'a> Caller<'a> {
    /// A caller that keeps no wire form and retries as `retry` says.
    pub fn new(clients: &'a Clients, retry: &'a RetryPolicy) -> Caller<'a> {
        Caller { clients, retry, capture: false }
    }

    /// This caller, keeping every response's wire form.
    pub(crate) fn capturing(self) -> Caller<'a> {
        Caller { capture: true, ..self }
    }

    /// Runs a case within its timeout: an agent's whole loop (each model turn retried),
    /// or its one request, retried. A retried stream starts the whole request again.
    pub async fn case(&self, case: &Case) -> ModelResponse {
        let deadline = Instant::now() + case.timeout;
        if case.api == Api::Agent {
            return agent::run(self, case, deadline).await;
        }
        let request = CallRequest::new(&case.model, &case.region, &case.spec);
        self.ask(case, case.api, &request, deadline).await
    }

    /// One request on `api`, retried as the policy says until `deadline`.
    pub(crate) async fn ask(&self, case: &Case, api: Api, request: &CallRequest, deadline: Instant) -> ModelResponse {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let started = Instant::now();
            // A stream ends itself at the deadline, keeping what arrived; this bound, a
            // moment later, ends whatever else is still waiting.
            let bound = remaining + Duration::from_millis(250);
            let mut response = match tokio::time::timeout(bound, self.attempt(case, api, request, deadline)).await {
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
            match self.retry.next_delay(attempt, error, deadline.saturating_duration_since(Instant::now())) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return response,
            }
        }
    }

    /// One request on `api`, to the endpoint the case resolves to, with every secret
    /// value redacted from what came back. A stream still going at `deadline` stops
    /// there, keeping what arrived.
    pub(crate) async fn attempt(
        &self,
        case: &Case,
        api: Api,
        request: &CallRequest,
        deadline: Instant,
    ) -> ModelResponse {
        let call = Call { stream: streams(api), capture: self.capture, deadline };
        let clients = self.clients;
        let connection = clients.connection(case);
        let mut response = match api {
            Api::Converse | Api::ConverseStream | Api::Invoke | Api::InvokeStream => {
                let client = clients.bedrock(&case.region, connection.bedrock_endpoint).await;
                match api {
                    Api::Invoke | Api::InvokeStream => bedrock::invoke::call(&client, request, call).await,
                    _ => bedrock::call(&client, request, call).await,
                }
            }
            Api::Chat | Api::ChatStream | Api::Agent | Api::Responses | Api::ResponsesStream => {
                let base = endpoint(api, &connection, &case.region);
                match clients.openai(&base, &case.region).await {
                    Ok(client) if matches!(api, Api::Responses | Api::ResponsesStream) => {
                        openai_responses::call(&client, request, call).await
                    }
                    Ok(client) => openai_chat::call(&client, request, call).await,
                    Err(e) => failed(e),
                }
            }
        };
        // A response over the size limit is not a recording worth keeping (replayed, it
        // would only be too large again), and its capture may be the biggest thing held.
        if response.error.as_ref().is_some_and(|e| e.kind == ErrorKind::TooLarge) {
            response.wire = None;
        }
        redact_secrets(&mut response);
        response
    }
}

/// Removes secret values from everything a response carries into reports,
/// snapshots, the terminal and cassettes (a server may echo request headers back).
fn redact_secrets(r: &mut ModelResponse) {
    for text in [&mut r.final_text, &mut r.reasoning, &mut r.raw_text] {
        crate::secrets::redact_in_place(text);
    }
    if let Some(e) = &mut r.error {
        crate::secrets::redact_in_place(&mut e.message);
    }
    for call in &mut r.tool_calls {
        crate::secrets::redact_json(&mut call.input);
    }
    if let Some(w) = &mut r.wire {
        w.redact_secrets();
    }
}

/// The host a case's requests go to, for cassette headers.
pub(crate) fn endpoint_host(clients: &Clients, case: &Case) -> String {
    let connection = clients.connection(case);
    authority(&endpoint(case.wire_api(), &connection, &case.region))
}

pub(crate) fn failed(error: CallError) -> ModelResponse {
    ModelResponse { error: Some(error), attempts: 1, ..ModelResponse::default() }
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}
