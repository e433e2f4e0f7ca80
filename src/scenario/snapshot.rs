//! What of a response a snapshot keeps (`snapshot`): a policy per part, the semantic
//! comparison of reworded answers, user redactions and volatile values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Grader;

/// What of a response goes into the snapshot, per part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotPolicy {
    /// Policy for the final answer. Default: `exact`. `semantic` stores the text as
    /// `exact` does, but a different answer is judged: one the grader finds equivalent
    /// to the stored one matches.
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub(crate) final_answer: Option<PartPolicy>,
    /// Policy for the reasoning. Default: `present`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning: Option<PartPolicy>,
    /// Snapshot the tool calls. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tool_calls: Option<bool>,
    /// Snapshot the stop reason. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stop_reason: Option<bool>,
    /// Replace matches of a regex with a named placeholder before snapshotting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) redact: Vec<Redaction>,
    /// JSON pointers whose values are replaced by `[redacted]` in parts under the `json` policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) json_redact: Vec<String>,
    /// Keep volatile values (ids, latency, usage) that are redacted by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) keep: Vec<Volatile>,
    /// With `final: semantic`: what "says the same" means here, and the grader to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) semantic: Option<SemanticPolicy>,
}

/// `snapshot.semantic`: how a reworded answer is judged against the stored one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub(crate) struct SemanticPolicy {
    /// Replaces the default criterion (the same facts, conclusions and instructions;
    /// wording, order and format may differ), e.g. "the same verdict and the same
    /// number". A template with `vars`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) rubric: Option<String>,
    /// The grader for this comparison, merged field by field over the scenario's `grader`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grader: Option<Grader>,
}

/// How one part of the response is snapshotted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum PartPolicy {
    /// The whole text, after normalization.
    Exact,
    /// Not snapshotted.
    Ignore,
    /// Only whether it is non-empty.
    Present,
    /// Only the matches of this regex: the stable core of a varying answer.
    Extract(String),
    /// Parsed as JSON and stored as canonical sorted JSON (see `json_redact`).
    Json,
    /// `final` only: the whole text, as `exact`; an answer worded differently is judged
    /// against the stored one and matches when the grader finds it equivalent.
    Semantic,
}

/// A user redaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Redaction {
    /// A regular expression (Rust `regex` syntax).
    pub(crate) regex: String,
    /// What each match becomes, e.g. `[date]`.
    pub(crate) placeholder: String,
}

/// Volatile values that snapshots leave out unless kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Volatile {
    /// Token usage.
    Usage,
    /// Latency.
    Latency,
    /// Tool call ids and response ids.
    Ids,
}
