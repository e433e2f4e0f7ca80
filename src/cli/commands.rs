//! `validate`, `list` and `schema`.

use crate::stdio::{errln, outln};
use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::ListFormat;
use super::SchemaArg;
use crate::diagnostic::Diagnostic;
use crate::exit;
use crate::load;
use crate::plan::{self, Plan, SkipReason};
use crate::schema::{self, SchemaKind};

/// Loads and plans; on problems prints them all and returns the exit code to use.
pub(super) fn load_and_plan(paths: &[PathBuf]) -> Result<(Plan, usize), u8> {
    let suite = load::load(paths);
    let plan = plan::plan(&suite.scenarios);
    let problems: Vec<&Diagnostic> = suite.diagnostics.iter().chain(&plan.diagnostics).collect();
    for warning in &plan.warnings {
        errln!("warning: {warning}");
    }
    if problems.is_empty() {
        return Ok((plan, suite.files));
    }
    let mut err = std::io::stderr().lock();
    for d in &problems {
        let _ = writeln!(err, "{d}");
    }
    let mut files: Vec<_> = problems.iter().map(|d| &d.file).collect();
    files.sort();
    files.dedup();
    let _ = writeln!(
        err,
        "error: {} problem{} in {} file{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" },
    );
    Err(exit::INVALID)
}

pub(crate) fn validate(paths: &[PathBuf]) -> u8 {
    match load_and_plan(paths) {
        Ok((plan, files)) => {
            let scenarios = plan.scenarios();
            outln!(
                "ok: {files} file{}, {scenarios} scenario{}, {} case{}",
                if files == 1 { "" } else { "s" },
                if scenarios == 1 { "" } else { "s" },
                plan.len(),
                if plan.len() == 1 { "" } else { "s" },
            );
            exit::SUCCESS
        }
        Err(code) => code,
    }
}

pub(crate) fn list(paths: &[PathBuf], format: ListFormat) -> u8 {
    let plan = match load_and_plan(paths) {
        Ok((plan, _)) => plan,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Text => {
            let width = plan.cases().map(|c| c.id.chars().count()).max().unwrap_or(0);
            let api_width = plan.cases().map(|c| c.api.as_str().len()).max().unwrap_or(0);
            for case in plan.cases() {
                let skipped = match case.skip {
                    Some(SkipReason::Skip) => "  (skip)",
                    Some(SkipReason::NotOnly) => "  (not only)",
                    None => "",
                };
                let pad = width - case.id.chars().count();
                let written = writeln!(
                    out,
                    "{}{}  {:api_width$}  {}{skipped}",
                    case.id,
                    " ".repeat(pad),
                    case.api.as_str(),
                    case.model
                );
                if let Err(code) = listed(written) {
                    return code;
                }
            }
        }
        ListFormat::Json => {
            // The pretty array, written an item at a time: a million rows are never
            // one value in memory.
            let mut first = true;
            for c in plan.cases() {
                let item = json!({
                    "id": c.id,
                    "scenario": crate::fs::shown(&c.file),
                    "name": c.spec.name,
                    "api": c.api,
                    "model": c.model,
                    "region": c.region,
                    "tags": c.spec.tags,
                    "samples": c.samples,
                    "timeout": humantime::format_duration(c.timeout).to_string(),
                    "skip": c.skip.is_some(),
                });
                let text = serde_json::to_string_pretty(&item).unwrap_or_default().replace('\n', "\n  ");
                if let Err(code) = listed(write!(out, "{}\n  {text}", if first { "[" } else { "," })) {
                    return code;
                }
                first = false;
            }
            if let Err(code) = listed(writeln!(out, "{}", if first { "[]" } else { "\n]" })) {
                return code;
            }
        }
    }
    exit::SUCCESS
}

/// Whether the listing goes on after a write: a reader that has gone (`list | head`)
/// ends it quietly, any other failure (a full disk) is said and fails it.
fn listed(written: std::io::Result<()>) -> Result<(), u8> {
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(exit::SUCCESS),
        Err(e) => {
            errln!("error: the listing could not be written: {e}");
            Err(exit::FAILURES)
        }
    }
}

pub(crate) fn schema(kind: SchemaArg) -> u8 {
    let schema = match kind {
        SchemaArg::Scenario => schema::json_schema(SchemaKind::Scenario),
        SchemaArg::Defaults => schema::json_schema(SchemaKind::Defaults),
        SchemaArg::Report => crate::report::record::json_schema(),
    };
    // A Value always serializes; the pretty form is what is checked in.
    outln!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
    exit::SUCCESS
}
