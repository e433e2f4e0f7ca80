//! The assertions of the format (`expect`): one check per item, and what each check
//! takes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Grader;

/// One assertion. Give exactly one check (`contains`, `regex`, ...) and optionally
/// `part` (what it looks at) and `not` (negate it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub(crate) struct Expectation {
    /// What the check looks at. Default: `final`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) part: Option<Part>,
    /// Negate the check.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) not: bool,
    /// The part equals this text exactly (after normalization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) equals: Option<String>,
    /// The part contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) contains: Option<String>,
    /// The part contains this text, ignoring case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) icontains: Option<String>,
    /// The part contains at least one of these texts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) contains_any: Option<Vec<String>>,
    /// The part contains every one of these texts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) contains_all: Option<Vec<String>>,
    /// The part matches this regular expression (Rust `regex` syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) regex: Option<String>,
    /// The part starts with this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) starts_with: Option<String>,
    /// The part parses as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) json_valid: Option<bool>,
    /// The part parses as JSON that validates against this inline JSON Schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) json_schema: Option<Value>,
    /// The part parses as JSON that validates against the JSON Schema in this file
    /// (relative to the scenario file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) json_schema_file: Option<String>,
    /// The part parses as JSON and the value at `pointer` equals `equals`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) json_pointer: Option<JsonPointerCheck>,
    /// The part's length in characters is within these bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) length: Option<LengthCheck>,
    /// The share of the part's letters written in a script is at least `min_share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) script: Option<ScriptCheck>,
    /// The response stopped for this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stop_reason: Option<StopReason>,
    /// The final answer holds no `<reasoning>`, `<think>` or harmony markers, and no reasoning leaked into the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) no_reasoning_leak: Option<bool>,
    /// The response carries reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_present: Option<bool>,
    /// The request took at most this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub(crate) max_latency_ms: Option<u64>,
    /// The response used at most this many output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub(crate) max_output_tokens: Option<u64>,
    /// The model called this tool, optionally with an input that contains `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tool_called: Option<ToolCalledCheck>,
    /// The tools called, by name: `exact` (the default: these calls and no others, in
    /// order), `in_order` (these, in this order, others allowed between) or `any_order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tool_sequence: Option<ToolSequenceCheck>,
    /// Every call of the tool has an input containing `input` (and there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tool_args: Option<ToolCalledCheck>,
    /// An agent used at most this many model turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub(crate) max_turns_used: Option<u32>,
    /// A grading model reads the part and decides whether it meets a rubric written in
    /// natural language. A grader that cannot answer makes the check errored, not failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) judge: Option<JudgeCheck>,
}

/// `judge` check: a rubric and how its grade is decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JudgeCheck {
    /// What a passing answer does, in plain words; a template with `vars` and rows.
    /// Say what must be there and what must not, one criterion per sentence.
    #[schemars(length(min = 1))]
    pub(crate) rubric: String,
    /// The least score (0 to 1) a grade needs to pass. Without it, the grader's `pass`
    /// decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_score: Option<f64>,
    /// How many times the grader is asked; the check passes when more than half of the
    /// grades do. Default: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 15))]
    pub(crate) samples: Option<u32>,
    /// This check's own grader, merged field by field over the scenario's `grader`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grader: Option<Grader>,
}

/// `tool_sequence` check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolSequenceCheck {
    /// Tool names.
    pub(crate) calls: Vec<String>,
    /// How to compare. Default: `exact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) order: Option<SequenceOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SequenceOrder {
    Exact,
    InOrder,
    AnyOrder,
}

/// The part of a response an assertion looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Part {
    /// The answer with the reasoning removed.
    Final,
    /// The separated reasoning.
    Reasoning,
    /// The answer channel as it arrived, before reasoning was separated.
    RawText,
}

/// `json_pointer` check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JsonPointerCheck {
    /// An RFC 6901 JSON pointer, e.g. `/answer/0`.
    #[schemars(regex(pattern = r"^(/.*)?$"))]
    pub(crate) pointer: String,
    /// The value expected there.
    pub(crate) equals: Value,
}

/// `length` check, in Unicode characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub(crate) struct LengthCheck {
    /// Fewest characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) min: Option<u64>,
    /// Most characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max: Option<u64>,
}

/// `script` check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScriptCheck {
    /// The writing system.
    pub(crate) name: Script,
    /// Least share of letters (0 to 1) that must be in this script. Default: 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_share: Option<f64>,
}

/// Writing systems the `script` check knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Script {
    /// Hiragana, katakana and kanji.
    Japanese,
    /// Han characters.
    Han,
    /// Hangul.
    Hangul,
    /// Latin letters.
    Latin,
    /// Cyrillic letters.
    Cyrillic,
}

/// Why the model stopped, in Bedrock's vocabulary (chat `finish_reason` is mapped onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StopReason {
    EndTurn,
    MaxTokens,
    ToolUse,
    StopSequence,
    ContentFiltered,
    GuardrailIntervened,
}

/// `tool_called` check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolCalledCheck {
    /// The tool's name.
    pub(crate) name: String,
    /// A partial input: every key given here must be present with an equal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) input: Option<Value>,
}
