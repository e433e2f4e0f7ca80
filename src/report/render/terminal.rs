//! The terminal report: a progress bar on a terminal (plain lines otherwise), a block
//! per finished case (for a case that did not pass: errors, failed assertions and the
//! snapshot diff), and a summary table at the end. It reads the run's record only.

use std::fmt::Write as _;

use indicatif::{ProgressBar, ProgressStyle};

use super::Render;
use crate::report::build::Update;
use crate::report::case::{AnswerRecord, CaseRecord, SamplesRecord};
use crate::report::dataset::DatasetRecord;
use crate::report::diff::colorize;
use crate::report::printable;
use crate::report::record::RunEnd;
use crate::verdict::{SnapshotStatus, Status};

/// Prints to stdout; draws the progress bar on stderr when it is a terminal.
pub(crate) struct TerminalRenderer {
    color: bool,
    verbose: bool,
    bar: Option<ProgressBar>,
    progress: bool,
    /// One line per case that failed or errored, for the end of the run.
    failures: Vec<String>,
}

impl TerminalRenderer {
    /// `progress`: stderr is a terminal, so a bar can be drawn.
    pub(crate) fn new(color: bool, verbose: bool, progress: bool) -> TerminalRenderer {
        TerminalRenderer { color, verbose, bar: None, progress, failures: Vec::new() }
    }

    fn print(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| crate::stdio::out(text)),
            None => crate::stdio::out(text),
        }
    }
}

/// The progress line for a terminal `width` columns wide. The case id is `wide_msg`,
/// cut to what the width leaves, so the line never wraps (a wrapped line is redrawn as a
/// new one each tick); below 60 columns the bar and the clock give way to it.
fn progress_bar(cases: u64, width: u16) -> ProgressBar {
    let bar = ProgressBar::new(cases);
    let template = if width >= 60 {
        "{spinner} [{elapsed_precise}] {bar:20} {pos}/{len} {wide_msg}"
    } else {
        "{spinner} {pos}/{len} {wide_msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

impl Render for TerminalRenderer {
    fn update(&mut self, update: &Update<'_>) -> Result<(), Vec<crate::report::OutputError>> {
        match update {
            Update::Started { cases, .. } => {
                if self.progress {
                    let width = console::Term::stderr().size_checked().map_or(80, |(_, columns)| columns);
                    self.bar = Some(progress_bar(*cases as u64, width));
                }
            }
            Update::CaseStarted { id } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(id.to_string());
                }
            }
            Update::Case(case) => {
                let mut text = case_block(case, self.color);
                if let Some(why) = &case.skip_reason
                    && case.status == Status::Skipped
                {
                    text = format!("{} ({why})\n", text.trim_end());
                }
                if self.verbose {
                    for answer in case.sample_answers() {
                        text.push_str(&response_block(&answer));
                    }
                }
                // A dataset's rows that passed are counted in its block, not listed one
                // by one: 500 rows print what went wrong and the metrics (`-v` lists all).
                let quiet_row =
                    case.row.is_some() && matches!(case.status, Status::Passed | Status::Skipped) && !self.verbose;
                if !quiet_row {
                    self.print(&text);
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                if let Some(line) = failure_line(case) {
                    self.failures.push(line);
                }
            }
            Update::Dataset(record) => {
                self.print(&dataset_block(record, self.color));
                if !record.passed {
                    let reason = record.reasons.first().cloned().unwrap_or_default();
                    self.failures.push(format!(" FAIL dataset {}: {}", record.id, printable(&reason)));
                }
            }
            Update::Finished(end) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let mut text = String::new();
                if !self.failures.is_empty() {
                    text.push_str("\nfailures:\n");
                    for line in &self.failures {
                        let _ = writeln!(text, "  {line}");
                    }
                }
                if let Some(b) = &end.baseline {
                    let _ = writeln!(text, "\n{}", printable(&b.headline()));
                    for line in b.lists(10, str::to_owned) {
                        let _ = writeln!(text, "  {}", printable(&line));
                    }
                }
                text.push_str(&summary_table(end));
                self.print(&text);
            }
        }
        Ok(())
    }
}

/// A failed or errored case in one line, with its first reason, as nextest lists
/// failures at the end of a run.
fn failure_line(case: &CaseRecord) -> Option<String> {
    // A row its dataset's `min_rows_passed` judges does not fail the run itself.
    if case.tolerated {
        return None;
    }
    let label = match case.status {
        Status::Failed => "FAIL",
        Status::Errored => "ERROR",
        Status::Passed | Status::Skipped => return None,
    };
    // Several samples: the share that passed is what failed the case.
    let reason = case.problem().map(str::to_owned).or_else(|| case.shortfall.clone()).or_else(|| {
        case.sample_answers().iter().find_map(|a| {
            a.error
                .as_ref()
                .map(super::super::case::ErrorRecord::describe)
                .or_else(|| a.failed.first().map(|f| format!("{}: {}", f.kind, f.message)))
        })
    });
    let reason = reason
        .or_else(|| case.error.as_ref().filter(|e| e.kind == "judge").map(|e| e.message.clone()))
        .unwrap_or_else(|| match &case.snapshot {
            Some(s) if s.status == SnapshotStatus::New => "new snapshot".to_owned(),
            _ => "snapshot changed".to_owned(),
        });
    let reason = crate::verdict::assertions::excerpt(&printable(&reason).replace('\n', " "), 160);
    Some(format!("{label:>5} {}: {reason}", case.id))
}

