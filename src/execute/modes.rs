//! Record and replay: where a case's answers come from. `live` calls the endpoint;
//! `record` calls it and writes the case's cassette; `replay` serves the cassette
//! through a loopback wire server to the same clients and parsing a live run uses,
//! never touching the network; `auto` replays when a matching cassette exists.

use std::sync::Arc;

use super::{Clients, Recordings, RetryPolicy, endpoint_host, execute_case, failed};
use crate::execute::cassette::{self, Cassette, CassetteError, Interaction};
use crate::plan::Case;
use crate::response::{CallError, ErrorKind, ModelResponse, Source};
use crate::scenario::{Api, Mode};
use crate::wire::server::{InOrder, Reply};
use crate::wire::{Provenance, ProvenanceKind, WireResponse};

/// Runs every sample of a case in `mode`. A dataset row's recording is in its
/// dataset's cassette, which `recordings` reads once for all rows.
pub async fn run_samples(
    case: &Case,
    clients: &Clients,
    recordings: &Recordings,
    policy: &RetryPolicy,
    mode: Mode,
) -> Vec<ModelResponse> {
    let load = || match case.row {
        Some(_) => recordings.responses_for(case),
        None => Cassette::load_for(case).map(|c| c.interactions.into_iter().map(|i| i.response).collect()),
    };
    match mode {
        Mode::Live => live(case, clients, policy, false).await,
        Mode::Record => record(case, clients, recordings, policy).await,
        Mode::Replay => match load() {
            Ok(responses) => replay(case, clients, &responses).await,
            Err(e) => vec![replay_failed(e.to_string())],
        },
        Mode::Auto => match load() {
            Ok(responses) => replay(case, clients, &responses).await,
            Err(CassetteError::Missing { .. } | CassetteError::MissingRow { .. }) => {
                live(case, clients, policy, false).await
            }
            // A cassette that no longer fits is said, not skipped in silence: otherwise
            // a credentials error is all the user sees.
            Err(stale) => {
                let mut responses = live(case, clients, policy, false).await;
                for r in &mut responses {
                    match &mut r.error {
                        Some(e) if e.kind == ErrorKind::Auth => {
                            *e = CallError::new(
                                ErrorKind::Cassette,
                                None,
                                format!("{stale}; running it live instead failed too: {}", e.message),
                            );
                        }
                        _ => r.note = Some("cassette stale (the scenario changed): ran live".into()),
                    }
                }
                responses
            }
        },
    }
}

async fn live(case: &Case, clients: &Clients, policy: &RetryPolicy, capture: bool) -> Vec<ModelResponse> {
    let mut responses = Vec::with_capacity(case.samples as usize);
    for _ in 0..case.samples {
        responses.push(execute_case(clients, case, policy, capture).await);
    }
    responses
}

async fn record(case: &Case, clients: &Clients, recordings: &Recordings, policy: &RetryPolicy) -> Vec<ModelResponse> {
    let mut responses = live(case, clients, policy, true).await;
    let request = cassette::request_for(case);
    // One interaction per request: per sample, or for an agent per model turn.
    let interactions: Option<Vec<Interaction>> = if case.api == Api::Agent {
        let mut turns: Vec<Interaction> = responses
            .iter()
            .flat_map(|r| &r.turns)
            .filter_map(|t| t.recorded.clone())
            .map(|(request, response)| Interaction { request, response })
            .collect();
        // The first request decides whether the cassette still fits: it carries the
        // case's full hash (with its command tools).
        if let Some(first) = turns.first_mut() {
            first.request = request.clone();
        }
        (!turns.is_empty()).then_some(turns)
    } else {
        responses
            .iter()
            .map(|r| r.wire.clone().map(|response| Interaction { request: request.clone(), response }))
            .collect()
    };
    let written = match interactions {
        // Nothing came back at all (no connection, no credentials): there is nothing
        // to replay, and the error already says why.
        None => Ok(false),
        Some(interactions) => {
            let cassette = Cassette {
                format: cassette::FORMAT,
                scenario: crate::fs::slashed(&case.source),
                case: case.id.clone(),
                api: case.api,
                model: case.model.clone(),
                recorded_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                endpoint_host: endpoint_host(clients, case),
                provenance: Provenance {
                    kind: ProvenanceKind::Recorded,
                    source: format!("gpt-oss-scenarios {} run --mode record", env!("CARGO_PKG_VERSION")),
                    notes: String::new(),
                },
                interactions,
            };
            match case.row {
                Some(_) => recordings.put(case, cassette).map(|()| true).map_err(|e| e.to_string()),
                None => {
                    let path = cassette::path_for(case);
                    crate::fs::write_atomic(&path, &cassette.to_text()).map(|()| true).map_err(|e| e.to_string())
                }
            }
        }
    };
    if let (Err(problem), Some(first)) = (&written, responses.first_mut())
        && first.error.is_none()
    {
        first.error = Some(CallError::new(ErrorKind::Cassette, None, problem.clone()));
    }
    // Only answers a cassette now holds count as recorded.
    if written.is_ok_and(|w| w) {
        for r in &mut responses {
            r.source = Source::Recorded;
        }
    }
    responses
}

async fn replay(case: &Case, clients: &Clients, responses: &[WireResponse]) -> Vec<ModelResponse> {
    let replies: Result<Vec<Reply>, _> = responses.iter().map(Reply::from_wire).collect();
    let replies = match replies {
        Ok(r) => r,
        Err(e) => {
            let message =
                format!("the cassette {} cannot be replayed: {e}", crate::fs::shown(&cassette::path_for(case)));
            return vec![replay_failed(message)];
        }
    };
    // The run's one loopback server serves this cassette under the case's own route
    // until `_route` is dropped, to clients that are views of the run's.
    let (_route, routed) = match clients.replay(Arc::new(InOrder::new(replies))).await {
        Ok(found) => found,
        Err(e) => return vec![replay_failed(e.to_string())],
    };
    // The cassette holds final outcomes: a recorded throttle is replayed as it was.
    let policy = RetryPolicy::none();
    let mut responses = live(case, &routed, &policy, false).await;
    for r in &mut responses {
        r.source = Source::Replayed;
    }
    responses
}

/// A case whose cassette could not be replayed: it counts as replayed, not live.
fn replay_failed(message: String) -> ModelResponse {
    ModelResponse { source: Source::Replayed, ..failed(CallError::new(ErrorKind::Cassette, None, message)) }
}
