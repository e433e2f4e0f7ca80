//! Where a case's answers come from, chosen once from its mode: `live` calls the
//! endpoint; `record` calls it, keeping each response's wire form, and writes the
//! case's cassette ([`Recorder`]); `replay` serves the case's recording through the
//! loopback server to the same clients and parsing a live run uses, never touching the
//! network; `auto` replays when a recording fits, and calls live otherwise.
//!
//! A [`Session`] holds a case's answers from its samples to its graders: a grader's
//! question is answered from the same place as the case (replay finds it in the
//! recording by its request's hash) and recorded into the same cassette.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::{Caller, Clients, RetryPolicy, endpoint_host, failed};
use crate::plan::Case;
use crate::providers::CallRequest;
use crate::recordings::{self, DatasetCassettes, Interaction, Recorder, Recording};
use crate::response::{CallError, ErrorKind, ModelResponse, Source};
use crate::scenario::Mode;
use crate::wire::WireResponse;
use crate::wire::server::InOrder;

/// Runs every sample of a case in `mode` (and, in record mode, writes its cassette).
pub async fn run_samples(
    case: &Case,
    clients: &Clients,
    datasets: &DatasetCassettes,
    retry: &RetryPolicy,
    mode: Mode,
) -> Vec<ModelResponse> {
    let (session, mut responses) = Session::start(case, Caller::new(clients, retry), datasets, mode).await;
    session.finish(&mut responses);
    responses
}

/// A case's answers and its graders' in one mode.
pub(crate) struct Session<'a> {
    case: &'a Case,
    datasets: &'a DatasetCassettes,
    answers: Answers<'a>,
}

/// Where the session's answers come from.
enum Answers<'a> {
    Live(Caller<'a>),
    /// A capturing caller, and the graders' exchanges for the cassette `finish` writes.
    Record {
        caller: Caller<'a>,
        graders: Vec<Interaction>,
    },
    /// The recording's grader answers by request hash, each in the order recorded,
    /// served through the run's `clients`; in `auto` mode a question it does not hold is
    /// asked live, by `live`.
    Replay {
        clients: &'a Clients,
        judge: HashMap<String, VecDeque<WireResponse>>,
        live: Option<Caller<'a>>,
    },
}

impl<'a> Session<'a> {
    /// Runs every sample of `case` in `mode`, through `caller` when it goes live. A
    /// dataset row's recording is in its dataset's cassette, which `datasets` reads
    /// once for all rows.
    pub(crate) async fn start(
        case: &'a Case,
        caller: Caller<'a>,
        datasets: &'a DatasetCassettes,
        mode: Mode,
    ) -> (Session<'a>, Vec<ModelResponse>) {
        let (answers, responses) = match mode {
            Mode::Live => (Answers::Live(caller), live(case, &caller).await),
            Mode::Record => {
                let caller = caller.capturing();
                let mut responses = live(case, &caller).await;
                // Written now, not after the graders: answers paid for are kept even if
                // the run stops the case while it is being graded.
                keep(case, caller.clients, datasets, &mut responses, Vec::new());
                (Answers::Record { caller, graders: Vec::new() }, responses)
            }
            Mode::Replay | Mode::Auto => {
                let fallback = (mode == Mode::Auto).then_some(caller);
                match recordings::find(case, datasets) {
                    Ok(recording) => replaying(case, caller.clients, recording, fallback).await,
                    Err(missing) if missing.is_missing() && mode == Mode::Auto => {
                        (Answers::Live(caller), live(case, &caller).await)
                    }
                    // A recording that no longer fits is said, not skipped in silence:
                    // otherwise a credentials error is all the user sees.
                    Err(stale) if mode == Mode::Auto => {
                        let mut responses = live(case, &caller).await;
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
                        (Answers::Live(caller), responses)
                    }
                    // Its graders are never asked: the case has no answer to grade.
                    Err(e) => (
                        Answers::Replay { clients: caller.clients, judge: HashMap::new(), live: None },
                        vec![replay_failed(e.to_string())],
                    ),
                }
            }
        };
        (Session { case, datasets, answers }, responses)
    }

    /// Replays answers already in hand: a batch job's, read from its output as their
    /// cassette was written, so that the run need not read back what it just wrote. As
    /// `auto` does, a grader the answers do not hold is asked live.
    pub(crate) async fn given(
        case: &'a Case,
        caller: Caller<'a>,
        datasets: &'a DatasetCassettes,
        recording: Recording,
    ) -> (Session<'a>, Vec<ModelResponse>) {
        let (answers, responses) = replaying(case, caller.clients, recording, Some(caller)).await;
        (Session { case, datasets, answers }, responses)
    }

