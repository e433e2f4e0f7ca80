//! The machine-readable record of a run: the `--report-json` format, whose JSON Schema
//! (`schema/report.schema.json`) is generated from these types. JUnit and Markdown are
//! written from the same records, so `merge-reports` can produce them from shard files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grading::Cost;
use crate::grading::prompt::conversation;
use crate::report::baseline::BaselineRecord;
use crate::report::dataset::DatasetRecord;
use crate::report::diff::unified;
use crate::response::{Source, ToolCall, Turn, Usage};
use crate::runner::{CaseResult, Summary};
use crate::verdict::assertions::{AssertionResult, JudgeNote};
use crate::verdict::metrics::wilson;
use crate::verdict::{SnapshotStatus, Status, shortfall};

/// The version of this report format; bumped on incompatible changes.
pub(crate) const FORMAT: u32 = 1;

/// A whole run (or several merged shard runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRecord {
    /// The report format version.
    pub(crate) format: u32,
    /// The gpt-oss-scenarios version that wrote the report.
    pub(crate) version: String,
    /// When the run started, RFC 3339 UTC.
    pub(crate) started_at: String,
    /// Wall time of the run (the longest shard, for merged reports).
    pub(crate) duration_ms: u64,
    /// The selection flags of the run (`--filter`, `--tag`, `--shard`, ...), as given.
    pub(crate) filters: Vec<String>,
    /// Where the answers came from.
    #[serde(default)]
    pub(crate) mode: ModeRecord,
    pub(crate) summary: SummaryRecord,
    pub(crate) cases: Vec<CaseRecord>,
    /// Each dataset scenario (per matrix combination), judged as a whole: its metrics,
    /// thresholds and snapshot table. Its rows are among `cases`.
    #[serde(default)]
    pub(crate) datasets: Vec<DatasetRecord>,
    /// With `--baseline`: what changed since that report.
    #[serde(default)]
    pub(crate) baseline: Option<BaselineRecord>,
}

/// The mode asked for and where the answers came from. In `auto` mode, `replayed`
/// counts the cassette hits and `live` the misses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModeRecord {
    /// `--mode` as given (`live`, `record`, `replay`, `auto`); null when each scenario's
    /// own `mode` decided (`auto` when it has none). Merged shards that differ: `mixed`.
    pub(crate) requested: Option<String>,
    /// Cases answered from their cassettes.
    pub(crate) replayed: usize,
    /// Cases answered by the endpoint, nothing recorded.
    pub(crate) live: usize,
    /// Cases answered by the endpoint and recorded into cassettes.
    pub(crate) recorded: usize,
}

impl ModeRecord {
    pub(crate) fn from_cases(requested: Option<String>, cases: &[CaseRecord]) -> ModeRecord {
        cases.iter().fold(ModeRecord { requested, ..ModeRecord::default() }, |mut mode, case| {
            mode.count(case);
            mode
        })
    }

    /// Adds one case's source to the counts.
    pub(crate) fn count(&mut self, case: &CaseRecord) {
        match case.source {
            Some(Source::Replayed) => self.replayed += 1,
            Some(Source::Live) => self.live += 1,
            Some(Source::Recorded) => self.recorded += 1,
            None => {}
        }
    }
}

/// The totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SummaryRecord {
    pub(crate) cases: usize,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) errored: usize,
    pub(crate) skipped: usize,
    pub(crate) pending_snapshots: usize,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    /// Ctrl-C stopped the run: cases not run are reported as skipped.
    pub(crate) interrupted: bool,
    /// Datasets that passed and failed as a whole.
    #[serde(default)]
    pub(crate) datasets_passed: usize,
    #[serde(default)]
    pub(crate) datasets_failed: usize,
    /// Failed or errored rows that their dataset's `min_rows_passed` judges instead.
    #[serde(default)]
    pub(crate) tolerated: usize,
    /// What asking graders (`judge` checks, semantic snapshots) cost, apart from the
    /// cases' own tokens above.
    #[serde(default)]
    pub(crate) judging: JudgingRecord,
}

/// The cost of grading: requests, tokens and time spent waiting for graders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JudgingRecord {
    /// Requests sent to graders, retries included.
    pub(crate) calls: u64,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    /// The graders' latency, summed.
    pub(crate) latency_ms: u64,
}

