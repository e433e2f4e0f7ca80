//! The runner's reports and controls through the real binary: JSON (validated against
//! its schema), JUnit (read by a JUnit parser), Markdown, merged shard reports,
//! `--dry-run` masking, `--fail-fast`, `--deadline`, Ctrl-C, and throttling.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};
use serde_json::Value;

use crate::support::{binary, corpus, repo, stderr, stdout, write};

/// Two scenario files: three passing cases, one failing assertion, one skipped case.
pub(crate) fn suite(dir: &Path) {
    write(
        dir,
        "scenarios/planets.yaml",
        "scenarios:\n  - {name: earth-a, prompt: Which planet?, expect: [{icontains: earth}]}\n  - {name: earth-b, prompt: Which planet?, expect: [{icontains: earth}]}\n  - {name: mars, prompt: Which planet?, expect: [{contains: Mars}]}\n",
    );
    write(
        dir,
        "scenarios/more.yaml",
        "scenarios:\n  - {name: earth-c, prompt: Which planet?, tags: [smoke]}\n  - {name: later, prompt: Which planet?, skip: true}\n",
    );
    write(
        dir,
        "scenarios/defaults.yaml",
        "api: chat\nmodel: openai.gpt-oss-20b-1:0\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\n",
    );
}

fn run(dir: &Path, server: &WireServer, args: &[&str], env: &[(&str, &str)]) -> Output {
    let base = format!("{}/openai/v1", server.url());
    binary(dir)
        .arg("run")
        .args(args)
        .args(["--openai-base-url", &base])
        .env("OPENAI_API_KEY", "k")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

pub(crate) fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn json_junit_and_markdown_reports() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    suite(dir.path());
    let step = dir.path().join("step-summary.md");
    let out = run(
        dir.path(),
        &server,
        &[
            "scenarios",
            "--report-json",
            "out/report.json",
            "--junit",
            "out/junit.xml",
            "--summary-md",
            "out/summary.md",
        ],
        &[("GITHUB_STEP_SUMMARY", step.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "one case fails:\n{}{}", stdout(&out), stderr(&out));

    let report = json_file(&dir.path().join("out/report.json"));
    let schema = json_file(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json")));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "the report does not match its schema: {errors:?}");
    assert_eq!(report["summary"]["cases"], 5);
    assert_eq!((report["summary"]["passed"].as_u64(), report["summary"]["failed"].as_u64()), (Some(3), Some(1)));
    let mars = report["cases"].as_array().unwrap().iter().find(|c| c["id"] == "mars").unwrap();
    assert_eq!(mars["status"], "failed");
    assert_eq!(mars["assertions"][0]["passed"], false);
    assert!(mars["final"].as_str().unwrap().contains("Earth"));
    assert_eq!(mars["usage"]["output_tokens"], 57);
    let samples = &mars["samples"];
    assert_eq!(
        (samples["n"].as_u64(), samples["passed"].as_u64(), samples["rate"].as_f64()),
        (Some(1), Some(0), Some(0.0))
    );
    assert_eq!((samples["low"].as_f64(), samples["all_passed"].as_bool()), (Some(0.0), Some(false)));
    let later = report["cases"].as_array().unwrap().iter().find(|c| c["id"] == "later").unwrap();
    assert_eq!((later["status"].as_str(), later["skip_reason"].as_str()), (Some("skipped"), Some("skip: true")));

    let junit = std::fs::read(dir.path().join("out/junit.xml")).unwrap();
    let parsed = junit_parser::from_reader(std::io::BufReader::new(&junit[..])).expect("JUnit parses");
    assert_eq!(parsed.suites.len(), 2, "one testsuite per scenario file");
    assert_eq!((parsed.tests, parsed.failures, parsed.skipped), (5, 1, 1));
    let planets = parsed.suites.iter().find(|s| s.name.ends_with("planets.yaml")).unwrap();
    let failed = planets.cases.iter().find(|c| c.original_name == "mars").unwrap();
    assert!(failed.status.is_failure());
    // Issue 14: classname carries the scenario file; the failure shows the answer.
    assert_eq!(failed.classname.as_deref(), Some("scenarios/planets.yaml"));
    let text = String::from_utf8_lossy(&junit);
    assert!(text.contains("answer: Humans live on **Earth**"), "{text}");

    let md = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(md.contains("| 5 | 3 | 1 | 0 | 1 | 0 |"), "{md}");
    assert!(md.contains("| failed | `mars` | chat |"), "{md}");
    assert_eq!(std::fs::read_to_string(&step).unwrap(), md, "the job summary gets the same table");
}

#[test]
fn shard_reports_merge_into_one() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    suite(dir.path());
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let file = format!("shard-{k}.json");
        run(dir.path(), &server, &["scenarios", "--shard", &shard, "--report-json", &file], &[]);
    }
    let ids = |file: &str| -> Vec<String> {
        json_file(&dir.path().join(file))["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (one, two) = (ids("shard-1.json"), ids("shard-2.json"));
    assert_eq!(one.len() + two.len(), 5, "{one:?} {two:?}");
    assert!(one.iter().all(|id| !two.contains(id)));
    let merged = binary(dir.path())
        .args(["merge-reports", "shard-1.json", "shard-2.json", "--report-json", "all.json", "--junit", "all.xml"])
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(1), "the merged run has a failure: {}", stdout(&merged));
    assert!(
        stdout(&merged)
            .contains("merged 2 report(s) (shards 1,2/2): 5 cases: 3 passed, 1 failed, 0 errored, 1 skipped"),
        "{}",
        stdout(&merged)
    );
    let all = json_file(&dir.path().join("all.json"));
    assert_eq!(all["summary"]["cases"], 5);
    assert_eq!(all["plan"], json_file(&dir.path().join("shard-1.json"))["plan"], "one plan");
    let junit = std::fs::read(dir.path().join("all.xml")).unwrap();
    assert_eq!(junit_parser::from_reader(std::io::BufReader::new(&junit[..])).unwrap().tests, 5);

    // Sets that are not one run's shards are refused, each with a line that says why.
    let merge = |args: &[&str]| binary(dir.path()).arg("merge-reports").args(args).output().unwrap();
    let some = if one.is_empty() { "shard-2.json" } else { "shard-1.json" };
    for (args, why) in [
        (vec![some, some], "both hold case"),
        (vec!["shard-1.json"], "shard 2 of 2 missing: merge every shard, or pass --allow-partial"),
    ] {
        let out = merge(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(why) && stderr(&out).lines().count() == 1, "{args:?}: {}", stderr(&out));
    }
    run(
        dir.path(),
        &server,
        &["scenarios", "--shard", "2/2", "--tag", "x", "--allow-empty", "--report-json", "other.json"],
        &[],
    );
    let out = merge(&["shard-1.json", "other.json"]);
    assert!(stderr(&out).contains("shards of different plans"), "{}", stderr(&out));
    let out = merge(&["shard-1.json", "--allow-partial", "--report-json", "part.json"]);
    assert!(stdout(&out).contains("(shards 1/2, partial)"), "{}", stdout(&out));
    assert_eq!(json_file(&dir.path().join("part.json"))["partial"], true);
}

#[test]
fn dry_run_masks_credentials_and_sends_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    suite(dir.path());
    write(
        dir.path(),
        "scenarios/bedrock.yaml",
        "name: bedrock\napi: converse\nprompt: hi\nparams: {reasoning_effort: low}\n",
    );
    let out = run(
        dir.path(),
        &server,
        &["scenarios", "--dry-run", "--filter", "earth-a", "--filter", "bedrock"],
        &[("OPENAI_API_KEY", "sk-canary-8f3a"), ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-canary-77c1")],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(!text.contains("canary"), "a secret leaked:\n{text}");
    assert!(text.contains("Authorization: Bearer **** (OPENAI_API_KEY)"), "{text}");
    assert!(
        text.contains("POST https://bedrock-runtime.us-west-2.amazonaws.com/model/openai.gpt-oss-20b-1%3A0/converse"),
        "{text}"
    );
    assert!(text.contains("\"reasoning_effort\": \"low\""), "{text}");
    assert!(!text.contains("# mars"), "filters apply to dry runs:\n{text}");
    assert!(server.requests().is_empty(), "a dry run sends nothing");
}

#[test]
fn fail_fast_stops_scheduling() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    suite(dir.path());
    // Sorted first, and failing: with one case at a time, nothing else starts.
    write(dir.path(), "scenarios/a-first.yaml", "name: a-fails\nprompt: Which planet?\nexpect: [{contains: Mars}]\n");
    let out = run(dir.path(), &server, &["scenarios", "--fail-fast", "--concurrency", "1"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(server.requests().len(), 1, "{text}");
    assert_eq!(text.matches("(not run: --fail-fast stopped the run)").count(), 4, "{text}");
}

/// Answers after a pause.
pub(crate) struct Slow(pub(crate) Reply);

impl Responder for Slow {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        let mut r = self.0.clone();
        r.delay = Duration::from_secs(3);
        r
    }
}

#[test]
fn deadline_cancels_what_is_still_running() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(Slow(corpus("chat-20b-planet"))))).unwrap();
    let dir = repo();
    suite(dir.path());
    let out = run(dir.path(), &server, &["scenarios", "--deadline", "300ms", "--report-json", "r.json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = json_file(&dir.path().join("r.json"));
    assert_eq!(report["summary"]["errored"], 4, "{report}");
    // Issue 13: a cancelled case read as kind `case`, "in 0 ms".
    let cancelled = report["cases"].as_array().unwrap().iter().filter(|c| c["error"]["kind"] == "cancelled");
    assert_eq!(cancelled.clone().count(), 4, "{report}");
    assert!(cancelled.into_iter().all(|c| c["latency_ms"].as_u64().unwrap() > 0), "{report}");
    assert!(stdout(&out).contains("error: cancelled: the run stopped it after "), "{}", stdout(&out));
    assert!(!stdout(&out).contains(" in 0 ms"), "{}", stdout(&out));
}

/// Throttles every other request, as a busy Bedrock quota does.
struct Busy {
    calls: AtomicUsize,
    ok: Reply,
}

impl Responder for Busy {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        if self.calls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            let mut r = Reply::error(429, "Too many requests, please wait before trying again.");
            r.headers.push(("retry-after".into(), "0".into()));
            r
        } else {
            self.ok.clone()
        }
    }
}

