//! A dataset's record in the reports (the JSON report's `datasets` section, JUnit's
//! threshold testcase, the Markdown and terminal blocks), and how shard records merge:
//! counts add up and the metrics are computed again from the sums.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::verdict::SnapshotStatus;
use crate::verdict::dataset::{DatasetResult, RowCounts, Threshold, measured, met};
use crate::verdict::metrics::{Confusion, Scores, Share, wilson};

/// One dataset (one matrix combination of a dataset scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatasetRecord {
    /// The id its rows share: `name` or `name[key=value,...]`; rows are `<id>[row=ID]`.
    pub(crate) id: String,
    /// The scenario file.
    pub(crate) scenario: String,
    /// The data file (the scenario file for inline rows).
    pub(crate) data: String,
    /// Whether it met its thresholds, its rows passed (unless `min_rows_passed` judges
    /// them) and its snapshot table matched.
    pub(crate) passed: bool,
    pub(crate) rows: RowCounts,
    /// The share of the rows that ran which passed, with its 95% Wilson interval.
    pub(crate) rows_passed: Share,
    /// Classification metrics, with `metrics.label`.
    pub(crate) labels: Option<LabelsRecord>,
    pub(crate) thresholds: Vec<ThresholdRecord>,
    pub(crate) snapshot: Option<TableRecord>,
    /// Failed rows are judged by `min_rows_passed` rather than failing the run.
    pub(crate) tolerant: bool,
    /// A problem with the dataset itself (its snapshot table cannot be read or written).
    pub(crate) problems: Vec<String>,
    /// Why it did not pass, one reason per entry.
    pub(crate) reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelsRecord {
    /// The positive class, when one was named.
    pub(crate) positive: Option<String>,
    pub(crate) scores: Scores,
    pub(crate) confusion: Confusion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThresholdRecord {
    /// `min_accuracy`, `min_f1`, `min_precision`, `min_recall` or `min_rows_passed`.
    pub(crate) name: String,
    pub(crate) min: f64,
    pub(crate) value: f64,
    pub(crate) met: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableRecord {
    pub(crate) status: SnapshotStatus,
    /// The snapshot file.
    pub(crate) path: String,
    /// A `.snap.new` was written for review.
    pub(crate) pending: bool,
    /// The table matched, or its change was accepted (written in place, or forced).
    pub(crate) ok: bool,
    /// Row ids whose line changed, that are new, that are gone from the dataset.
    pub(crate) changed: Vec<String>,
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
}

impl TableRecord {
    /// `snapshot table changed: 2 row(s) changed (3, 7), 1 new (12)`, ten ids at most
    /// per kind.
    pub(crate) fn describe(&self) -> String {
        let list = |ids: &[String]| {
            let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
            let more = if ids.len() > 10 { format!(", and {} more", ids.len() - 10) } else { String::new() };
            format!("{}{more}", shown.join(", "))
        };
        let mut parts = Vec::new();
        for (ids, what) in [(&self.changed, "changed"), (&self.added, "new"), (&self.removed, "removed")] {
            if !ids.is_empty() {
                parts.push(format!("{} row(s) {what} ({})", ids.len(), list(ids)));
            }
        }
        let what = if self.status == SnapshotStatus::New { "new snapshot table" } else { "snapshot table changed" };
        format!("{what}: {}", parts.join(", "))
    }
}

impl DatasetRecord {
    pub(crate) fn from_result(d: &DatasetResult) -> DatasetRecord {
        DatasetRecord {
            id: d.id.clone(),
            scenario: crate::fs::shown(&d.scenario),
            data: crate::fs::shown(&d.data),
            passed: d.passed,
            rows: d.rows,
            rows_passed: d.passed_share,
            labels: d.scores.clone().zip(d.confusion.clone()).map(|(scores, confusion)| LabelsRecord {
                positive: d.positive.clone(),
                scores,
                confusion,
            }),
            thresholds: d.thresholds.iter().map(threshold).collect(),
            snapshot: d.snapshot.as_ref().map(|s| TableRecord {
                status: s.status,
                path: crate::fs::shown(&s.path),
                pending: s.written.as_ref().is_some_and(|w| *w != s.path),
                ok: d.snapshot_ok,
                changed: s.changed.clone(),
                added: s.added.clone(),
                removed: s.removed.clone(),
            }),
            tolerant: d.tolerant,
            problems: d.problem.iter().cloned().collect(),
            reasons: Vec::new(),
        }
        .judged()
    }

    /// Whether every row of the dataset was selected: only then are thresholds judged.
    pub(crate) fn whole(&self) -> bool {
        self.rows.selected >= self.rows.total
    }

    /// This record with `reasons` and `passed` decided from its parts.
    fn judged(mut self) -> DatasetRecord {
        let mut reasons = self.problems.clone();
        for t in self.thresholds.iter().filter(|t| !t.met && self.whole()) {
            reasons.push(format!(
                "{} is {:.3}, below {} {}",
                t.name.trim_start_matches("min_"),
                t.value,
                t.name,
                t.min
            ));
        }
        // A changed table first: it is also why its rows failed.
        if let Some(s) = self.snapshot.as_ref().filter(|s| !s.ok) {
            reasons.push(s.describe());
        }
        let r = &self.rows;
        if !self.tolerant && r.failed + r.errored > 0 {
            reasons.push(format!("{} row(s) failed and {} errored", r.failed, r.errored));
        }
        if r.passed + r.failed + r.errored == 0 {
            reasons.push("no row ran".to_owned());
        }
        self.passed = reasons.is_empty();
        self.reasons = reasons;
        self
    }

    /// Adds a shard's record of the same dataset: counts add up, metrics and
    /// thresholds are computed again from the sums.
    pub(crate) fn merge(&mut self, other: &DatasetRecord) {
        let r = &mut self.rows;
        r.selected += other.rows.selected;
        r.passed += other.rows.passed;
        r.failed += other.rows.failed;
        r.errored += other.rows.errored;
        // Shards select disjoint rows: a row another shard runs is not among these.
        r.skipped += other.rows.skipped;
        let ran = r.passed + r.failed + r.errored;
        self.rows_passed = wilson(r.passed as u64, ran as u64);
        match (&mut self.labels, &other.labels) {
            (Some(mine), Some(theirs)) => {
                mine.confusion.merge(&theirs.confusion);
                mine.scores = mine.confusion.scores(mine.positive.as_deref());
            }
            (None, Some(theirs)) => self.labels = Some(theirs.clone()),
            _ => {}
        }
        for t in &mut self.thresholds {
            if let Some(value) = measured(&t.name, &self.rows_passed, self.labels.as_ref().map(|l| &l.scores)) {
                t.value = value;
                t.met = met(value, t.min);
            }
        }
        match (&mut self.snapshot, &other.snapshot) {
            (Some(mine), Some(theirs)) => {
                mine.pending |= theirs.pending;
                mine.ok &= theirs.ok;
                mine.changed.extend(theirs.changed.iter().cloned());
                mine.added.extend(theirs.added.iter().cloned());
                for id in &theirs.removed {
                    if !mine.removed.contains(id) {
                        mine.removed.push(id.clone());
                    }
                }
                if theirs.status != SnapshotStatus::Matched {
                    mine.status = theirs.status;
                }
            }
            (None, Some(theirs)) => self.snapshot = Some(theirs.clone()),
            _ => {}
        }
        self.problems.extend(other.problems.iter().cloned());
        *self = self.clone().judged();
    }

    /// The lines the terminal and the Markdown summary show under the dataset's name.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let r = &self.rows;
        let ran = r.passed + r.failed + r.errored;
        let mut rows =
            format!("{ran} of {} rows ran: {} passed, {} failed, {} errored", r.total, r.passed, r.failed, r.errored);
        let _ = write!(rows, "; passed {}", share(&self.rows_passed));
        out.push(rows);
        if let Some(l) = &self.labels {
            let s = &l.scores;
            let which = l.positive.as_ref().map_or_else(|| "macro".to_owned(), |p| format!("class {p}"));
            out.push(format!(
                "accuracy {} · precision {:.3} · recall {:.3} · F1 {:.3} ({which}) · macro-F1 {:.3} · unextracted {}",
                share(&s.accuracy),
                s.precision,
                s.recall,
                s.f1,
                s.macro_f1,
                s.unextracted
            ));
            out.extend(confusion_lines(&l.confusion));
        }
        for t in &self.thresholds {
            let mark = match (t.met, self.whole()) {
                (_, false) => "not judged: part of the dataset ran",
                (true, true) => "met",
                (false, true) => "NOT MET",
            };
            out.push(format!("{} {}: {:.3} ({mark})", t.name, t.min, t.value));
        }
        // A change not accepted is among the reasons; an accepted one is news.
        if let Some(s) = &self.snapshot
            && s.ok
            && matches!(s.status, SnapshotStatus::New | SnapshotStatus::Changed)
        {
            out.push(format!("{} (written to {})", s.describe(), s.path));
        }
        out
    }
}

/// `0.958 [0.798, 0.993]`: a share and its 95% Wilson interval.
pub(crate) fn share(s: &Share) -> String {
    format!("{:.3} [{:.3}, {:.3}] ({}/{})", s.value, s.low, s.high, s.k, s.n)
}

/// The confusion matrix as aligned text: expected labels down, extracted across, and
/// a `(none)` column for rows whose label could not be extracted.
pub(crate) fn confusion_lines(c: &Confusion) -> Vec<String> {
    let classes = c.classes();
    let width = classes.iter().map(|s| s.chars().count()).max().unwrap_or(1).max(8);
    let mut header = format!("{:>width$}", "expected\\got");
    for class in &classes {
        let _ = write!(header, " {class:>width$}");
    }
    let _ = write!(header, " {:>width$}", "(none)");
    let mut out = vec![header];
    for expected in c.matrix.keys().chain(c.unextracted.keys().filter(|k| !c.matrix.contains_key(*k))) {
        let mut line = format!("{expected:>width$}");
        for got in &classes {
            let n = c.matrix.get(expected).and_then(|r| r.get(got)).copied().unwrap_or(0);
            let _ = write!(line, " {n:>width$}");
        }
        let _ = write!(line, " {:>width$}", c.unextracted.get(expected).copied().unwrap_or(0));
        out.push(line);
    }
    out
}

fn threshold(t: &Threshold) -> ThresholdRecord {
    ThresholdRecord { name: t.name.to_owned(), min: t.min, value: t.value, met: t.met }
}
