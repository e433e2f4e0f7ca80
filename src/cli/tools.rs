//! `merge-reports` (combine shard reports) and `serve` (replay a recorded exchange on
//! loopback, for local clients and benchmarks).

use crate::stdio::{errln, outln};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::exit;
use crate::fs::write_atomic;
use crate::recordings::playback::{self, Match, Playback};
use crate::report::merge::merge;
use crate::report::read::read;
use crate::report::render::{self, json};
use crate::report::{OutputError, ReportError};
use crate::wire::server::WireServer;

/// Where `merge-reports` writes.
pub(crate) struct Outputs {
    pub(crate) report_json: Option<PathBuf>,
    pub(crate) junit: Option<PathBuf>,
    pub(crate) summary_md: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
}

/// Merges shard reports into one record and renders it as a run's is rendered.
pub(crate) fn merge_reports(
    inputs: &[PathBuf],
    outputs: &Outputs,
    baseline_args: &super::BaselineArgs,
    allow_partial: bool,
) -> u8 {
    let baseline = match baseline_args.read() {
        Ok(b) => b,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    let mut runs = Vec::new();
    for path in inputs {
        match read(path) {
            Ok(run) => runs.push(run),
            Err(e) => {
                errln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
    let count = runs.len();
    let named: Vec<(String, &crate::report::record::RunRecord)> =
        inputs.iter().map(|p| crate::fs::shown(p)).zip(&runs).collect();
    let partial = match crate::report::merge::check(&named, allow_partial) {
        Ok(partial) => partial,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    let merged = merge(runs, baseline, partial);
    let mut errors = render::Outputs {
        junit: outputs.junit.clone(),
        summary_md: outputs.summary_md.clone(),
        step_summary: None,
        html: outputs.html.clone(),
    }
    .write(&merged);
    if let Some(path) = &outputs.report_json {
        let written = json::render(&merged).map_err(ReportError::from).and_then(|text| Ok(write_atomic(path, &text)?));
        if let Err(e) = written {
            errors.push(OutputError { name: path.display().to_string(), source: e });
        }
    }
    for e in &errors {
        errln!("error: {e}");
    }
    let s = &merged.summary;
    outln!(
        "merged {count} report(s){}: {} cases: {} passed, {} failed, {} errored, {} skipped",
        merged
            .shard
            .as_deref()
            .map(|s| format!(" (shards {s}{})", if merged.partial { ", partial" } else { "" }))
            .unwrap_or_default(),
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
    if !errors.is_empty() {
        exit::INVALID
    } else if baseline_args.failing(s, merged.baseline.as_ref()) {
        exit::FAILURES
    } else {
        exit::SUCCESS
    }
}

/// `runs`: the kept runs, newest first, a line each; an unreadable file is said and
/// passed over.
pub(crate) fn runs() -> u8 {
    let dir = crate::report::history::dir();
    let kept = crate::report::history::list(&dir);
    if kept.is_empty() {
        outln!("no run is kept in {} yet: every `run` keeps its report there (unless --no-history)", dir.display());
        return exit::SUCCESS;
    }
    for k in kept {
        let name = k.path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match k.run {
            Ok(run) => {
                let s = &run.summary;
                let selection =
                    if run.filters.is_empty() { String::new() } else { format!("  {}", run.filters.join(" ")) };
                outln!(
                    "{name}  {}  {:<7} {} passed, {} failed, {} errored, {} skipped  {}  {:.1} s{selection}",
                    run.started_at,
                    run.mode.requested.as_deref().unwrap_or("auto"),
                    s.passed,
                    s.failed,
                    s.errored,
                    s.skipped,
                    crate::pricing::usd(s.cost.usd),
                    run.duration_ms as f64 / 1000.0,
                );
            }
            Err(e) => errln!("warning: passed over: {e}"),
        }
    }
    exit::SUCCESS
}

/// `view [RUN]`: the run's HTML report, written beside its JSON and opened.
pub(crate) fn view(name: Option<&str>) -> u8 {
    let dir = crate::report::history::dir();
    let Some(path) = crate::report::history::find(&dir, name) else {
        let what = name.map_or("no run is kept yet".to_owned(), |n| format!("no kept run is named `{n}`"));
        errln!("error: {what} in {}: `gpt-oss-scenarios runs` lists them", dir.display());
        return exit::INVALID;
    };
    let run = match read(&path) {
        Ok(run) => run,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID;
        }
    };
    let html = path.with_extension("html");
    let outputs = render::Outputs { junit: None, summary_md: None, step_summary: None, html: Some(html.clone()) };
    if let Some(e) = outputs.write(&run).first() {
        errln!("error: {e}");
        return exit::INVALID;
    }
    match opener() {
        Some(opener) if std::process::Command::new(&opener).arg(&html).spawn().is_ok() => {
            outln!("opened {}", html.display());
        }
        _ => outln!("{}", html.display()),
    }
    exit::SUCCESS
}

/// The platform's opener, where there is one and a person to see what it opens (not on
/// CI, which sets `CI`).
fn opener() -> Option<PathBuf> {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let name = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer.exe"
    } else {
        "xdg-open"
    };
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Serves every interaction of the given files, matched in order or by hash.
pub(crate) fn serve(cases: &[PathBuf], port: u16, latency: Duration, matching: Match, log: Option<&Path>) -> u8 {
    let (playback, labels) = match load_playback(cases, latency, matching, log) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
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

/// Every interaction of `files`, to serve as `matching` says, and each one's label; a
/// file that cannot be served is said, and the exit code returned.
pub(super) fn load_playback(
    files: &[PathBuf],
    latency: Duration,
    matching: Match,
    log: Option<&Path>,
) -> Result<(Playback, Vec<String>), u8> {
    let mut recordings = Vec::new();
    for file in files {
        match playback::load(file, latency) {
            Ok(found) => recordings.extend(found),
            Err(e) => {
                errln!("error: {e}");
                return Err(exit::INVALID);
            }
        }
    }
    let labels: Vec<String> = recordings.iter().map(|r| format!("{} [{}]", r.label, r.api.as_str())).collect();
    let warn = Box::new(|warning: String| errln!("warning: {warning}"));
    match Playback::new(recordings, matching, log, warn) {
        Ok(p) => Ok((p, labels)),
        Err(e) => {
            errln!("error: {e}");
            Err(exit::INVALID)
        }
    }
}

/// The async runtime a server runs on.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        errln!("error: cannot start the async runtime: {e}");
        exit::INVALID
    })
}
