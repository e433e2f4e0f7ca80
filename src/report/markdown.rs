//! `--summary-md` (and `$GITHUB_STEP_SUMMARY`): a Markdown table for a CI job page.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::Reporter;
use super::baseline::{Baseline, BaselineRecord, Comparison};
use super::dataset::{DatasetRecord, share};
use super::record::{CaseRecord, SummaryRecord};
use crate::runner::Event;
use crate::verdict::Status;

/// The summary, then a row per case that did not pass (all rows when every case passed
/// and there are few of them).
pub(crate) fn render(
    summary: &SummaryRecord,
    cases: &[CaseRecord],
    datasets: &[DatasetRecord],
    baseline: Option<&BaselineRecord>,
    duration_ms: u64,
) -> String {
    let mut md = String::new();
    let (icon, note) = if summary.interrupted {
        ("⚠️", " (interrupted: cases not run are counted as skipped)")
    } else if !summary.failing() {
        ("✅", "")
    } else {
        ("❌", "")
    };
    let _ = writeln!(md, "## {icon} gpt-oss-scenarios{note}\n");
    if let Some(b) = baseline {
        // First: what a nightly reader looks for.
        let _ = writeln!(md, "**{}**\n", escape(&b.headline()));
        for line in b.lists(20, |id| format!("`{}`", id.replace('`', "'"))) {
            let _ = writeln!(md, "- {}", escape(&line));
        }
        md.push('\n');
    }
    let _ =
        writeln!(md, "| cases | passed | failed | errored | skipped | pending snapshots | time | tokens in / out |");
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} | {:.1} s | {} / {} |\n",
        summary.cases,
        summary.passed,
        summary.failed,
        summary.errored,
        summary.skipped,
        summary.pending_snapshots,
        duration_ms as f64 / 1000.0,
        summary.input_tokens,
        summary.output_tokens
    );
    if summary.judging.calls > 0 {
        let _ = writeln!(md, "Judging, counted apart from the cases: {}.\n", summary.judging.describe());
    }
    if !datasets.is_empty() {
        let _ = writeln!(md, "| dataset | rows passed | accuracy | F1 | macro-F1 | unextracted | details |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|");
        for d in datasets {
            let icon = if d.passed { "✅" } else { "❌" };
            let labels = d.labels.as_ref().map(|l| &l.scores);
            let num = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"));
            let details: Vec<String> = d
                .reasons
                .iter()
                .cloned()
                .chain(
                    d.thresholds.iter().filter(|t| t.met).map(|t| format!("{} {} met ({:.3})", t.name, t.min, t.value)),
                )
                .collect();
            let _ = writeln!(
                md,
                "| {icon} {} | {} | {} | {} | {} | {} | {} |",
                code(&d.id),
                share(&d.rows_passed),
                labels.map_or_else(|| "–".to_owned(), |s| share(&s.accuracy)),
                num(labels.map(|s| s.f1)),
                num(labels.map(|s| s.macro_f1)),
                labels.map_or_else(|| "–".to_owned(), |s| s.unextracted.to_string()),
                escape(&details.join("\n"))
            );
        }
        md.push('\n');
    }
    let shown: Vec<&CaseRecord> =
        cases.iter().filter(|c| matches!(c.status, Status::Failed | Status::Errored)).collect();
    if shown.is_empty() {
        return md;
    }
    // Ids, apis and models come from report files too (`merge-reports`): escaped like
    // every other text, so no control character reaches a job page.
    let _ = writeln!(md, "| status | case | api | model | details |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for c in shown {
        let status = if c.status == Status::Failed { "failed" } else { "errored" };
        let details = c.failure_lines().join("<br>");
        let _ = writeln!(
            md,
            "| {status} | {} | {} | {} | {} |",
            code(&c.id),
            escape(&c.api),
            escape(&c.model),
            escape(&details)
        );
    }
    md
}

/// Inline code in a table cell: what `escape` does, and no backtick to close it early.
fn code(text: &str) -> String {
    format!("`{}`", escape(text).replace('`', "'"))
}

/// Table cells hold no pipes, newlines or control characters.
fn escape(text: &str) -> String {
    super::printable(text).replace('|', "\\|").replace('\n', "<br>")
}

/// Writes `--summary-md` and appends to `$GITHUB_STEP_SUMMARY` when the run ends.
pub(crate) struct MarkdownReporter {
    file: Option<PathBuf>,
    step_summary: Option<PathBuf>,
    cases: Vec<CaseRecord>,
    datasets: Vec<DatasetRecord>,
    comparison: Option<Comparison>,
}

impl MarkdownReporter {
    pub(crate) fn new(
        file: Option<&Path>,
        step_summary: Option<PathBuf>,
        baseline: Option<Arc<Baseline>>,
    ) -> MarkdownReporter {
        MarkdownReporter {
            file: file.map(Path::to_path_buf),
            step_summary,
            cases: Vec::new(),
            datasets: Vec::new(),
            comparison: baseline.map(Comparison::new),
        }
    }
}

impl Reporter for MarkdownReporter {
    fn event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::CaseFinished { result } => {
                let failing = matches!(result.verdict.status, Status::Failed | Status::Errored);
                if !failing && self.comparison.is_none() {
                    return Ok(());
                }
                let mut record = CaseRecord::from_result(result);
                if let Some(c) = &mut self.comparison {
                    c.add(&record);
                }
                if failing {
                    record.final_text = None;
                    record.reasoning = None;
                    self.cases.push(record);
                }
            }
            Event::DatasetFinished { result } => self.datasets.push(DatasetRecord::from_result(result)),
            Event::RunFinished { summary } => {
                let baseline = self.comparison.take().map(Comparison::finish);
                let md = render(
                    &SummaryRecord::from_summary(summary),
                    &self.cases,
                    &self.datasets,
                    baseline.as_ref(),
                    u64::try_from(summary.duration.as_millis()).unwrap_or(u64::MAX),
                );
                if let Some(path) = &self.file {
                    crate::fs::write_atomic(path, &md).map_err(std::io::Error::other)?;
                }
                if let Some(path) = &self.step_summary {
                    // GitHub collects the file as the job summary; append, as every step does.
                    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                    f.write_all(md.as_bytes())?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: an interrupted run's Markdown summary showed ✅.
    #[test]
    fn an_interrupted_run_is_not_shown_as_a_success() {
        let summary = SummaryRecord { cases: 3, passed: 1, skipped: 2, interrupted: true, ..SummaryRecord::default() };
        let md = render(&summary, &[], &[], None, 10);
        assert!(md.starts_with("## ⚠️ gpt-oss-scenarios (interrupted"), "{md}");
        let passed = render(&SummaryRecord { cases: 1, passed: 1, ..SummaryRecord::default() }, &[], &[], None, 10);
        assert!(passed.starts_with("## ✅ gpt-oss-scenarios\n"), "{passed}");
    }
}
