//! The terminal report of a case: its verdict line, then for a case that did not pass
//! the failed assertions, errors and the snapshot diff.

use std::fmt::Write as _;

use super::diff::unified;
use crate::plan::Case;
use crate::verdict::{CaseVerdict, SnapshotStatus, Status};

/// The block printed for one finished case.
pub fn case_block(case: &Case, verdict: &CaseVerdict, color: bool) -> String {
    let mut out = String::new();
    let (label, style) = match verdict.status {
        Status::Passed => ("PASS", "\x1b[32m"),
        Status::Failed => ("FAIL", "\x1b[31m"),
        Status::Errored => ("ERROR", "\x1b[31;1m"),
        Status::Skipped => ("SKIP", "\x1b[33m"),
    };
    let label = if color { format!("{style}{label:>5}\x1b[0m") } else { format!("{label:>5}") };
    let latency: u64 = verdict.samples.iter().map(|s| s.response.latency_ms).max().unwrap_or(0);
    let _ = write!(out, "{label} {} ({}, {})", case.id, case.api, case.model);
    if verdict.samples.len() > 1 {
        let _ = write!(out, " {}/{} samples passed", verdict.passed_samples, verdict.samples.len());
    }
    if verdict.status != Status::Skipped {
        let _ = write!(out, " in {latency} ms");
    }
    out.push('\n');
    if matches!(verdict.status, Status::Passed | Status::Skipped) {
        return out;
    }
    if let Some(problem) = &verdict.problem {
        let _ = writeln!(out, "      error: {problem}");
    }
    for (i, sample) in verdict.samples.iter().enumerate() {
        let prefix = if verdict.samples.len() > 1 { format!("sample {}: ", i + 1) } else { String::new() };
        if let Some(error) = &sample.response.error {
            let attempts = if sample.response.attempts > 1 {
                format!(" (after {} attempts)", sample.response.attempts)
            } else {
                String::new()
            };
            let _ = writeln!(out, "      {prefix}error: {error}{attempts}");
        }
        for a in sample.assertions.iter().filter(|a| !a.passed) {
            let _ = writeln!(out, "      {prefix}{}: {}", a.kind, a.message);
        }
    }
    if let Some(snapshot) = &verdict.snapshot {
        match snapshot.status {
            SnapshotStatus::Changed => {
                let _ = writeln!(out, "      snapshot changed: {}", snapshot.path.display());
                let diff = unified(
                    snapshot.old.as_deref().unwrap_or_default(),
                    snapshot.new.as_deref().unwrap_or_default(),
                    color,
                );
                for line in diff.lines() {
                    let _ = writeln!(out, "        {line}");
                }
            }
            SnapshotStatus::New => {
                let _ = writeln!(out, "      new snapshot: {}", snapshot.path.display());
                for line in snapshot.new.as_deref().unwrap_or_default().lines() {
                    let _ = writeln!(out, "        + {line}");
                }
            }
            SnapshotStatus::Matched | SnapshotStatus::Ignored => {}
        }
        match &snapshot.written {
            Some(written) if *written != snapshot.path => {
                let _ = writeln!(
                    out,
                    "      wrote {} (review with `cargo insta review` or `gpt-oss-scenarios review`)",
                    written.display()
                );
            }
            Some(written) => {
                let _ = writeln!(out, "      updated {}", written.display());
            }
            None if matches!(snapshot.status, SnapshotStatus::New | SnapshotStatus::Changed) => {
                let _ = writeln!(out, "      no snapshot written (CI, or updates off): run locally to review");
            }
            None => {}
        }
    }
    out
}
