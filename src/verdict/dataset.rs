//! Datasets: each row is judged on its own (assertions, its line of the snapshot
//! table, its label); what a dataset's judgement is made of (thresholds, counts, the
//! table's outcome). The runner feeds finished rows to a [`super::book::Book`], which
//! settles them against the stored table and judges the dataset after its last row.

use std::path::PathBuf;

use regex::Regex;

use super::metrics::{Confusion, Scores, Share};
use super::snapshot::SnapshotRules;
use super::table;
use super::{CaseVerdict, SampleOutcome, SnapshotStatus};
use super::{assertions, bare, settle};
use crate::grading::SampleGrades;
use crate::normalize::normalize;
use crate::plan::Case;
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
pub(crate) fn judge_row(case: &Case, responses: Vec<ModelResponse>, grades: Vec<SampleGrades>) -> CaseVerdict {
    let (checks, rules) = match (
        assertions::compile(&case.spec.expect, &case.scenario_dir()),
        SnapshotRules::new(case.spec.snapshot.as_ref()),
    ) {
        (Ok(checks), Ok(rules)) => (checks, rules),
        (Err(e), _) | (_, Err(e)) => return CaseVerdict::problem(e.to_string(), bare(responses, grades)),
    };
    let id = case.row.as_ref().map_or("", |r| r.id.as_str());
    let columns = rules.columns(case.api == crate::scenario::Api::Agent);
    let mut lines = Vec::new();
    let mut samples: Vec<SampleOutcome> = Vec::new();
    for (response, grades) in responses.into_iter().zip(grades) {
        let answered = response.error.is_none();
        let assertions = if answered { assertions::evaluate(&checks, &response, &grades) } else { Vec::new() };
        lines.push((answered && !columns.is_empty()).then(|| table::row_line(id, rules.cells(&response, &columns))));
        samples.push(SampleOutcome {
            response,
            assertions,
            snapshot_matched: None,
            passed: false,
            errored: false,
            grades,
        });
    }
    let label = case.spec.metrics.as_ref().and_then(|m| m.label.as_ref());
    let answer = samples.iter().find(|s| s.response.error.is_none()).map(|s| s.response.final_text.as_str());
    let got = match (label, answer) {
        (Some(label), Some(answer)) => extract_label(&label.extract, answer),
        _ => None,
    };
    let (status, passed_samples, pass_rate) = settle(&mut samples, true, &case.spec);
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
    let label = m.label.as_ref();
    [
        ("min_rows_passed", m.min_rows_passed),
        ("min_accuracy", label.and_then(|l| l.min_accuracy)),
        ("min_f1", label.and_then(|l| l.min_f1)),
        ("min_precision", label.and_then(|l| l.min_precision)),
        ("min_recall", label.and_then(|l| l.min_recall)),
    ]
    .into_iter()
    .filter_map(|(name, min)| {
        let (min, value) = (min?, measured(name, passed, scores)?);
        Some(Threshold { name, min, value, met: met(value, min) })
    })
    .collect()
}

/// The value the threshold named `name` compares: one mapping for a run and for
/// merged shards.
pub(crate) fn measured(name: &str, passed: &Share, scores: Option<&Scores>) -> Option<f64> {
    match name {
        "min_rows_passed" => Some(passed.value),
        "min_accuracy" => scores.map(|s| s.accuracy.value),
        "min_f1" => scores.map(|s| s.f1),
        "min_precision" => scores.map(|s| s.precision),
        "min_recall" => scores.map(|s| s.recall),
        _ => None,
    }
}

/// Whether `value` reaches `min`, forgiving float rounding (0.75 of 4 rows is 0.75).
pub(crate) fn met(value: f64, min: f64) -> bool {
    value + 1e-9 >= min
}

/// Rows of a dataset by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::LabelMetric;
    use crate::verdict::metrics::wilson;

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
}
