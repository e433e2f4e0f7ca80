//! Record and replay: where a case's answers come from. `live` calls the endpoint;
//! `record` calls it and writes the case's cassette; `replay` serves the cassette
//! through a loopback wire server to the same clients and parsing a live run uses,
//! never touching the network; `auto` replays when a matching cassette exists.
//!
//! A [`Session`] holds a case's mode from its samples to its graders: a grader's
//! question is answered from the same place as the case (replay finds it in the
//! cassette by its request's hash) and recorded into the same cassette.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::{Clients, Recordings, RetryPolicy, endpoint_host, execute_case, failed, with_retries};
use crate::execute::cassette::{self, Cassette, CassetteError, Interaction, Recorded};
use crate::plan::Case;
use crate::providers::CallRequest;
use crate::response::{CallError, ErrorKind, ModelResponse, Source};
use crate::scenario::{Api, Mode};
use crate::wire::server::{InOrder, Reply};
use crate::wire::{Provenance, ProvenanceKind, WireResponse};

/// Runs every sample of a case in `mode` (and, in record mode, writes its cassette).
pub async fn run_samples(
    case: &Case,
    clients: &Clients,
    recordings: &Recordings,
    policy: &RetryPolicy,
    mode: Mode,
) -> Vec<ModelResponse> {
    let (session, mut responses) = Session::start(case, clients, recordings, policy, mode).await;
    session.finish(&mut responses);
    responses
}

/// A case's answers and its graders' in one mode.
pub(crate) struct Session<'a> {
    case: &'a Case,
    clients: &'a Clients,
    recordings: &'a Recordings,
    policy: &'a RetryPolicy,
    from: From,
}

enum From {
    Live,
    /// The graders' exchanges, for the cassette `finish` writes.
    Record(Vec<Interaction>),
    /// The cassette's grader answers by request hash, each in the order recorded; in
    /// `auto` mode a question it does not hold is asked live.
    Replay {
        judge: HashMap<String, VecDeque<WireResponse>>,
        live_when_missing: bool,
    },
}

impl<'a> Session<'a> {
    /// Runs every sample of `case` in `mode`. A dataset row's recording is in its
    /// dataset's cassette, which `recordings` reads once for all rows.
    pub(crate) async fn start(
        case: &'a Case,
        clients: &'a Clients,
        recordings: &'a Recordings,
        policy: &'a RetryPolicy,
        mode: Mode,
    ) -> (Session<'a>, Vec<ModelResponse>) {
        let load = || match case.row {
            Some(_) => recordings.responses_for(case),
            None => Cassette::load_for(case).map(Cassette::into_recorded),
        };
        let replaying = |recorded: Recorded, live_when_missing: bool| {
            let mut judge: HashMap<String, VecDeque<WireResponse>> = HashMap::new();
            for (hash, response) in recorded.judge {
                judge.entry(hash).or_default().push_back(response);
            }
            (From::Replay { judge, live_when_missing }, recorded.samples)
        };
        let (from, responses) = match mode {
            Mode::Live => (From::Live, live(case, clients, policy, false).await),
            Mode::Record => {
                let mut responses = live(case, clients, policy, true).await;
                // Written now, not after the graders: answers paid for are kept even if
                // the run stops the case while it is being graded.
                record(case, clients, recordings, &mut responses, Vec::new());
                (From::Record(Vec::new()), responses)
            }
            Mode::Replay => match load() {
                Ok(recorded) => {
                    let (from, samples) = replaying(recorded, false);
                    (from, replay(case, clients, &samples, &cassette::path_for(case)).await)
                }
                // Its graders are never asked: the case has no answer to grade.
                Err(e) => (
                    From::Replay { judge: HashMap::new(), live_when_missing: false },
                    vec![replay_failed(e.to_string())],
                ),
            },
            Mode::Auto => match load() {
                Ok(recorded) => {
                    let (from, samples) = replaying(recorded, true);
                    (from, replay(case, clients, &samples, &cassette::path_for(case)).await)
                }
                Err(CassetteError::Missing { .. } | CassetteError::MissingRow { .. }) => {
                    (From::Live, live(case, clients, policy, false).await)
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
                    (From::Live, responses)
                }
            },
        };
        (Session { case, clients, recordings, policy, from }, responses)
    }

