//! `--summary-md` (and `$GITHUB_STEP_SUMMARY`): a Markdown table for a CI job page.

use std::fmt::Write as _;

use crate::report::case::CaseRecord;
use crate::report::dataset::share;
use crate::report::record::RunRecord;
use crate::verdict::Status;

/// The summary, then a row per case that did not pass (all rows when every case passed
/// and there are few of them).
pub(crate) fn render(run: &RunRecord) -> String {
    let (summary, cases, datasets) = (&run.summary, &run.cases, &run.datasets);
    let (baseline, duration_ms) = (run.baseline.as_ref(), run.duration_ms);
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
    let _ = writeln!(
        md,
        "| cases | passed | failed | errored | skipped | pending snapshots | time | tokens in / out | cost |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} | {:.1} s | {} / {} | {} |\n",
        summary.cases,
        summary.passed,
        summary.failed,
        summary.errored,
        summary.skipped,
        summary.pending_snapshots,
        duration_ms as f64 / 1000.0,
        summary.input_tokens,
        summary.output_tokens,
        // No price known for any case: unknown, not free.
        if summary.cost.models.is_empty() { "–".to_owned() } else { crate::pricing::usd(summary.cost.usd) }
    );
    if summary.cost.models.len() > 1 || summary.cost.spent_usd < summary.cost.usd || summary.cost.unpriced > 0 {
        let _ = writeln!(md, "Cost: {}.\n", escape(&summary.cost.headline()));
        if summary.cost.models.len() > 1 {
            let _ = writeln!(md, "| model | cases | tokens in / out | cost |");
            let _ = writeln!(md, "|---|---:|---:|---:|");
            for m in &summary.cost.models {
                let usd = crate::pricing::usd(m.usd);
                let _ = writeln!(
                    md,
                    "| {} | {} | {} / {} | {usd} |",
                    code(&m.model),
                    m.cases,
                    m.input_tokens,
                    m.output_tokens
                );
            }
            md.push('\n');
        }
    }
    if let Some(batch) = &run.mode.batch {
        let _ = writeln!(
            md,
            "Batch inference: {} answers from {} job(s); {} ms of the tool's own work, {} ms waiting for the jobs.\n",
            run.mode.batched,
            batch.jobs.len(),
            batch.work_ms,
            batch.wait_ms
        );
        let _ = writeln!(md, "| job | model | status | records | succeeded / errored |");
        let _ = writeln!(md, "| --- | --- | --- | --- | --- |");
        for job in &batch.jobs {
            let counts =
                job.manifest.map_or_else(|| "–".to_owned(), |m| format!("{} / {}", m.success_records, m.error_records));
            let status = match &job.message {
                Some(message) => format!("{} ({})", job.status, escape(message)),
                None => job.status.clone(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {status} | {} | {counts} |",
                code(&job.job_arn),
                code(&job.model),
                job.records
            );
        }
        md.push('\n');
    }
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
    let _ = writeln!(md, "| status | case | api | model | cost | details |");
    let _ = writeln!(md, "|---|---|---|---|---:|---|");
    for c in shown {
        let status = if c.status == Status::Failed { "failed" } else { "errored" };
        let details = c.failure_lines().join("<br>");
        let _ = writeln!(
            md,
            "| {status} | {} | {} | {} | {} | {} |",
            code(&c.id),
            escape(&c.api),
            escape(&c.model),
            c.cost_usd.map_or_else(|| "–".to_owned(), crate::pricing::usd),
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
    crate::report::printable(text).replace('|', "\\|").replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::record::{ModeRecord, RunEnd, RunHead, SummaryRecord};

    fn run(summary: SummaryRecord) -> RunRecord {
        let head = RunHead { format: 1, version: "0".into(), ..RunHead::default() };
        let end =
            RunEnd { duration_ms: 10, mode: ModeRecord::default(), summary, datasets: Vec::new(), baseline: None };
        RunRecord::assemble(head, Vec::new(), end)
    }

    /// Issue 14: an interrupted run's Markdown summary showed ✅.
    #[test]
    fn an_interrupted_run_is_not_shown_as_a_success() {
        let md = render(&run(SummaryRecord {
            cases: 3,
            passed: 1,
            skipped: 2,
            interrupted: true,
            ..SummaryRecord::default()
        }));
        assert!(md.starts_with("## ⚠️ gpt-oss-scenarios (interrupted"), "{md}");
        let passed = render(&run(SummaryRecord { cases: 1, passed: 1, ..SummaryRecord::default() }));
        assert!(passed.starts_with("## ✅ gpt-oss-scenarios\n"), "{passed}");
    }
}
