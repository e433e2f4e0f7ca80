//! Datasets: each row is judged on its own (assertions, its line of the snapshot
//! table, its label), and the dataset as a whole when its last row finishes: the
//! metrics, the thresholds, and the one snapshot table, written once. The runner keeps
//! a [`Book`] and feeds it every finished row.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use regex::Regex;

use super::metrics::{Confusion, Scores, Share, wilson};
use super::snapshot::{SnapshotFile, SnapshotRules};
use super::table::{self, Table};
use super::{CaseVerdict, SampleOutcome, SnapshotOutcome, SnapshotSettings, SnapshotStatus, Status, UpdateAction};
use super::{assertions, bare, settle, store};
use crate::normalize::normalize;
use crate::plan::{Case, DatasetPlan};
use crate::response::ModelResponse;
use crate::scenario::{LabelExtract, Metrics};

/// What a row contributes to its dataset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowOutcome {
    /// The table's header line (its columns).
    pub(crate) header: String,
    /// Each sample's line of the table; `None` for a sample without an answer.
    pub(crate) lines: Vec<Option<String>>,
    /// The expected label, rendered for this row.
    pub(crate) expected: Option<String>,
    /// The label extracted from the answer, if one could be.
    pub(crate) got: Option<String>,
}

/// Judges one row: assertions on each sample, its table line, its label. The snapshot
/// comparison waits for [`Book::row_finished`], which holds the stored table.
pub(crate) fn judge_row(case: &Case, responses: Vec<ModelResponse>) -> CaseVerdict {
    let (checks, rules) = match (
        assertions::compile(&case.spec.expect, &case.scenario_dir()),
        SnapshotRules::new(case.spec.snapshot.as_ref()),
    ) {
        (Ok(checks), Ok(rules)) => (checks, rules),
        (Err(e), _) | (_, Err(e)) => return CaseVerdict::problem(e.to_string(), bare(responses)),
    };
    let id = case.row.as_ref().map_or("", |r| r.id.as_str());
    let columns = rules.columns(case.api == crate::scenario::Api::Agent);
    let mut lines = Vec::new();
    let mut samples: Vec<SampleOutcome> = Vec::new();
    for response in responses {
        let answered = response.error.is_none();
        let assertions = if answered { assertions::evaluate(&checks, &response) } else { Vec::new() };
        lines.push((answered && !columns.is_empty()).then(|| table::row_line(id, rules.cells(&response, &columns))));
        samples.push(SampleOutcome { response, assertions, snapshot_matched: None, passed: false });
    }
    let label = case.spec.metrics.as_ref().and_then(|m| m.label.as_ref());
    let answer = samples.iter().find(|s| s.response.error.is_none()).map(|s| s.response.final_text.as_str());
    let got = match (label, answer) {
        (Some(label), Some(answer)) => extract_label(&label.extract, answer),
        _ => None,
    };
    let (status, passed_samples, pass_rate) = settle(&mut samples, true, case.spec.min_pass_rate);
    CaseVerdict {
        status,
        samples,
        passed_samples,
        pass_rate,
        row: Some(RowOutcome {
            header: table::header(&columns),
            lines,
            expected: label.and_then(|l| l.expected.as_deref()).map(|e| e.trim().to_owned()),
            got,
        }),
        ..CaseVerdict::skipped()
    }
}

/// The label in an answer: a regex's first group (or whole match), or the value at a
/// JSON pointer of the answer parsed as JSON. Numbers and booleans become their text.
pub(crate) fn extract_label(extract: &LabelExtract, answer: &str) -> Option<String> {
    let text = normalize(answer);
    match extract {
        LabelExtract::Regex(pattern) => {
            let re = Regex::new(pattern).ok()?;
            let captures = re.captures(&text)?;
            let found = captures.get(1).or_else(|| captures.get(0))?;
            Some(found.as_str().trim().to_owned())
        }
        LabelExtract::JsonPointer(pointer) => {
            let value = assertions::parse_json_answer(&text).ok()?;
            match value.pointer(pointer)? {
                serde_json::Value::String(s) => Some(s.trim().to_owned()),
                serde_json::Value::Null => None,
                other @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(other.to_string()),
                other => Some(crate::json::canonical_json(other)),
            }
        }
    }
}

/// A threshold of a dataset and whether the run met it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Threshold {
    /// The field that set it: `min_accuracy`, `min_f1`, `min_rows_passed`, ...
    pub(crate) name: &'static str,
    pub(crate) min: f64,
    pub(crate) value: f64,
    pub(crate) met: bool,
}

