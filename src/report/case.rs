//! One case's record: what it was asked, what it answered (each sample, when it ran
//! several), how it was judged, and its snapshot. Built once from the run
//! ([`super::build`]); every renderer reads it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::response::Source;
use crate::verdict::assertions::JudgeNote;
use crate::verdict::metrics::wilson;
use crate::verdict::{SnapshotStatus, Status};

/// One case. For a case run several times, the response shown is the first sample
/// that did not pass (or the first sample), and `usage` adds up all samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseRecord {
    /// The case id: `name` or `name[key=value,...]`.
    pub(crate) id: String,
    /// The scenario file.
    pub(crate) scenario: String,
    pub(crate) api: String,
    pub(crate) model: String,
    /// The inference parameters sent.
    pub(crate) params: Value,
    pub(crate) status: Status,
    #[serde(rename = "final")]
    pub(crate) final_text: Option<String>,
    pub(crate) reasoning: Option<String>,
    pub(crate) stop_reason: Option<String>,
    pub(crate) tool_calls: Vec<ToolCallRecord>,
    /// An agent's trajectory: per model turn, its reasoning, text, and tool calls with
    /// their results. Empty for other APIs.
    #[serde(default)]
    pub(crate) turns: Vec<TurnRecord>,
    pub(crate) usage: Option<UsageRecord>,
    /// What `usage` cost in USD, at the price of the model on the tier it was billed on
    /// (`pricing:` over the shipped table); null when no price or no usage is known.
    /// Judging is apart, in `judging`. A replayed answer is priced as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cost_usd: Option<f64>,
    /// The service tier the server says it answered on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) service_tier: Option<String>,
    pub(crate) latency_ms: Option<u64>,
    /// What reasoning separation noticed: `tags`, `unclosed`, `truncated_reasoning`, `harmony`.
    pub(crate) flags: Vec<String>,
    pub(crate) error: Option<ErrorRecord>,
    pub(crate) assertions: Vec<AssertionRecord>,
    pub(crate) snapshot: Option<SnapshotRecord>,
    pub(crate) samples: SamplesRecord,
    /// Why a skipped case did not run.
    pub(crate) skip_reason: Option<String>,
    /// Wall time of the case, all samples and retries included.
    pub(crate) duration_ms: u64,
    /// Where its answers came from: `live`, `record`, `replay` or `batch`; null when it did not run.
    #[serde(default)]
    pub(crate) source: Option<Source>,
    /// The ARN of the batch inference job that answered it, when `source` is `batch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch_job: Option<String>,
    /// A dataset row: its id, `file:line`, and its expected and extracted labels.
    #[serde(default)]
    pub(crate) row: Option<RowRecord>,
    /// A failed row that its dataset's `min_rows_passed` judges instead.
    #[serde(default)]
    pub(crate) tolerated: bool,
    /// What asking its graders cost, over all samples; null when none was asked.
    #[serde(default)]
    pub(crate) judging: Option<JudgingRecord>,
    /// The conversation sent, as `role: text` blocks (a dataset row's, rendered).
    #[serde(default)]
    pub(crate) prompt: Option<String>,
    /// The scenario's tags.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Why too few samples passed, when that failed the case (`min_pass_rate`,
    /// `min_pass_rate_lower_bound`).
    #[serde(default)]
    pub(crate) shortfall: Option<String>,
    /// Requests sent, over all samples, retries included.
    #[serde(default)]
    pub(crate) attempts: u32,
    /// Something to know about how the answers were got (in `auto` mode: a stale
    /// cassette that was run live instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
    /// Why the semantic snapshot's comparison of the answer shown could not be had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) equivalence_error: Option<String>,
    /// With several samples: each one's answer and how it fared, in order (the fields
    /// above show one of them). Empty for a single sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) answers: Vec<AnswerRecord>,
}

/// One sample of a case run several times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerRecord {
    pub(crate) passed: bool,
    #[serde(rename = "final")]
    pub(crate) final_text: String,
    pub(crate) reasoning: String,
    pub(crate) stop_reason: Option<String>,
    pub(crate) tool_calls: Vec<ToolCallRecord>,
    pub(crate) usage: Option<UsageRecord>,
    pub(crate) flags: Vec<String>,
    /// The call's error, if it failed.
    pub(crate) error: Option<ErrorRecord>,
    /// Requests sent for this sample, retries included.
    pub(crate) attempts: u32,
    /// Its assertions that did not pass.
    pub(crate) failed: Vec<AssertionRecord>,
    /// Why its semantic snapshot's comparison could not be had.
    #[serde(default)]
    pub(crate) equivalence_error: Option<String>,
}

