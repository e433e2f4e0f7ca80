//! `--baseline` and what fails a run (the flags `run` and `merge-reports` share), and
//! the run history's flags.

use std::path::PathBuf;

use crate::report::record::{BaselineRecord, SummaryRecord};

/// Comparison with an earlier report.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BaselineArgs {
    /// Compare each case with this earlier report (from --report-json or merge-reports),
    /// or `last`: the previous kept run of the same suite and selection (`run` only). New
    /// failures, fixes, cases still failing, changed answers, pass rates, moved tokens and
    /// latency.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// With --baseline: the relative change beyond which output tokens and latency are
    /// listed (0.25: 25%; latency also by at least 100 ms).
    #[arg(long, value_name = "RATIO", default_value_t = 0.25, value_parser = ratio)]
    pub(crate) baseline_threshold: f64,
    /// With --baseline: what to call it in summaries, e.g. "last night" (default: its path).
    #[arg(long, value_name = "TEXT")]
    pub(crate) baseline_name: Option<String>,
    /// With --baseline: the false discovery rate of the pass rates called regressed (and,
    /// apart, improved): each case's rate in both runs by Fisher's exact test, one-sided,
    /// held over the cases by Benjamini-Hochberg.
    #[arg(long, value_name = "ALPHA", default_value_t = 0.05, value_parser = alpha)]
    pub(crate) baseline_alpha: f64,
    /// What fails the run: `failures` (any failed or errored case, the default) or
    /// `regressed` (only a case whose pass rate dropped significantly since --baseline:
    /// a flaky case that fails as often as before does not fail the build).
    #[arg(long, value_enum, value_name = "WHAT", default_value = "failures", requires = "baseline")]
    pub(crate) fail_on: FailOn,
}

/// What fails a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FailOn {
    Failures,
    Regressed,
}

impl BaselineArgs {
    /// The baseline report, read; `Err` says which file and why.
    pub(crate) fn read(
        &self,
    ) -> Result<Option<std::sync::Arc<crate::report::baseline::Baseline>>, crate::report::ReportError> {
        self.baseline.as_deref().map(|path| self.read_path(path)).transpose()
    }

    /// `--baseline last`: the previous kept run of the same selection, found once the
    /// run is planned.
    pub(crate) fn is_last(&self) -> bool {
        self.baseline.as_deref() == Some(std::path::Path::new("last"))
    }

    /// The baseline report at `path`, read.
    pub(crate) fn read_path(
        &self,
        path: &std::path::Path,
    ) -> Result<std::sync::Arc<crate::report::baseline::Baseline>, crate::report::ReportError> {
        let name = self.baseline_name.as_deref();
        crate::report::baseline::Baseline::read(path, name, self.baseline_threshold, self.baseline_alpha)
            .map(std::sync::Arc::new)
    }

    /// Whether the run's outcome fails it: its `summary`, and the comparison's record.
    pub(crate) fn failing(&self, summary: &SummaryRecord, compared: Option<&BaselineRecord>) -> bool {
        match self.fail_on {
            FailOn::Failures => summary.failing(),
            FailOn::Regressed => compared.is_some_and(|b| !b.regressed.is_empty()),
        }
    }
}

/// A `--baseline-threshold` that is not a ratio.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a ratio such as 0.25")]
struct NotARatio(String);

/// A `--baseline-alpha` outside (0, 1).
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a probability between 0 and 1 (exclusive), such as 0.05")]
struct NotAnAlpha(String);

fn alpha(text: &str) -> Result<f64, NotAnAlpha> {
    match text.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(NotAnAlpha(text.to_owned())),
    }
}

fn ratio(text: &str) -> Result<f64, NotARatio> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(NotARatio(text.to_owned())),
    }
}

/// Where a run is kept: `.gpt-oss-scenarios/runs/`, its JSON report written as it goes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HistoryArgs {
    /// Keep no copy of this run's report in .gpt-oss-scenarios/runs/.
    #[arg(long)]
    pub(crate) no_history: bool,
    /// How many runs .gpt-oss-scenarios/runs/ keeps: the newest.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub(crate) keep_runs: usize,
    /// Remove kept runs older than this, e.g. 30d (default: kept until --keep-runs
    /// removes them).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub(crate) keep_for: Option<std::time::Duration>,
}