    /// Asks a grader its question (a case of its own, see `plan::grader`) once, with
    /// retries in live and record modes, from the cassette in replay.
    pub(crate) async fn ask(&mut self, grader: &Case) -> ModelResponse {
        let request = CallRequest::new(&grader.model, &grader.region, &grader.spec);
        let deadline = Instant::now() + grader.timeout;
        let (clients, policy) = (self.clients, self.policy);
        match &mut self.from {
            From::Live => with_retries(clients, grader, grader.api, &request, policy, false, deadline).await,
            From::Record(judged) => {
                let response = with_retries(clients, grader, grader.api, &request, policy, true, deadline).await;
                if let Some(wire) = &response.wire {
                    let request = cassette::recorded_request(grader.api, &request);
                    judged.push(Interaction { request, response: wire.clone() });
                }
                response
            }
            From::Replay { judge, live_when_missing } => {
                let hash = cassette::recorded_request(grader.api, &request).hash;
                let path = cassette::path_for(self.case);
                let missing = format!(
                    "the cassette {} holds no grader answer to this question (its rubric, its grader or the answer judged changed since it was recorded, or the grader failed while recording): re-record with `run --mode record`",
                    crate::fs::shown(&path)
                );
                match judge.get_mut(&hash).and_then(VecDeque::pop_front) {
                    Some(recorded) => replay_one(grader, clients, &recorded, &path).await,
                    None if *live_when_missing => {
                        let mut response =
                            with_retries(clients, grader, grader.api, &request, policy, false, deadline).await;
                        // Without credentials, what is missing is the news, not the 403.
                        if let Some(e) = &mut response.error
                            && e.kind == ErrorKind::Auth
                        {
                            let message = format!("{missing}; asking it live instead failed too: {}", e.message);
                            *e = CallError::new(ErrorKind::Cassette, None, message);
                        }
                        response
                    }
                    None => replay_failed(missing),
                }
            }
        }
    }

    /// Ends the case's session: in record mode, writes its cassette again with its
    /// graders' exchanges after its samples.
    pub(crate) fn finish(self, responses: &mut [ModelResponse]) {
        match self.from {
            From::Record(judge) if !judge.is_empty() => {
                record(self.case, self.clients, self.recordings, responses, judge)
            }
            _ => {}
        }
    }
}

async fn live(case: &Case, clients: &Clients, policy: &RetryPolicy, capture: bool) -> Vec<ModelResponse> {
    let mut responses = Vec::with_capacity(case.samples as usize);
    for _ in 0..case.samples {
        responses.push(execute_case(clients, case, policy, capture).await);
    }
    responses
}

fn record(
    case: &Case,
    clients: &Clients,
    recordings: &Recordings,
    responses: &mut [ModelResponse],
    judge: Vec<Interaction>,
) {
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
                judge,
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
        for r in responses.iter_mut() {
            r.source = Source::Recorded;
        }
    }
}

/// Serves `responses` in order on a route of the run's loopback server, to clients
/// that are views of the run's, and runs the case's samples against them.
async fn replay(case: &Case, clients: &Clients, responses: &[WireResponse], path: &Path) -> Vec<ModelResponse> {
    let replies: Result<Vec<Reply>, _> = responses.iter().map(Reply::from_wire).collect();
    let replies = match replies {
        Ok(r) => r,
        Err(e) => {
            return vec![replay_failed(format!("the cassette {} cannot be replayed: {e}", crate::fs::shown(path)))];
        }
    };
    // The route lives until `_route` is dropped.
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

/// One recorded grader answer (from the cassette at `path`), replayed as the case's are.
async fn replay_one(grader: &Case, clients: &Clients, recorded: &WireResponse, path: &Path) -> ModelResponse {
    match replay(grader, clients, std::slice::from_ref(recorded), path).await.into_iter().next() {
        Some(response) => response,
        None => replay_failed("the grader's recording gave no answer".into()),
    }
}

/// A case whose cassette could not be replayed: it counts as replayed, not live.
fn replay_failed(message: String) -> ModelResponse {
    ModelResponse { source: Source::Replayed, ..failed(CallError::new(ErrorKind::Cassette, None, message)) }
}
