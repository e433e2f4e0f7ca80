//! `--baseline PREVIOUS.json`: each case compared with the same case (by id) of an
//! earlier report: new failures, fixed cases, cases still failing, answers that changed
//! (after normalization), tokens or latency that moved beyond a threshold, and pass
//! rates that dropped or rose by more than chance explains (`stats`). Pure: a
//! [`Comparison`] takes case records one by one, as reporters see them.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::ReportError;
use super::case::CaseRecord;
use super::record::{BaselineRecord, Moved, PassCount, RateChange, RunRecord};
use crate::normalize::normalize;
use crate::verdict::Status;

/// Latency moves by less than this are noise, whatever the ratio.
const LATENCY_FLOOR_MS: u64 = 100;

/// The earlier report, kept as what a comparison needs of each case.
#[derive(Debug, Clone)]
pub(crate) struct Baseline {
    file: String,
    threshold: f64,
    alpha: f64,
    cases: HashMap<String, Before>,
}

#[derive(Debug, Clone)]
struct Before {
    failing: bool,
    /// The normalized answer, when one sample shows it (with several, which one is
    /// shown depends on which failed, so it says nothing of a change).
    answer: Option<String>,
    output_tokens: Option<u64>,
    latency_ms: Option<u64>,
    /// Its samples' passes, when it was sampled.
    count: Option<PassCount>,
}

impl Baseline {
    /// Reads `path` (a `--report-json` or `merge-reports` report), called `name` in
    /// what is printed (the file's path without one). `threshold` is the relative change
    /// (0.25: 25%) beyond which tokens and latency are reported; `alpha` the false
    /// discovery rate of the pass rates found to have changed.
    pub(crate) fn read(path: &Path, name: Option<&str>, threshold: f64, alpha: f64) -> Result<Baseline, ReportError> {
        let name = name.map_or_else(|| crate::fs::shown(path), str::to_owned);
        Ok(Baseline::of(&name, &super::read::read(path)?, threshold, alpha))
    }

    pub(crate) fn of(file: &str, run: &RunRecord, threshold: f64, alpha: f64) -> Baseline {
        let cases = run
            .cases
            .iter()
            .filter(|c| c.status != Status::Skipped)
            .map(|c| {
                let before = Before {
                    failing: failing(c),
                    answer: answer(c),
                    output_tokens: c.usage.map(|u| u.output_tokens),
                    latency_ms: c.latency_ms,
                    count: count(c),
                };
                (c.id.clone(), before)
            })
            .collect();
        Baseline { file: file.to_owned(), threshold, alpha, cases }
    }
}

/// Failed or errored, and not a row its dataset's `min_rows_passed` judges instead.
fn failing(case: &CaseRecord) -> bool {
    matches!(case.status, Status::Failed | Status::Errored) && !case.tolerated
}

/// A sampled case's passes (two samples or more: a single answer is a new failure or a
/// fix, not a rate); an errored case says nothing of its rate.
fn count(case: &CaseRecord) -> Option<PassCount> {
    let ran = case.status != Status::Errored && case.samples.n >= 2;
    ran.then_some(PassCount { passed: case.samples.passed, n: case.samples.n })
}

fn answer(case: &CaseRecord) -> Option<String> {
    (case.samples.n <= 1).then(|| case.final_text.as_deref().map(normalize)).flatten()
}

/// A comparison in progress: cases are added as they finish.
#[derive(Debug, Clone)]
pub(crate) struct Comparison {
    baseline: std::sync::Arc<Baseline>,
    record: BaselineRecord,
    seen: HashSet<String>,
    /// Each case's passes in the baseline and now, judged together at the end.
    rates: Vec<(String, PassCount, PassCount)>,
}

impl Comparison {
    pub(crate) fn new(baseline: std::sync::Arc<Baseline>) -> Comparison {
        let record = BaselineRecord {
            file: baseline.file.clone(),
            threshold: baseline.threshold,
            alpha: baseline.alpha,
            ..Default::default()
        };
        Comparison { baseline, record, seen: HashSet::new(), rates: Vec::new() }
    }

