//! `merge-reports` (combine shard reports) and `serve` (replay a recorded exchange on
//! loopback, for local clients and benchmarks).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::execute::cassette::Cassette;
use crate::exit;
use crate::fs::write_atomic;
use crate::report::record::{FORMAT, ModeRecord, RunRecord, SummaryRecord};
use crate::report::{ReportError, json, junit, markdown};
use crate::wire::WireCase;
use crate::wire::server::{InOrder, Reply, WireServer};

pub(crate) fn merge_reports(
    inputs: &[PathBuf],
    report_json: Option<&Path>,
    junit_out: Option<&Path>,
    summary_md: Option<&Path>,
) -> u8 {
    let mut runs = Vec::new();
    for path in inputs {
        match json::read(path) {
            Ok(run) => runs.push(run),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
    let cases: Vec<_> = runs.iter().flat_map(|r| r.cases.iter().cloned()).collect();
    let interrupted = runs.iter().any(|r| r.summary.interrupted);
    let mut modes: Vec<Option<String>> = runs.iter().map(|r| r.mode.requested.clone()).collect();
    modes.dedup();
    let requested = match modes.as_slice() {
        [one] => one.clone(),
        _ => Some("mixed".to_owned()),
    };
    let merged = RunRecord {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: runs.iter().map(|r| r.started_at.clone()).min().unwrap_or_default(),
        // Shards run side by side: the merged run took as long as the slowest.
        duration_ms: runs.iter().map(|r| r.duration_ms).max().unwrap_or(0),
        filters: runs.iter().flat_map(|r| r.filters.iter().cloned()).collect(),
        mode: ModeRecord::from_cases(requested, &cases),
        summary: SummaryRecord::from_cases(&cases, interrupted),
        cases,
    };
    let write = |path: Option<&Path>, text: Result<String, ReportError>| -> Result<(), ReportError> {
        match path {
            Some(path) => Ok(write_atomic(path, &text?)?),
            None => Ok(()),
        }
    };
    let results = [
        write(report_json, serde_json::to_string_pretty(&merged).map_err(ReportError::from)),
        write(junit_out, junit::render(&merged.cases)),
        write(summary_md, Ok(markdown::render(&merged.summary, &merged.cases, merged.duration_ms))),
    ];
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("error: {e}");
    }
    let s = &merged.summary;
    println!(
        "merged {} report(s): {} cases: {} passed, {} failed, {} errored, {} skipped",
        runs.len(),
        s.cases,
        s.passed,
        s.failed,
        s.errored,
        s.skipped
    );
    if results.iter().any(Result::is_err) {
        exit::INVALID
    } else if s.failed + s.errored > 0 {
        exit::FAILURES
    } else {
        exit::SUCCESS
    }
}

/// Serves recorded responses in order: the n-th request gets the n-th file's response,
/// and every request after the last file gets the last one again.
fn load_reply(case: &Path) -> Result<(String, Reply), ServeError> {
    let text = std::fs::read_to_string(case).map_err(|source| ServeError::Read { path: case.to_owned(), source })?;
    // A wire-corpus case, or a cassette (its first recorded response).
    let (label, response) = match serde_json::from_str::<WireCase>(&text) {
        Ok(w) => (format!("{} ({})", w.id, w.api), w.response),
        Err(wire_error) => match serde_json::from_str::<Cassette>(&text) {
            Ok(c) if !c.interactions.is_empty() => {
                (format!("{} ({})", c.case, c.api), c.interactions[0].response.clone())
            }
            _ => {
                return Err(ServeError::Parse {
                    path: case.to_owned(),
                    line: wire_error.line(),
                    column: wire_error.column(),
                    source: wire_error,
                });
            }
        },
    };
    let reply = Reply::from_wire(&response).map_err(|source| ServeError::Encode { path: case.to_owned(), source })?;
    Ok((label, reply))
}

/// A file `serve` cannot play, naming it.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: neither a recorded exchange nor a cassette: {source}")]
    Parse { path: PathBuf, line: usize, column: usize, source: serde_json::Error },
    #[error("{path}: {source}")]
    Encode { path: PathBuf, source: crate::wire::WireError },
}

pub(crate) fn serve(cases: &[PathBuf], port: u16, latency: Duration) -> u8 {
    let mut labels = Vec::new();
    let mut replies = Vec::new();
    for case in cases {
        match load_reply(case) {
            Ok((label, mut reply)) => {
                reply.delay = latency;
                labels.push(label);
                replies.push(reply);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    runtime.block_on(async move {
        let responder = InOrder::repeating_last(replies);
        let server = match WireServer::start_on(port, Arc::new(responder)).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
                return exit::INVALID;
            }
        };
        println!("serving {} on {}", labels.join(", then "), server.url());
        let _ = tokio::signal::ctrl_c().await;
        exit::SUCCESS
    })
}
