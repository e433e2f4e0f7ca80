//! `merge-reports`: shard records merged into one record of the whole run, which every
//! format then renders as it renders a run's. A set that does not add up to one run
//! (a report twice, shards of two splits or of two plans, a shard missing) is refused
//! first ([`check`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::baseline::{Baseline, Comparison};
use super::case::SamplesRecord;
use super::dataset::DatasetRecord;
use super::record::{FORMAT, ModeRecord, RunEnd, RunHead, RunRecord, SummaryRecord};

/// The shards as one run: every case, each dataset's rows added up, the totals counted
/// again, and the comparison with `baseline` made over all of them.
pub(crate) fn merge(runs: Vec<RunRecord>, baseline: Option<Arc<Baseline>>, partial: bool) -> RunRecord {
    let interrupted = runs.iter().any(|r| r.summary.interrupted);
    let batch = merged_batch(&runs);
    let mut plans: Vec<Option<String>> = runs.iter().map(|r| r.plan.clone()).collect();
    plans.dedup();
    let shards: BTreeSet<(u32, u32)> = runs.iter().filter_map(|r| r.shard.as_deref().and_then(shard_of)).collect();
    let head = RunHead {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: runs.iter().map(|r| r.started_at.clone()).min().unwrap_or_default(),
        filters: runs.iter().flat_map(|r| r.filters.iter().cloned()).collect(),
        shard: shards.last().map(|&(_, n)| {
            let ks: Vec<String> = shards.iter().map(|(k, _)| k.to_string()).collect();
            format!("{}/{n}", ks.join(","))
        }),
        plan: if let [one] = plans.as_slice() { one.clone() } else { None },
        partial: partial || runs.iter().any(|r| r.partial),
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

/// Why a set of reports is not the shards of one run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MergeError {
    #[error("{first} and {second} both hold case `{id}`: the same report twice, or shards of two runs")]
    Overlap { id: String, first: String, second: String },
    #[error("{first} and {second} are shards of different plans (other suites, selections or samples)")]
    Plans { first: String, second: String },
    #[error("{first} is shard {k}/{n} and {second} shard {j}/{m}: shards of two splits")]
    Splits { first: String, k: u32, n: u32, second: String, j: u32, m: u32 },
    #[error(
        "{first} names no shard (the whole suite, or a report from before shards were recorded) and {second} is one shard"
    )]
    Whole { first: String, second: String },
    #[error("{first} and {second} are both shard {k}/{n}")]
    Twice { first: String, second: String, k: u32, n: u32 },
    #[error("shard{} {} of {n} missing: merge every shard, or pass --allow-partial to merge what there is", if missing.len() == 1 { "" } else { "s" }, list(missing))]
    Gap { missing: Vec<u32>, n: u32 },
}

