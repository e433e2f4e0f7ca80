//! `run --engine batch` and `run --collect`: the part of a run that goes through Amazon
//! Bedrock batch inference before the runner judges every case. Cases batch can carry
//! are submitted as jobs and waited for (or left running, `--no-wait`, for a later
//! `--collect`); their answers become cassettes, and the runner replays them with
//! `source: batch`. What batch cannot carry runs live in the same run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::batch::state::State;
use crate::batch::{self, Progress, Regions, Waited, jobs};
use crate::exit;
use crate::plan::Case;
use crate::report::record::{BatchJobRecord, BatchRecord, ManifestRecord};
use crate::runner::FromBatch;
use crate::scenario::{Engine, Mode};
use crate::stdio::{errln, outln};

/// The batch flags of `run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct EngineArgs {
    /// Where answers come from: live (default), batch (every case Bedrock batch
    /// inference can carry goes into jobs, `batch:` in defaults.yaml says where; the
    /// rest run live) or batch-strict (as batch, but too few records for a job's
    /// minimum stops the run instead of running them live). Overrides `engine:`.
    #[arg(long, value_name = "ENGINE", value_parser = super::one_of(&Engine::ALL, Engine::as_str))]
    pub(crate) engine: Option<Engine>,
    /// Submit the batch jobs, write the state file that names them, and exit: a later
    /// `run --collect STATE` judges their answers.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// Collect the jobs a `--no-wait` run submitted (waiting for them if they are still
    /// running), and run the suite and selection the state names.
    #[arg(long, value_name = "STATE", conflicts_with = "no_wait")]
    pub(crate) collect: Option<PathBuf>,
    /// On Ctrl-C while waiting for batch jobs: stop them (by default they keep running,
    /// to be collected later).
    #[arg(long)]
    pub(crate) stop_jobs: bool,
    /// The longest pause between two looks at the batch jobs; the pause starts at a
    /// second and grows to this.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::plan::duration::parse_limit)]
    pub(crate) poll_max: Duration,
    /// The S3 folder batch records are uploaded to (overrides `batch.input`).
    #[arg(long, value_name = "S3URI")]
    pub(crate) batch_input: Option<String>,
    /// The S3 folder batch jobs write to (overrides `batch.output`).
    #[arg(long, value_name = "S3URI")]
    pub(crate) batch_output: Option<String>,
    /// The service role batch jobs run as (overrides `batch.role_arn`).
    #[arg(long, value_name = "ARN")]
    pub(crate) batch_role_arn: Option<String>,
}

/// What the batch part needs of the run: its suite, selection and mode.
pub(super) struct RunHead {
    pub(super) paths: Vec<PathBuf>,
    pub(super) selection: crate::plan::select::Selection,
    pub(super) selection_flags: Vec<String>,
    pub(super) mode: Option<Mode>,
    pub(super) max_cost: Option<f64>,
}

/// What the batch part gives the rest of the run.
pub(super) struct Batched {
    pub(super) from_batch: HashMap<String, FromBatch>,
    pub(super) record: BatchRecord,
}

