//! Verdict: judges a case's responses against its assertions and its stored
//! snapshot, decides what to write (insta's update rules), and says whether the case
//! passed given its pass-rate. The main entry point is [`judge`].

pub(crate) mod assertions;
pub(crate) mod book;
pub(crate) mod dataset;
pub(crate) mod metrics;
pub(crate) mod semantic;
pub(crate) mod snapshot;
pub(crate) mod store;
pub(crate) mod table;
pub(crate) mod yaml;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::grading::{Grade, GradeError, SampleGrades};
use crate::plan::Case;
use crate::response::ModelResponse;
use crate::scenario::Scenario;
use assertions::AssertionResult;
use snapshot::{SnapshotFile, SnapshotRules, contents_match};

/// What the user asked for, by `INSTA_UPDATE` or `--update-snapshots`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateRequest {
    /// `new` locally, `no` on CI.
    Auto,
    /// Write `<name>.snap.new` next to the snapshot.
    New,
    /// Overwrite the snapshot.
    Always,
    /// Write new snapshots directly, changed ones as `.snap.new`.
    Unseen,
    /// Write nothing.
    No,
}

impl UpdateRequest {
    pub(crate) const ALL: [UpdateRequest; 5] =
        [UpdateRequest::Auto, UpdateRequest::New, UpdateRequest::Always, UpdateRequest::Unseen, UpdateRequest::No];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UpdateRequest::Auto => "auto",
            UpdateRequest::New => "new",
            UpdateRequest::Always => "always",
            UpdateRequest::Unseen => "unseen",
            UpdateRequest::No => "no",
        }
    }
}

/// What the tool will do with a new or changed snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateAction {
    WritePending,
    Overwrite,
    WriteUnseen,
    Nothing,
}

/// Snapshot behaviour for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotSettings {
    pub(crate) action: UpdateAction,
    /// `INSTA_FORCE_PASS`: a changed or new snapshot does not fail the case.
    pub(crate) force_pass: bool,
}

/// An `INSTA_UPDATE` value insta does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("INSTA_UPDATE={0} is not one of auto, new, always, unseen, no")]
pub(crate) struct UpdateError(String);

