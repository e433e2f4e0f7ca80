//! The bundled suite (`scenarios/`) offline: every case replays from its committed
//! cassette through the real clients and matches its committed snapshot, with no
//! credentials, and no connection leaves the machine.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{binary, clean_env, stderr, stdout};

/// Runs the bundled suite, under `wrapper` (a program and its arguments) if given.
fn bundled(wrapper: Option<(&str, &[&str])>, mode: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = match wrapper {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(env!("CARGO_BIN_EXE_gpt-oss-scenarios"));
            clean_env(&mut c, root);
            c
        }
        None => binary(root),
    };
    command
        .args(["run", "scenarios/", "--update-snapshots", "no"])
        .args(mode)
        // Endpoints that lead off the machine: replay must not use them.
        .env("OPENAI_BASE_URL", "http://192.0.2.1:9/v1")
        .env("GPT_OSS_SCENARIOS_RESPONSES_BASE_URL", "http://192.0.2.1:9/v1")
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://192.0.2.1:9");
    command.output().expect("starts")
}

#[test]
fn the_bundled_suite_passes_offline_from_its_cassettes() {
    // `auto` (the README's main command) replays every case: each has a cassette.
    for mode in [&[][..], &["--mode", "replay"][..]] {
        let out = bundled(None, mode);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {text}\n{}", stderr(&out));
        assert!(text.contains("45 cases: 45 passed, 0 failed, 0 errored, 0 skipped; 0 pending snapshot(s)"), "{text}");
        assert!(text.contains("1 dataset(s): 1 passed, 0 failed"), "{text}");
        // Every Bedrock path replays: InvokeModel, the Responses API, an agent over it.
        for api in ["invoke", "invoke-stream", "responses", "responses-stream"] {
            assert!(text.contains(&format!(" PASS compare-decimals-{api} ({api},")), "{api}: {text}");
        }
        assert!(text.contains(" PASS weather-agent-responses (agent,"), "{text}");
        // The judged example: its grader's answers replay from its cassette too.
        assert!(text.contains("reworded, judged equivalent by openai.gpt-oss-120b-1:0"), "{text}");
        assert!(text.contains("judging            2 calls"), "{text}");
    }
}

#[test]
fn replay_never_opens_a_connection_off_the_machine() {
    let trace = tempfile::NamedTempFile::new().unwrap();
    let trace_path = trace.path().to_str().unwrap().to_owned();
    let out = bundled(Some(("strace", &["-f", "-e", "trace=connect", "-o", &trace_path])), &["--mode", "replay"]);
    assert!(
        !stderr(&out).contains("strace: exec") && out.status.code() != Some(127),
        "strace is needed for this test (apt-get install strace; .ci/run does it)"
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("45 passed"), "{text}");
    let calls = std::fs::read_to_string(trace.path()).unwrap();
    let inet: Vec<&str> = calls.lines().filter(|l| l.contains("connect(") && l.contains("AF_INET")).collect();
    assert!(!inet.is_empty(), "replayed cases connect to the loopback server:\n{calls}");
    let outside: Vec<&&str> = inet.iter().filter(|l| !l.contains("127.0.0.1") && !l.contains("::1")).collect();
    assert!(outside.is_empty(), "replay connected off the machine: {outside:#?}");
    // Issue 15: one server for the whole run, not one per case.
    let mut ports: Vec<&str> = inet.iter().filter_map(|l| l.split("htons(").nth(1)?.split(')').next()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 1, "one replay server per run: {inet:#?}");
}

/// Issue 13: a read-only `snapshots/` marked matching cases as errored, because a
/// stale `.snap.new` was removed even when there was none. When every snapshot
/// matches, the run writes, renames and removes nothing under `snapshots/`.
#[test]
fn read_only_snapshots_stay_green_when_nothing_needs_writing() {
    let trace = tempfile::NamedTempFile::new().unwrap();
    let trace_path = trace.path().to_str().unwrap().to_owned();
    let calls = "trace=unlink,unlinkat,rename,renameat,renameat2,creat,mkdir,mkdirat,openat";
    let out = bundled(Some(("strace", &["-f", "-e", calls, "-o", &trace_path])), &["--mode", "replay"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let calls = std::fs::read_to_string(trace.path()).unwrap();
    let writes: Vec<&str> = calls
        .lines()
        .filter(|l| l.contains("snapshots/"))
        .filter(|l| !l.contains("openat(") || l.contains("O_WRONLY") || l.contains("O_RDWR") || l.contains("O_CREAT"))
        .collect();
    assert!(writes.is_empty(), "the run changed snapshots/: {writes:#?}");
}

/// Copies `scenarios/safeguard` with its cassette and snapshot into a new repository.
fn safeguard_copy() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = crate::support::repo();
    for folder in ["scenarios", "cassettes", "snapshots"] {
        let from = root.join(folder).join("safeguard");
        let to = dir.path().join(folder).join("safeguard");
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    dir
}

#[test]
fn the_safeguard_example_clears_its_thresholds_and_fails_above_them() {
    let dir = safeguard_copy();
    let out = crate::support::run_in(dir.path(), &["run", "scenarios", "--mode", "replay"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    // One synthetic answer disagrees with its label: the scores are below 1.
    assert!(text.contains("precision 0.923 · recall 1.000 · F1 0.960 (class 1)"), "{text}");
    assert!(text.contains("min_f1 0.9: 0.960 (met)"), "{text}");
    // Rows that passed are counted in the dataset's block, not listed.
    assert!(!text.contains("PASS spam-policy[row="), "{text}");

    let path = dir.path().join("scenarios/safeguard/spam-policy.yaml");
    let scenario = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, scenario.replace("min_f1: 0.9\n", "min_f1: 0.99\n")).unwrap();
    let out = crate::support::run_in(dir.path(), &["run", "scenarios", "--mode", "replay"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(" FAIL dataset spam-policy: f1 is 0.960, below min_f1 0.99"), "{text}");
    assert!(text.contains("accuracy 0.958 [0.798, 0.993] (23/24)"), "{text}");
    assert!(text.contains("24 cases: 24 passed"), "the rows pass; the dataset fails: {text}");
}