impl JudgingRecord {
    pub(crate) fn of(cost: Cost) -> JudgingRecord {
        JudgingRecord {
            calls: u64::from(cost.calls),
            input_tokens: cost.usage.map_or(0, |u| u.input_tokens),
            output_tokens: cost.usage.map_or(0, |u| u.output_tokens),
            latency_ms: cost.latency_ms,
        }
    }

    pub(crate) fn add(&mut self, other: &JudgingRecord) {
        self.calls = self.calls.saturating_add(other.calls);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.latency_ms = self.latency_ms.saturating_add(other.latency_ms);
    }

    /// `12 calls, 3400 in / 800 out tokens, 5.2 s`.
    pub(crate) fn describe(&self) -> String {
        let calls = if self.calls == 1 { "1 call".to_owned() } else { format!("{} calls", self.calls) };
        format!(
            "{calls}, {} in / {} out tokens, {:.1} s",
            self.input_tokens,
            self.output_tokens,
            self.latency_ms as f64 / 1000.0
        )
    }
}

impl SummaryRecord {
    pub(crate) fn from_summary(s: &Summary) -> SummaryRecord {
        SummaryRecord {
            cases: s.total(),
            passed: s.passed,
            failed: s.failed,
            errored: s.errored,
            skipped: s.skipped,
            pending_snapshots: s.pending_snapshots,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            interrupted: s.interrupted,
            datasets_passed: s.datasets_passed,
            datasets_failed: s.datasets_failed,
            tolerated: s.tolerated,
            judging: JudgingRecord::of(s.judging),
        }
    }

    /// Whether the run failed: a case that counts, or a dataset.
    pub(crate) fn failing(&self) -> bool {
        (self.failed + self.errored).saturating_sub(self.tolerated) + self.datasets_failed > 0
    }

