//! The runner: schedules cases concurrently on tokio, within an adaptive concurrency
//! limit and per-model caps, judges each as it finishes, and hands [`Event`]s to a
//! callback. It never prints. Results stream out as cases finish and are dropped after
//! the callback returns, so memory stays flat however many cases there are.

mod budget;
pub(crate) mod limit;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{Stream, StreamExt};
use tokio::task::JoinSet;

use crate::execute::session::Session;
use crate::execute::{Caller, Clients, RetryPolicy, judges};
use crate::plan::{Case, SkipReason};
use crate::recordings::DatasetCassettes;
use crate::response::{CallError, ErrorKind, ModelResponse, Source};
use crate::scenario::Mode;
use crate::verdict::book::Book;
use crate::verdict::dataset::DatasetResult;
use crate::verdict::{self, CaseVerdict, SnapshotSettings, Status, UpdateAction};
use limit::AdaptiveLimit;

/// How a run behaves.
#[derive(Debug, Clone)]
pub(crate) struct RunnerOptions {
    /// The most cases in flight at once.
    pub(crate) concurrency: usize,
    pub(crate) retry: RetryPolicy,
    /// Stop starting cases after this long, and cancel the ones still running.
    pub(crate) deadline: Option<Duration>,
    /// Stop starting cases after the first failure.
    pub(crate) fail_fast: bool,
    pub(crate) snapshots: SnapshotSettings,
    /// After an interrupt, how long running cases may take before they are cancelled.
    pub(crate) grace: Duration,
    /// `--mode`: wins over the scenarios' `mode`; `auto` when neither says.
    pub(crate) mode: Option<Mode>,
    /// `--max-cost`: no case starts that could take the run's cost past this, in USD.
    pub(crate) max_cost: Option<f64>,
    /// The cases a batch inference job answered (or failed to), by case id: judged from
    /// the cassettes its output made, graders asked live.
    pub(crate) from_batch: Arc<HashMap<String, FromBatch>>,
}

/// A case sent to a batch inference job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FromBatch {
    /// The job's ARN, which the reports name.
    pub(crate) job_arn: String,
    /// Why the job gave no answer for it (the job's own message when it ended early);
    /// `None` when its cassette holds the answers.
    pub(crate) missing: Option<String>,
    /// The answers, as the job's output gave them and the cassette now holds them:
    /// replayed from here rather than read back from the file (`None`: from the file).
    pub(crate) answers: Option<crate::recordings::Answers>,
}

/// A finished case.
#[derive(Debug, Clone)]
pub(crate) struct CaseResult {
    pub(crate) case: Arc<Case>,
    pub(crate) verdict: CaseVerdict,
    pub(crate) duration: Duration,
    /// Why a skipped case did not run.
    pub(crate) skip_reason: Option<String>,
}

/// How a run ended: what only the runner knows. What the cases came to is the
/// record's (`report::record`), built from the events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) duration: Duration,
    /// Ctrl-C or SIGTERM stopped it: cases not started are reported as skipped.
    pub(crate) interrupted: bool,
}

