//! `validate`, `list` and `schema` through the real binary.

use crate::support::{run, run_in, stderr, stdout};

#[test]
fn the_bundled_suite_is_valid() {
    let out = run(&["validate", "scenarios/"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
}

#[test]
fn validate_defaults_to_the_scenarios_folder() {
    let out = run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn the_malformed_corpus_is_invalid_and_every_file_is_reported() {
    let out = run(&["validate", "tests/malformed"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for entry in std::fs::read_dir("tests/malformed").unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "yaml") {
            // Its own line, or a line of the data file it reads that names it.
            let own = format!("{}:", path.display());
            let data = format!("(the dataset of {})", path.display());
            assert!(err.contains(&own) || err.contains(&data), "no error for {own} in:\n{err}");
        }
    }
    // The count is of the files named: scenario files and data files.
    let mut named: Vec<&str> =
        err.lines().filter_map(|l| l.split_once(':').map(|(f, _)| f)).filter(|f| f.starts_with("tests/")).collect();
    named.sort_unstable();
    named.dedup();
    assert!(err.trim_end().ends_with(&format!("in {} files", named.len())), "{err}");
}

#[test]
fn list_shows_every_expanded_case() {
    let out = run(&["list", "scenarios/"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("compare-decimals[api=chat-stream,model=openai.gpt-oss-120b-1:0]"))
        .expect("the matrix case is listed");
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns[1..], ["chat-stream", "openai.gpt-oss-120b-1:0"]);
    for api in ["converse", "converse-stream", "chat", "chat-stream"] {
        assert!(text.lines().any(|l| l.starts_with(&format!("compare-decimals-{api} "))), "{api} missing:\n{text}");
    }
}

#[test]
fn list_json_is_machine_readable() {
    let out = run(&["list", "scenarios/", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cases: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let cases = cases.as_array().expect("a list");
    let matrix: Vec<_> = cases.iter().filter(|c| c["name"] == "compare-decimals").collect();
    assert_eq!(matrix.len(), 4);
    assert!(matrix.iter().all(|c| c["scenario"] == "scenarios/matrix/compare-decimals-models.yaml"));
    let agent = cases.iter().find(|c| c["id"] == "weather-agent-chat").expect("agent case");
    assert_eq!(agent["api"], "agent");
    assert_eq!(agent["region"], "us-west-2");
}

#[test]
fn list_of_an_invalid_suite_exits_2() {
    let out = run(&["list", "tests/malformed/bad-api.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("tests/malformed/bad-api.yaml:2:6: /api: "), "{}", stderr(&out));
}

#[test]
fn checked_in_schemas_match_what_the_binary_prints() {
    for (kind, file) in [
        ("scenario", "schema/scenario.schema.json"),
        ("defaults", "schema/defaults.schema.json"),
        ("report", "schema/report.schema.json"),
    ] {
        let out = run(&["schema", "--kind", kind]);
        assert_eq!(out.status.code(), Some(0));
        let checked_in = std::fs::read_to_string(file).expect("schema file");
        assert!(
            stdout(&out) == checked_in,
            "{file} drifted: regenerate it with `cargo run -- schema --kind {kind} > {file}`"
        );
    }
}

#[test]
fn a_missing_path_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["validate", "nope/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("nope/: cannot read this path: no such file or folder"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["list", "--format", "xml"]).status.code(), Some(2));
    let help = run(&["validate", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("Examples:"));
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
}

/// Issue 13: `run --dry-run | head` panicked on the broken pipe.
#[test]
fn a_closed_stdout_ends_the_process_quietly() {
    use std::io::Read;
    // Far more output than a pipe holds, so the writer meets the closed end.
    let dir = crate::support::repo();
    let values: Vec<String> = (0..3000).map(|n| n.to_string()).collect();
    let scenario =
        format!("name: many\napi: chat\nmodel: m\nprompt: hi\nmatrix:\n  params.extra.n: [{}]\n", values.join(", "));
    crate::support::write(dir.path(), "scenarios/many.yaml", &scenario);
    let mut child = crate::support::binary(dir.path())
        .args(["run", "scenarios", "--dry-run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let text = stderr(&out);
    assert!(!text.contains("panicked") && !text.contains("Broken pipe"), "{text}");
    assert_ne!(out.status.code(), Some(101), "exit 101 is a panic");
}

/// Issue 14: a filter, tag, API or model that matched nothing ran 0 cases and exited
/// 0, so a typo in a CI job passed.
#[test]
fn a_selection_that_matches_nothing_is_an_error_unless_allowed() {
    let dir = crate::support::repo();
    crate::support::write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    for flag in [["--filter", "typo"], ["--tag", "nightyl"], ["--api", "converse"], ["--model", "other"]] {
        let out = run_in(dir.path(), &["run", "scenarios", "--dry-run", flag[0], flag[1]]);
        assert_eq!(out.status.code(), Some(4), "{flag:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("error: no cases selected by {}={}", flag[0], flag[1])),
            "{}",
            stderr(&out)
        );
    }
    let allowed = run_in(dir.path(), &["run", "scenarios", "--dry-run", "--filter", "typo", "--allow-empty"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
}

/// Issue 14: `validate` reported in phases; regex and matrix errors stayed hidden until
/// the schema errors were fixed.
#[test]
fn validate_reports_every_independent_problem_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("many.yaml"),
        "scenarios:\n  - name: shape\n    api: chat\n    model: m\n    prompt: hi\n    params:\n      temperature: hot\n    expect:\n      - regex: \"(unclosed\"\n    matrix:\n      params.temprature: [0.0, 1.0]\n  - name: no-model\n    api: chat\n    prompt: hi\n    expect:\n      - regex: \"[a-\"\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["validate", "many.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "many.yaml:7:20: /scenarios/0/params/temperature: ",
        "many.yaml:9:16: /scenarios/0/expect/0/regex: ",
        "many.yaml:11:7: /scenarios/0/matrix/params.temprature: ",
        "many.yaml:16:16: /scenarios/1/expect/0/regex: ",
        "many.yaml:12:11: /scenarios/1/name: no model",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.trim_end().ends_with("5 problems in 1 file"), "{err}");
}