/// A dataset row's part in a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RowRecord {
    pub(crate) id: String,
    /// Where the row is: `file:line`.
    pub(crate) at: String,
    /// The dataset it belongs to (a `datasets` entry's id).
    pub(crate) dataset: String,
    pub(crate) expected_label: Option<String>,
    /// The label extracted from the answer; null when none could be.
    pub(crate) label: Option<String>,
}

/// One model turn of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TurnRecord {
    pub(crate) reasoning: String,
    pub(crate) text: String,
    pub(crate) stop_reason: Option<String>,
    pub(crate) tool_calls: Vec<ToolRunRecord>,
}

/// A tool call of an agent turn and what running it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolRunRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) result: String,
    pub(crate) is_error: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolCallRecord {
    pub(crate) name: String,
    pub(crate) input: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsageRecord {
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorRecord {
    /// throttled, unavailable, server, timeout, invalid_request, auth, not_found,
    /// model, stream_error, truncated; `judge` when a grader left a check or a
    /// semantic snapshot undecided; or `case` for a problem with the case itself.
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) retryable: bool,
    /// The HTTP status, when there was one.
    pub(crate) status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssertionRecord {
    pub(crate) kind: String,
    pub(crate) passed: bool,
    pub(crate) message: String,
    /// It could not be decided (its grader failed): the case errored, it did not fail.
    #[serde(default)]
    pub(crate) errored: bool,
    /// A `judge` check's grade.
    #[serde(default)]
    pub(crate) judge: Option<JudgeNote>,
    /// For a failed check on a text part: the part and a shortened copy of what it
    /// looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) looked_at: Option<LookedAt>,
}

/// What a failed check looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookedAt {
    pub(crate) part: String,
    pub(crate) text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotRecord {
    pub(crate) status: SnapshotStatus,
    /// The snapshot file.
    pub(crate) path: String,
    /// A `.snap.new` was written for review.
    pub(crate) pending: bool,
    /// The unified diff of a changed snapshot (no colour).
    pub(crate) diff: Option<String>,
    /// The file written, when one was: the `.snap.new` proposed for review, or the
    /// snapshot itself when updates are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) written: Option<String>,
    /// A new snapshot's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    /// `final: semantic`: the answer was worded differently from the snapshot, and the
    /// grader judged it equivalent (`matched`) or not (`changed`), or could not say.
    #[serde(default)]
    pub(crate) reworded: Option<RewordedRecord>,
}

/// The equivalence grade of a reworded answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RewordedRecord {
    /// Judged equivalent; null when the grader could not say.
    pub(crate) equivalent: Option<bool>,
    pub(crate) grade: JudgeNote,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SamplesRecord {
    pub(crate) n: u32,
    pub(crate) passed: u32,
    /// passed / n.
    pub(crate) rate: f64,
    /// The 95% Wilson interval of the pass rate: how sure `n` samples make it.
    #[serde(default)]
    pub(crate) low: f64,
    #[serde(default = "one")]
    pub(crate) high: f64,
    /// pass^k for k = n: every sample passed (a case that is right every time, not
    /// just on average).
    #[serde(default)]
    pub(crate) all_passed: bool,
}

fn one() -> f64 {
    1.0
}

impl SamplesRecord {
    pub(crate) fn of(n: u32, passed: u32) -> SamplesRecord {
        let share = wilson(u64::from(passed), u64::from(n));
        SamplesRecord {
            n,
            passed,
            rate: share.value,
            low: share.low,
            high: share.high,
            all_passed: n > 0 && passed == n,
        }
    }

    /// `3/5 samples passed (60%, 95% CI 23-88%; pass^5 no)`.
    pub(crate) fn describe(&self) -> String {
        let pct = |v: f64| format!("{:.0}", v * 100.0);
        let all = if self.all_passed { "yes" } else { "no" };
        format!(
            "{}/{} samples passed ({}%, 95% CI {}-{}%; pass^{} {all})",
            self.passed,
            self.n,
            pct(self.rate),
            pct(self.low),
            pct(self.high),
            self.n
        )
    }
}

impl CaseRecord {
    /// The lines a failure report shows: error, failed assertions, snapshot state.
    pub(crate) fn failure_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(e) = &self.error {
            let status = e.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            lines.push(format!("error: {}{status}: {}", e.kind, e.message));
        }
        for a in self.assertions.iter().filter(|a| !a.passed) {
            lines.push(format!("{}: {}", a.kind, a.message));
        }
        lines.extend(self.shortfall.clone());
        if let Some(s) = &self.snapshot {
            let reworded = s.reworded.as_ref().map(|r| {
                format!(
                    " ({} by {}: {})",
                    match r.equivalent {
                        Some(true) => "judged equivalent",
                        Some(false) => "judged not equivalent",
                        None => "not judged",
                    },
                    r.grade.model,
                    r.grade.reason
                )
            });
            match s.status {
                SnapshotStatus::Changed => {
                    lines.push(format!("snapshot changed: {}{}", s.path, reworded.unwrap_or_default()));
                }
                SnapshotStatus::New => lines.push(format!("new snapshot: {}", s.path)),
                _ => {}
            }
        }
        lines
    }

    /// Each sample's answer: `answers` for several, else the one the case's own fields
    /// show, as one.
    pub(crate) fn sample_answers(&self) -> Vec<AnswerRecord> {
        if !self.answers.is_empty() {
            return self.answers.clone();
        }
        if self.status == Status::Skipped {
            return Vec::new();
        }
        let error = self.error.clone().filter(|e| !matches!(e.kind.as_str(), "case" | "judge"));
        let equivalence_error = self.equivalence_error.clone();
        vec![AnswerRecord {
            passed: self.samples.passed > 0,
            final_text: self.final_text.clone().unwrap_or_default(),
            reasoning: self.reasoning.clone().unwrap_or_default(),
            stop_reason: self.stop_reason.clone(),
            tool_calls: self.tool_calls.clone(),
            usage: self.usage,
            flags: self.flags.clone(),
            error,
            attempts: self.attempts,
            failed: self.assertions.iter().filter(|a| !a.passed).cloned().collect(),
            equivalence_error,
        }]
    }

    /// A problem with the case itself (not an answer's): its sentence.
    pub(crate) fn problem(&self) -> Option<&str> {
        self.error.as_ref().filter(|e| e.kind == "case").map(|e| e.message.as_str())
    }
}

impl ErrorRecord {
    /// `throttled (HTTP 429): message`, as a call's error reads.
    pub(crate) fn describe(&self) -> String {
        let status = self.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        format!("{}{status}: {}", self.kind, self.message)
    }
}

/// The cost of grading: requests, tokens and time spent waiting for graders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JudgingRecord {
    /// Requests sent to graders, retries included.
    pub(crate) calls: u64,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    /// The graders' latency, summed.
    pub(crate) latency_ms: u64,
    /// In USD, at the graders' prices; null when none is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cost_usd: Option<f64>,
}