/// The thresholds `metrics` sets, against what was measured.
pub(crate) fn thresholds(metrics: Option<&Metrics>, passed: &Share, scores: Option<&Scores>) -> Vec<Threshold> {
    let Some(m) = metrics else { return Vec::new() };
    let mut out = Vec::new();
    let mut check = |name, min: Option<f64>, value: f64| {
        if let Some(min) = min {
            out.push(Threshold { name, min, value, met: value + 1e-9 >= min });
        }
    };
    check("min_rows_passed", m.min_rows_passed, passed.value);
    if let (Some(label), Some(s)) = (&m.label, scores) {
        check("min_accuracy", label.min_accuracy, s.accuracy.value);
        check("min_f1", label.min_f1, s.f1);
        check("min_precision", label.min_precision, s.precision);
        check("min_recall", label.min_recall, s.recall);
    }
    out
}

/// Rows of a dataset by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RowCounts {
    /// Rows in the dataset, selected or not.
    pub(crate) total: usize,
    /// Rows this run selected (`--filter` and `--shard` select fewer): thresholds are
    /// judged only over the whole dataset.
    pub(crate) selected: usize,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) errored: usize,
    pub(crate) skipped: usize,
}

/// What happened to a dataset's snapshot table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableOutcome {
    pub(crate) status: SnapshotStatus,
    pub(crate) path: PathBuf,
    /// What was written: the `.snap.new` or the `.snap` itself.
    pub(crate) written: Option<PathBuf>,
    /// Rows whose line changed, rows new to the table, rows gone from the dataset.
    pub(crate) changed: Vec<String>,
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
}

/// A dataset, judged once its last selected row finished.
#[derive(Debug, Clone)]
pub(crate) struct DatasetResult {
    /// The id its rows share: `name` or `name[key=value,...]`.
    pub(crate) id: String,
    pub(crate) scenario: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) rows: RowCounts,
    /// Rows that passed every assertion (and their snapshot line), of those that ran.
    pub(crate) passed_share: Share,
    /// The label counts, with `metrics.label`.
    pub(crate) confusion: Option<Confusion>,
    pub(crate) positive: Option<String>,
    pub(crate) scores: Option<Scores>,
    pub(crate) thresholds: Vec<Threshold>,
    pub(crate) snapshot: Option<TableOutcome>,
    /// Rows are judged by `min_rows_passed` rather than one by one.
    pub(crate) tolerant: bool,
    /// A problem with the dataset itself (its table cannot be read or written).
    pub(crate) problem: Option<String>,
    /// The table matched, or its change was accepted (written in place, or forced).
    pub(crate) snapshot_ok: bool,
    pub(crate) passed: bool,
}

