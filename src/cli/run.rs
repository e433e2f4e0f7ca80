//! `run`: executes the cases one after another and prints, for each, the answer and
//! the reasoning apart, or the error as a sentence.

use std::io::Write;
use std::path::PathBuf;

use super::commands::load_and_plan;
use crate::execute::{self, Clients, ModelResponse, RetryPolicy};
use crate::exit;
use crate::providers::{Connection, Environment};

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub paths: Vec<PathBuf>,
    pub connection: Connection,
    pub retries: u32,
}

pub fn run(options: RunOptions) -> u8 {
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
    let mut failures = 0;
    let mut ran = 0;
    for case in &plan.cases {
        let mut out = std::io::stdout().lock();
        if let Some(reason) = case.skip {
            let _ = writeln!(out, "── {} ── skipped ({reason:?})", case.id);
            continue;
        }
        drop(out);
        ran += 1;
        let response = runtime.block_on(execute::execute_case(&clients, case, &policy));
        let mut out = std::io::stdout().lock();
        let _ = print_case(&mut out, &case.id, case.api.as_str(), &case.model, &response);
        failures += usize::from(response.error.is_some());
    }
    let _ = writeln!(std::io::stdout(), "\n{ran} case(s) ran, {failures} errored");
    if failures == 0 { exit::SUCCESS } else { exit::FAILURES }
}

fn print_case(out: &mut impl Write, id: &str, api: &str, model: &str, r: &ModelResponse) -> std::io::Result<()> {
    let status = if r.error.is_some() { "error" } else { "ok" };
    writeln!(out, "── {id} ({api}, {model}) ── {status} in {} ms", r.latency_ms)?;
    if let Some(error) = &r.error {
        let attempts = if r.attempts > 1 { format!(" (after {} attempts)", r.attempts) } else { String::new() };
        writeln!(out, "error: {error}{attempts}")?;
    }
    section(out, "final", &r.final_text)?;
    section(out, "reasoning", &r.reasoning)?;
    for call in &r.tool_calls {
        writeln!(out, "tool call: {}({})", call.name, call.input)?;
    }
    let usage = r.usage.map_or_else(|| "-".to_owned(), |u| format!("{} in / {} out", u.input_tokens, u.output_tokens));
    let flags = r.flags.names();
    writeln!(
        out,
        "stop_reason: {} · usage: {usage} · flags: {}\n",
        r.stop_reason.as_deref().unwrap_or("-"),
        if flags.is_empty() { "-".to_owned() } else { flags.join(", ") }
    )
}

fn section(out: &mut impl Write, name: &str, text: &str) -> std::io::Result<()> {
    if text.trim().is_empty() {
        return writeln!(out, "{name}: (none)");
    }
    writeln!(out, "{name}:")?;
    for line in text.trim().lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}