    /// Compares one case with its baseline self.
    pub(crate) fn add(&mut self, case: &CaseRecord) {
        if case.status == Status::Skipped {
            return;
        }
        self.seen.insert(case.id.clone());
        let r = &mut self.record;
        let id = || case.id.clone();
        let Some(before) = self.baseline.cases.get(&case.id) else {
            r.new_cases.push(id());
            return;
        };
        if let (Some(then), Some(now)) = (before.count, count(case)) {
            self.rates.push((case.id.clone(), then, now));
        }
        let now = failing(case);
        match (before.failing, now) {
            (false, true) => r.new_failures.push(id()),
            (true, false) => r.fixed.push(id()),
            (true, true) => r.still_failing.push(id()),
            (false, false) => {}
        }
        // A case that broke or was fixed is listed as such: its answer changing is no news.
        if before.failing == now
            && let (Some(old), Some(new)) = (&before.answer, answer(case))
            && *old != new
        {
            r.answers_changed.push(id());
        }
        let threshold = self.baseline.threshold;
        let new_tokens = case.usage.map(|u| u.output_tokens);
        if let Some(m) = moved(&case.id, before.output_tokens, new_tokens, threshold, 1) {
            r.tokens_changed.push(m);
        }
        if let Some(m) = moved(&case.id, before.latency_ms, case.latency_ms, threshold, LATENCY_FLOOR_MS) {
            r.latency_changed.push(m);
        }
    }