impl SnapshotSettings {
    /// From the flags (which win) and the environment, as insta reads it.
    pub(crate) fn resolve(
        flag: Option<UpdateRequest>,
        accept: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<SnapshotSettings, UpdateError> {
        let request = if accept {
            UpdateRequest::Always
        } else if let Some(flag) = flag {
            flag
        } else {
            match env("INSTA_UPDATE").as_deref().map(str::trim) {
                None | Some("" | "auto") => UpdateRequest::Auto,
                Some("new") => UpdateRequest::New,
                Some("always" | "1" | "force") => UpdateRequest::Always,
                Some("unseen") => UpdateRequest::Unseen,
                Some("no" | "0") => UpdateRequest::No,
                Some(other) => {
                    return Err(UpdateError(other.to_owned()));
                }
            }
        };
        let is_ci = env("CI").is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"));
        let action = match request {
            UpdateRequest::Auto if is_ci => UpdateAction::Nothing,
            UpdateRequest::Auto | UpdateRequest::New => UpdateAction::WritePending,
            UpdateRequest::Always => UpdateAction::Overwrite,
            UpdateRequest::Unseen => UpdateAction::WriteUnseen,
            UpdateRequest::No => UpdateAction::Nothing,
        };
        let force_pass = env("INSTA_FORCE_PASS").is_some_and(|v| matches!(v.trim(), "1" | "true"));
        Ok(SnapshotSettings { action, force_pass })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Passed,
    Failed,
    Errored,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SnapshotStatus {
    /// Every sample matched the stored snapshot.
    Matched,
    /// A sample differs from the stored snapshot.
    Changed,
    /// There is no stored snapshot yet.
    New,
    /// The policy keeps nothing, so there is no snapshot.
    Ignored,
}

/// What happened to a case's snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SnapshotOutcome {
    pub(crate) status: SnapshotStatus,
    pub(crate) path: PathBuf,
    /// What was written: the `.snap.new` or the `.snap` itself.
    pub(crate) written: Option<PathBuf>,
    /// The stored body and the new one, for a diff.
    pub(crate) old: Option<String>,
    pub(crate) new: Option<String>,
    /// `final: semantic`: the equivalence grade of the answer shown, when it was
    /// worded differently (judged equivalent when matched, not when changed).
    pub(crate) reworded: Option<Grade>,
}

/// One run of a case, judged.
#[derive(Debug, Clone)]
pub(crate) struct SampleOutcome {
    pub(crate) response: ModelResponse,
    pub(crate) assertions: Vec<AssertionResult>,
    /// `None` when the sample errored, nothing is snapshotted, or a reworded answer
    /// could not be judged.
    pub(crate) snapshot_matched: Option<bool>,
    pub(crate) passed: bool,
    /// It did not pass for want of an answer, not for a wrong one: the call errored, or
    /// a grader did while nothing else failed. Decided with `passed` (`settle`).
    pub(crate) errored: bool,
    /// What graders said of it (`judge` checks, a semantic snapshot's rewording).
    pub(crate) grades: SampleGrades,
}

impl SampleOutcome {
    fn unjudged(response: ModelResponse, grades: SampleGrades) -> SampleOutcome {
        let errored = response.error.is_some();
        SampleOutcome { response, assertions: Vec::new(), snapshot_matched: None, passed: false, errored, grades }
    }

    /// The first grader error that left it undecided (and whether asking again may
    /// help), when the call itself answered.
    pub(crate) fn judge_error(&self) -> Option<(String, bool)> {
        if !self.errored || self.response.error.is_some() {
            return None;
        }
        let check = self.grades.checks.iter().find_map(|(_, g)| g.outcome.as_ref().err());
        let (what, error) = match (check, self.equivalence_error()) {
            (Some(e), _) => ("a `judge` check", e),
            (None, Some(e)) => ("the semantic snapshot's comparison", e),
            (None, None) => return None,
        };
        Some((format!("{what} errored: {error}"), error.retryable()))
    }

    fn equivalence_error(&self) -> Option<&GradeError> {
        self.grades.equivalence.as_ref().and_then(|g| g.outcome.as_ref().err())
    }
}

/// A case, judged.
#[derive(Debug, Clone)]
pub(crate) struct CaseVerdict {
    pub(crate) status: Status,
    pub(crate) samples: Vec<SampleOutcome>,
    pub(crate) snapshot: Option<SnapshotOutcome>,
    pub(crate) passed_samples: u32,
    pub(crate) pass_rate: f64,
    /// A problem with the case itself (a snapshot that cannot be written, a schema file
    /// that vanished since loading), reported as an error of the case.
    pub(crate) problem: Option<String>,
    /// A dataset row: its line of the dataset's snapshot table and its labels.
    pub(crate) row: Option<dataset::RowOutcome>,
    /// A row whose failure the dataset's `min_rows_passed` judges, not the row itself.
    pub(crate) tolerated: bool,
}

impl CaseVerdict {
    pub(crate) fn skipped() -> CaseVerdict {
        CaseVerdict {
            status: Status::Skipped,
            samples: Vec::new(),
            snapshot: None,
            passed_samples: 0,
            pass_rate: 0.0,
            problem: None,
            row: None,
            tolerated: false,
        }
    }

    /// A case that could not be judged at all.
    /// A case that ended without a verdict of its own (cancelled, or its task failed):
    /// one errored sample holding `response`.
    pub(crate) fn errored(response: ModelResponse) -> CaseVerdict {
        let sample = SampleOutcome::unjudged(response, SampleGrades::default());
        CaseVerdict { status: Status::Errored, ..CaseVerdict::with_samples(vec![sample]) }
    }

    fn problem(message: String, samples: Vec<SampleOutcome>) -> CaseVerdict {
        CaseVerdict { status: Status::Errored, problem: Some(message), ..CaseVerdict::with_samples(samples) }
    }

    fn with_samples(samples: Vec<SampleOutcome>) -> CaseVerdict {
        CaseVerdict { samples, ..CaseVerdict::skipped() }
    }
}

/// Samples that were not judged (the case could not be), with what graders said of
/// them (for what it cost).
fn bare(responses: Vec<ModelResponse>, grades: Vec<SampleGrades>) -> Vec<SampleOutcome> {
    responses.into_iter().zip(grades).map(|(r, g)| SampleOutcome::unjudged(r, g)).collect()
}

/// Judges a case's responses (one per sample) with what graders said of each:
/// assertions on each, every sample against the one stored snapshot (a semantic one
/// matches a rewording judged equivalent), writes as `settings` say, then the pass rate.
pub(crate) fn judge(
    case: &Case,
    responses: Vec<ModelResponse>,
    mut grades: Vec<SampleGrades>,
    settings: SnapshotSettings,
) -> CaseVerdict {
    grades.resize_with(responses.len(), SampleGrades::default);
    if case.row.is_some() {
        // A row's snapshot is a line of its dataset's table, which the runner's
        // `dataset::Book` compares and writes once for all rows.
        return dataset::judge_row(case, responses, grades);
    }
    let dir = case.scenario_dir();
    let (checks, rules) =
        match (assertions::compile(&case.spec.expect, &dir), SnapshotRules::new(case.spec.snapshot.as_ref())) {
            (Ok(checks), Ok(rules)) => (checks, rules),
            (Err(e), _) | (_, Err(e)) => return CaseVerdict::problem(e.to_string(), bare(responses, grades)),
        };
    let path = case.snapshot_path();
    let stored = match store::read_body(&path) {
        Ok(stored) => stored,
        Err(e) => return CaseVerdict::problem(e.to_string(), bare(responses, grades)),
    };
    let mut samples: Vec<SampleOutcome> = Vec::new();
    let mut bodies: Vec<Option<String>> = Vec::new();
    for (response, grades) in responses.into_iter().zip(grades) {
        let errored = response.error.is_some();
        let assertions = if errored { Vec::new() } else { assertions::evaluate(&checks, &response, &grades) };
        let body = if errored { None } else { rules.body(&response) };
        let snapshot_matched = match (&body, &stored) {
            (Some(new), Some(old)) if contents_match(old, new) => Some(true),
            // A semantic snapshot's rewording: the grader decides, or nothing is known.
            (Some(_), Some(_)) => match grades.equivalence.as_ref().map(|g| &g.outcome) {
                Some(Ok(decision)) => Some(decision.passed),
                Some(Err(_)) => None,
                None => Some(false),
            },
            (Some(_), None) => Some(false),
            (None, _) => None,
        };
        bodies.push(body);
        samples.push(SampleOutcome { response, assertions, snapshot_matched, passed: false, errored: false, grades });
    }

    // One decision per case: the first sample that differs is the one proposed.
    let first_body = bodies.iter().flatten().next().cloned();
    let differing_at = samples.iter().position(|s| s.snapshot_matched == Some(false));
    let differing = differing_at.and_then(|i| bodies[i].clone());
    // The equivalence grade shown: the proposed sample's, else the first rewording's.
    let decided = |s: &SampleOutcome| s.grades.equivalence.clone().filter(|g| g.outcome.is_ok());
    let reworded = match differing_at {
        Some(i) => samples[i].grades.equivalence.clone(),
        None => samples.iter().find_map(decided),
    };
    let undecided = samples.iter().any(|s| s.equivalence_error().is_some());
    let any_answer = samples.iter().any(|s| s.response.error.is_none() && s.equivalence_error().is_none());
    let snapshot_status = if !any_answer {
        None
    } else if first_body.is_none() {
        Some(SnapshotStatus::Ignored)
    } else if stored.is_none() {
        Some(SnapshotStatus::New)
    } else if differing.is_some() {
        Some(SnapshotStatus::Changed)
    } else {
        Some(SnapshotStatus::Matched)
    };
    let proposal = differing.or(first_body);
    let pending = store::pending_path(&path);
    let target = snapshot_status.and_then(|status| target(status, settings.action, &path));
    let write = match (&target, &proposal) {
        (Some(target), Some(body)) => {
            crate::fs::write_atomic(target, &SnapshotFile::for_case(case, body.clone()).render())
        }
        // A match makes any pending proposal from an earlier run stale. Only an existing
        // one is removed: a read-only checkout where nothing needs writing stays green.
        _ if snapshot_status == Some(SnapshotStatus::Matched) && !undecided && pending.symlink_metadata().is_ok() => {
            crate::fs::remove(&pending)
        }
        _ => Ok(()),
    };
    if let Err(e) = write {
        return CaseVerdict::problem(e.to_string(), samples);
    }
    let accepted = target.as_ref() == Some(&path) || settings.force_pass;
    let (status, passed_samples, pass_rate) = settle(&mut samples, accepted, &case.spec);
    CaseVerdict {
        status,
        snapshot: snapshot_status.map(|status| SnapshotOutcome {
            status,
            path,
            written: target,
            old: stored,
            new: proposal,
            reworded,
        }),
        samples,
        passed_samples,
        pass_rate,
        problem: None,
        row: None,
        tolerated: false,
    }
}

/// Where a new or changed snapshot goes under `action`, as insta decides: the snapshot
/// itself, its `.snap.new`, or nowhere.
pub(crate) fn target(status: SnapshotStatus, action: UpdateAction, path: &std::path::Path) -> Option<PathBuf> {
    match (status, action) {
        (SnapshotStatus::New, UpdateAction::WriteUnseen | UpdateAction::Overwrite) => Some(path.to_owned()),
        (SnapshotStatus::Changed, UpdateAction::Overwrite) => Some(path.to_owned()),
        (SnapshotStatus::New | SnapshotStatus::Changed, UpdateAction::WritePending | UpdateAction::WriteUnseen) => {
            Some(store::pending_path(path))
        }
        _ => None,
    }
}

/// Decides each sample (answered, assertions passed, snapshot matched unless
/// `accepted`) and the case, by the share of samples that must pass (`min_pass_rate`)
/// and the least lower bound of its 95% Wilson interval (`min_pass_rate_lower_bound`).
pub(crate) fn settle(samples: &mut [SampleOutcome], accepted: bool, spec: &Scenario) -> (Status, u32, f64) {
    let mut passed_samples = 0;
    for sample in samples.iter_mut() {
        let changed = sample.snapshot_matched == Some(false) && !accepted;
        let failed = sample.assertions.iter().any(|a| !a.passed && !a.errored) || changed;
        let ungraded = sample.assertions.iter().any(|a| a.errored) || sample.equivalence_error().is_some();
        sample.errored = sample.response.error.is_some() || (!failed && ungraded);
        sample.passed = !failed && !sample.errored;
        passed_samples += u32::from(sample.passed);
    }
    let share = metrics::wilson(u64::from(passed_samples), samples.len() as u64);
    let required = required_rate(spec);
    let enough = share.value + 1e-9 >= required && spec.min_pass_rate_lower_bound.is_none_or(|m| share.low + 1e-9 >= m);
    let status = if !samples.is_empty() && enough {
        Status::Passed
    } else if samples.iter().filter(|s| !s.passed).all(|s| s.errored) {
        Status::Errored
    } else {
        Status::Failed
    };
    (status, passed_samples, share.value)
}

/// The share of samples that must pass: `min_pass_rate`, else 1, or 0 when a lower
/// bound is the whole rule (the point estimate's default of 1 would defeat it).
fn required_rate(spec: &Scenario) -> f64 {
    spec.min_pass_rate.unwrap_or(if spec.min_pass_rate_lower_bound.is_some() { 0.0 } else { 1.0 })
}

/// Why the share of samples that passed was not enough, when it was not: the reason a
/// case fails whose every failing sample is explained elsewhere, or none is.
pub(crate) fn shortfall(passed: u32, n: u32, spec: &Scenario) -> Option<String> {
    // One sample's failure is its own reason.
    if n <= 1 && spec.min_pass_rate_lower_bound.is_none() {
        return None;
    }
    let share = metrics::wilson(u64::from(passed), u64::from(n));
    let required = required_rate(spec);
    if share.value + 1e-9 < required {
        return Some(format!("{passed}/{n} samples passed, below min_pass_rate {required}"));
    }
    let bound = spec.min_pass_rate_lower_bound.filter(|b| share.low + 1e-9 < *b)?;
    Some(format!(
        "{passed}/{n} samples passed, but the 95% lower bound {:.2} is below min_pass_rate_lower_bound {bound}",
        share.low
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{CallError, ErrorKind};
    use crate::scenario::Scenario;
    use serde_json::json;
    use std::time::Duration;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn update_behaviour_mirrors_insta() {
        let r = |flag, accept, vars| SnapshotSettings::resolve(flag, accept, env(vars)).unwrap().action;
        assert_eq!(r(None, false, &[]), UpdateAction::WritePending);
        assert_eq!(r(None, false, &[("CI", "true")]), UpdateAction::Nothing);
        assert_eq!(r(None, false, &[("CI", "false")]), UpdateAction::WritePending);
        assert_eq!(r(None, false, &[("INSTA_UPDATE", "always")]), UpdateAction::Overwrite);
        assert_eq!(r(None, false, &[("INSTA_UPDATE", "no")]), UpdateAction::Nothing);
        assert_eq!(r(None, false, &[("INSTA_UPDATE", "unseen")]), UpdateAction::WriteUnseen);
        assert_eq!(r(Some(UpdateRequest::No), false, &[("INSTA_UPDATE", "always")]), UpdateAction::Nothing);
        assert_eq!(r(Some(UpdateRequest::New), true, &[]), UpdateAction::Overwrite);
        assert!(SnapshotSettings::resolve(None, false, env(&[("INSTA_UPDATE", "sometimes")])).is_err());
        assert!(SnapshotSettings::resolve(None, false, env(&[("INSTA_FORCE_PASS", "1")])).unwrap().force_pass);
    }

    fn case(root: &std::path::Path, extra: serde_json::Value) -> Case {
        let mut scenario = json!({"name": "decimals", "api": "chat", "model": "m", "prompt": "3.11 or 3.9?", "expect": [{"contains": "3.9"}]});
        for (k, v) in extra.as_object().unwrap() {
            scenario[k] = v.clone();
        }
        let spec: Scenario = serde_json::from_value(scenario).unwrap();
        Case {
            id: "decimals".into(),
            file: root.join("scenarios/basic/decimals.yaml"),
            project_root: root.to_path_buf(),
            source: "scenarios/basic/decimals.yaml".into(),
            variant: Vec::new(),
            api: crate::scenario::Api::Chat,
            model: "m".into(),
            region: "us-west-2".into(),
            samples: 1,
            timeout: Duration::from_secs(1),
            tool_timeouts: Default::default(),
            row: None,
            skip: None,
            spec: spec.into(),
        }
    }

    fn answer(text: &str) -> ModelResponse {
        ModelResponse { final_text: text.into(), stop_reason: Some("end_turn".into()), ..ModelResponse::default() }
    }

    /// The judge with no grader's word on anything.
    fn judge(case: &Case, responses: Vec<ModelResponse>, settings: SnapshotSettings) -> CaseVerdict {
        super::judge(case, responses, Vec::new(), settings)
    }

    const LOCAL: SnapshotSettings = SnapshotSettings { action: UpdateAction::WritePending, force_pass: false };
    const CI: SnapshotSettings = SnapshotSettings { action: UpdateAction::Nothing, force_pass: false };

    #[test]
    fn a_new_snapshot_is_pending_locally_and_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let c = case(dir.path(), json!({}));
        let v = judge(&c, vec![answer("3.9")], LOCAL);
        assert_eq!(v.status, Status::Failed);
        let snap = v.snapshot.unwrap();
        assert_eq!(snap.status, SnapshotStatus::New);
        assert_eq!(snap.path, dir.path().join("snapshots/basic/decimals.snap"));
        let pending = std::fs::read_to_string(dir.path().join("snapshots/basic/decimals.snap.new")).unwrap();
        assert_eq!(
            pending,
            "---\nsource: scenarios/basic/decimals.yaml\nexpression: decimals\ninfo:\n  api: chat\n  model: m\n---\nfinal: \"3.9\"\nreasoning: \"[empty]\"\nstop_reason: end_turn\n"
        );
    }

    #[test]
    fn ci_writes_nothing_and_fails_new_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let v = judge(&case(dir.path(), json!({})), vec![answer("3.9")], CI);
        assert_eq!(v.status, Status::Failed);
        assert!(!dir.path().join("snapshots").exists());
    }

    #[test]
    fn accepted_snapshots_match_and_stale_proposals_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let c = case(dir.path(), json!({}));
        let accept = SnapshotSettings { action: UpdateAction::Overwrite, force_pass: false };
        assert_eq!(judge(&c, vec![answer("3.9")], accept).status, Status::Passed);
        std::fs::write(dir.path().join("snapshots/basic/decimals.snap.new"), "stale").unwrap();
        let v = judge(&c, vec![answer("3.9\r\n")], CI);
        assert_eq!((v.status, v.snapshot.unwrap().status), (Status::Passed, SnapshotStatus::Matched));
        assert!(!dir.path().join("snapshots/basic/decimals.snap.new").exists());
    }

    #[test]
    fn a_changed_answer_fails_with_a_proposal_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let c = case(dir.path(), json!({}));
        judge(&c, vec![answer("3.9")], SnapshotSettings { action: UpdateAction::Overwrite, force_pass: false });
        let v = judge(&c, vec![answer("3.9 is larger")], LOCAL);
        let snap = v.snapshot.clone().unwrap();
        assert_eq!((v.status, snap.status), (Status::Failed, SnapshotStatus::Changed));
        assert_eq!(snap.old.as_deref(), Some("final: \"3.9\"\nreasoning: \"[empty]\"\nstop_reason: end_turn"));
        assert!(snap.new.unwrap().starts_with("final: 3.9 is larger"));
        assert!(dir.path().join("snapshots/basic/decimals.snap.new").exists());
        let forced = judge(&c, vec![answer("3.9 is larger")], SnapshotSettings { force_pass: true, ..LOCAL });
        assert_eq!(forced.status, Status::Passed);
    }