/// The closing lines: what the run cost, then the one-line summary.
pub(crate) fn summary_table(end: &RunEnd) -> String {
    let s = &end.summary;
    let mut out = String::from("\n");
    let rows = [
        ("time", format!("{:.2} s", end.duration_ms as f64 / 1000.0)),
        ("tokens in / out", format!("{} / {}", s.input_tokens, s.output_tokens)),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<18} {value:>12}");
    }
    if !s.cost.models.is_empty() || s.cost.unpriced > 0 {
        let _ = writeln!(out, "  {:<18} {}", "cost", s.cost.headline());
        if s.cost.models.len() > 1 {
            let width = s.cost.models.iter().map(|m| m.model.len()).max().unwrap_or(0);
            for m in &s.cost.models {
                let usd = crate::pricing::usd(m.usd);
                let _ = writeln!(out, "    {:<width$}  {usd:>10} ({} cases)", m.model, m.cases);
            }
        }
    }
    if s.judging.calls > 0 {
        // Graders' tokens are not in the line above: what the suite's own calls cost stays comparable.
        let _ = writeln!(out, "  {:<18} {}", "judging", s.judging.describe());
    }
    if s.interrupted {
        out.push_str("  interrupted: cases not started are reported as skipped\n");
    }
    let _ = writeln!(
        out,
        "\n{} cases: {} passed, {} failed, {} errored, {} skipped; {} pending snapshot(s)",
        s.cases, s.passed, s.failed, s.errored, s.skipped, s.pending_snapshots
    );
    if s.datasets_passed + s.datasets_failed > 0 {
        let tolerated = if s.tolerated > 0 {
            format!("; {} failed row(s) judged by their dataset's min_rows_passed", s.tolerated)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} dataset(s): {} passed, {} failed{tolerated}",
            s.datasets_passed + s.datasets_failed,
            s.datasets_passed,
            s.datasets_failed
        );
    }
    out
}

/// A dataset's verdict, after its last row: its counts, metrics and thresholds.
pub(crate) fn dataset_block(d: &DatasetRecord, color: bool) -> String {
    let (label, style) = if d.passed { ("PASS", "\x1b[32m") } else { ("FAIL", "\x1b[31m") };
    let label = if color { format!("{style}{label:>5}\x1b[0m") } else { format!("{label:>5}") };
    let mut out = format!("{label} dataset {} ({})\n", d.id, d.data);
    for line in d.lines() {
        let _ = writeln!(out, "      {}", printable(&line));
    }
    for reason in &d.reasons {
        let _ = writeln!(out, "      failed: {}", printable(reason));
    }
    out
}

