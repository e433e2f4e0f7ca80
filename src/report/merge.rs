//! `merge-reports`: shard records merged into one record of the whole run, which every
//! format then renders as it renders a run's.

use std::sync::Arc;

use super::baseline::{Baseline, Comparison};
use super::case::SamplesRecord;
use super::dataset::DatasetRecord;
use super::record::{FORMAT, ModeRecord, RunEnd, RunHead, RunRecord, SummaryRecord};

/// The shards as one run: every case, each dataset's rows added up, the totals counted
/// again, and the comparison with `baseline` made over all of them.
pub(crate) fn merge(runs: Vec<RunRecord>, baseline: Option<Arc<Baseline>>) -> RunRecord {
    let interrupted = runs.iter().any(|r| r.summary.interrupted);
    let batch = merged_batch(&runs);
    let head = RunHead {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: runs.iter().map(|r| r.started_at.clone()).min().unwrap_or_default(),
        filters: runs.iter().flat_map(|r| r.filters.iter().cloned()).collect(),
    };
    // Shards run side by side: the merged run took as long as the slowest.
    let duration_ms = runs.iter().map(|r| r.duration_ms).max().unwrap_or(0);
    let mut modes: Vec<Option<String>> = runs.iter().map(|r| r.mode.requested.clone()).collect();
    modes.dedup();
    let requested = match modes.as_slice() {
        [one] => one.clone(),
        _ => Some("mixed".to_owned()),
    };
    // A dataset's rows are spread over the shards: its records add up.
    let mut datasets: Vec<DatasetRecord> = Vec::new();
    for d in runs.iter().flat_map(|r| &r.datasets) {
        match datasets.iter_mut().find(|m| m.id == d.id && m.scenario == d.scenario) {
            Some(merged) => merged.merge(d),
            None => datasets.push(d.clone()),
        }
    }
    let mut cases: Vec<_> = runs.into_iter().flat_map(|r| r.cases).collect();
    // Reports written before the interval was recorded default it: recompute from the counts.
    for case in &mut cases {
        case.samples = SamplesRecord::of(case.samples.n, case.samples.passed);
    }
    let baseline = baseline.map(|b| {
        let mut comparison = Comparison::new(b);
        cases.iter().for_each(|c| comparison.add(c));
        comparison.finish()
    });
    let end = RunEnd {
        duration_ms,
        mode: ModeRecord { batch, ..ModeRecord::from_cases(requested, &cases) },
        summary: SummaryRecord::from_cases(&cases, &datasets, interrupted),
        datasets,
        baseline,
    };
    RunRecord::assemble(head, cases, end)
}

/// The shards' batch records as one: every job, the longest times (shards run side by side).
fn merged_batch(runs: &[RunRecord]) -> Option<super::record::BatchRecord> {
    let all: Vec<_> = runs.iter().filter_map(|r| r.mode.batch.as_ref()).collect();
    (!all.is_empty()).then(|| super::record::BatchRecord {
        jobs: all.iter().flat_map(|b| b.jobs.iter().cloned()).collect(),
        work_ms: all.iter().map(|b| b.work_ms).max().unwrap_or(0),
        wait_ms: all.iter().map(|b| b.wait_ms).max().unwrap_or(0),
    })
}