    /// Totals recomputed from case and dataset records (for merged reports).
    pub(crate) fn from_cases(cases: &[CaseRecord], datasets: &[DatasetRecord], interrupted: bool) -> SummaryRecord {
        let count = |status: Status| cases.iter().filter(|c| c.status == status).count();
        SummaryRecord {
            cases: cases.len(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            errored: count(Status::Errored),
            skipped: count(Status::Skipped),
            pending_snapshots: cases.iter().filter(|c| c.snapshot.as_ref().is_some_and(|s| s.pending)).count()
                + datasets.iter().filter(|d| d.snapshot.as_ref().is_some_and(|s| s.pending)).count(),
            input_tokens: cases.iter().filter_map(|c| c.usage).map(|u| u.input_tokens).sum(),
            output_tokens: cases.iter().filter_map(|c| c.usage).map(|u| u.output_tokens).sum(),
            interrupted,
            datasets_passed: datasets.iter().filter(|d| d.passed).count(),
            datasets_failed: datasets.iter().filter(|d| !d.passed).count(),
            tolerated: cases.iter().filter(|c| c.tolerated).count(),
            judging: cases.iter().filter_map(|c| c.judging.as_ref()).fold(JudgingRecord::default(), |mut sum, j| {
                sum.add(j);
                sum
            }),
        }
    }
}

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
    /// Where its answers came from: `live`, `record` or `replay`; null when it did not run.
    #[serde(default)]
    pub(crate) source: Option<Source>,
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

impl From<&Turn> for TurnRecord {
    fn from(turn: &Turn) -> TurnRecord {
        TurnRecord {
            reasoning: turn.reasoning.clone(),
            text: turn.text.clone(),
            stop_reason: turn.stop_reason.clone(),
            tool_calls: turn
                .tool_calls
                .iter()
                .map(|t| ToolRunRecord {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    input: t.input.clone(),
                    result: t.result.clone(),
                    is_error: t.is_error,
                })
                .collect(),
        }
    }
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
    pub(crate) fn from_result(r: &CaseResult) -> CaseRecord {
        let v = &r.verdict;
        let shown = v.samples.iter().find(|s| !s.passed).or(v.samples.first());
        let response = shown.map(|s| &s.response);
        let usage = Usage::sum(v.samples.iter().filter_map(|s| s.response.usage));
        let judge_error = shown.and_then(|s| s.judge_error());
        let error = match (&v.problem, response.and_then(|r| r.error.as_ref())) {
            (Some(problem), _) => {
                Some(ErrorRecord { kind: "case".into(), message: problem.clone(), retryable: false, status: None })
            }
            (None, Some(e)) => Some(ErrorRecord {
                kind: e.kind.as_str().into(),
                message: e.message.clone(),
                retryable: e.retryable,
                status: e.status,
            }),
            (None, None) => judge_error.map(|(message, retryable)| ErrorRecord {
                kind: "judge".into(),
                message,
                retryable,
                status: None,
            }),
        };
        CaseRecord {
            id: r.case.id.clone(),
            scenario: crate::fs::shown(&r.case.file),
            api: r.case.api.as_str().into(),
            model: r.case.model.clone(),
            params: serde_json::to_value(r.case.spec.params.clone().unwrap_or_default()).unwrap_or(Value::Null),
            status: v.status,
            final_text: response.map(|r| r.final_text.clone()),
            reasoning: response.map(|r| r.reasoning.clone()),
            stop_reason: response.and_then(|r| r.stop_reason.clone()),
            tool_calls: response.map(|r| r.tool_calls.iter().map(tool_call).collect()).unwrap_or_default(),
            turns: response.map(|r| r.turns.iter().map(TurnRecord::from).collect()).unwrap_or_default(),
            usage: usage.map(|u| UsageRecord { input_tokens: u.input_tokens, output_tokens: u.output_tokens }),
            latency_ms: response.map(|r| r.latency_ms),
            flags: response.map(|r| r.flags.names().into_iter().map(str::to_owned).collect()).unwrap_or_default(),
            error,
            assertions: shown.map(|s| s.assertions.iter().map(assertion).collect()).unwrap_or_default(),
            snapshot: v.snapshot.as_ref().map(|s| SnapshotRecord {
                status: s.status,
                path: crate::fs::shown(&s.path),
                pending: s.written.as_ref().is_some_and(|w| *w != s.path),
                diff: (s.status == SnapshotStatus::Changed).then(|| {
                    unified(s.old.as_deref().unwrap_or_default(), s.new.as_deref().unwrap_or_default(), false)
                }),
                reworded: s.reworded.as_ref().map(|g| RewordedRecord {
                    equivalent: g.outcome.as_ref().ok().map(|d| d.passed),
                    grade: JudgeNote::of(g),
                }),
            }),
            samples: SamplesRecord::of(v.samples.len() as u32, v.passed_samples),
            skip_reason: r.skip_reason.clone(),
            duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
            source: response.map(|r| r.source),
            row: r.case.row.as_ref().map(|row| RowRecord {
                id: row.id.clone(),
                at: row.at.clone(),
                dataset: row.dataset.id.clone(),
                expected_label: v.row.as_ref().and_then(|o| o.expected.clone()),
                label: v.row.as_ref().and_then(|o| o.got.clone()),
            }),
            tolerated: v.tolerated,
            judging: {
                let mut cost = Cost::default();
                v.samples.iter().for_each(|s| cost.add(s.grades.cost()));
                (cost.calls > 0).then(|| JudgingRecord::of(cost))
            },
            // A `{file:}` variable can carry any file into the prompt: redacted like answers.
            prompt: Some(crate::secrets::redact(&conversation(&r.case.spec)).into_owned()),
            tags: r.case.spec.tags.clone(),
            shortfall: (v.status == Status::Failed)
                .then(|| shortfall(v.passed_samples, v.samples.len() as u32, &r.case.spec))
                .flatten(),
        }
    }

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
}

fn tool_call(c: &ToolCall) -> ToolCallRecord {
    ToolCallRecord { name: c.name.clone(), input: c.input.clone() }
}

fn assertion(a: &AssertionResult) -> AssertionRecord {
    AssertionRecord {
        kind: a.kind.clone(),
        passed: a.passed,
        message: a.message.clone(),
        errored: a.errored,
        judge: a.judge.clone(),
    }
}

/// The JSON Schema of the report, as checked in at `schema/report.schema.json`.
pub(crate) fn json_schema() -> Value {
    let mut schema = schemars::schema_for!(RunRecord).to_value();
    if let Some(map) = schema.as_object_mut() {
        map.insert("title".into(), Value::String("gpt-oss-scenarios run report".into()));
    }
    schema
}
