//! The record of a run: the `--report-json` format, whose JSON Schema
//! (`schema/report.schema.json`) is generated from these types. It is built once from
//! the runner's events (`build`), merged from shard reports (`merge`), read back
//! (`read`), and every format renders it (`render`). A case's own record is in
//! [`super::case`], a dataset's in [`super::dataset`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::case::{CaseRecord, JudgingRecord};
use super::dataset::DatasetRecord;
use crate::response::Source;
use crate::verdict::{SnapshotStatus, Status};

/// The version of this report format; bumped on incompatible changes.
pub(crate) const FORMAT: u32 = 1;

/// A whole run (or several merged shard runs).
// `C` is how its cases are held: in memory (`Vec<CaseRecord>`, the default), or read
// back one at a time as the JSON report is written (see `render::json`), so that a
// long run is never held whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RunRecord")]
pub(crate) struct RunRecord<C = Vec<CaseRecord>> {
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
    /// The shard the run was (`K/N`), or the shards a merge holds (`1,2,3/3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shard: Option<String>,
    /// What the suite and selection made, before any sharding: a hash of the cases' ids,
    /// models and samples. Shards of one split share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) plan: Option<String>,
    /// A merge of shards known to be incomplete (`merge-reports --allow-partial`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) partial: bool,
    /// Where the answers came from.
    #[serde(default)]
    pub(crate) mode: ModeRecord,
    pub(crate) summary: SummaryRecord,
    pub(crate) cases: C,
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
    /// Cases answered by Bedrock batch inference jobs (and recorded into cassettes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) batched: usize,
    /// With `--engine batch`: the jobs that answered them, and the time they took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch: Option<BatchRecord>,
}

/// A run's batch inference: its jobs, and where its time went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRecord {
    pub(crate) jobs: Vec<BatchJobRecord>,
    /// The tool's own work around the jobs: planning, writing and uploading records,
    /// submitting, downloading and reading the answers into cassettes.
    pub(crate) work_ms: u64,
    /// Waiting for the jobs to end (Bedrock's time, not the tool's).
    pub(crate) wait_ms: u64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A Bedrock batch inference job, as the run submitted and collected it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchJobRecord {
    pub(crate) job_arn: String,
    pub(crate) model: String,
    /// `InvokeModel` or `Converse`.
    pub(crate) invocation: String,
    /// How it ended: `Completed`, `PartiallyCompleted`, `Failed`, `Stopped`, `Expired`.
    pub(crate) status: String,
    /// The job's message, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    /// Records the run sent.
    pub(crate) records: u64,
    /// What the job's `manifest.json.out` counts, when it wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) manifest: Option<ManifestRecord>,
}

/// A batch job's `manifest.json.out`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManifestRecord {
    pub(crate) total_records: u64,
    pub(crate) processed_records: u64,
    pub(crate) success_records: u64,
    pub(crate) error_records: u64,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
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
            Some(Source::Batch) => self.batched += 1,
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
    /// What the cases' answers cost in USD, per run and per model (judging apart).
    #[serde(default)]
    pub(crate) cost: CostRecord,
}

/// What the cases' answers cost, in USD: each priced at its model's price on the tier
/// it was billed on (`pricing:` over the table the tool ships).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CostRecord {
    /// Every priced answer: live and recorded ones at what they cost, replayed ones at
    /// what their recording cost.
    pub(crate) usd: f64,
    /// Of `usd`, what this run paid for: live and recorded answers (a replayed answer
    /// costs nothing again).
    pub(crate) spent_usd: f64,
    /// Cases with tokens but no price for their model, not in `usd` (add the model
    /// under `pricing:` in `defaults.yaml`).
    pub(crate) unpriced: usize,
    /// Per model, in the order they first answered.
    pub(crate) models: Vec<ModelCostRecord>,
    /// The date of the price table the tool ships.
    pub(crate) prices_of: String,
}

/// One model's share of a run's cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelCostRecord {
    pub(crate) model: String,
    /// Its cases with a price.
    pub(crate) cases: usize,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) usd: f64,
}

impl CostRecord {
    /// Counts one case's answers.
    pub(crate) fn add_case(&mut self, case: &CaseRecord) {
        if self.prices_of.is_empty() {
            crate::pricing::TABLE_DATE.clone_into(&mut self.prices_of);
        }
        let (Some(usd), Some(usage)) = (case.cost_usd, case.usage) else {
            self.unpriced += usize::from(case.usage.is_some());
            return;
        };
        self.usd += usd;
        if matches!(case.source, Some(Source::Live | Source::Recorded | Source::Batch)) {
            self.spent_usd += usd;
        }
        let at = match self.models.iter().position(|m| m.model == case.model) {
            Some(at) => at,
            None => {
                self.models.push(ModelCostRecord { model: case.model.clone(), ..ModelCostRecord::default() });
                self.models.len() - 1
            }
        };
        let model = &mut self.models[at];
        model.cases += 1;
        model.input_tokens = model.input_tokens.saturating_add(usage.input_tokens);
        model.output_tokens = model.output_tokens.saturating_add(usage.output_tokens);
        model.usd += usd;
    }