#[test]
fn a_throttled_suite_still_finishes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(WireServer::start(Arc::new(Busy { calls: AtomicUsize::new(0), ok: corpus("chat-20b-planet") })))
        .unwrap();
    let dir = repo();
    suite(dir.path());
    let out =
        run(dir.path(), &server, &["scenarios", "--retries", "4", "--filter", "earth", "--report-json", "r.json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json_file(&dir.path().join("r.json"));
    assert_eq!(report["summary"]["passed"], 3);
    assert!(server.requests().len() > 3, "throttled requests were retried");
}

/// Issue 13: a full disk repeated the same error once per case, and every report was
/// lost. A report that cannot be written is said once; the others are still written.
#[test]
fn an_unwritable_report_is_reported_once_and_the_others_are_written() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    suite(dir.path());
    write(dir.path(), "blocker", "a file where a folder should be");
    let args = ["scenarios", "--report-json", "blocker/r.json", "--junit", "out/junit.xml"];
    let out = run(dir.path(), &server, &args, &[]);
    let text = stderr(&out);
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("blocker/r.json could not be written"), "{errors:#?}");
    assert!(dir.path().join("out/junit.xml").exists(), "the other report is written");
    assert_ne!(out.status.code(), Some(0));
}

/// Issue 14: a failed assertion did not show the answer it looked at unless `-v` was
/// given.
#[test]
fn a_failed_assertion_shows_the_answer_it_looked_at() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    suite(dir.path());
    let out = run(dir.path(), &server, &["scenarios", "--filter", "mars"], &[]);
    let text = stdout(&out);
    assert!(text.contains("contains: expected final to contain \"Mars\""), "{text}");
    assert!(text.contains("        final was: \"Humans live on **Earth**"), "{text}");
}