fn list(ks: &[u32]) -> String {
    ks.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// `K/N` as a report records it.
fn shard_of(text: &str) -> Option<(u32, u32)> {
    crate::plan::select::parse_shard(text).ok()
}

/// Checks that `runs` (each with the name it is shown by) are the shards of one run:
/// no case twice, one plan, one split, no shard twice, and none missing unless
/// `allow_partial`. `Ok(true)`: the set is knowingly partial.
pub(crate) fn check(runs: &[(String, &RunRecord)], allow_partial: bool) -> Result<bool, MergeError> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (name, run) in runs {
        for case in &run.cases {
            if let Some(first) = seen.insert(&case.id, name) {
                let (first, second) = (first.to_owned(), name.clone());
                return Err(MergeError::Overlap { id: case.id.clone(), first, second });
            }
        }
    }
    let named = |i: usize| runs[i].0.clone();
    let plans: Vec<(usize, &str)> =
        runs.iter().enumerate().filter_map(|(i, (_, r))| Some((i, r.plan.as_deref()?))).collect();
    if let Some(&(other, _)) = plans.iter().find(|(_, p)| Some(*p) != plans.first().map(|f| f.1)) {
        return Err(MergeError::Plans { first: named(plans[0].0), second: named(other) });
    }
    let shards: Vec<(usize, Option<(u32, u32)>)> =
        runs.iter().enumerate().map(|(i, (_, r))| (i, r.shard.as_deref().and_then(shard_of))).collect();
    let Some(&(first, Some((k, n)))) = shards.iter().find(|(_, s)| s.is_some()) else { return Ok(false) };
    let mut have: HashMap<u32, usize> = HashMap::new();
    for &(i, shard) in &shards {
        match shard {
            None => return Err(MergeError::Whole { first: named(i), second: named(first) }),
            Some((j, m)) if m != n => {
                return Err(MergeError::Splits { first: named(first), k, n, second: named(i), j, m });
            }
            Some((j, _)) => {
                if let Some(earlier) = have.insert(j, i) {
                    return Err(MergeError::Twice { first: named(earlier), second: named(i), k: j, n });
                }
            }
        }
    }
    let missing: Vec<u32> = (1..=n).filter(|k| !have.contains_key(k)).collect();
    match (missing.is_empty(), allow_partial) {
        (true, _) => Ok(false),
        (false, true) => Ok(true),
        (false, false) => Err(MergeError::Gap { missing, n }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(shard: Option<&str>, plan: &str, ids: &[&str]) -> RunRecord {
        let cases: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| {
                serde_json::json!({"id": id, "scenario": "s.yaml", "api": "chat", "model": "m", "params": {},
                    "status": "passed", "final": "", "reasoning": "", "stop_reason": "end_turn", "tool_calls": [],
                    "usage": null, "latency_ms": 1, "flags": [], "error": null, "assertions": [], "snapshot": null,
                    "samples": {"n": 1, "passed": 1, "rate": 1.0}, "skip_reason": null, "duration_ms": 1})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "format": 1, "version": "0", "started_at": "", "duration_ms": 0, "filters": [],
            "shard": shard, "plan": plan,
            "summary": {"cases": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0,
                "pending_snapshots": 0, "input_tokens": 0, "output_tokens": 0, "interrupted": false},
            "cases": cases
        }))
        .unwrap()
    }

    fn checked(runs: &[(&str, &RunRecord)], allow_partial: bool) -> Result<bool, MergeError> {
        let named: Vec<(String, &RunRecord)> = runs.iter().map(|(n, r)| ((*n).to_owned(), *r)).collect();
        check(&named, allow_partial)
    }

    #[test]
    fn a_whole_shard_set_merges_and_one_that_does_not_add_up_is_refused_saying_why() {
        let (one, two, three) =
            (shard(Some("1/3"), "p", &["a"]), shard(Some("2/3"), "p", &["b"]), shard(Some("3/3"), "p", &[]));
        assert_eq!(checked(&[("1", &one), ("2", &two), ("3", &three)], false), Ok(false));
        let twice = checked(&[("a.json", &one), ("b.json", &one)], false).unwrap_err();
        assert_eq!(
            twice.to_string(),
            "a.json and b.json both hold case `a`: the same report twice, or shards of two runs"
        );
        let gap = checked(&[("1", &one), ("3", &three)], false).unwrap_err();
        assert_eq!(
            gap.to_string(),
            "shard 2 of 3 missing: merge every shard, or pass --allow-partial to merge what there is"
        );
        assert_eq!(checked(&[("1", &one), ("3", &three)], true), Ok(true), "knowingly partial");
        let other = shard(Some("2/3"), "q", &["b"]);
        assert!(matches!(checked(&[("1", &one), ("2", &other)], false), Err(MergeError::Plans { .. })));
        let split = shard(Some("2/4"), "p", &["b"]);
        assert!(matches!(
            checked(&[("1", &one), ("2", &split)], false),
            Err(MergeError::Splits { k: 1, n: 3, j: 2, m: 4, .. })
        ));
        let empty_again = shard(Some("3/3"), "p", &[]);
        assert!(matches!(checked(&[("3", &three), ("3b", &empty_again)], true), Err(MergeError::Twice { k: 3, .. })));
        let whole = shard(None, "p", &["c"]);
        assert!(matches!(checked(&[("1", &one), ("w", &whole)], false), Err(MergeError::Whole { .. })));
        // Reports of before shards and plans were recorded merge as they did.
        assert_eq!(checked(&[("x", &shard(None, "p", &["x"])), ("y", &shard(None, "p", &["y"]))], false), Ok(false));
    }

    #[test]
    fn the_merge_says_which_shards_it_holds_and_whether_it_is_partial() {
        let runs = vec![shard(Some("1/3"), "p", &["a"]), shard(Some("3/3"), "p", &["c"])];
        let merged = merge(runs, None, true);
        assert_eq!((merged.shard.as_deref(), merged.plan.as_deref(), merged.partial), (Some("1,3/3"), Some("p"), true));
    }
}