    /// `$0.0123 ($0.00 spent: the rest replayed)`, the run's line.
    pub(crate) fn headline(&self) -> String {
        let usd = crate::pricing::usd;
        if self.models.is_empty() {
            // No case had a price: unknown, not free.
            return format!("unknown ({} cases with no price: add their models under pricing:)", self.unpriced);
        }
        let mut line = usd(self.usd);
        if self.spent_usd < self.usd {
            line.push_str(&format!(
                " ({} spent; replayed answers at what they cost when recorded)",
                usd(self.spent_usd)
            ));
        }
        if self.unpriced > 0 {
            line.push_str(&format!(", {} cases with no price", self.unpriced));
        }
        line
    }
}

impl SummaryRecord {
    /// Counts one finished case: its status, its pending snapshot (a dataset row's
    /// proposal is part of its dataset's table, counted with the dataset), its tokens
    /// and what judging it cost.
    pub(crate) fn add_case(&mut self, case: &CaseRecord) {
        self.cases += 1;
        match case.status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Errored => self.errored += 1,
            Status::Skipped => self.skipped += 1,
        }
        let pending = case.row.is_none()
            && case
                .snapshot
                .as_ref()
                .is_some_and(|s| s.pending && matches!(s.status, SnapshotStatus::New | SnapshotStatus::Changed));
        self.pending_snapshots += usize::from(pending);
        self.tolerated += usize::from(case.tolerated);
        if let Some(u) = case.usage {
            self.input_tokens = self.input_tokens.saturating_add(u.input_tokens);
            self.output_tokens = self.output_tokens.saturating_add(u.output_tokens);
        }
        if let Some(j) = &case.judging {
            self.judging.add(j);
        }
        self.cost.add_case(case);
    }

    /// Counts a dataset judged as a whole, and its pending snapshot table.
    pub(crate) fn add_dataset(&mut self, dataset: &DatasetRecord) {
        if dataset.passed {
            self.datasets_passed += 1;
        } else {
            self.datasets_failed += 1;
        }
        self.pending_snapshots += usize::from(dataset.snapshot.as_ref().is_some_and(|s| s.pending));
    }

    /// Whether the run failed: a case that counts, or a dataset.
    pub(crate) fn failing(&self) -> bool {
        (self.failed + self.errored).saturating_sub(self.tolerated) + self.datasets_failed > 0
    }

    /// Totals counted from case and dataset records, as a run counts them.
    pub(crate) fn from_cases(cases: &[CaseRecord], datasets: &[DatasetRecord], interrupted: bool) -> SummaryRecord {
        let mut summary = SummaryRecord { interrupted, ..SummaryRecord::default() };
        cases.iter().for_each(|c| summary.add_case(c));
        datasets.iter().for_each(|d| summary.add_dataset(d));
        summary
    }
}

/// What a run record says before its cases: written first, so that a report cut short
/// still says what it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunHead {
    pub(crate) format: u32,
    pub(crate) version: String,
    pub(crate) started_at: String,
    pub(crate) filters: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) plan: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) partial: bool,
}

/// What a run record says after its cases: known once the run ends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunEnd {
    pub(crate) duration_ms: u64,
    pub(crate) mode: ModeRecord,
    pub(crate) summary: SummaryRecord,
    pub(crate) datasets: Vec<DatasetRecord>,
    pub(crate) baseline: Option<BaselineRecord>,
}

impl<C> RunRecord<C> {
    /// The record of a run from its three parts.
    pub(crate) fn assemble(head: RunHead, cases: C, end: RunEnd) -> RunRecord<C> {
        RunRecord {
            format: head.format,
            version: head.version,
            started_at: head.started_at,
            duration_ms: end.duration_ms,
            filters: head.filters,
            shard: head.shard,
            plan: head.plan,
            partial: head.partial,
            mode: end.mode,
            summary: end.summary,
            cases,
            datasets: end.datasets,
            baseline: end.baseline,
        }
    }
}

/// What changed since the baseline: the JSON report's `baseline` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BaselineRecord {
    /// The report compared with: `--baseline-name`, else its path.
    pub(crate) file: String,
    /// The relative change beyond which tokens and latency are listed.
    pub(crate) threshold: f64,
    /// Passed in the baseline, failed or errored now.
    pub(crate) new_failures: Vec<String>,
    /// Failed or errored in the baseline, passed now.
    pub(crate) fixed: Vec<String>,
    /// Failed or errored in both.
    pub(crate) still_failing: Vec<String>,
    /// The final answer shown differs (after normalization).
    pub(crate) answers_changed: Vec<String>,
    /// Run now, not in the baseline.
    pub(crate) new_cases: Vec<String>,
    /// In the baseline, not run now (removed, renamed, or not selected).
    pub(crate) missing_cases: Vec<String>,
    /// Output tokens that moved by more than the threshold.
    pub(crate) tokens_changed: Vec<Moved>,
    /// Latency that moved by more than the threshold (and 100 ms).
    pub(crate) latency_changed: Vec<Moved>,
    /// The false discovery rate held over the pass rates compared: each case's rate in
    /// both runs, by Fisher's exact test, one-sided, regressions and improvements each
    /// a Benjamini-Hochberg family among the cases whose counts could show a change.
    #[serde(default)]
    pub(crate) alpha: f64,
    /// Pass rates that dropped by more than chance explains.
    #[serde(default)]
    pub(crate) regressed: Vec<RateChange>,
    /// Pass rates that rose by more than chance explains.
    #[serde(default)]
    pub(crate) improved: Vec<RateChange>,
    /// Pass rates that moved by no more than chance explains.
    #[serde(default)]
    pub(crate) changed_not_significant: Vec<RateChange>,
}