    #[test]
    fn assertions_fail_a_case_whose_snapshot_matches() {
        let dir = tempfile::tempdir().unwrap();
        let c = case(dir.path(), json!({"snapshot": {"final": "ignore", "reasoning": "ignore", "stop_reason": false}}));
        let v = judge(&c, vec![answer("3.11")], LOCAL);
        assert_eq!(v.status, Status::Failed);
        assert_eq!(v.snapshot.unwrap().status, SnapshotStatus::Ignored);
        assert!(!v.samples[0].assertions[0].passed);
    }

    #[test]
    fn pass_rate_over_samples() {
        let dir = tempfile::tempdir().unwrap();
        let policy = json!({"final": "ignore", "reasoning": "ignore", "stop_reason": false});
        let responses = || vec![answer("3.9"), answer("3.11"), answer("3.9")];
        let strict = judge(&case(dir.path(), json!({"snapshot": policy})), responses(), LOCAL);
        assert_eq!((strict.status, strict.passed_samples), (Status::Failed, 2));
        let lenient = judge(&case(dir.path(), json!({"snapshot": policy, "min_pass_rate": 0.6})), responses(), LOCAL);
        assert_eq!(lenient.status, Status::Passed);
        assert!((lenient.pass_rate - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_intervals_lower_bound_can_judge_instead_of_the_estimate() {
        let dir = tempfile::tempdir().unwrap();
        let policy = json!({"final": "ignore", "reasoning": "ignore", "stop_reason": false});
        let ten = |failing: usize| (0..10).map(|i| answer(if i < failing { "3.11" } else { "3.9" })).collect();
        let bound = case(dir.path(), json!({"snapshot": policy, "min_pass_rate_lower_bound": 0.7}));
        // 10 of 10 bound the rate at 0.72; 9 of 10 only at 0.60.
        assert_eq!(judge(&bound, ten(0), LOCAL).status, Status::Passed);
        assert_eq!(judge(&bound, ten(1), LOCAL).status, Status::Failed);
        let both =
            case(dir.path(), json!({"snapshot": policy, "min_pass_rate": 0.95, "min_pass_rate_lower_bound": 0.5}));
        assert_eq!(judge(&both, ten(1), LOCAL).status, Status::Failed, "the estimate still judges when it is given");
    }

    #[test]
    fn every_sample_is_compared_with_the_one_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let c = case(dir.path(), json!({"min_pass_rate": 0.5}));
        judge(&c, vec![answer("3.9")], SnapshotSettings { action: UpdateAction::Overwrite, force_pass: false });
        let v = judge(&c, vec![answer("3.9"), answer("3.9!")], LOCAL);
        let matched: Vec<_> = v.samples.iter().map(|s| s.snapshot_matched).collect();
        assert_eq!(matched, [Some(true), Some(false)]);
        assert_eq!((v.status, v.snapshot.unwrap().status), (Status::Passed, SnapshotStatus::Changed));
    }

    #[test]
    fn transport_errors_make_an_errored_case() {
        let dir = tempfile::tempdir().unwrap();
        let failed = ModelResponse {
            error: Some(CallError::new(ErrorKind::Throttled, Some(429), "slow down")),
            ..ModelResponse::default()
        };
        let v = judge(&case(dir.path(), json!({})), vec![failed], LOCAL);
        assert_eq!(v.status, Status::Errored);
        assert!(v.snapshot.is_none());
        assert!(!dir.path().join("snapshots").exists());
    }

    #[test]
    fn a_grader_that_fails_errors_the_case_even_when_its_snapshot_is_accepted() {
        use crate::grading::{Cost, Grade, GradeError};
        let dir = tempfile::tempdir().unwrap();
        let c = case(dir.path(), json!({"expect": [{"judge": {"rubric": "Says 3.9."}}]}));
        let failed = GradeError::Call { message: "throttled".into(), retryable: true };
        let grade = Grade { outcome: Err(failed), reasoning: String::new(), model: "g".into(), cost: Cost::default() };
        let grades = vec![SampleGrades { checks: vec![(0, grade)], equivalence: None }];
        let accept = SnapshotSettings { action: UpdateAction::Overwrite, force_pass: false };
        let v = super::judge(&c, vec![answer("3.9")], grades, accept);
        assert_eq!(v.status, Status::Errored);
        let (message, retryable) = v.samples[0].judge_error().unwrap();
        assert!(message.starts_with("a `judge` check errored: the grader could not be asked"), "{message}");
        assert!(retryable);
    }
}
