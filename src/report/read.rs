//! Reading a run's record back (`--baseline`, `merge-reports`): a finished report, or the
//! `<report>.partial` a run that was killed left behind.

use std::path::Path;

use super::ReportError;
use super::case::CaseRecord;
use super::record::{FORMAT, ModeRecord, RunEnd, RunHead, RunRecord, SummaryRecord};

/// The largest report read.
const MAX_REPORT_BYTES: u64 = 4 << 30;

/// The report's format version alone, read when the whole record does not parse: a
/// report of another format is refused by its number, not by whichever field failed.
#[derive(serde::Deserialize)]
struct Format {
    format: u64,
}

/// Reads a report written by `--report-json` or `merge-reports`, or an unfinished
/// one (see [`partial`]).
pub(crate) fn read(path: &Path) -> Result<RunRecord, ReportError> {
    let text = crate::fs::read_text_limited(path, MAX_REPORT_BYTES, crate::fs::Links::Follow)
        .map_err(|source| ReportError::Read { path: path.to_owned(), source })?;
    let parse_error = |source: serde_json::Error| ReportError::Parse {
        path: path.to_owned(),
        line: source.line(),
        column: source.column(),
        source,
    };
    let refused = |found: u64| ReportError::Format { path: path.to_owned(), found };
    let e = match serde_json::from_str::<RunRecord>(&text) {
        Ok(run) if run.format == FORMAT => return Ok(run),
        Ok(run) => return Err(refused(u64::from(run.format))),
        Err(e) => e,
    };
    // Not a whole report of this format: one of another format is refused by its
    // number, not by whichever field first failed to parse; else it may be a partial.
    let first = text.lines().next().unwrap_or_default();
    let format = serde_json::from_str::<Format>(&text).or_else(|_| serde_json::from_str::<Format>(first));
    if let Ok(Format { format }) = format
        && format != u64::from(FORMAT)
    {
        return Err(refused(format));
    }
    partial(&text).ok_or_else(|| parse_error(e))
}

/// The record in an unfinished report: the head on its first line, then every case
/// written whole, one a line (a last line cut short is left out), the totals counted
/// from them as an interrupted run's.
fn partial(text: &str) -> Option<RunRecord> {
    let mut lines = text.lines();
    let head: RunHead = serde_json::from_str(lines.next()?).ok()?;
    let cases: Vec<CaseRecord> = lines.map_while(|line| serde_json::from_str(line).ok()).collect();
    let end = RunEnd {
        duration_ms: 0,
        mode: ModeRecord::from_cases(None, &cases),
        summary: SummaryRecord::from_cases(&cases, &[], true),
        datasets: Vec::new(),
        baseline: None,
    };
    Some(RunRecord::assemble(head, cases, end))
}
