//! The HTML report in a real headless Chromium (Debian's `chromium`, driven by
//! playwright-core from `.tools/`; `.ci/run` installs both): its case rows, a filter
//! click that hides the passed cases, a failed case's diff, no request off the page, and
//! the same at 10,000 cases. Screenshots go to `target/tmp/` as test artifacts.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use gpt_oss_scenarios::wire::server::WireServer;
use serde_json::{Value, json};

use crate::reports::json_file;
use crate::support::{binary, corpus, repo, run_in, stderr, stdout, write};

/// What the page showed, from `tests/browser/report.cjs`.
fn browse(report: &Path, screenshot: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join(".tools/node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs chromium and playwright-core: apt-get install chromium; npm install --prefix .tools playwright-core@1.65.1 (.ci/run does both)"
    );
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(screenshot);
    let out = Command::new("node")
        .arg(root.join("tests/browser/report.cjs"))
        .arg(report)
        .arg(&shot)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "the browser script failed: {}{}", stdout(&out), stderr(&out));
    assert!(shot.is_file(), "a screenshot is saved");
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn statuses(rows: &Value) -> Vec<&str> {
    rows.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[test]
fn the_report_shows_the_cases_filters_them_and_shows_a_failed_cases_diff() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    write(dir.path(), "scenarios/defaults.yaml", "api: chat\nmodel: openai.gpt-oss-20b-1:0\n");
    let scenario = |name: &str, rest: &str| format!("name: {name}\nprompt: Which planet do humans live on?\n{rest}");
    write(
        dir.path(),
        "scenarios/earth.yaml",
        &scenario(
            "earth",
            "expect: [{icontains: earth}]\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\n",
        ),
    );
    write(
        dir.path(),
        "scenarios/planet.yaml",
        &scenario(
            "planet",
            "expect: [{icontains: planet}]\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\n",
        ),
    );
    write(dir.path(), "scenarios/drifted.yaml", &scenario("drifted", "snapshot: {reasoning: ignore}\n"));
    write(
        dir.path(),
        "snapshots/drifted.snap",
        "---\nsource: x\nexpression: x\n---\nfinal: Humans live on Mars.\nstop_reason: end_turn\n",
    );
    let out = binary(dir.path())
        .args([
            "run",
            "--mode",
            "live",
            "--html",
            "out/report.html",
            "--openai-base-url",
            &format!("{}/openai/v1", server.url()),
        ])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let page = browse(&dir.path().join("out/report.html"), "html-report.png");
    let shown = page["before"]["rows"].clone();
    assert_eq!(statuses(&shown).len(), 3, "{page}");
    assert_eq!(page["before"]["count"], "3 of 3 cases");
    // What the run cost, at the 20b's price, shown as a card and per model.
    let cards: Vec<&str> = page["cards"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(cards.iter().any(|c| c.starts_with("$0.0") && c.ends_with("cost")), "{cards:?}");
    assert_eq!(page["models"][0].as_array().unwrap().last().unwrap(), "cost", "{page}");
    assert!(page["models"][1][4].as_str().unwrap().starts_with("$0.0"), "{page}");
    assert_eq!(statuses(&page["filtered"]["rows"]), ["failed"], "the passed cases are hidden: {page}");
    assert_eq!(page["diff"]["visible"], true, "{page}");
    let diff = page["diff"]["text"].as_str().unwrap();
    assert!(
        diff.contains("- final: Humans live on Mars.") && diff.contains("+ final: \"Humans live on **Earth**"),
        "{diff}"
    );
    assert_eq!(page["offPage"], json!([]), "the report makes no request");
    assert_eq!(page["errors"], json!([]), "no script error");
}

#[test]
fn a_report_of_ten_thousand_cases_stays_small_and_usable() {
    // The bundled suite's cases (answers, reasoning, a policy-sized prompt), 250 times,
    // each asking its own question.
    let dir = repo();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let report = dir.path().join("bundled.json");
    let out = run_in(
        root,
        &[
            "run",
            "scenarios/",
            "--mode",
            "replay",
            "--update-snapshots",
            "no",
            "--report-json",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let mut run = json_file(&report);
    let cases: Vec<Value> = run["cases"].as_array().unwrap().clone();
    let mut many = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let mut case = cases[i % cases.len()].clone();
        case["id"] = json!(format!("{}#{i}", case["id"].as_str().unwrap()));
        // Every case asks its own question, as a dataset's rows do: only shared blocks
        // (a policy, a system prompt) may be stored once.
        case["prompt"] = json!(format!("{}\n\nuser: row {i} of the dataset", case["prompt"].as_str().unwrap()));
        if i % 97 == 0 {
            case["status"] = json!("failed");
            case["snapshot"] = json!({"status": "changed", "path": "snapshots/x.snap", "pending": true,
                "diff": "- final: Humans live on Mars.\n+ final: Humans live on Earth.\n"});
        }
        many.push(case);
    }
    run["cases"] = json!(many);
    std::fs::write(dir.path().join("many.json"), serde_json::to_string(&run).unwrap()).unwrap();
    let out = run_in(dir.path(), &["merge-reports", "many.json", "--html", "many.html"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let size = std::fs::metadata(dir.path().join("many.html")).unwrap().len();
    assert!(size < 20 << 20, "the 10,000-case report is {size} bytes, over 20 MB");
    let page = browse(&dir.path().join("many.html"), "html-report-10000.png");
    assert_eq!(page["before"]["count"], "10000 of 10000 cases", "{}", page["before"]["count"]);
    assert_eq!(statuses(&page["before"]["rows"]).len(), 200, "the first page of rows");
    let filtered = statuses(&page["filtered"]["rows"]);
    assert!(!filtered.is_empty() && filtered.iter().all(|s| *s == "failed"), "{filtered:?}");
    assert_eq!(page["filtered"]["count"], "104 of 10000 cases");
    assert_eq!(page["diff"]["visible"], true);
    assert_eq!(page["errors"], json!([]));
}