/// `snapshot table changed: 2 row(s) changed (3, 7), 1 new (12)`.
pub(crate) fn table_change(s: &TableOutcome) -> String {
    let list = |ids: &[String]| {
        let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
        let more = if ids.len() > 10 { format!(", and {} more", ids.len() - 10) } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    let mut parts = Vec::new();
    for (ids, what) in [(&s.changed, "changed"), (&s.added, "new"), (&s.removed, "removed")] {
        if !ids.is_empty() {
            parts.push(format!("{} row(s) {what} ({})", ids.len(), list(ids)));
        }
    }
    let what = if s.status == SnapshotStatus::New { "new snapshot table" } else { "snapshot table changed" };
    format!("{what}: {}", parts.join(", "))
}

/// The datasets of a run, as their rows finish.
pub(crate) struct Book {
    settings: SnapshotSettings,
    open: HashMap<PathBuf, Open>,
}

struct Open {
    remaining: usize,
    /// The stored table, read when the first row finishes.
    stored: Option<Result<Option<Table>, String>>,
    first: Option<Arc<Case>>,
    plan: Option<Arc<DatasetPlan>>,
    header: Option<String>,
    /// New lines by row id.
    lines: HashMap<String, String>,
    confusion: Confusion,
    labelled: bool,
    counts: RowCounts,
}

impl Book {
    /// A book for `cases`, the run's cases in any order: it counts each dataset's rows
    /// so that it knows when the last one finished.
    pub(crate) fn new(settings: SnapshotSettings, cases: &[Case]) -> Book {
        let mut open: HashMap<PathBuf, Open> = HashMap::new();
        for case in cases.iter().filter(|c| c.row.is_some()) {
            open.entry(case.snapshot_path())
                .or_insert_with(|| Open {
                    remaining: 0,
                    stored: None,
                    first: None,
                    plan: None,
                    header: None,
                    lines: HashMap::new(),
                    confusion: Confusion::default(),
                    labelled: false,
                    counts: RowCounts::default(),
                })
                .remaining += 1;
        }
        for open in open.values_mut() {
            open.counts.selected = open.remaining;
        }
        Book { settings, open }
    }

    /// Settles a finished row's snapshot against its dataset's table (the row's verdict
    /// changes accordingly) and, after the dataset's last row, judges the dataset.
    pub(crate) fn row_finished(&mut self, case: &Arc<Case>, verdict: &mut CaseVerdict) -> Option<DatasetResult> {
        let row = case.row.as_ref()?;
        let path = case.snapshot_path();
        let open = self.open.get_mut(&path)?;
        if open.first.is_none() {
            open.first = Some(case.clone());
            open.plan = Some(row.dataset.clone());
        }
        let stored = open.stored.get_or_insert_with(|| {
            store::read_body(&path, &case.project_root).map(|b| b.map(|b| Table::parse(&b))).map_err(|e| e.to_string())
        });
        let tolerant = row.dataset.metrics.as_ref().is_some_and(|m| m.min_rows_passed.is_some());
        if let Some(outcome) = &verdict.row {
            let table = stored.as_ref().ok().and_then(Option::as_ref);
            let old = table.and_then(|t| t.line(&row.id)).map(str::to_owned);
            // The table is written whole: new when there is none, else changed.
            let target = target(
                if stored.as_ref().is_ok_and(Option::is_none) { SnapshotStatus::New } else { SnapshotStatus::Changed },
                self.settings.action,
                &path,
            );
            let accepted = target.as_ref() == Some(&path) || self.settings.force_pass;
            if stored.is_ok() {
                for (sample, line) in verdict.samples.iter_mut().zip(&outcome.lines) {
                    sample.snapshot_matched = line.as_ref().map(|l| old.as_deref() == Some(l.as_str()));
                }
            }
            let proposal = outcome.lines.iter().zip(&verdict.samples).find(|(_, s)| s.snapshot_matched == Some(false));
            let proposal =
                proposal.map(|(l, _)| l.clone()).unwrap_or_else(|| outcome.lines.iter().flatten().next().cloned());
            if let Some(line) = &proposal {
                open.lines.insert(row.id.clone(), line.clone());
                open.header.get_or_insert_with(|| outcome.header.clone());
                let status = match (&old, verdict.samples.iter().any(|s| s.snapshot_matched == Some(false))) {
                    (None, _) => SnapshotStatus::New,
                    (Some(_), true) => SnapshotStatus::Changed,
                    (Some(_), false) => SnapshotStatus::Matched,
                };
                let written = if status == SnapshotStatus::Matched { None } else { target.clone() };
                verdict.snapshot =
                    Some(SnapshotOutcome { status, path: path.clone(), written, old, new: Some(line.clone()) });
            }
            if let Some(expected) = &outcome.expected {
                open.labelled = true;
                open.confusion.add(expected, outcome.got.as_deref());
            }
            if verdict.problem.is_none() {
                let (status, passed, rate) = settle(&mut verdict.samples, accepted, case.spec.min_pass_rate);
                (verdict.status, verdict.passed_samples, verdict.pass_rate) = (status, passed, rate);
            }
        }
        verdict.tolerated = tolerant && matches!(verdict.status, Status::Failed | Status::Errored);
        match verdict.status {
            Status::Passed => open.counts.passed += 1,
            Status::Failed => open.counts.failed += 1,
            Status::Errored => open.counts.errored += 1,
            Status::Skipped => open.counts.skipped += 1,
        }
        open.remaining -= 1;
        if open.remaining > 0 {
            return None;
        }
        let open = self.open.remove(&path)?;
        finish(open, path, self.settings)
    }
}

/// Where a new or changed table goes under `action`, as for a single snapshot.
fn target(status: SnapshotStatus, action: UpdateAction, path: &std::path::Path) -> Option<PathBuf> {
    match (status, action) {
        (SnapshotStatus::New, UpdateAction::WriteUnseen | UpdateAction::Overwrite) => Some(path.to_owned()),
        (SnapshotStatus::Changed, UpdateAction::Overwrite) => Some(path.to_owned()),
        (SnapshotStatus::New | SnapshotStatus::Changed, UpdateAction::WritePending | UpdateAction::WriteUnseen) => {
            Some(store::pending_path(path))
        }
        _ => None,
    }
}

/// `None` only for a dataset none of whose rows finished, which cannot happen: a row
/// is recorded before the count goes down.
fn finish(open: Open, path: PathBuf, settings: SnapshotSettings) -> Option<DatasetResult> {
    let (first, plan) = (open.first?, open.plan?);
    let ran = open.counts.passed + open.counts.failed + open.counts.errored;
    let passed_share = wilson(open.counts.passed as u64, ran as u64);
    let label = plan.metrics.as_ref().and_then(|m| m.label.as_ref());
    let positive = label.and_then(|l| l.positive.clone());
    let scores = (open.labelled).then(|| open.confusion.scores(positive.as_deref()));
    let thresholds = thresholds(plan.metrics.as_ref(), &passed_share, scores.as_ref());
    let tolerant = plan.metrics.as_ref().is_some_and(|m| m.min_rows_passed.is_some());
    let mut problem = None;
    let snapshot = match (open.stored, open.header) {
        (Some(Err(e)), _) => {
            problem = Some(e);
            None
        }
        (Some(Ok(stored)), Some(header)) => {
            let outcome = table_outcome(&plan, stored.as_ref(), &header, &open.lines, &path, settings.action);
            match write(&outcome, &first, &plan, stored.as_ref(), &header, &open.lines) {
                Ok(()) => Some(outcome),
                Err(e) => {
                    problem = Some(e.to_string());
                    Some(TableOutcome { written: None, ..outcome })
                }
            }
        }
        // No row answered: nothing to compare or write.
        _ => None,
    };
    let snapshot_ok = snapshot.as_ref().is_none_or(|s| {
        matches!(s.status, SnapshotStatus::Matched | SnapshotStatus::Ignored)
            || s.written.as_ref() == Some(&s.path)
            || settings.force_pass
    });
    let rows_ok = tolerant || open.counts.failed + open.counts.errored == 0;
    // Over part of a dataset (a filter, a shard) thresholds are shown, not judged:
    // `merge-reports` judges them once the shards cover every row.
    let whole = open.counts.selected >= plan.row_ids.len();
    let thresholds_ok = !whole || thresholds.iter().all(|t| t.met);
    let passed = problem.is_none() && thresholds_ok && snapshot_ok && rows_ok && ran > 0;
    Some(DatasetResult {
        id: plan.id.clone(),
        scenario: first.file.clone(),
        data: plan.file.clone(),
        rows: RowCounts { total: plan.row_ids.len(), ..open.counts },
        passed_share,
        confusion: open.labelled.then_some(open.confusion),
        positive,
        scores,
        thresholds,
        snapshot,
        tolerant,
        problem,
        snapshot_ok,
        passed,
    })
}

/// The merged table against the stored one: rows of the dataset in order, each its new
/// line if it ran, else its stored line; rows no longer in the dataset are dropped.
fn merged_rows(plan: &DatasetPlan, stored: Option<&Table>, lines: &HashMap<String, String>) -> Vec<String> {
    plan.row_ids
        .iter()
        .filter_map(|id| lines.get(id).cloned().or_else(|| stored.and_then(|t| t.line(id)).map(str::to_owned)))
        .collect()
}

fn table_outcome(
    plan: &DatasetPlan,
    stored: Option<&Table>,
    header: &str,
    lines: &HashMap<String, String>,
    path: &std::path::Path,
    action: UpdateAction,
) -> TableOutcome {
    let mut changed = Vec::new();
    let mut added = Vec::new();
    for id in plan.row_ids.iter().filter(|id| lines.contains_key(*id)) {
        match stored.and_then(|t| t.line(id)) {
            None => added.push(id.clone()),
            Some(old) if Some(old) != lines.get(id).map(String::as_str) => changed.push(id.clone()),
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&String> = plan.row_ids.iter().collect();
    let removed: Vec<String> = stored
        .map(|t| t.rows.iter().filter(|(id, _)| !known.contains(id)).map(|(id, _)| id.clone()).collect())
        .unwrap_or_default();
    let header_changed = stored.is_some_and(|t| t.header != header);
    let status = match stored {
        None => SnapshotStatus::New,
        Some(_) if header_changed || !(changed.is_empty() && added.is_empty() && removed.is_empty()) => {
            SnapshotStatus::Changed
        }
        Some(_) => SnapshotStatus::Matched,
    };
    TableOutcome { status, path: path.to_owned(), written: target(status, action, path), changed, added, removed }
}

/// Writes the table where `outcome` says, or removes a stale proposal after a match.
fn write(
    outcome: &TableOutcome,
    first: &Case,
    plan: &DatasetPlan,
    stored: Option<&Table>,
    header: &str,
    lines: &HashMap<String, String>,
) -> Result<(), crate::fs::FsError> {
    let pending = store::pending_path(&outcome.path);
    match &outcome.written {
        Some(target) => {
            let body = table::render(header, &merged_rows(plan, stored, lines));
            let file = SnapshotFile::for_dataset(first, &plan.id, &plan.source, body);
            crate::fs::write_atomic(target, &file.render())
        }
        None if outcome.status == SnapshotStatus::Matched && pending.symlink_metadata().is_ok() => {
            crate::fs::remove(&pending)
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::LabelMetric;

    #[test]
    fn labels_come_from_a_regex_group_or_a_json_pointer() {
        let re = |p: &str| LabelExtract::Regex(p.to_owned());
        assert_eq!(extract_label(&re(r"label: (\w+)"), "I think label: spam here"), Some("spam".into()));
        assert_eq!(extract_label(&re(r"\b[01]\b"), "answer 1"), Some("1".into()));
        assert_eq!(extract_label(&re(r"(yes|no)"), "maybe"), None);
        let ptr = |p: &str| LabelExtract::JsonPointer(p.to_owned());
        assert_eq!(extract_label(&ptr("/violation"), "{\"violation\": 1}"), Some("1".into()));
        assert_eq!(extract_label(&ptr("/v"), "```json\n{\"v\": \" spam \"}\n```"), Some("spam".into()));
        assert_eq!(extract_label(&ptr("/ok"), "{\"ok\": true}"), Some("true".into()));
        assert_eq!(extract_label(&ptr("/violation"), "{\"violation\": null}"), None);
        assert_eq!(extract_label(&ptr("/violation"), "not json"), None);
    }

    #[test]
    fn thresholds_compare_what_was_measured() {
        let mut c = Confusion::default();
        for (e, g) in [("1", Some("1")), ("1", Some("0")), ("0", Some("0")), ("0", Some("0"))] {
            c.add(e, g);
        }
        let scores = c.scores(Some("1"));
        let label = LabelMetric {
            extract: LabelExtract::Regex(".".into()),
            expected: None,
            positive: Some("1".into()),
            min_accuracy: Some(0.75),
            min_f1: Some(0.7),
            min_precision: None,
            min_recall: Some(0.6),
        };
        let metrics = Metrics { min_rows_passed: Some(0.9), label: Some(label) };
        let t = thresholds(Some(&metrics), &wilson(3, 4), Some(&scores));
        let seen: Vec<(&str, bool)> = t.iter().map(|t| (t.name, t.met)).collect();
        // accuracy 0.75 (met at equality), f1 2/3, recall 0.5, rows passed 0.75.
        assert_eq!(
            seen,
            [("min_rows_passed", false), ("min_accuracy", true), ("min_f1", false), ("min_recall", false)]
        );
        assert!(thresholds(None, &wilson(0, 0), None).is_empty());
    }

    fn plan(ids: &[&str]) -> DatasetPlan {
        DatasetPlan {
            id: "d".into(),
            file: "d.csv".into(),
            source: "d.csv".into(),
            row_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            metrics: None,
            templates: Arc::new(
                crate::plan::template::Templates::compile(
                    &serde_json::from_value(serde_json::json!({"name": "d"})).unwrap(),
                )
                .0,
            ),
            base: minijinja::Value::UNDEFINED,
        }
    }

    #[test]
    fn the_table_keeps_rows_not_run_drops_rows_gone_and_names_each_change() {
        let header = table::header(&["final"]);
        let stored = Table::parse(&table::render(
            &header,
            &[
                table::row_line("a", ["1".into()]),
                table::row_line("b", ["0".into()]),
                table::row_line("gone", ["0".into()]),
            ],
        ));
        let lines: HashMap<String, String> = [("b", "1"), ("c", "1")]
            .iter()
            .map(|(id, v)| ((*id).to_owned(), table::row_line(id, [(*v).to_owned()])))
            .collect();
        let p = plan(&["a", "b", "c"]);
        let path = std::path::Path::new("d.snap");
        let outcome = table_outcome(&p, Some(&stored), &header, &lines, path, UpdateAction::WritePending);
        assert_eq!(outcome.status, SnapshotStatus::Changed);
        assert_eq!(
            (outcome.changed, outcome.added, outcome.removed),
            (vec!["b".into()], vec!["c".into()], vec!["gone".into()])
        );
        assert_eq!(outcome.written, Some(PathBuf::from("d.snap.new")));
        assert_eq!(merged_rows(&p, Some(&stored), &lines), ["| a | 1 |", "| b | 1 |", "| c | 1 |"]);
        let same: HashMap<String, String> = [("a".to_owned(), table::row_line("a", ["1".into()]))].into();
        let p = plan(&["a", "b", "gone"]);
        let matched = table_outcome(&p, Some(&stored), &header, &same, path, UpdateAction::Nothing);
        assert_eq!((matched.status, matched.written), (SnapshotStatus::Matched, None));
    }
}