/// Sends the cases batch can carry to jobs (or collects a state's), waits, and reads
/// their answers into cassettes. `Ok(None)`: nothing goes to batch. `Err(code)`: the
/// run ends here, said.
pub(super) fn run_batch(
    args: &EngineArgs,
    state: Option<State>,
    options: &RunHead,
    cases: &[Case],
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<Batched>, u8> {
    let started = Instant::now();
    let engine = state.as_ref().map_or(args.engine, |s| s.engine);
    let given = jobs::Overrides {
        input: args.batch_input.clone(),
        output: args.batch_output.clone(),
        role_arn: args.batch_role_arn.clone(),
    };
    let overrides = state.as_ref().map_or(given, |s| s.overrides.clone());
    let split = jobs::split(cases, engine, &overrides).map_err(|e| {
        errln!("error: {e}");
        exit::INVALID
    })?;
    let mut live: HashMap<&str, usize> = HashMap::new();
    for (_, why) in &split.live {
        *live.entry(why.as_str()).or_default() += 1;
    }
    for (why, n) in &live {
        outln!("batch: {n} case{} run live: {why}", if *n == 1 { "" } else { "s" });
    }
    if split.jobs.is_empty() && state.is_none() {
        return Ok(None);
    }
    if options.mode == Some(Mode::Replay) {
        errln!("error: --mode replay sends nothing, and the batch engine sends cases to batch jobs: choose one");
        return Err(exit::INVALID);
    }
    if options.max_cost.is_some() && state.is_none() {
        // --max-cost stops live calls one at a time; a job is paid as a whole.
        errln!(
            "error: --max-cost bounds live calls as they go, and a batch job is paid as a whole: see what the jobs would cost with --dry-run, then run without --max-cost (or with --engine live)"
        );
        return Err(exit::INVALID);
    }
    // Listened for from here on: a Ctrl-C while submitting stops before the next job is
    // created, and never kills the process with jobs unnamed.
    let mut interrupts = {
        let _inside = runtime.enter();
        super::signals::interrupts()
    };
    let mut regions = Regions::default();
    let mut tell = |p: Progress| match p {
        Progress::Line(line) => outln!("{line}"),
        Progress::Status(line) => errln!("{line}"),
    };
    let (state_path, state, known) = match state {
        Some(state) => {
            batch::check_same(&split, &state).map_err(|e| {
                errln!("error: {e}");
                exit::INVALID
            })?;
            let path = args.collect.clone().unwrap_or_default();
            (path, state, None)
        }
        None => {
            let run = batch::run_id(std::time::SystemTime::now());
            let fresh = State {
                format: batch::state::FORMAT,
                run: run.clone(),
                submitted_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                paths: options.paths.clone(),
                selection: options.selection.clone(),
                selection_flags: options.selection_flags.clone(),
                engine: args.engine,
                overrides,
                root: std::env::current_dir().unwrap_or_default(),
                jobs: Vec::new(),
            };
            let path = State::path_for(&run);
            let submitting = batch::submit(cases, &split, fresh, &path, &mut regions, &mut interrupts, &mut tell);
            match runtime.block_on(submitting) {
                Ok((state, known)) => (crate::load::absolute(&path), state, Some(known)),
                Err(e) => {
                    errln!("error: {e}");
                    if path.is_file() {
                        errln!(
                            "the jobs submitted before it keep running: collect them with `gpt-oss-scenarios run --collect {}`",
                            crate::load::absolute(&path).display()
                        );
                    }
                    let interrupted = matches!(e, batch::BatchError::Interrupted { .. });
                    return Err(if interrupted { exit::INTERRUPTED } else { exit::FAILURES });
                }
            }
        }
    };
    let collect_with = format!("gpt-oss-scenarios run --collect {}", state_path.display());
    if args.no_wait {
        outln!(
            "submitted {} batch job{}; collect their answers with `{collect_with}`",
            state.jobs.len(),
            if state.jobs.len() == 1 { "" } else { "s" }
        );
        return Err(exit::SUCCESS);
    }
    let waiting = Instant::now();
    let waited = runtime.block_on(batch::wait(&state, &mut regions, args.poll_max, &mut interrupts, &mut tell));
    let wait_ms = u64::try_from(waiting.elapsed().as_millis()).unwrap_or(u64::MAX);
    let statuses = match waited {
        Ok(Waited::Ended(statuses)) => statuses,
        Ok(Waited::Interrupted) => {
            if args.stop_jobs {
                for (arn, result) in runtime.block_on(batch::stop(&state, &mut regions)) {
                    match result {
                        Ok(()) => errln!("stopped {arn}"),
                        Err(e) => errln!("error: {e}"),
                    }
                }
                errln!("what the stopped jobs answered can still be collected with `{collect_with}`");
            } else {
                errln!("interrupted: the batch jobs keep running; collect their answers with `{collect_with}`");
            }
            return Err(exit::INTERRUPTED);
        }
        Err(e) => {
            errln!("error: {e}");
            errln!("the jobs keep running: collect them with `{collect_with}`");
            return Err(exit::FAILURES);
        }
    };
    let collected = runtime.block_on(batch::collect(cases, &split, &state, known, statuses, &mut regions, &mut tell));
    let collected = collected.map_err(|e| {
        errln!("error: {e}");
        exit::FAILURES
    })?;
    outln!(
        "batch: {} answers ({} errored) from {} job{} read into cassettes",
        collected.lines,
        collected.errored,
        collected.jobs.len(),
        if collected.jobs.len() == 1 { "" } else { "s" }
    );
    let jobs = collected
        .jobs
        .iter()
        .map(|o| BatchJobRecord {
            job_arn: o.job.arn.clone(),
            model: o.job.model.clone(),
            invocation: o.job.invocation.clone(),
            status: o.status.status.clone(),
            message: o.status.message.clone(),
            records: o.job.records,
            manifest: o.manifest.map(|m| ManifestRecord {
                total_records: m.total,
                processed_records: m.processed,
                success_records: m.success,
                error_records: m.error,
                input_tokens: m.input_tokens,
                output_tokens: m.output_tokens,
            }),
        })
        .collect();
    let all_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let record = BatchRecord { jobs, work_ms: all_ms.saturating_sub(wait_ms), wait_ms };
    Ok(Some(Batched { from_batch: collected.from_batch, record }))
}
