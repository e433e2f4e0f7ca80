//! `run`: load, plan and select the cases, run them concurrently, and let the
//! reporters (terminal, JSON, JUnit, Markdown) print what the runner reports.

use crate::stdio::{errln, outln};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::commands::load_and_plan;
use super::estimate::describe;
use crate::execute::estimate;
use crate::execute::{Clients, RetryPolicy};
use crate::exit;
use crate::plan::select::Selection;
use crate::providers::{
    CallRequest, Connection, Encoded, Environment, Limits, encode, endpoint, resolve_connection, uses_aws_sdk,
};
use crate::recordings;
use crate::report::build::Builder;
use crate::report::history;
use crate::report::render::json::JsonRenderer;
use crate::report::render::terminal::TerminalRenderer;
use crate::report::render::{Collected, Outputs};
use crate::report::{Reports, use_color};
use crate::runner::{self, Event, RunnerOptions};
use crate::verdict::{SnapshotSettings, UpdateRequest};

/// Options of `run`.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) connection: Connection,
    pub(crate) selection: Selection,
    /// The selection flags as typed, for reports.
    pub(crate) selection_flags: Vec<String>,
    pub(crate) concurrency: usize,
    pub(crate) retries: Option<u32>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) max_cost: Option<f64>,
    pub(crate) fail_fast: bool,
    pub(crate) dry_run: bool,
    pub(crate) update: Option<UpdateRequest>,
    pub(crate) accept: bool,
    /// `--drift warn`: snapshot drift alone does not fail a case.
    pub(crate) drift_warn: bool,
    pub(crate) verbose: bool,
    pub(crate) report_json: Option<PathBuf>,
    pub(crate) junit: Option<PathBuf>,
    pub(crate) summary_md: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
    pub(crate) mode: Option<crate::scenario::Mode>,
    /// The largest response a case may receive, in MiB.
    pub(crate) max_response_mib: u64,
    pub(crate) allow_empty: bool,
    pub(crate) baseline: super::BaselineArgs,
    pub(crate) history: super::HistoryArgs,
    /// `--engine`, `--no-wait`, `--collect` and the rest of batch inference's flags.
    pub(crate) batch: super::engine::EngineArgs,
}