/// A case's pass rate in both runs, and how sure the change is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateChange {
    pub(crate) id: String,
    /// Samples passed and run, in the baseline and now.
    pub(crate) before: PassCount,
    pub(crate) after: PassCount,
    /// Fisher's exact test, one-sided in the direction it moved.
    pub(crate) p_value: f64,
    /// The Benjamini-Hochberg adjusted p-value, for a case that could show a change at
    /// `alpha` at all (else none).
    pub(crate) q_value: Option<f64>,
}

/// Samples passed out of those run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PassCount {
    pub(crate) passed: u32,
    pub(crate) n: u32,
}

/// A figure of a case, before and now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Moved {
    pub(crate) id: String,
    pub(crate) before: u64,
    pub(crate) after: u64,
}

impl BaselineRecord {
    /// `since the baseline: 2 new failures, 1 fixed, 5 answers changed`.
    pub(crate) fn headline(&self) -> String {
        let mut parts = Vec::new();
        let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        parts.push(count(self.new_failures.len(), "new failure", "new failures"));
        parts.push(format!("{} fixed", self.fixed.len()));
        parts.push(count(self.answers_changed.len(), "answer changed", "answers changed"));
        if !self.still_failing.is_empty() {
            parts.push(format!("{} still failing", self.still_failing.len()));
        }
        for (n, one, many) in [
            (self.regressed.len(), "regressed", "regressed"),
            (self.improved.len(), "improved", "improved"),
            (self.changed_not_significant.len(), "changed, not significant", "changed, not significant"),
            (self.tokens_changed.len(), "case with tokens moved", "cases with tokens moved"),
            (self.latency_changed.len(), "case with latency moved", "cases with latency moved"),
            (self.new_cases.len(), "new case", "new cases"),
            (self.missing_cases.len(), "case not run", "cases not run"),
        ] {
            if n > 0 {
                parts.push(count(n, one, many));
            }
        }
        format!("since {}: {}", self.file, parts.join(", "))
    }

    /// Each non-empty list as `label: a, b, c` (at most `max` ids, then how many more),
    /// each id written by `quote` (a Markdown code span, or as it is).
    pub(crate) fn lists(&self, max: usize, quote: fn(&str) -> String) -> Vec<String> {
        let ids = |label: &str, ids: Vec<String>| {
            let more = ids.len().saturating_sub(max);
            let mut shown = ids.into_iter().take(max).collect::<Vec<_>>().join(", ");
            if more > 0 {
                shown.push_str(&format!(" and {more} more"));
            }
            format!("{label}: {shown}")
        };
        let figure = |m: &Moved, unit: &str| format!("{} ({} -> {}{unit})", quote(&m.id), m.before, m.after);
        let quoted = |list: &[String]| list.iter().map(|id| quote(id)).collect::<Vec<_>>();
        // A significant change shows its adjusted p-value, the rest their own.
        let rates = |list: &[RateChange]| {
            let rate = |c: &RateChange| {
                let sure = c
                    .q_value
                    .filter(|q| *q <= self.alpha)
                    .map_or(format!("p {:.3}", c.p_value), |q| format!("q {q:.3}"));
                let (b, a) = (c.before, c.after);
                format!("{} ({}/{} -> {}/{}, {sure})", quote(&c.id), b.passed, b.n, a.passed, a.n)
            };
            list.iter().map(rate).collect::<Vec<_>>()
        };
        [
            ("regressed", rates(&self.regressed)),
            ("improved", rates(&self.improved)),
            ("changed, not significant", rates(&self.changed_not_significant)),
            ("new failures", quoted(&self.new_failures)),
            ("fixed", quoted(&self.fixed)),
            ("answers changed", quoted(&self.answers_changed)),
            ("still failing", quoted(&self.still_failing)),
            ("output tokens moved", self.tokens_changed.iter().map(|m| figure(m, "")).collect()),
            ("latency moved", self.latency_changed.iter().map(|m| figure(m, " ms")).collect()),
            ("new cases", quoted(&self.new_cases)),
            ("not run", quoted(&self.missing_cases)),
        ]
        .into_iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(label, list)| ids(label, list))
        .collect()
    }
}

/// The JSON Schema of the report, as checked in at `schema/report.schema.json`.
pub(crate) fn json_schema() -> Value {
    let mut schema = schemars::schema_for!(RunRecord<Vec<CaseRecord>>).to_value();
    if let Some(map) = schema.as_object_mut() {
        map.insert("title".into(), Value::String("gpt-oss-scenarios run report".into()));
    }
    schema
}