    /// The record, with the baseline's cases that were not run, every list sorted.
    pub(crate) fn finish(mut self) -> BaselineRecord {
        let mut missing: Vec<String> =
            self.baseline.cases.keys().filter(|id| !self.seen.contains(*id)).cloned().collect();
        missing.sort();
        let r = &mut self.record;
        r.missing_cases = missing;
        let counts = |c: PassCount| crate::stats::Count { passed: c.passed.into(), n: c.n.into() };
        let pairs: Vec<_> = self.rates.iter().map(|(_, then, now)| (counts(*then), counts(*now))).collect();
        for ((id, before, after), judged) in self.rates.drain(..).zip(crate::stats::significant(&pairs, r.alpha)) {
            let change = RateChange { id, before, after, p_value: judged.p, q_value: judged.q };
            match judged.change {
                crate::stats::Change::Regressed => r.regressed.push(change),
                crate::stats::Change::Improved => r.improved.push(change),
                crate::stats::Change::NotSignificant => r.changed_not_significant.push(change),
                crate::stats::Change::Same => {}
            }
        }
        for list in [&mut r.regressed, &mut r.improved, &mut r.changed_not_significant] {
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
        for list in [&mut r.new_failures, &mut r.fixed, &mut r.still_failing, &mut r.answers_changed, &mut r.new_cases]
        {
            list.sort();
        }
        r.tokens_changed.sort_by(|a, b| a.id.cmp(&b.id));
        r.latency_changed.sort_by(|a, b| a.id.cmp(&b.id));
        self.record
    }
}

/// `before` -> `after` when it moved by more than `threshold` of `before` and `floor`.
fn moved(id: &str, before: Option<u64>, after: Option<u64>, threshold: f64, floor: u64) -> Option<Moved> {
    let (before, after) = (before?, after?);
    let delta = before.abs_diff(after);
    let beyond = delta >= floor && delta as f64 > threshold * before.max(1) as f64;
    beyond.then(|| Moved { id: id.to_owned(), before, after })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::case::UsageRecord;

    fn case(id: &str, status: Status, answer: &str, tokens: u64, latency: u64) -> CaseRecord {
        let mut c: CaseRecord = serde_json::from_value(serde_json::json!({
            "id": id, "scenario": "s.yaml", "api": "chat", "model": "m", "params": {}, "status": status,
            "final": answer, "reasoning": "", "stop_reason": "end_turn", "tool_calls": [], "usage": null,
            "latency_ms": latency, "flags": [], "error": null, "assertions": [], "snapshot": null,
            "samples": {"n": 1, "passed": 1, "rate": 1.0}, "skip_reason": null, "duration_ms": 1
        }))
        .unwrap();
        c.usage = Some(UsageRecord { input_tokens: 10, output_tokens: tokens });
        c
    }

    #[test]
    fn failures_fixes_changed_answers_and_moved_figures_are_found() {
        let before = RunRecord {
            cases: vec![
                case("steady", Status::Passed, "Paris.", 100, 1000),
                case("breaks", Status::Passed, "Paris.", 100, 1000),
                case("heals", Status::Failed, "Lyon.", 100, 1000),
                case("stuck", Status::Errored, "", 100, 1000),
                case("reworded", Status::Passed, "Paris.", 100, 1000),
                case("gone", Status::Passed, "x", 1, 1),
            ],
            ..serde_json::from_value(serde_json::json!({
                "format": 1, "version": "0", "started_at": "", "duration_ms": 0, "filters": [],
                "summary": {"cases": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0,
                    "pending_snapshots": 0, "input_tokens": 0, "output_tokens": 0, "interrupted": false},
                "cases": []
            }))
            .unwrap()
        };
        let mut c = Comparison::new(std::sync::Arc::new(Baseline::of("last.json", &before, 0.25, 0.05)));
        c.add(&case("steady", Status::Passed, "Paris.\r\n", 110, 1050));
        c.add(&case("breaks", Status::Failed, "Paris.", 100, 1000));
        c.add(&case("heals", Status::Passed, "Lyon.", 100, 1000));
        c.add(&case("stuck", Status::Errored, "", 200, 1000));
        c.add(&case("reworded", Status::Passed, "The capital is Paris.", 100, 2000));
        c.add(&case("fresh", Status::Passed, "x", 1, 1));
        let r = c.finish();
        assert_eq!(r.new_failures, ["breaks"]);
        assert_eq!(r.fixed, ["heals"]);
        assert_eq!(r.still_failing, ["stuck"]);
        assert_eq!(r.answers_changed, ["reworded"], "normalized: a CRLF is no change; a fixed case is listed as fixed");
        assert_eq!(r.tokens_changed, [Moved { id: "stuck".into(), before: 100, after: 200 }]);
        assert_eq!(r.latency_changed, [Moved { id: "reworded".into(), before: 1000, after: 2000 }]);
        assert_eq!(
            (r.new_cases.as_slice(), r.missing_cases.as_slice()),
            (&["fresh".to_owned()][..], &["gone".to_owned()][..])
        );
        assert_eq!(
            r.headline(),
            "since last.json: 1 new failure, 1 fixed, 1 answer changed, 1 still failing, 1 case with tokens moved, 1 case with latency moved, 1 new case, 1 case not run"
        );
        let plain = |id: &str| id.to_owned();
        assert_eq!(r.lists(10, plain)[0], "new failures: breaks");
        assert!(r.lists(10, plain).contains(&"latency moved: reworded (1000 -> 2000 ms)".to_owned()));
        assert_eq!(r.lists(10, |id| format!("`{id}`"))[1], "fixed: `heals`");
    }

    #[test]
    fn sampled_pass_rates_are_judged_regressed_or_not_significant() {
        let sampled = |id: &str, passed: u32, n: u32| {
            let mut c = case(id, Status::Passed, "", 1, 1);
            c.samples.n = n;
            c.samples.passed = passed;
            c
        };
        let cases = [sampled("drops", 10, 10), sampled("dips", 10, 10), sampled("single", 1, 1)]
            .iter()
            .map(|c| {
                let before =
                    Before { failing: false, answer: None, output_tokens: None, latency_ms: None, count: count(c) };
                (c.id.clone(), before)
            })
            .collect();
        let before = Baseline { file: "x".into(), threshold: 0.25, alpha: 0.05, cases };
        let mut c = Comparison::new(std::sync::Arc::new(before));
        c.add(&sampled("drops", 6, 10));
        c.add(&sampled("dips", 9, 10));
        c.add(&sampled("single", 0, 1));
        let r = c.finish();
        let ids = |l: &[RateChange]| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&r.regressed), ["drops"]);
        assert_eq!(ids(&r.changed_not_significant), ["dips"], "a single answer is no rate");
        assert_eq!(r.regressed[0].after, PassCount { passed: 6, n: 10 });
        assert!(r.headline().contains("1 regressed, 1 changed, not significant"), "{}", r.headline());
        assert_eq!(r.lists(10, str::to_owned)[0], "regressed: drops (10/10 -> 6/10, q 0.043)");
        assert_eq!(r.lists(10, str::to_owned)[1], "changed, not significant: dips (10/10 -> 9/10, p 0.500)");
    }
}