/// Issue 14: the end of a run lists the failing cases, one line each with the reason,
/// and the totals are printed once.
#[test]
fn the_end_of_a_run_lists_the_failing_cases_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap();
    let dir = repo();
    suite(dir.path());
    let out = run(dir.path(), &server, &["scenarios"], &[]);
    let text = stdout(&out);
    let (_, end) = text.split_once("\nfailures:\n").expect("a failures section");
    assert!(end.starts_with("   FAIL mars: contains: expected final to contain \"Mars\"\n"), "{end}");
    assert_eq!(text.matches(" passed, ").count(), 1, "one summary line:\n{text}");
    assert!(text.contains("5 cases: 3 passed, 1 failed, 0 errored, 1 skipped"), "{text}");
}

/// Answers with the planet recording and the greeting in turn.
struct Alternate(AtomicUsize);

impl Responder for Alternate {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        corpus(if n.is_multiple_of(2) { "chat-20b-planet" } else { "chat-20b-hello" })
    }
}

#[test]
fn samples_report_their_wilson_interval_and_pass_k_and_the_bound_can_judge() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(Alternate(AtomicUsize::new(0))))).unwrap();
    let dir = repo();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "api: chat\nmodel: m\nsamples: 4\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\nexpect: [{icontains: earth}]\n",
    );
    write(dir.path(), "scenarios/a-estimate.yaml", "name: a-estimate\nprompt: Which planet?\nmin_pass_rate: 0.5\n");
    write(
        dir.path(),
        "scenarios/b-bound.yaml",
        "name: b-bound\nprompt: Which planet?\nmin_pass_rate_lower_bound: 0.5\n",
    );
    let out = run(dir.path(), &server, &["scenarios", "--concurrency", "1", "--report-json", "report.json"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("PASS a-estimate (chat, m) 2/4 samples passed (50%, 95% CI 15-85%; pass^4 no)"), "{text}");
    assert!(text.contains("FAIL b-bound (chat, m) 2/4 samples passed (50%, 95% CI 15-85%; pass^4 no)"), "{text}");
    let why = "2/4 samples passed, but the 95% lower bound 0.15 is below min_pass_rate_lower_bound 0.5";
    assert!(text.contains(&format!("FAIL b-bound: {why}")), "the failure says why: {text}");
    let report = json_file(&dir.path().join("report.json"));
    assert_eq!(report["cases"][1]["shortfall"], why);
    let report = json_file(&dir.path().join("report.json"));
    let samples = &report["cases"][0]["samples"];
    assert!((samples["low"].as_f64().unwrap() - 0.150).abs() < 1e-3, "{samples}");
    assert!((samples["high"].as_f64().unwrap() - 0.850).abs() < 1e-3, "{samples}");
    assert_eq!(samples["all_passed"], false);
}
