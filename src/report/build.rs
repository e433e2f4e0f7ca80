//! [`Builder`]: the one place the run's record is built, from the runner's events. Each
//! case and dataset is made into its record once, counted into the totals and the
//! baseline comparison, and handed to every renderer as an [`Update`].

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::baseline::{Baseline, Comparison};
use super::case::{
    AnswerRecord, AssertionRecord, CaseRecord, ErrorRecord, JudgingRecord, LookedAt, RewordedRecord, RowRecord,
    SamplesRecord, SnapshotRecord, ToolCallRecord, ToolRunRecord, TurnRecord, UsageRecord,
};
use super::dataset::DatasetRecord;
use super::diff::unified;
use super::record::{FORMAT, ModeRecord, RunEnd, RunHead, SummaryRecord};
use crate::grading::Cost;
use crate::grading::prompt::conversation;
use crate::response::{CallError, ModelResponse, ToolCall, Turn, Usage};
use crate::runner::{CaseResult, Event};
use crate::verdict::assertions::{AssertionResult, JudgeNote};
use crate::verdict::{SampleOutcome, SnapshotStatus, Status, shortfall};

/// What the renderers are told as the run goes, each thing built once.
#[derive(Debug)]
pub(crate) enum Update<'a> {
    Started {
        head: &'a RunHead,
        cases: usize,
    },
    /// A case began (for a progress display).
    CaseStarted {
        id: &'a str,
    },
    Case(&'a CaseRecord),
    /// A dataset judged as a whole, after its last row.
    Dataset(&'a DatasetRecord),
    Finished(&'a RunEnd),
}

/// The run's record in the making: its head, then the totals, the mode's counts, the
/// baseline comparison and the datasets as cases finish.
pub(crate) struct Builder {
    head: RunHead,
    mode: ModeRecord,
    summary: SummaryRecord,
    comparison: Option<Comparison>,
    /// The comparison's record, once the run has finished.
    compared: Option<super::record::BaselineRecord>,
    datasets: Vec<DatasetRecord>,
}

impl Builder {
    /// `filters`: the selection flags as typed; `requested`: `--mode` as given.
    pub(crate) fn new(filters: Vec<String>, requested: Option<String>, baseline: Option<Arc<Baseline>>) -> Builder {
        let version = env!("CARGO_PKG_VERSION").into();
        let head = RunHead { format: FORMAT, version, started_at: String::new(), filters, ..RunHead::default() };
        Builder {
            head,
            mode: ModeRecord { requested, ..ModeRecord::default() },
            summary: SummaryRecord::default(),
            comparison: baseline.map(Comparison::new),
            compared: None,
            datasets: Vec::new(),
        }
    }

    /// The shard the run is (`K/N`) and the fingerprint of the plan it is a shard of.
    pub(crate) fn with_plan(mut self, shard: Option<(u32, u32)>, plan: String) -> Builder {
        self.head.shard = shard.map(|(k, n)| format!("{k}/{n}"));
        self.head.plan = Some(plan);
        self
    }

    /// The batch inference jobs that answered some of the run's cases.
    pub(crate) fn with_batch(mut self, batch: Option<super::record::BatchRecord>) -> Builder {
        self.mode.batch = batch;
        self
    }

    /// The totals so far (all of them, once the run has finished).
    pub(crate) fn summary(&self) -> &SummaryRecord {
        &self.summary
    }

    /// What the baseline comparison found, once the run has finished.
    pub(crate) fn compared(&self) -> Option<&super::record::BaselineRecord> {
        self.compared.as_ref()
    }

    /// Makes one runner event into what the renderers are told, and tells them.
    pub(crate) fn event(&mut self, event: &Event<'_>, tell: &mut dyn FnMut(&Update<'_>)) {
        match event {
            Event::RunStarted { cases, started_at } => {
                self.head.started_at = rfc3339(*started_at);
                tell(&Update::Started { head: &self.head, cases: *cases });
            }
            Event::CaseStarted { case } => tell(&Update::CaseStarted { id: &case.id }),
            Event::CaseFinished { result } => {
                let record = case_record(result);
                self.summary.add_case(&record);
                self.mode.count(&record);
                if let Some(c) = &mut self.comparison {
                    c.add(&record);
                }
                tell(&Update::Case(&record));
            }
            Event::DatasetFinished { result } => {
                let record = DatasetRecord::from_result(result);
                self.summary.add_dataset(&record);
                tell(&Update::Dataset(&record));
                self.datasets.push(record);
            }
            Event::RunFinished { ended } => {
                self.summary.interrupted = ended.interrupted;
                let end = RunEnd {
                    duration_ms: u64::try_from(ended.duration.as_millis()).unwrap_or(u64::MAX),
                    mode: self.mode.clone(),
                    summary: self.summary.clone(),
                    datasets: std::mem::take(&mut self.datasets),
                    baseline: self.comparison.take().map(Comparison::finish),
                };
                tell(&Update::Finished(&end));
                self.compared = end.baseline;
            }
        }
    }
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A finished case's record. With several samples the one shown is the first that did
/// not pass (or the first), `usage` adds up all of them, and `answers` holds each.
pub(crate) fn case_record(r: &CaseResult) -> CaseRecord {
    let v = &r.verdict;
    let shown = v.samples.iter().find(|s| !s.passed).or(v.samples.first());
    let response = shown.map(|s| &s.response);
    let usage = Usage::sum(v.samples.iter().filter_map(|s| s.response.usage));
    let judge_error = shown.and_then(|s| s.judge_error());
    let error = match (&v.problem, response.and_then(|r| r.error.as_ref())) {
        (Some(problem), _) => {
            Some(ErrorRecord { kind: "case".into(), message: problem.clone(), retryable: false, status: None })
        }
        (None, Some(e)) => Some(error_record(e)),
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
        turns: response.map(|r| r.turns.iter().map(turn).collect()).unwrap_or_default(),
        usage: usage.map(usage_record),
        // Each sample at the tier it was billed on.
        cost_usd: v
            .samples
            .iter()
            .map(|s| {
                let (usage, served) = (s.response.usage?, s.response.service_tier.as_deref());
                crate::pricing::answer(&r.case.spec, &r.case.model, served, usage.input_tokens, usage.output_tokens)
            })
            .fold(None, crate::pricing::add),
        service_tier: response.and_then(|r| r.service_tier.clone()),
        latency_ms: response.map(|r| r.latency_ms),
        flags: response.map(flags).unwrap_or_default(),
        error,
        assertions: shown.map(|s| s.assertions.iter().map(assertion).collect()).unwrap_or_default(),
        snapshot: v.snapshot.as_ref().map(|s| SnapshotRecord {
            status: s.status,
            path: crate::fs::shown(&s.path),
            pending: s.written.as_ref().is_some_and(|w| *w != s.path),
            diff: (s.status == SnapshotStatus::Changed)
                .then(|| unified(s.old.as_deref().unwrap_or_default(), s.new.as_deref().unwrap_or_default(), false)),
            written: s.written.as_deref().map(crate::fs::shown),
            body: (s.status == SnapshotStatus::New).then(|| s.new.clone().unwrap_or_default()),
            reworded: s.reworded.as_ref().map(|g| RewordedRecord {
                equivalent: g.outcome.as_ref().ok().map(|d| d.passed),
                grade: JudgeNote::of(g),
            }),
        }),
        samples: SamplesRecord::of(v.samples.len() as u32, v.passed_samples),
        skip_reason: r.skip_reason.clone(),
        duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
        source: response.map(|r| r.source),
        batch_job: response.and_then(|r| r.batch_job.clone()),
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
        equivalence_error: shown.and_then(equivalence_error),
        attempts: v.samples.iter().map(|s| s.response.attempts.max(1)).sum(),
        note: v.samples.iter().find_map(|s| s.response.note.clone()),
        answers: if v.samples.len() > 1 { v.samples.iter().map(answer).collect() } else { Vec::new() },
    }
}

/// One sample of several.
fn answer(s: &SampleOutcome) -> AnswerRecord {
    let r = &s.response;
    AnswerRecord {
        passed: s.passed,
        final_text: r.final_text.clone(),
        reasoning: r.reasoning.clone(),
        stop_reason: r.stop_reason.clone(),
        tool_calls: r.tool_calls.iter().map(tool_call).collect(),
        usage: r.usage.map(usage_record),
        flags: flags(r),
        error: r.error.as_ref().map(error_record),
        attempts: r.attempts.max(1),
        failed: s.assertions.iter().filter(|a| !a.passed).map(assertion).collect(),
        equivalence_error: equivalence_error(s),
    }
}

fn equivalence_error(s: &SampleOutcome) -> Option<String> {
    s.grades.equivalence.as_ref().and_then(|g| g.outcome.as_ref().err()).map(ToString::to_string)
}

fn error_record(e: &CallError) -> ErrorRecord {
    ErrorRecord { kind: e.kind.as_str().into(), message: e.message.clone(), retryable: e.retryable, status: e.status }
}

fn usage_record(u: Usage) -> UsageRecord {
    UsageRecord { input_tokens: u.input_tokens, output_tokens: u.output_tokens }
}

fn flags(r: &ModelResponse) -> Vec<String> {
    r.flags.names().into_iter().map(str::to_owned).collect()
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
        looked_at: a.looked_at.clone().map(|(part, text)| LookedAt { part, text }),
    }
}

fn turn(turn: &Turn) -> TurnRecord {
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
