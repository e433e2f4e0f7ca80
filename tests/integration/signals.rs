//! Stopping a run from outside: Ctrl-C, SIGTERM (what `timeout`, `docker stop` and a
//! cancelled GitHub job send), a second signal, and SIGKILL. The reports are written
//! whole, or (SIGKILL) a readable prefix of the JSON report remains; no temporary file
//! is left behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use gpt_oss_scenarios::wire::server::WireServer;

use crate::reports::{Slow, json_file, suite};
use crate::support::{binary, corpus, repo, stdout};

/// Starts a run of the five-case suite against a server that answers after 3 s, and
/// returns once `requests` requests have reached the server.
fn started(dir: &Path, server: &WireServer, concurrency: &str, requests: usize) -> Child {
    suite(dir);
    let base = format!("{}/openai/v1", server.url());
    let child = binary(dir)
        .args(["run", "scenarios", "--concurrency", concurrency, "--report-json", "r.json", "--openai-base-url", &base])
        .args(["--junit", "r.xml"])
        .env("OPENAI_API_KEY", "k")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while server.requests().len() < requests {
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap().success());
}

/// Every file the run left in `dir`, but the suite and the reports it was asked for.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".gpt-oss-scenarios" {
            // The run history: the run's report, whole, and nothing half-written.
            let kept: Vec<String> = std::fs::read_dir(entry.path().join("runs"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            if kept.len() != 1 || !kept[0].ends_with(".json") {
                found.extend(kept);
            }
        } else if !["scenarios", ".git", "r.json", "r.xml", ".no-aws-config"].contains(&name.as_str()) {
            found.push(name);
        }
    }
    found
}

fn slow_server(rt: &tokio::runtime::Runtime) -> WireServer {
    rt.block_on(WireServer::start(Arc::new(Slow(corpus("chat-20b-planet"))))).unwrap()
}

#[test]
fn ctrl_c_writes_the_reports_and_exits_130() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = slow_server(&rt);
    let dir = repo();
    // Interrupt once both running cases have reached the server, and not before.
    let child = started(dir.path(), &server, "2", 2);
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stdout(&out));
    let report = json_file(&dir.path().join("r.json"));
    assert_eq!(report["summary"]["interrupted"], true);
    assert_eq!(report["summary"]["cases"], 5, "every case is in the report");
    // The two running cases finish within the grace period; the rest never start.
    assert_eq!(
        report["summary"]["passed"].as_u64().unwrap() + report["summary"]["failed"].as_u64().unwrap(),
        2,
        "{report}"
    );
}

/// Issue 13: SIGTERM left no report at all, and a stray partial report file.
#[test]
fn sigterm_writes_the_reports_like_ctrl_c_and_leaves_no_temporary_file() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = slow_server(&rt);
    let dir = repo();
    let child = started(dir.path(), &server, "2", 2);
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stdout(&out));
    let report = json_file(&dir.path().join("r.json"));
    assert_eq!(report["summary"]["interrupted"], true);
    assert_eq!(report["summary"]["cases"], 5, "{report}");
    assert!(std::fs::read_to_string(dir.path().join("r.xml")).unwrap().contains("<testsuites"));
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// Issue 13: a second signal finishes the reports at once: the running cases are
/// cancelled instead of being given the grace period.
#[test]
fn a_second_signal_cancels_the_running_cases_at_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = slow_server(&rt);
    let dir = repo();
    let child = started(dir.path(), &server, "2", 2);
    signal(&child, "INT");
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stdout(&out));
    let report = json_file(&dir.path().join("r.json"));
    assert_eq!(report["summary"]["cases"], 5, "{report}");
    assert_eq!(report["summary"]["passed"], 0, "nothing waited for the slow answers: {report}");
    assert_eq!(report["summary"]["errored"], 2, "{report}");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// Issue 13: the JSON report is flushed as cases finish, so a SIGKILL leaves a
/// readable prefix holding every finished case.
#[test]
fn sigkill_leaves_a_readable_prefix_of_the_json_report() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = slow_server(&rt);
    let dir = repo();
    // One case at a time: the second request means the first case has finished.
    let mut child = started(dir.path(), &server, "1", 2);
    // The skipped case is reported at the start; earth-a is the first to finish.
    let partial = dir.path().join("r.json.partial");
    while !std::fs::read_to_string(&partial).unwrap_or_default().contains("\"earth-a\"") {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&partial).unwrap();
    // The record's head on the first line, then a case a line.
    let (head, cases) = text.split_once('\n').expect("the report's head");
    assert!(head.starts_with("{\"format\":"), "{text}");
    let records: Vec<serde_json::Value> =
        cases.lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(records.iter().any(|r| r["id"] == "earth-a"), "{text}");
    assert!(!dir.path().join("r.json").exists(), "the finished report appears only at the end");
}
