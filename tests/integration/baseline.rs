//! `--baseline`: a run compared with the report of an earlier one, through the real
//! binary: a changed answer, a new failure and a fix, in the terminal, the JSON report
//! (validated against its schema), the Markdown summary and `merge-reports`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};
use serde_json::{Value, json};

use crate::reports::json_file;
use crate::support::{binary, repo, stderr, stdout, write};

/// Answers each prompt with the text set for it.
#[derive(Default)]
struct ByPrompt(Mutex<HashMap<String, String>>);

impl ByPrompt {
    fn set(&self, prompt: &str, answer: &str) {
        self.0.lock().unwrap().insert(prompt.to_owned(), answer.to_owned());
    }
}

impl Responder for ByPrompt {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let answer = self.0.lock().unwrap().get(&prompt_of(request)).cloned().unwrap_or_default();
        chat_reply(&answer)
    }
}

/// The last message of a chat request.
fn prompt_of(request: &RecordedRequest) -> String {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let last = body["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str());
    last.unwrap_or_default().to_owned()
}

/// A chat completion answering `answer`.
fn chat_reply(answer: &str) -> Reply {
    Reply::json(
        200,
        &json!({
            "id": "b", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        }),
    )
}

fn run(dir: &Path, server: &WireServer, args: &[&str]) -> std::process::Output {
    binary(dir)
        .args(["run", "scenarios", "--mode", "live", "--openai-base-url", &format!("{}/openai/v1", server.url())])
        .args(args)
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap()
}

#[test]
fn a_run_compared_with_last_nights_finds_the_changed_answer_the_new_failure_and_the_fix() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answers = Arc::new(ByPrompt::default());
    let server = rt.block_on(WireServer::start(answers.clone())).unwrap();
    let dir = repo();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "api: chat\nmodel: m\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\nexpect: [{icontains: earth}]\n",
    );
    for name in ["reworded", "breaks", "heals"] {
        write(dir.path(), &format!("scenarios/{name}.yaml"), &format!("name: {name}\nprompt: {name}?\n"));
    }
    answers.set("reworded?", "Earth.");
    answers.set("breaks?", "Earth.");
    answers.set("heals?", "Mars.");
    let out = run(dir.path(), &server, &["--report-json", "last.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    answers.set("reworded?", "It is Earth.");
    answers.set("breaks?", "Mars.");
    answers.set("heals?", "Earth.");
    let args = [
        "--report-json",
        "now.json",
        "--summary-md",
        "now.md",
        "--baseline",
        "last.json",
        "--baseline-name",
        "last night",
    ];
    let out = run(dir.path(), &server, &args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("since last night: 1 new failure, 1 fixed, 1 answer changed\n"), "{text}");
    assert!(text.contains("  new failures: breaks\n  fixed: heals\n  answers changed: reworded\n"), "{text}");

    let report = json_file(&dir.path().join("now.json"));
    let schema = json_file(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json")));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let baseline = &report["baseline"];
    assert_eq!(baseline["file"], "last night");
    assert_eq!(baseline["new_failures"], json!(["breaks"]));
    assert_eq!(baseline["fixed"], json!(["heals"]));
    assert_eq!(baseline["still_failing"], json!([]));
    assert_eq!(baseline["answers_changed"], json!(["reworded"]), "a new failure or a fix is listed as such");

    let md = std::fs::read_to_string(dir.path().join("now.md")).unwrap();
    let lines: Vec<&str> = md.lines().collect();
    assert!(lines[0].starts_with("## ❌ gpt-oss-scenarios"), "{md}");
    assert_eq!(lines[2], "**since last night: 1 new failure, 1 fixed, 1 answer changed**", "{md}");
    assert_eq!(lines[4], "- new failures: `breaks`", "{md}");

    // merge-reports compares the merged run the same way.
    let merged = binary(dir.path())
        .args(["merge-reports", "now.json", "--report-json", "merged.json", "--baseline", "last.json"])
        .output()
        .unwrap();
    assert!(
        stdout(&merged).contains("since last.json: 1 new failure, 1 fixed, 1 answer changed"),
        "{}",
        stdout(&merged)
    );
    assert_eq!(json_file(&dir.path().join("merged.json"))["baseline"]["fixed"], json!(["heals"]));

    // A baseline that cannot be read stops the run before anything is sent.
    let out = run(dir.path(), &server, &["--baseline", "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.json"), "{}", stderr(&out));
}

/// Answers each prompt "Earth." as many times as it is allowed, then "Mars.".
#[derive(Default)]
struct Rationed(Mutex<HashMap<String, usize>>);

impl Responder for Rationed {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let mut left = self.0.lock().unwrap();
        let passes = left.entry(prompt_of(request)).or_default();
        let answer = if *passes > 0 { "Earth." } else { "Mars." };
        *passes = passes.saturating_sub(1);
        chat_reply(answer)
    }
}

#[test]
fn a_pass_rate_that_drops_from_ten_of_ten_to_six_is_regressed_and_to_nine_is_not_significant() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answers = Arc::new(Rationed::default());
    let server = rt.block_on(WireServer::start(answers.clone())).unwrap();
    let dir = repo();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "api: chat\nmodel: m\nmin_pass_rate: 0.5\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\nexpect: [{icontains: earth}]\n",
    );
    for name in ["drops", "dips"] {
        write(dir.path(), &format!("scenarios/{name}.yaml"), &format!("name: {name}\nprompt: {name}?\n"));
    }
    let ration = |drops: usize, dips: usize| {
        let mut left = answers.0.lock().unwrap();
        left.insert("drops?".into(), drops);
        left.insert("dips?".into(), dips);
    };
    // Ten samples each, by `--repeat`, the command-line form of `samples: 10`.
    let run =
        |dir: &Path, server: &WireServer, args: &[&str]| run(dir, server, &[&["--repeat", "10"][..], args].concat());
    ration(10, 10);
    let out = run(dir.path(), &server, &["--report-json", "last.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Both cases still pass (min_pass_rate 0.5): only the statistics fail the run.
    ration(6, 9);
    let args = ["--report-json", "now.json", "--baseline", "last.json", "--fail-on", "regressed", "--html", "now.html"];
    let out = run(dir.path(), &server, &args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("1 regressed, 1 changed, not significant"), "{text}");
    assert!(text.contains("  regressed: drops (10/10 -> 6/10, q 0.043)\n"), "{text}");
    assert!(text.contains("  changed, not significant: dips (10/10 -> 9/10, p 0.500)\n"), "{text}");
    let report = json_file(&dir.path().join("now.json"));
    let schema = json_file(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json")));
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&report), "the report fits its schema");
    let regressed = &report["baseline"]["regressed"][0];
    assert_eq!((regressed["id"].as_str(), regressed["after"].clone()), (Some("drops"), json!({"passed": 6, "n": 10})));
    assert!((regressed["q_value"].as_f64().unwrap() - 8008.0 / 184_756.0).abs() < 1e-9, "{regressed}");
    assert_eq!(report["baseline"]["alpha"], 0.05);
    let html = std::fs::read_to_string(dir.path().join("now.html")).unwrap();
    assert!(html.contains("\"regressed\":[{\"id\":\"drops\""), "the page carries the record it draws");

    // A drop chance explains does not fail a run that fails on regressions only.
    ration(10, 9);
    let out = run(dir.path(), &server, &["--baseline", "last.json", "--fail-on", "regressed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    for bad in [&["--fail-on", "regressed"][..], &["--baseline", "last.json", "--baseline-alpha", "1.5"]] {
        let out = run(dir.path(), &server, bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

#[test]
fn every_run_is_kept_listed_and_compared_with_by_baseline_last() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answers = Arc::new(ByPrompt::default());
    let server = rt.block_on(WireServer::start(answers.clone())).unwrap();
    let dir = repo();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "api: chat\nmodel: m\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\nexpect: [{icontains: earth}]\n",
    );
    write(dir.path(), "scenarios/breaks.yaml", "name: breaks\nprompt: breaks?\n");
    answers.set("breaks?", "Earth.");
    let kept = || -> Vec<String> {
        let runs = dir.path().join(".gpt-oss-scenarios/runs");
        let mut names: Vec<String> = std::fs::read_dir(runs)
            .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    // Nothing to compare with yet: said, and the run goes on.
    let out = run(dir.path(), &server, &["--baseline", "last"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("no earlier run of this suite and selection is kept"), "{}", stdout(&out));
    assert_eq!(kept().len(), 1, "a run without report flags is kept");

    answers.set("breaks?", "Mars.");
    let out = run(dir.path(), &server, &["--baseline", "last"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(": 1 new failure, 0 fixed"), "{}", stdout(&out));
    // Another selection is not compared with this one's runs.
    let out = run(dir.path(), &server, &["--baseline", "last", "--filter", "break"]);
    assert!(stdout(&out).contains("no earlier run of this suite and selection"), "{}", stdout(&out));

    let listed = binary(dir.path()).arg("runs").output().unwrap();
    let lines: Vec<String> = stdout(&listed).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].contains("0 passed, 1 failed") && lines[0].ends_with("--filter=break"), "newest first: {lines:?}");
    assert!(lines[2].contains("1 passed, 0 failed"), "{lines:?}");

    // A corrupt kept run is passed over with a warning, never a panic.
    write(dir.path(), ".gpt-oss-scenarios/runs/20000101t000000.000-000000.json", "{ not a report");
    let listed = binary(dir.path()).arg("runs").output().unwrap();
    assert_eq!(listed.status.code(), Some(0));
    assert!(
        stderr(&listed).contains("warning: passed over") && stderr(&listed).contains("20000101t000000.000-000000.json")
    );

    // `view` writes a kept run's page beside it; on CI it only says where.
    let viewed = binary(dir.path()).args(["view", &kept()[1].replace(".json", "")]).env("CI", "1").output().unwrap();
    assert_eq!(viewed.status.code(), Some(0), "{}", stderr(&viewed));
    let page = stdout(&viewed).trim().to_owned();
    assert!(page.ends_with(".html"), "{page}");
    assert!(std::fs::read_to_string(dir.path().join(&page)).unwrap().contains("<script"), "{page}");
    let missing = binary(dir.path()).args(["view", "1999"]).env("CI", "1").output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no kept run is named `1999`"), "{}", stderr(&missing));

    let before = kept().len();
    run(dir.path(), &server, &["--no-history"]);
    assert_eq!(kept().len(), before, "--no-history keeps nothing");
    run(dir.path(), &server, &["--keep-runs", "2"]);
    assert_eq!(kept().len(), 2, "the newest two are kept: {:?}", kept());
    assert!(!kept().iter().any(|k| k.starts_with("2000")), "the oldest went first");
}