impl JudgingRecord {
    pub(crate) fn of(cost: crate::grading::Cost) -> JudgingRecord {
        JudgingRecord {
            calls: u64::from(cost.calls),
            input_tokens: cost.usage.map_or(0, |u| u.input_tokens),
            output_tokens: cost.usage.map_or(0, |u| u.output_tokens),
            latency_ms: cost.latency_ms,
            cost_usd: cost.usd,
        }
    }

    pub(crate) fn add(&mut self, other: &JudgingRecord) {
        self.calls = self.calls.saturating_add(other.calls);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.latency_ms = self.latency_ms.saturating_add(other.latency_ms);
        self.cost_usd = crate::pricing::add(self.cost_usd, other.cost_usd);
    }

    /// `12 calls, 3400 in / 800 out tokens, $0.0021, 5.2 s`.
    pub(crate) fn describe(&self) -> String {
        let calls = if self.calls == 1 { "1 call".to_owned() } else { format!("{} calls", self.calls) };
        let usd = self.cost_usd.map(|c| format!(", {}", crate::pricing::usd(c))).unwrap_or_default();
        format!(
            "{calls}, {} in / {} out tokens{usd}, {:.1} s",
            self.input_tokens,
            self.output_tokens,
            self.latency_ms as f64 / 1000.0
        )
    }
}
