//! `merge-reports` (combine shard reports) and `serve` (replay a recorded exchange on
//! loopback, for local clients and benchmarks).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cassette::Cassette;
use crate::exit;
use crate::report::record::{FORMAT, RunRecord, SummaryRecord};
use crate::report::{json, junit, markdown};
use crate::verdict::store::write_atomic;
use crate::wire::WireCase;
use crate::wire::server::{Reply, WireServer};

pub fn merge_reports(
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
    let merged = RunRecord {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: runs.iter().map(|r| r.started_at.clone()).min().unwrap_or_default(),
        // Shards run side by side: the merged run took as long as the slowest.
        duration_ms: runs.iter().map(|r| r.duration_ms).max().unwrap_or(0),
        filters: runs.iter().flat_map(|r| r.filters.iter().cloned()).collect(),
        summary: SummaryRecord::from_cases(&cases, interrupted),
        cases,
    };
    let write = |path: Option<&Path>, text: Result<String, String>| -> Result<(), String> {
        match path {
            Some(path) => write_atomic(path, &text?).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    };
    let results = [
        write(report_json, serde_json::to_string_pretty(&merged).map_err(|e| e.to_string())),
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

pub fn serve(case: &Path, port: u16, latency: Duration) -> u8 {
    let text = match std::fs::read_to_string(case) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: failed to read {}: {e}", case.display());
            return exit::INVALID;
        }
    };
    // A wire-corpus case, or a cassette (its first recorded response).
    let (label, response) = match serde_json::from_str::<WireCase>(&text) {
        Ok(w) => (format!("{} ({})", w.id, w.api), w.response),
        Err(wire_error) => match serde_json::from_str::<Cassette>(&text) {
            Ok(c) if !c.interactions.is_empty() => {
                (format!("{} ({})", c.case, c.api), c.interactions[0].response.clone())
            }
            _ => {
                let (line, column) = (wire_error.line(), wire_error.column());
                eprintln!(
                    "error: {}:{line}:{column}: neither a recorded exchange nor a cassette: {wire_error}",
                    case.display()
                );
                return exit::INVALID;
            }
        },
    };
    let mut reply = match Reply::from_wire(&response) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", case.display());
            return exit::INVALID;
        }
    };
    reply.delay = latency;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    runtime.block_on(async move {
        let server = match WireServer::start_on(port, Arc::new(reply)).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
                return exit::INVALID;
            }
        };
        println!("serving {label} on {}", server.url());
        let _ = tokio::signal::ctrl_c().await;
        exit::SUCCESS
    })
}