/// What the runner reports, in order: one `RunStarted`, a `CaseStarted` and a
/// `CaseFinished` per case (skipped cases only finish), a `DatasetFinished` after the
/// last row of each dataset, one `RunFinished`.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    RunStarted { cases: usize, started_at: SystemTime },
    CaseStarted { case: &'a Case },
    CaseFinished { result: &'a CaseResult },
    DatasetFinished { result: &'a DatasetResult },
    RunFinished { ended: Ended },
}

/// Runs `cases` and returns the totals. `interrupts` yields once per signal (Ctrl-C,
/// SIGTERM): after the first no new case starts and running ones get `options.grace`
/// to finish; a second cancels them at once. Either way every event still goes out,
/// so the reports are complete. It must run on the multi-threaded runtime (judging
/// uses `block_in_place`).
pub(crate) async fn run(
    cases: Vec<Case>,
    clients: Arc<Clients>,
    options: RunnerOptions,
    mut interrupts: impl Stream<Item = ()> + Unpin,
    emit: &mut dyn FnMut(Event<'_>),
) -> Ended {
    let started = Instant::now();
    emit(Event::RunStarted { cases: cases.len(), started_at: SystemTime::now() });
    // Rows settle against their dataset's table here, in one place, as they finish.
    let mut book = Book::new(options.snapshots, &cases);
    let datasets = Arc::new(DatasetCassettes::default());
    let fold = datasets.clone();
    // Says whether what finished fails the run: a case (not a row its dataset's
    // `min_rows_passed` judges), or a dataset judged after its last row.
    let mut finish = |mut result: CaseResult, emit: &mut dyn FnMut(Event<'_>)| -> bool {
        let dataset = book.row_finished(&result.case, &mut result.verdict);
        emit(Event::CaseFinished { result: &result });
        let mut failing =
            !result.verdict.tolerated && matches!(result.verdict.status, Status::Failed | Status::Errored);
        if let Some(mut dataset) = dataset {
            // Rows recorded since the cassette's last write are written now.
            if let Err(e) = fold.fold(&result.case) {
                dataset.problem = Some(e.to_string());
                dataset.passed = false;
            }
            failing |= !dataset.passed;
            emit(Event::DatasetFinished { result: &dataset });
        }
        failing
    };

    let caps = model_caps(&cases);
    let mut queue: VecDeque<Arc<Case>> = VecDeque::new();
    for case in cases {
        match case.skip {
            Some(reason) => {
                let why = match reason {
                    SkipReason::Skip => "skip: true",
                    SkipReason::NotOnly => "another scenario is marked only",
                };
                finish(skipped(Arc::new(case), why), emit);
            }
            None => queue.push_back(Arc::new(case)),
        }
    }

    let mut limit = AdaptiveLimit::new(options.concurrency);
    let mut running: JoinSet<CaseResult> = JoinSet::new();
    // Each case in flight, when it started, and what the budget holds for it.
    let mut in_flight: HashMap<tokio::task::Id, (Arc<Case>, Instant, f64)> = HashMap::new();
    let mut budget = options.max_cost.map(budget::Budget::new);
    let mut waiting: Option<(*const Case, f64)> = None;
    let mut per_model: HashMap<String, usize> = HashMap::new();
    let mut stop: Option<&'static str> = None;
    let deadline = options.deadline.map(|d| tokio::time::Instant::now() + d);
    let mut cancel_at: Option<tokio::time::Instant> = None;
    let mut interrupted = false;

    loop {
        while stop.is_none() && running.len() < limit.current() {
            let Some(i) =
                queue.iter().position(|c| per_model.get(&c.model).copied().unwrap_or(0) < cap(&caps, &c.model))
            else {
                break;
            };
            let mut bound = 0.0;
            if let Some(budget) = &mut budget {
                let case = &queue[i];
                bound = match waiting {
                    // The case that waited for room last time: its bound is known.
                    Some((at, known)) if std::ptr::eq(at, Arc::as_ptr(case)) => known,
                    _ => {
                        let mode = options.mode.or(case.spec.mode).unwrap_or(Mode::Auto);
                        budget::Budget::bound(case, mode, &datasets)
                    }
                };
                if !budget.could_fit(bound) {
                    // What is spent only grows: this one never will. The next may.
                    let case = queue.remove(i).expect("position is in range");
                    finish(skipped(case, "not run: it could take the run past --max-cost"), emit);
                    continue;
                }
                if !budget.admits(bound) {
                    // It fits once cases in flight end and free their reservations;
                    // until then the queue keeps its order.
                    waiting = Some((Arc::as_ptr(case), bound));
                    break;
                }
                budget.reserve(bound);
                waiting = None;
            }
            let case = queue.remove(i).expect("position is in range");
            emit(Event::CaseStarted { case: &case });
            *per_model.entry(case.model.clone()).or_default() += 1;
            let handle = running.spawn(run_case(case.clone(), clients.clone(), datasets.clone(), options.clone()));
            in_flight.insert(handle.id(), (case, Instant::now(), bound));
        }
        if stop.is_some() {
            let why = stop.unwrap_or_default();
            while let Some(case) = queue.pop_front() {
                finish(skipped(case, why), emit);
            }
        }
        if running.is_empty() {
            break;
        }
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        tokio::select! {
            joined = running.join_next_with_id() => {
                let (result, bound) = match joined {
                    Some(Ok((id, result))) => (result, in_flight.remove(&id).map_or(0.0, |(_, _, bound)| bound)),
                    Some(Err(e)) => {
                        let Some((case, started, bound)) = in_flight.remove(&e.id()) else { continue };
                        (ended(case, &e, started.elapsed()), bound)
                    }
                    None => break,
                };
                if let Some(budget) = &mut budget {
                    budget.settle(bound, &result.case, &result.verdict);
                }
                if let Some(n) = per_model.get_mut(&result.case.model) {
                    *n = n.saturating_sub(1);
                }
                if met_throttling(&result.verdict) { limit.throttled() } else { limit.succeeded() }
                if finish(result, emit) && options.fail_fast && stop.is_none() {
                    stop = Some("not run: --fail-fast stopped the run");
                }
            }
            Some(()) = interrupts.next() => {
                let now = tokio::time::Instant::now();
                // The second signal means "now": the grace period ends.
                cancel_at = Some(if interrupted { now } else { now + options.grace });
                interrupted = true;
                stop = Some("not run: interrupted");
            }
            () = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() && cancel_at.is_none() => {
                stop = Some("not run: the --deadline passed");
                cancel_at = Some(tokio::time::Instant::now());
            }
            () = tokio::time::sleep_until(cancel_at.unwrap_or(far)), if cancel_at.is_some() => {
                running.abort_all();
                cancel_at = None;
            }
        }
    }
    let ended = Ended { duration: started.elapsed(), interrupted };
    emit(Event::RunFinished { ended });
    ended
}

async fn run_case(
    case: Arc<Case>,
    clients: Arc<Clients>,
    datasets: Arc<DatasetCassettes>,
    options: RunnerOptions,
) -> CaseResult {
    let started = Instant::now();
    // A dataset row is rendered now, and its prompt dropped when it is judged.
    let case = match case.rendered() {
        Ok(rendered) => Arc::new(rendered),
        Err(e) => {
            let response = ModelResponse {
                error: Some(CallError::new(ErrorKind::Internal, None, format!("{}: {}", e.pointer, e.message))),
                ..ModelResponse::default()
            };
            return errored(case, response, started.elapsed());
        }
    };
    let mut mode = options.mode.or(case.spec.mode).unwrap_or(Mode::Auto);
    let batched = options.from_batch.get(&case.id);
    if let Some(FromBatch { missing: Some(why), job_arn, .. }) = batched {
        let response = ModelResponse {
            error: Some(CallError::new(ErrorKind::Batch, None, why.clone())),
            source: Source::Batch,
            batch_job: Some(job_arn.clone()),
            ..ModelResponse::default()
        };
        return errored(case, response, started.elapsed());
    }
    if batched.is_some() {
        // The job's answers are in the case's cassette; its graders were never asked, so
        // `auto` asks them live.
        mode = Mode::Auto;
    }
    let caller = Caller::new(&clients, &options.retry);
    let given = batched.and_then(|b| b.answers.as_ref()).and_then(|a| a.recording().ok());
    let (mut session, mut responses) = match given {
        Some(recording) => Session::given(&case, caller, &datasets, recording).await,
        None => Session::start(&case, caller, &datasets, mode).await,
    };
    if let Some(from) = batched {
        for r in &mut responses {
            r.source = Source::Batch;
            r.batch_job = Some(from.job_arn.clone());
            // Billed at the batch price, as the job was.
            r.service_tier = Some("batch".to_owned());
        }
    }
    // Graders are asked in the case's session: live, recorded or replayed as it is.
    let mut grades = judges::grade_checks(&mut session, &case, &responses).await;
    let rewordings = verdict::semantic::rewordings(&case, &responses);
    if rewordings.iter().any(Option::is_some) {
        judges::grade_rewordings(&mut session, &case, rewordings, &mut grades).await;
    }
    session.finish(&mut responses);
    // Judging may write snapshot files, with an fsync: blocking work, which
    // `block_in_place` keeps from stalling this worker's other tasks (it needs the
    // multi-threaded runtime, which every caller builds). A judge that only reads a
    // small snapshot (nothing is written on CI, where replay runs most) is cheaper
    // inline: a fifth of replay's CPU (`scripts/bench-replay.sh`). A panic ends the
    // task, which `run` reports as an internal error when it joins it.
    let judge = || verdict::judge(&case, responses, grades, options.snapshots);
    let verdict =
        if options.snapshots.action == UpdateAction::Nothing { judge() } else { tokio::task::block_in_place(judge) };
    CaseResult { case, verdict, duration: started.elapsed(), skip_reason: None }
}

fn errored(case: Arc<Case>, response: ModelResponse, duration: Duration) -> CaseResult {
    CaseResult { case, verdict: CaseVerdict::errored(response), duration, skip_reason: None }
}

fn skipped(case: Arc<Case>, why: &str) -> CaseResult {
    CaseResult { case, verdict: CaseVerdict::skipped(), duration: Duration::ZERO, skip_reason: Some(why.to_owned()) }
}

/// A case whose task ended without a result: cancelled, or failed inside the tool.
fn ended(case: Arc<Case>, error: &tokio::task::JoinError, ran: Duration) -> CaseResult {
    let (kind, message) = if error.is_cancelled() {
        (ErrorKind::Cancelled, format!("the run stopped it after {} ms, before it finished", ran.as_millis()))
    } else {
        (ErrorKind::Internal, "the case's task failed inside gpt-oss-scenarios (a bug: please report it)".to_owned())
    };
    let response = ModelResponse {
        error: Some(CallError::new(kind, None, message)),
        latency_ms: u64::try_from(ran.as_millis()).unwrap_or(u64::MAX),
        ..ModelResponse::default()
    };
    CaseResult { case, verdict: CaseVerdict::errored(response), duration: ran, skip_reason: None }
}

/// The case's model, or one of its graders, asked the run to slow down.
fn met_throttling(verdict: &CaseVerdict) -> bool {
    verdict.samples.iter().any(|s| {
        s.response.attempts > 1
            || s.response.error.as_ref().is_some_and(|e| e.kind == ErrorKind::Throttled)
            || s.grades.cost().throttled > 0
    })
}

/// The smallest `max_concurrency` given for each model.
fn model_caps(cases: &[Case]) -> HashMap<String, usize> {
    let mut caps: HashMap<String, usize> = HashMap::new();
    for case in cases {
        if let Some(n) = case.spec.max_concurrency {
            let entry = caps.entry(case.model.clone()).or_insert(usize::MAX);
            *entry = (*entry).min(n as usize);
        }
    }
    caps
}

fn cap(caps: &HashMap<String, usize>, model: &str) -> usize {
    caps.get(model).copied().unwrap_or(usize::MAX)
}