    /// Asks a grader its question (a case of its own, see `plan::grader`) once, with
    /// retries when it goes live, from the recording in replay.
    pub(crate) async fn ask(&mut self, grader: &Case) -> ModelResponse {
        let request = CallRequest::new(&grader.model, &grader.region, &grader.spec);
        let deadline = Instant::now() + grader.timeout;
        match &mut self.answers {
            Answers::Live(caller) => caller.ask(grader, grader.api, &request, deadline).await,
            Answers::Record { caller, graders } => {
                let response = caller.ask(grader, grader.api, &request, deadline).await;
                if let Some(wire) = &response.wire {
                    let request = recordings::recorded_request(grader.api, &request);
                    graders.push(Interaction { request, response: wire.clone() });
                }
                response
            }
            Answers::Replay { clients, judge, live } => {
                let hash = recordings::recorded_request(grader.api, &request).hash;
                let path = recordings::path_for(self.case);
                let missing = format!(
                    "the cassette {} holds no grader answer to this question (its rubric, its grader or the answer judged changed since it was recorded, or the grader failed while recording): re-record with `run --mode record`",
                    crate::fs::shown(&path)
                );
                match judge.get_mut(&hash).and_then(VecDeque::pop_front) {
                    Some(recorded) => replay_one(grader, clients, &recorded, &path).await,
                    None => match live {
                        Some(live) => {
                            let mut response = live.ask(grader, grader.api, &request, deadline).await;
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
                    },
                }
            }
        }
    }

    /// Ends the case's session: in record mode, writes its cassette again with its
    /// graders' exchanges after its samples.
    pub(crate) fn finish(self, responses: &mut [ModelResponse]) {
        if let Answers::Record { caller, graders } = self.answers
            && !graders.is_empty()
        {
            keep(self.case, caller.clients, self.datasets, responses, graders);
        }
    }
}

/// Every sample of `case`, each through `caller`.
async fn live(case: &Case, caller: &Caller<'_>) -> Vec<ModelResponse> {
    let mut responses = Vec::with_capacity(case.samples as usize);
    for _ in 0..case.samples {
        responses.push(caller.case(case).await);
    }
    responses
}

/// Writes `case`'s cassette from its responses and its graders' exchanges. Only answers
/// a cassette now holds count as recorded; a write that failed errors the case.
fn keep(
    case: &Case,
    clients: &Clients,
    datasets: &DatasetCassettes,
    responses: &mut [ModelResponse],
    graders: Vec<Interaction>,
) {
    // Nothing came back at all (no connection, no credentials): there is nothing to
    // replay, and the error already says why.
    let Some(interactions) = recordings::interactions(case, responses) else { return };
    match Recorder::live(datasets).keep(case, endpoint_host(clients, case), interactions, graders) {
        Ok(_) => responses.iter_mut().for_each(|r| r.source = Source::Recorded),
        Err(problem) => {
            if let Some(first) = responses.first_mut().filter(|r| r.error.is_none()) {
                first.error = Some(CallError::new(ErrorKind::Cassette, None, problem.to_string()));
            }
        }
    }
}

/// Replays `recording`'s samples through `clients`, keeping its graders' answers for the
/// session; `live` asks the questions it does not hold.
async fn replaying<'a>(
    case: &Case,
    clients: &'a Clients,
    recording: Recording,
    live: Option<Caller<'a>>,
) -> (Answers<'a>, Vec<ModelResponse>) {
    let mut judge: HashMap<String, VecDeque<WireResponse>> = HashMap::new();
    for (hash, response) in recording.judge {
        judge.entry(hash).or_default().push_back(response);
    }
    let responses = replay(case, clients, &recording.samples, &recordings::path_for(case)).await;
    (Answers::Replay { clients, judge, live }, responses)
}

/// Serves `responses` (from the recording at `path`) in order on a route of the run's
/// loopback server, to clients that are views of the run's, and runs the case's
/// samples against them.
async fn replay(case: &Case, clients: &Clients, responses: &[WireResponse], path: &Path) -> Vec<ModelResponse> {
    let replies = match recordings::replies(responses) {
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
    // The recording holds final outcomes: a recorded throttle is replayed as it was.
    let no_retries = RetryPolicy::none();
    let mut responses = live(case, &Caller::new(&routed, &no_retries)).await;
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

/// A case whose recording could not be replayed: it counts as replayed, not live.
fn replay_failed(message: String) -> ModelResponse {
    ModelResponse { source: Source::Replayed, ..failed(CallError::new(ErrorKind::Cassette, None, message)) }
}