pub(crate) fn run(mut options: RunOptions) -> u8 {
    let snapshots = match SnapshotSettings::resolve(options.update, options.accept, |name| std::env::var(name).ok()) {
        Ok(mut s) => {
            s.force_pass |= options.drift_warn;
            s
        }
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    // Read before anything runs: a wrong path should not cost a live run. `last` is
    // found once the run is planned: it is the last run of the same plan.
    let baseline = match options.baseline.is_last() {
        true => None,
        false => match options.baseline.read() {
            Ok(b) => b,
            Err(e) => {
                errln!("error: {e}");
                return exit::INVALID;
            }
        },
    };
    // A collect runs the suite and selection its jobs were submitted from.
    let state = match &options.batch.collect {
        Some(path) => match crate::batch::state::State::read(path) {
            Ok(state) => {
                // From the suite's folder, as the submit ran, when this machine has it;
                // the files the run writes stay where they were named.
                if state.root.is_dir() && std::env::current_dir().ok().as_ref() != Some(&state.root) {
                    for file in
                        [&mut options.report_json, &mut options.junit, &mut options.summary_md, &mut options.html]
                            .into_iter()
                            .chain([&mut options.baseline.baseline])
                            .flatten()
                    {
                        *file = crate::load::absolute(file);
                    }
                    if let Err(e) = std::env::set_current_dir(&state.root) {
                        errln!("error: cannot enter {}: {e}", state.root.display());
                        return exit::INVALID;
                    }
                }
                options.paths.clone_from(&state.paths);
                options.selection = state.selection.clone();
                options.selection_flags.clone_from(&state.selection_flags);
                Some(state)
            }
            Err(e) => {
                errln!("error: {e}");
                return exit::INVALID;
            }
        },
        None => None,
    };
    let plan = match load_and_plan(&options.paths) {
        Ok((plan, _)) => plan,
        Err(code) => return code,
    };
    let selected = match options.selection.select(plan.cases()) {
        Ok(selected) => selected,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    // An empty shard of a small suite is fine; a filter that matches nothing is a typo.
    let none_selected = || {
        let given =
            if options.selection_flags.is_empty() { "the suite".to_owned() } else { options.selection_flags.join(" ") };
        errln!("error: no cases selected by {given}; check the spelling, or pass --allow-empty");
        exit::NO_CASES
    };
    let must_select = options.selection.picks() && !options.allow_empty;
    if let Err(e) = load_dotenv() {
        errln!("error: {e}");
        return exit::INVALID;
    }
    crate::secrets::init_from_env();
    let env = Environment::from_process();
    if options.dry_run {
        // Printed as the plan makes them: a million rows are never all in memory.
        let printed = print_requests(selected, &options.connection, &env);
        return if printed == 0 && must_select { none_selected() } else { exit::SUCCESS };
    }
    let cases: Vec<_> = selected.collect();
    if cases.is_empty() && must_select {
        return none_selected();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let batched = match super::engine::run_batch(&options.batch, state, &options.head(), &cases, &runtime) {
        Ok(batched) => batched,
        Err(code) => return code,
    };
    let (from_batch, batch_record) = match batched {
        Some(b) => (b.from_batch, Some(b.record)),
        None => Default::default(),
    };
    // `--mode` as given, for the reports that record it.
    let mode = options.mode.map(|m| m.as_str().to_owned());
    // What the shards of one split share, for `merge-reports` to check.
    let fingerprint = match options.selection.fingerprint(plan.cases()) {
        Ok(fingerprint) => fingerprint,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    let baseline = match options.baseline.is_last() {
        true => match last_run(&options, &fingerprint) {
            Ok(found) => found,
            Err(code) => return code,
        },
        false => baseline,
    };
    let builder = Builder::new(options.selection_flags.clone(), mode, baseline)
        .with_plan(options.selection.shard, fingerprint)
        .with_batch(batch_record);
    let mut reports = Reports::new(builder);
    let terminal = TerminalRenderer::new(
        use_color(std::io::stdout().is_terminal()),
        options.verbose,
        std::io::stderr().is_terminal(),
    );
    reports.add(Box::new(terminal));
    if let Some(path) = &options.report_json {
        reports.add(Box::new(JsonRenderer::new(path)));
    }
    let kept = (!options.history.no_history).then(|| history::new_path(std::time::SystemTime::now()));
    if let Some(path) = &kept {
        reports.add(Box::new(JsonRenderer::new(path)));
    }
    let outputs = Outputs {
        junit: options.junit.clone(),
        summary_md: options.summary_md.clone(),
        step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()).map(PathBuf::from),
        html: options.html.clone(),
    };
    if outputs.any() {
        reports.add(Box::new(Collected::new(outputs)));
    }
    let runner_options = RunnerOptions {
        concurrency: options.concurrency.max(1),
        retry: match options.retries {
            Some(n) => RetryPolicy { max_attempts: n + 1, ..RetryPolicy::default() },
            None => RetryPolicy::default(),
        },
        deadline: options.deadline,
        max_cost: options.max_cost,
        fail_fast: options.fail_fast,
        snapshots,
        // GitHub sends SIGINT, then SIGTERM 7.5 s later: the reports must be out by then.
        grace: Duration::from_secs(5),
        mode: options.mode,
        from_batch: std::sync::Arc::new(from_batch),
    };
    // A non-streamed answer says nothing until it is whole: the wait between bytes may
    // be as long as the longest case's timeout (a flex case's is fifteen minutes), which
    // still bounds each case.
    let longest = cases.iter().map(|c| c.timeout).max().unwrap_or_default();
    let read_timeout = Limits::default().read_timeout.max(longest);
    let limits = Limits { max_response_bytes: options.max_response_mib << 20, read_timeout };
    let clients = Clients::new(env, options.connection, limits);
    let mut emit = |event: Event<'_>| reports.event(&event);
    let ended = runtime
        .block_on(async { runner::run(cases, clients, runner_options, super::signals::interrupts(), &mut emit).await });
    let (summary, compared, mut report_errors) = reports.finish();
    // The history is a convenience: a run it could not keep is said, and not failed.
    if let Some(kept) = &kept {
        let name = kept.display().to_string();
        report_errors.retain(|e| {
            let history = e.name == name;
            if history {
                errln!("warning: the run was not kept in the history: {e}");
            }
            !history
        });
        for problem in history::prune(
            &history::dir(),
            options.history.keep_runs,
            options.history.keep_for,
            std::time::SystemTime::now(),
        ) {
            errln!("warning: the history could not be pruned: {problem}");
        }
    }
    for e in &report_errors {
        errln!("error: {e}");
    }
    if ended.interrupted {
        exit::INTERRUPTED
    } else if options.baseline.failing(&summary, compared.as_ref()) || !report_errors.is_empty() {
        exit::FAILURES
    } else {
        exit::SUCCESS
    }
}

/// `--baseline last`: the newest kept run of the same plan and selection flags; none
/// (said) when there is none yet.
fn last_run(options: &RunOptions, plan: &str) -> Result<Option<std::sync::Arc<crate::report::baseline::Baseline>>, u8> {
    let mut skipped = Vec::new();
    let found = history::last_of(&history::dir(), plan, &options.selection_flags, None, &mut skipped);
    for problem in skipped {
        errln!("warning: a kept run was passed over: {problem}");
    }
    let Some(path) = found else {
        outln!(
            "--baseline last: no earlier run of this suite and selection is kept, so there is nothing to compare with"
        );
        return Ok(None);
    };
    options.baseline.read_path(&path).map(Some).map_err(|e| {
        errln!("error: {e}");
        exit::INVALID
    })
}

impl RunOptions {
    /// What a batch state file keeps of the run.
    fn head(&self) -> super::engine::RunHead {
        super::engine::RunHead {
            paths: self.paths.clone(),
            selection: self.selection.clone(),
            selection_flags: self.selection_flags.clone(),
            mode: self.mode,
            max_cost: self.max_cost,
        }
    }
}

/// `.env` in the working directory, as the upstream samples keep it; real variables
/// win. Only there, and only when that folder is a suite root or inside a repository:
/// dotenv's usual search up the tree would take a `.env` from above the repository
/// (a shared temp folder, a home directory), which could point the chat base URL and
/// the Bedrock key's allowed hosts anywhere.
pub(super) fn load_dotenv() -> Result<(), crate::fs::FsError> {
    let Ok(cwd) = std::env::current_dir() else { return Ok(()) };
    if !cwd.join("scenarios").is_dir() && crate::load::repository_root(&cwd).is_none() {
        return Ok(());
    }
    let path = cwd.join(".env");
    let text = match crate::fs::read_text_limited(&path, 1 << 20, crate::fs::Links::Follow) {
        Ok(text) => text,
        Err(crate::fs::ReadError::Missing) => return Ok(()),
        Err(source) => return Err(crate::fs::FsError::Read { path, source }),
    };
    // A malformed line is dotenv's to report; the variables before it are kept, as before.
    let _ = dotenvy::from_read(text.as_bytes());
    Ok(())
}

/// `--dry-run`: every request that would be sent, with credentials masked: each
/// case's, then its graders', with placeholders for the answers they would judge.
fn print_requests(cases: impl Iterator<Item = crate::plan::Case>, flags: &Connection, env: &Environment) -> usize {
    let mut printed = 0;
    let datasets = crate::recordings::DatasetCassettes::default();
    let mut total = super::estimate::Total::default();
    for case in cases {
        if crate::stdio::stdout_closed() {
            break;
        }
        printed += 1;
        if case.skip.is_some() {
            outln!("# {} is skipped\n", case.id);
            continue;
        }
        let case = &match case.rendered() {
            Ok(case) => case,
            Err(e) => {
                outln!("# {} cannot be rendered: {}: {}\n", case.id, e.pointer, e.message);
                continue;
            }
        };
        // An agent's first model turn; later turns depend on the answers.
        print_request(case, &format!("{} ({} x{})", case.id, case.api, case.samples), flags, env);
        for q in estimate::graders(case) {
            print_request(&q.case, &format!("{} ({}, {})", q.case.id, q.case.api, q.what), flags, env);
        }
        let one = estimate::case(case, recordings::recorded_output_tokens(case, &datasets));
        outln!("# estimate for {}: {}\n", case.id, describe(&one));
        total.add(&case.model, &one);
    }
    if printed > 0 {
        for line in total.lines() {
            outln!("{line}");
        }
    }
    printed
}

fn print_request(case: &crate::plan::Case, label: &str, flags: &Connection, env: &Environment) {
    let request = CallRequest::new(&case.model, &case.region, &case.spec);
    let connection = resolve_connection(flags, case.spec.endpoints.as_ref(), env);
    let api = case.wire_api();
    let base = endpoint(api, &connection, &case.region);
    let auth = if uses_aws_sdk(api) && env.bedrock_bearer_token.is_some() && env.takes_bedrock_key(&base) {
        "Bearer **** (AWS_BEARER_TOKEN_BEDROCK)".to_owned()
    } else if uses_aws_sdk(api) {
        "AWS4-HMAC-SHA256 **** (signed with the AWS credential chain)".to_owned()
    } else if let Some((name, _)) = env.chat_key(&base) {
        format!("Bearer **** ({name})")
    } else if env.takes_bedrock_key(&base) {
        "Bearer **** (a short-term Bedrock API key, derived from the AWS credential chain when sent)".to_owned()
    } else {
        "(none)".to_owned()
    };
    // InvokeModel's tier is a header: its body is the model's own.
    let tier = match (api, request.params.service_tier) {
        (crate::scenario::Api::Invoke | crate::scenario::Api::InvokeStream, Some(tier)) => {
            format!("X-Amzn-Bedrock-Service-Tier: {}\n", tier.as_str())
        }
        _ => String::new(),
    };
    let Encoded { path, body } = encode(api, &request);
    let url = format!("{}{path}", base.trim_end_matches('/'));
    outln!("# {label}");
    outln!("POST {}", crate::providers::masked_url(&url));
    outln!("Authorization: {auth}");
    outln!("{tier}Content-Type: application/json\n");
    outln!("{}\n", crate::secrets::redact(&serde_json::to_string_pretty(&body).unwrap_or_default()));
}