/// The answer and the reasoning of one sample (`--verbose`).
pub(crate) fn response_block(a: &AnswerRecord) -> String {
    let mut out = String::new();
    for (name, text) in [("final", &a.final_text), ("reasoning", &a.reasoning)] {
        if text.trim().is_empty() {
            let _ = writeln!(out, "      {name}: (none)");
        } else {
            let _ = writeln!(out, "      {name}:");
            for line in printable(text.trim()).lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
    }
    for call in &a.tool_calls {
        let _ = writeln!(out, "      tool call: {}({})", printable(&call.name), printable(&call.input.to_string()));
    }
    let usage = a.usage.map_or_else(|| "-".to_owned(), |u| format!("{} in / {} out", u.input_tokens, u.output_tokens));
    let _ = writeln!(
        out,
        "      stop_reason: {} · usage: {usage} · flags: {}",
        a.stop_reason.as_deref().unwrap_or("-"),
        if a.flags.is_empty() { "-".to_owned() } else { a.flags.join(", ") }
    );
    out
}

/// The block printed for one finished case.
pub(crate) fn case_block(case: &CaseRecord, color: bool) -> String {
    let mut out = String::new();
    let (label, style) = match case.status {
        Status::Passed => ("PASS", "\x1b[32m"),
        Status::Failed => ("FAIL", "\x1b[31m"),
        Status::Errored => ("ERROR", "\x1b[31;1m"),
        Status::Skipped => ("SKIP", "\x1b[33m"),
    };
    let label = if color { format!("{style}{label:>5}\x1b[0m") } else { format!("{label:>5}") };
    let _ = write!(out, "{label} {} ({}, {})", case.id, case.api, case.model);
    if case.samples.n > 1 {
        let samples = SamplesRecord::of(case.samples.n, case.samples.passed);
        let _ = write!(out, " {}", samples.describe());
    }
    if case.status != Status::Skipped {
        // The case's wall time, retries and waits included: what the user waited for.
        let _ = write!(out, " in {} ms", case.duration_ms);
        if let Some(usd) = case.cost_usd {
            let _ = write!(out, ", {}", crate::pricing::usd(usd));
        }
        if case.attempts > case.samples.n.max(1) {
            let _ = write!(out, " ({} attempts)", case.attempts);
        }
        if let Some(note) = &case.note {
            let _ = write!(out, " [{note}]");
        }
        if case.tolerated {
            out.push_str(" [counted by the dataset's min_rows_passed]");
        }
    }
    out.push('\n');
    let reworded = case.snapshot.as_ref().and_then(|s| s.reworded.as_ref());
    if let Some(r) = reworded
        && let Some(equivalent) = r.equivalent
    {
        let judged = if equivalent { "reworded, judged equivalent" } else { "reworded, judged not equivalent" };
        let _ = writeln!(out, "      {judged} by {}: {}", r.grade.model, printable(&r.grade.reason));
    }
    if matches!(case.status, Status::Passed | Status::Skipped) {
        return out;
    }
    if let Some(problem) = case.problem() {
        let _ = writeln!(out, "      error: {}", printable(problem));
    }
    let answers = case.sample_answers();
    for (i, answer) in answers.iter().enumerate() {
        let prefix = if answers.len() > 1 { format!("sample {}: ", i + 1) } else { String::new() };
        if let Some(error) = &answer.error {
            let attempts =
                if answer.attempts > 1 { format!(" (after {} attempts)", answer.attempts) } else { String::new() };
            let _ = writeln!(out, "      {prefix}error: {}{attempts}", printable(&error.describe()));
        }
        if let Some(e) = &answer.equivalence_error {
            let _ = writeln!(out, "      {prefix}error: the semantic snapshot's comparison: {}", printable(e));
        }
        for a in &answer.failed {
            let _ = writeln!(out, "      {prefix}{}: {}", a.kind, printable(&a.message));
            if let Some(seen) = &a.looked_at {
                let _ = writeln!(out, "        {} was: {:?}", seen.part, printable(&seen.text));
            }
        }
    }
    if let Some(snapshot) = &case.snapshot {
        match snapshot.status {
            SnapshotStatus::Changed => {
                let _ = writeln!(out, "      snapshot changed: {}", snapshot.path);
                for line in colorize(&printable(snapshot.diff.as_deref().unwrap_or_default()), color).lines() {
                    let _ = writeln!(out, "        {line}");
                }
            }
            SnapshotStatus::New => {
                let _ = writeln!(out, "      new snapshot: {}", snapshot.path);
                for line in printable(snapshot.body.as_deref().unwrap_or_default()).lines() {
                    let _ = writeln!(out, "        + {line}");
                }
            }
            SnapshotStatus::Matched | SnapshotStatus::Ignored => {}
        }
        match &snapshot.written {
            Some(written) if *written != snapshot.path => {
                let _ = writeln!(
                    out,
                    "      wrote {written} (review with `cargo insta review` or `gpt-oss-scenarios review`)"
                );
            }
            Some(written) => {
                let _ = writeln!(out, "      updated {written}");
            }
            None if matches!(snapshot.status, SnapshotStatus::New | SnapshotStatus::Changed) => {
                let _ = writeln!(out, "      no snapshot written (CI, or updates off): run locally to review");
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::{ProgressDrawTarget, TermLike};

    use super::*;

    /// A terminal `.1` columns wide that keeps what is written to it.
    #[derive(Debug, Clone, Default)]
    struct Narrow(Arc<Mutex<Vec<String>>>, u16);

    impl TermLike for Narrow {
        fn width(&self) -> u16 {
            self.1
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_owned());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 14: a long matrix case id made the progress line wrap.
    #[test]
    fn progress_lines_fit_the_terminal_width() {
        for width in [120, 60, 40, 24] {
            let term = Narrow(Arc::default(), width);
            let bar = progress_bar(500, width);
            bar.set_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
            let id = format!("compare-decimals[api=chat-stream,model=openai.gpt-oss-120b-1:0,{}]", "x".repeat(120));
            bar.set_message(id);
            bar.inc(1);
            bar.tick();
            let drawn = term.0.lock().unwrap().clone();
            let lines: Vec<&str> = drawn.iter().flat_map(|s| s.lines()).filter(|l| !l.is_empty()).collect();
            assert!(lines.iter().any(|l| l.contains("1/500 compare-de")), "{width}: {drawn:?}");
            for line in lines {
                assert!(line.chars().count() <= usize::from(width), "{width} columns: {line:?}");
            }
        }
    }
}
