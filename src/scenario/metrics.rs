//! Metrics over a dataset's rows (`metrics`): how a label is read from an answer and
//! the thresholds it must reach.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Metrics over a dataset's rows. Without thresholds they are reported only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub(crate) struct Metrics {
    /// The least share of rows (0 to 1) that must pass every assertion. With it, a row
    /// that fails an assertion is reported but only this share decides; without it, every
    /// row must pass. Reported with a 95% Wilson interval either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_rows_passed: Option<f64>,
    /// A classification: the label is extracted from each answer and compared with the
    /// row's expected label, for accuracy, per-class precision, recall and F1, macro-F1
    /// and a confusion matrix. A mismatch is a metric, not a failed row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) label: Option<LabelMetric>,
}

/// `metrics.label`: how to read the label from an answer, and what must be reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelMetric {
    /// Where the label is in the final answer.
    pub(crate) extract: LabelExtract,
    /// The row's expected label, a template. Default: `{{ label }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expected: Option<String>,
    /// The positive class of a binary task (e.g. `"1"`): precision, recall and F1 are
    /// then this class's. Without it they are macro averages over the classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) positive: Option<String>,
    /// The least accuracy (0 to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_accuracy: Option<f64>,
    /// The least F1 (the positive class's, else macro-F1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_f1: Option<f64>,
    /// The least precision (the positive class's, else the macro average).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_precision: Option<f64>,
    /// The least recall (the positive class's, else the macro average).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_recall: Option<f64>,
}

/// Where a label is in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum LabelExtract {
    /// A regex (Rust syntax): its first capture group, or the whole match without one.
    Regex(String),
    /// The answer parsed as JSON (a code fence around it is allowed): the value at this
    /// RFC 6901 pointer, e.g. `/violation`.
    JsonPointer(#[schemars(regex(pattern = r"^(/.*)?$"))] String),
}
