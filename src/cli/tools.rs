//! `merge-reports` (combine shard reports) and `serve` (replay a recorded exchange on
//! loopback, for local clients and benchmarks).

use crate::stdio::{errln, outln};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::exit;
use crate::fs::write_atomic;
use crate::recordings::playback::{self, Match, Playback};
use crate::report::baseline::Comparison;
use crate::report::dataset::DatasetRecord;
use crate::report::record::{FORMAT, ModeRecord, RunRecord, SamplesRecord, SummaryRecord};
use crate::report::{ReportError, html, json, junit, markdown};
use crate::wire::server::WireServer;

/// Where `merge-reports` writes.
pub(crate) struct Outputs {
    pub(crate) report_json: Option<PathBuf>,
    pub(crate) junit: Option<PathBuf>,
    pub(crate) summary_md: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
}

pub(crate) fn merge_reports(inputs: &[PathBuf], outputs: &Outputs, baseline: &super::BaselineArgs) -> u8 {
    let baseline = match baseline.read() {
        Ok(b) => b,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    let mut runs = Vec::new();
    for path in inputs {
        match json::read(path) {
            Ok(run) => runs.push(run),
            Err(e) => {
                errln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
    let mut cases: Vec<_> = runs.iter().flat_map(|r| r.cases.iter().cloned()).collect();
    // Reports written before the interval was recorded default it: recompute from the counts.
    for case in &mut cases {
        case.samples = SamplesRecord::of(case.samples.n, case.samples.passed);
    }
    let interrupted = runs.iter().any(|r| r.summary.interrupted);
    // A dataset's rows are spread over the shards: its records add up.
    let mut datasets: Vec<DatasetRecord> = Vec::new();
    for d in runs.iter().flat_map(|r| &r.datasets) {
        match datasets.iter_mut().find(|m| m.id == d.id && m.scenario == d.scenario) {
            Some(merged) => merged.merge(d),
            None => datasets.push(d.clone()),
        }
    }
    let mut modes: Vec<Option<String>> = runs.iter().map(|r| r.mode.requested.clone()).collect();
    modes.dedup();
    let requested = match modes.as_slice() {
        [one] => one.clone(),
        _ => Some("mixed".to_owned()),
    };
    let baseline = baseline.map(|b| {
        let mut comparison = Comparison::new(b);
        cases.iter().for_each(|c| comparison.add(c));
        comparison.finish()
    });
    let merged = RunRecord {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: runs.iter().map(|r| r.started_at.clone()).min().unwrap_or_default(),
        // Shards run side by side: the merged run took as long as the slowest.
        duration_ms: runs.iter().map(|r| r.duration_ms).max().unwrap_or(0),
        filters: runs.iter().flat_map(|r| r.filters.iter().cloned()).collect(),
        mode: ModeRecord::from_cases(requested, &cases),
        summary: SummaryRecord::from_cases(&cases, &datasets, interrupted),
        cases,
        datasets,
        baseline,
    };
    let write = |path: Option<&Path>, text: Result<String, ReportError>| -> Result<(), ReportError> {
        match path {
            Some(path) => Ok(write_atomic(path, &text?)?),
            None => Ok(()),
        }
    };
    let md = markdown::render(
        &merged.summary,
        &merged.cases,
        &merged.datasets,
        merged.baseline.as_ref(),
        merged.duration_ms,
    );
    let results = [
        write(outputs.report_json.as_deref(), serde_json::to_string_pretty(&merged).map_err(ReportError::from)),
        write(outputs.junit.as_deref(), junit::render(&merged.cases, &merged.datasets)),
        write(outputs.summary_md.as_deref(), Ok(md)),
        write(outputs.html.as_deref(), html::render(&merged)),
    ];
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        errln!("error: {e}");
    }
    let s = &merged.summary;
    outln!(
        "merged {} report(s): {} cases: {} passed, {} failed, {} errored, {} skipped",
        runs.len(),
        s.cases,
        s.passed,
        s.failed,
        s.errored,
        s.skipped
    );
    if let Some(b) = &merged.baseline {
        outln!("{}", b.headline());
        for line in b.lists(10, str::to_owned) {
            outln!("  {line}");
        }
    }
    if results.iter().any(Result::is_err) {
        exit::INVALID
    } else if s.failing() {
        exit::FAILURES
    } else {
        exit::SUCCESS
    }
}

/// Serves every interaction of the given files, matched in order or by hash.
pub(crate) fn serve(cases: &[PathBuf], port: u16, latency: Duration, matching: Match, log: Option<&Path>) -> u8 {
    let mut recordings = Vec::new();
    for case in cases {
        match playback::load(case, latency) {
            Ok(found) => recordings.extend(found),
            Err(e) => {
                errln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
    let labels: Vec<String> = recordings.iter().map(|r| format!("{} [{}]", r.label, r.api.as_str())).collect();
    let warn = Box::new(|warning: String| errln!("warning: {warning}"));
    let playback = match Playback::new(recordings, matching, log, warn) {
        Ok(p) => p,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    runtime.block_on(async move {
        let server = match WireServer::start_on(port, Arc::new(playback), false).await {
            Ok(s) => s,
            Err(e) => {
                errln!("error: cannot listen on 127.0.0.1:{port}: {e}");
                return exit::INVALID;
            }
        };
        let how = match matching {
            Match::Order => "in order",
            Match::Hash => "by request hash",
        };
        outln!("serving on {} {how}:", server.url());
        for label in &labels {
            outln!("  {label}");
        }
        let _ = tokio::signal::ctrl_c().await;
        exit::SUCCESS
    })
}
