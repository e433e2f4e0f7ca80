//! `run`: executes the cases one after another, judges each against its assertions
//! and snapshot, and prints a verdict per case and a summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::commands::load_and_plan;
use crate::execute::{self, Clients, ModelResponse, RetryPolicy};
use crate::exit;
use crate::providers::{Connection, Environment};
use crate::report::{terminal, use_color};
use crate::verdict::{self, CaseVerdict, SnapshotSettings, SnapshotStatus, Status, UpdateRequest};

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub paths: Vec<PathBuf>,
    pub connection: Connection,
    pub retries: u32,
    pub update: Option<UpdateRequest>,
    pub accept: bool,
    /// Print every answer and its reasoning, not only failures.
    pub verbose: bool,
}

pub fn run(options: RunOptions) -> u8 {
    let settings = match SnapshotSettings::resolve(options.update, options.accept, |name| std::env::var(name).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let plan = match load_and_plan(&options.paths) {
        Ok((plan, _)) => plan,
        Err(code) => return code,
    };
    // `.env` beside the suite, as the upstream samples do; real variables win.
    let _ = dotenvy::dotenv();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    let clients = Clients::new(Environment::from_process(), options.connection);
    let policy = RetryPolicy { max_attempts: options.retries + 1, ..RetryPolicy::default() };
    let color = use_color(std::io::stdout().is_terminal());
    let mut tally = Tally::default();
    for case in &plan.cases {
        let verdict = if case.skip.is_some() {
            CaseVerdict::skipped()
        } else {
            let mut responses = Vec::new();
            for _ in 0..case.samples {
                responses.push(runtime.block_on(execute::execute_case(&clients, case, &policy)));
            }
            verdict::judge(case, responses, settings)
        };
        tally.add(&verdict);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(terminal::case_block(case, &verdict, color).as_bytes());
        if options.verbose {
            for sample in &verdict.samples {
                let _ = print_response(&mut out, &sample.response);
            }
        }
    }
    let _ = writeln!(std::io::stdout(), "\n{}", tally.summary());
    if tally.failed + tally.errored == 0 { exit::SUCCESS } else { exit::FAILURES }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    errored: usize,
    skipped: usize,
    pending: usize,
}

impl Tally {
    fn add(&mut self, v: &CaseVerdict) {
        match v.status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Errored => self.errored += 1,
            Status::Skipped => self.skipped += 1,
        }
        let pending = v.snapshot.as_ref().is_some_and(|s| {
            matches!(s.status, SnapshotStatus::New | SnapshotStatus::Changed)
                && s.written.as_ref().is_some_and(|w| *w != s.path)
        });
        self.pending += usize::from(pending);
    }

    fn summary(&self) -> String {
        let total = self.passed + self.failed + self.errored + self.skipped;
        format!(
            "{total} cases: {} passed, {} failed, {} errored, {} skipped; {} pending snapshot(s)",
            self.passed, self.failed, self.errored, self.skipped, self.pending
        )
    }
}

fn print_response(out: &mut impl Write, r: &ModelResponse) -> std::io::Result<()> {
    section(out, "final", &r.final_text)?;
    section(out, "reasoning", &r.reasoning)?;
    for call in &r.tool_calls {
        writeln!(out, "      tool call: {}({})", call.name, call.input)?;
    }
    let usage = r.usage.map_or_else(|| "-".to_owned(), |u| format!("{} in / {} out", u.input_tokens, u.output_tokens));
    let flags = r.flags.names();
    writeln!(
        out,
        "      stop_reason: {} · usage: {usage} · flags: {}",
        r.stop_reason.as_deref().unwrap_or("-"),
        if flags.is_empty() { "-".to_owned() } else { flags.join(", ") }
    )
}

fn section(out: &mut impl Write, name: &str, text: &str) -> std::io::Result<()> {
    if text.trim().is_empty() {
        return writeln!(out, "      {name}: (none)");
    }
    writeln!(out, "      {name}:")?;
    for line in text.trim().lines() {
        writeln!(out, "        {line}")?;
    }
    Ok(())
}
