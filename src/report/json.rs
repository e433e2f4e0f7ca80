//! `--report-json`: the run record, streamed to disk case by case (so memory stays
//! flat) into `<report>.partial`, flushed after every case, and renamed into place when
//! the run ends: a reader never sees a half-written report, and a run killed outright
//! (SIGKILL) leaves `<report>.partial` holding every case that finished.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::baseline::{Baseline, Comparison};
use super::dataset::DatasetRecord;
use super::record::{CaseRecord, FORMAT, ModeRecord, RunRecord, SummaryRecord};
use super::{ReportError, Reporter};
use crate::runner::Event;

pub(crate) struct JsonReporter {
    path: PathBuf,
    filters: Vec<String>,
    mode: ModeRecord,
    out: Option<BufWriter<File>>,
    first: bool,
    /// Datasets are few (one per dataset scenario): kept until the end.
    datasets: Vec<DatasetRecord>,
    comparison: Option<Comparison>,
}

impl JsonReporter {
    /// `mode` is `--mode` as given, if it was.
    pub(crate) fn new(
        path: &Path,
        filters: Vec<String>,
        mode: Option<String>,
        baseline: Option<Arc<Baseline>>,
    ) -> JsonReporter {
        let mode = ModeRecord { requested: mode, ..ModeRecord::default() };
        let comparison = baseline.map(Comparison::new);
        JsonReporter { path: path.to_owned(), filters, mode, out: None, first: true, datasets: Vec::new(), comparison }
    }

    fn out(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        self.out.as_mut().ok_or_else(|| std::io::Error::other("the report was not started"))
    }
}

/// `<report>.partial`: where the report grows until the run ends.
fn partial_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

impl Reporter for JsonReporter {
    fn event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::RunStarted { started_at, .. } => {
                let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir)?;
                let mut out = BufWriter::new(File::create(partial_path(&self.path))?);
                let head = serde_json::json!({
                    "format": FORMAT,
                    "version": env!("CARGO_PKG_VERSION"),
                    "started_at": humantime::format_rfc3339_seconds(*started_at).to_string(),
                    "filters": self.filters,
                });
                let head = head.to_string();
                // The object is left open: cases follow, then the totals.
                write!(out, "{},\"cases\":[", &head[..head.len() - 1])?;
                self.out = Some(out);
            }
            Event::CaseFinished { result } => {
                let record = CaseRecord::from_result(result);
                self.mode.count(&record);
                if let Some(c) = &mut self.comparison {
                    c.add(&record);
                }
                let comma = if self.first { "" } else { "," };
                self.first = false;
                let out = self.out()?;
                writeln!(out, "{comma}")?;
                serde_json::to_writer(&mut *out, &record)?;
                out.flush()?;
            }
            Event::DatasetFinished { result } => self.datasets.push(DatasetRecord::from_result(result)),
            Event::RunFinished { summary } => {
                let totals = serde_json::to_string(&SummaryRecord::from_summary(summary))?;
                let duration = u64::try_from(summary.duration.as_millis()).unwrap_or(u64::MAX);
                let mode = serde_json::to_string(&self.mode)?;
                let datasets = serde_json::to_string(&self.datasets)?;
                let baseline = serde_json::to_string(&self.comparison.take().map(Comparison::finish))?;
                let out = self.out()?;
                write!(
                    out,
                    "\n],\"baseline\":{baseline},\"datasets\":{datasets},\"duration_ms\":{duration},\"mode\":{mode},\"summary\":{totals}}}\n"
                )?;
                let file = self.out.take().expect("checked above").into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                std::fs::rename(partial_path(&self.path), &self.path)?;
            }
            Event::CaseStarted { .. } => {}
        }
        Ok(())
    }
}

/// The largest report read (`--baseline`, `merge-reports`).
const MAX_REPORT_BYTES: u64 = 4 << 30;

/// The report's format version, read before the rest: a report of another format is
/// refused by its number, not by whichever field first fails to parse.
#[derive(serde::Deserialize)]
struct Head {
    format: u64,
}

/// Reads a report written by `--report-json`, or the `.partial` file a run that was
/// killed left: its finished cases, counted as an interrupted run.
pub(crate) fn read(path: &Path) -> Result<RunRecord, ReportError> {
    let text = crate::fs::read_text_limited(path, MAX_REPORT_BYTES, crate::fs::Links::Follow)
        .map_err(|source| ReportError::Read { path: path.to_owned(), source })?;
    let parse_error = |source: serde_json::Error| ReportError::Parse {
        path: path.to_owned(),
        line: source.line(),
        column: source.column(),
        source,
    };
    match serde_json::from_str::<Head>(&text) {
        Ok(head) if head.format != u64::from(FORMAT) => {
            return Err(ReportError::Format { path: path.to_owned(), found: head.format });
        }
        Ok(_) => return serde_json::from_str(&text).map_err(parse_error),
        Err(e) if !e.is_eof() => return Err(parse_error(e)),
        Err(_) => {}
    }
    partial(&text).ok_or_else(|| {
        parse_error(
            serde_json::from_str::<Head>(&text).err().unwrap_or_else(|| {
                serde_json::Error::io(std::io::Error::other("an unfinished report without its head"))
            }),
        )
    })
}

/// The record in an unfinished report: its head and every case written whole (one a
/// line), the totals counted from them.
fn partial(text: &str) -> Option<RunRecord> {
    #[derive(serde::Deserialize)]
    struct Start {
        format: u32,
        version: String,
        started_at: String,
        filters: Vec<String>,
    }
    let (head, rest) = text.split_once(",\"cases\":[")?;
    let start: Start = serde_json::from_str(&format!("{head}}}")).ok()?;
    if start.format != FORMAT {
        return None;
    }
    let cases: Vec<CaseRecord> = rest
        .lines()
        .map(|line| line.trim().trim_matches(','))
        .filter(|line| !line.is_empty())
        .map_while(|line| serde_json::from_str(line).ok())
        .collect();
    Some(RunRecord {
        format: start.format,
        version: start.version,
        started_at: start.started_at,
        duration_ms: 0,
        filters: start.filters,
        mode: ModeRecord::from_cases(None, &cases),
        summary: SummaryRecord::from_cases(&cases, &[], true),
        cases,
        datasets: Vec::new(),
        baseline: None,
    })
}
