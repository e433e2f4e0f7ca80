//! The datasets of a run as their rows finish: each row settled against its
//! dataset's stored snapshot table, then, after its last row, the dataset judged
//! (metrics, thresholds) and its table written once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::dataset::{DatasetResult, RowCounts, TableOutcome, thresholds};
use super::metrics::{Confusion, wilson};
use super::snapshot::SnapshotFile;
use super::table::{self, Table};
use super::{
    CaseVerdict, SnapshotOutcome, SnapshotSettings, SnapshotStatus, Status, UpdateAction, settle, store, target,
};
use crate::plan::{Case, DatasetPlan};

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
            store::read_body(&path).map(|b| b.map(|b| Table::parse(&b))).map_err(|e| e.to_string())
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
                verdict.snapshot = Some(SnapshotOutcome {
                    status,
                    path: path.clone(),
                    written,
                    old,
                    new: Some(line.clone()),
                    reworded: None,
                });
            }
            if let Some(expected) = &outcome.expected {
                open.labelled = true;
                open.confusion.add(expected, outcome.got.as_deref());
            }
            if verdict.problem.is_none() {
                let (status, passed, rate) = settle(&mut verdict.samples, accepted, &case.spec);
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

/// `None` for a dataset none of whose rows ran.
fn finish(open: Open, path: PathBuf, settings: SnapshotSettings) -> Option<DatasetResult> {
    let (first, plan) = (open.first?, open.plan?);
    let ran = open.counts.passed + open.counts.failed + open.counts.errored;
    // Every row skipped (`skip: true`, another scenario `only`): nothing to judge.
    if ran == 0 {
        return None;
    }
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
    let whole = open.counts.selected >= plan.rows.len();
    let thresholds_ok = !whole || thresholds.iter().all(|t| t.met);
    let passed = problem.is_none() && thresholds_ok && snapshot_ok && rows_ok;
    Some(DatasetResult {
        id: plan.id.clone(),
        scenario: first.file.clone(),
        data: plan.file.clone(),
        rows: RowCounts { total: plan.rows.len(), ..open.counts },
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
    plan.row_ids()
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
    for id in plan.row_ids().filter(|id| lines.contains_key(*id)) {
        match stored.and_then(|t| t.line(id)) {
            None => added.push(id.clone()),
            Some(old) if Some(old) != lines.get(id).map(String::as_str) => changed.push(id.clone()),
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&String> = plan.row_ids().collect();
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

    fn plan(ids: &[&str]) -> DatasetPlan {
        DatasetPlan {
            id: "d".into(),
            file: "d.csv".into(),
            source: "d.csv".into(),
            rows: ids
                .iter()
                .map(|id| Arc::new(crate::load::dataset::Row::new((*id).to_owned(), 1, &serde_json::Map::new())))
                .collect(),
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
