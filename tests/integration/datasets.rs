//! Datasets through the real binary: rows from CSV, JSON Lines, YAML and inline, their
//! templates, label metrics and thresholds, one snapshot table and one cassette per
//! dataset, rows recorded and replayed one by one, shards merged.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};
use serde_json::{Value, json};

use crate::support::{repo, run_isolated, stderr, stdout, write};

/// A classifier on the chat API: "spam" in the message is a violation. Row `c`'s
/// answer is not JSON; with `flip`, row `b`'s verdict is the other one.
#[derive(Default)]
struct Classifier {
    flip: AtomicBool,
}

impl Responder for Classifier {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let asked =
            body["messages"].as_array().and_then(|m| m.last()).map_or("", |m| m["content"].as_str().unwrap_or(""));
        let mut violation = i32::from(asked.contains("spam"));
        if asked.contains("row b") && self.flip.load(Ordering::SeqCst) {
            violation = 1 - violation;
        }
        let answer = if asked.contains("row c") {
            "I cannot decide.".to_owned()
        } else {
            format!("<reasoning>Checked the policy.</reasoning>{{\"violation\": {violation}}}")
        };
        Reply::json(
            200,
            &json!({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
        )
    }
}

/// The same four rows in each format: a (spam, 1), b (ham, 0), c (unanswerable, 1),
/// d (ham labelled 1: the classifier disagrees).
const CSV: &str = "id,text,label\na,row a: buy spam now,1\nb,row b: hello,0\nc,row c: ???,1\nd,row d: hi there,1\n";
const JSONL: &str = "{\"id\": \"a\", \"text\": \"row a: buy spam now\", \"label\": 1}\n{\"id\": \"b\", \"text\": \"row b: hello\", \"label\": 0}\n{\"id\": \"c\", \"text\": \"row c: ???\", \"label\": 1}\n{\"id\": \"d\", \"text\": \"row d: hi there\", \"label\": 1}\n";
const YAML: &str = "- {id: a, text: 'row a: buy spam now', label: 1}\n- {id: b, text: 'row b: hello', label: 0}\n- {id: c, text: 'row c: ???', label: 1}\n- {id: d, text: 'row d: hi there', label: 1}\n";

fn scenario(name: &str, rows: &str, min_f1: f64) -> String {
    format!(
        "name: {name}
api: chat
model: openai.gpt-oss-safeguard-20b
vars:
  policy: {{file: policy.md}}
system: \"{{{{ policy }}}}\"
prompt: \"Classify {{{{ text }}}}\"
{rows}
expect:
  - icontains: violation
metrics:
  min_rows_passed: 0.5
  label:
    extract: {{json_pointer: /violation}}
    positive: \"1\"
    min_f1: {min_f1}
snapshot:
  final: json
"
    )
}

/// A repository with one dataset scenario per format, and a server answering them.
fn suite() -> (tokio::runtime::Runtime, WireServer, Arc<Classifier>, tempfile::TempDir) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let classifier = Arc::new(Classifier::default());
    let server = rt.block_on(WireServer::start(classifier.clone())).unwrap();
    let dir = repo();
    let d = dir.path();
    write(d, "scenarios/spam/policy.md", "Spam is a violation.\n");
    write(d, "scenarios/spam/rows.csv", CSV);
    write(d, "scenarios/spam/data/rows.jsonl", JSONL);
    write(d, "scenarios/spam/data/rows.yaml", YAML);
    write(d, "scenarios/spam/csv.yaml", &scenario("csv", "dataset: rows.csv", 0.5));
    write(d, "scenarios/spam/jsonl.yaml", &scenario("jsonl", "dataset: data/rows.jsonl", 0.5));
    write(d, "scenarios/spam/yaml.yaml", &scenario("yaml", "dataset: data/rows.yaml", 0.5));
    let inline = format!("rows:\n{}", YAML.lines().map(|l| format!("  {l}\n")).collect::<String>());
    write(d, "scenarios/spam/inline.yaml", &scenario("inline", &inline, 0.5));
    (rt, server, classifier, dir)
}

fn run(dir: &Path, server: &WireServer, extra: &[&str]) -> std::process::Output {
    let url = format!("{}/openai/v1", server.url());
    let mut args = vec!["run", "scenarios", "--openai-base-url", url.as_str()];
    args.extend(extra);
    run_isolated(dir, &args, &[("OPENAI_API_KEY", "k")])
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn every_format_records_replays_and_scores_the_same() {
    let (_rt, server, _, dir) = suite();
    let d = dir.path();
    let recorded = run(d, &server, &["--mode", "record", "--accept", "--report-json", "report.json"]);
    let text = stdout(&recorded);
    assert_eq!(recorded.status.code(), Some(0), "{text}{}", stderr(&recorded));
    // Row c's answer has no label and fails its assertion: min_rows_passed judges it.
    assert!(text.contains("16 cases: 12 passed, 4 failed"), "{text}");
    assert!(text.contains("4 dataset(s): 4 passed, 0 failed; 4 failed row(s) judged"), "{text}");
    let r = report(d);
    // The report, datasets section included, is what its published schema says.
    let schema: Value =
        serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json"))).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&r).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let datasets = r["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 4);
    for ds in datasets {
        let labels = &ds["labels"];
        // a right, b right, c unextracted, d wrong: accuracy 2/4; class 1: tp 1, fp 0, fn 2.
        assert_eq!(
            (labels["scores"]["accuracy"]["k"].as_u64(), labels["scores"]["unextracted"].as_u64()),
            (Some(2), Some(1)),
            "{ds}"
        );
        assert!((labels["scores"]["recall"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9, "{ds}");
        assert_eq!(
            labels["confusion"],
            json!({"matrix": {"0": {"0": 1}, "1": {"0": 1, "1": 1}}, "unextracted": {"1": 1}})
        );
        assert_eq!(
            ds["rows"],
            json!({"total": 4, "selected": 4, "passed": 3, "failed": 1, "errored": 0, "skipped": 0})
        );
    }
    let row = r["cases"].as_array().unwrap().iter().find(|c| c["id"] == "csv[row=d]").unwrap();
    assert_eq!(
        row["row"],
        json!({"id": "d", "at": "scenarios/spam/rows.csv:5", "dataset": "csv", "expected_label": "1", "label": "0"})
    );
    // One snapshot table and one cassette per dataset, not one per row.
    let table = std::fs::read_to_string(d.join("snapshots/spam/csv.snap")).unwrap();
    assert!(table.contains("| row | final | reasoning | stop_reason |\n| --- | --- | --- | --- |\n| a | {\"violation\":1} | [present] | end_turn |"), "{table}");
    for name in ["csv", "jsonl", "yaml", "inline"] {
        let cassette: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(format!("cassettes/spam/{name}.json"))).unwrap())
                .unwrap();
        assert_eq!(cassette["rows"].as_object().unwrap().len(), 4, "{name}");
    }
    let files = std::fs::read_dir(d.join("cassettes/spam")).unwrap().count();
    assert_eq!(files, 4);

    // Offline: the server is gone, every row comes from its dataset's cassette. A row
    // its dataset's min_rows_passed judges does not stop a --fail-fast run.
    drop(server);
    let args =
        ["run", "scenarios", "--mode", "replay", "--report-json", "report.json", "--fail-fast", "--concurrency", "1"];
    let replayed = run_isolated(d, &args, &[]);
    assert_eq!(replayed.status.code(), Some(0), "{}{}", stdout(&replayed), stderr(&replayed));
    assert!(stdout(&replayed).contains("16 cases: 12 passed, 4 failed, 0 errored, 0 skipped"), "{}", stdout(&replayed));
    let again = report(d);
    assert_eq!(again["datasets"][0]["labels"], r["datasets"][0]["labels"]);
    assert_eq!(again["mode"]["replayed"], 16);
}

#[test]
fn raising_a_threshold_fails_the_dataset_with_its_metrics() {
    let (_rt, server, _, dir) = suite();
    let d = dir.path();
    let recorded = run(d, &server, &["--mode", "record", "--accept"]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stdout(&recorded));
    write(d, "scenarios/spam/csv.yaml", &scenario("csv", "dataset: rows.csv", 0.9));
    let out =
        run_isolated(d, &["run", "scenarios", "--mode", "replay", "--filter", "csv", "--junit", "junit.xml"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(" FAIL dataset csv: f1 is 0.500, below min_f1 0.9"), "{text}");
    assert!(text.contains("precision 1.000 · recall 0.333 · F1 0.500 (class 1)"), "{text}");
    let junit =
        junit_parser::from_reader(std::io::BufReader::new(std::fs::File::open(d.join("junit.xml")).unwrap())).unwrap();
    let cases: Vec<_> = junit.suites.iter().flat_map(|s| &s.cases).collect();
    assert_eq!(cases.len(), 5, "a testcase per row and one for the dataset");
    let dataset = cases.iter().find(|c| c.original_name == "csv (dataset)").unwrap();
    assert!(dataset.status.is_failure(), "{dataset:?}");
}

#[test]
fn rerecording_one_row_changes_only_its_recording_and_its_line() {
    let (_rt, server, classifier, dir) = suite();
    let d = dir.path();
    assert_eq!(run(d, &server, &["--mode", "record", "--accept"]).status.code(), Some(0));
    let read = |p: &str| std::fs::read_to_string(d.join(p)).unwrap();
    let (cassette, table) = (read("cassettes/spam/csv.json"), read("snapshots/spam/csv.snap"));

    classifier.flip.store(true, Ordering::SeqCst);
    let out = run(d, &server, &["--mode", "record", "--filter", "=csv[row=b]"]);
    let text = stdout(&out);
    // Row b's answer changed: its line is listed, the table goes for review.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("snapshot table changed: 1 row(s) changed (b)"), "{text}");
    assert!(text.contains("- | b | {\"violation\":0} |") && text.contains("+ | b | {\"violation\":1} |"), "{text}");
    let before: Value = serde_json::from_str(&cassette).unwrap();
    let after: Value = serde_json::from_str(&read("cassettes/spam/csv.json")).unwrap();
    let (before, after) = (before["rows"].as_object().unwrap(), after["rows"].as_object().unwrap());
    assert_eq!(after.len(), 4);
    assert!(before.keys().all(|hash| after.contains_key(hash)), "row b sends the same request: replaced in place");
    let unchanged = before.iter().filter(|(hash, row)| after.get(*hash) == Some(row)).count();
    assert_eq!(unchanged, 3, "the other rows' recordings are untouched");
    let b = after.values().find(|r| r["case"] == "csv[row=b]").unwrap();
    assert_ne!(Some(b), before.values().find(|r| r["case"] == "csv[row=b]"));
    // The proposed table changes row b's line and keeps the rows that did not run.
    let pending = read("snapshots/spam/csv.snap.new");
    let old_lines: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    let new_lines: Vec<&str> = pending.lines().filter(|l| l.starts_with("| ")).collect();
    let differing: Vec<_> = old_lines.iter().zip(&new_lines).filter(|(a, b)| a != b).collect();
    assert_eq!(differing.len(), 1, "{pending}");
    assert!(differing[0].1.starts_with("| b |"));
}

#[test]
fn shards_split_the_rows_and_their_reports_merge_into_the_whole() {
    let (_rt, server, _, dir) = suite();
    let d = dir.path();
    assert_eq!(
        run(d, &server, &["--mode", "record", "--accept", "--report-json", "report.json"]).status.code(),
        Some(0)
    );
    let whole = report(d);
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let file = format!("shard-{k}.json");
        let out =
            run_isolated(d, &["run", "scenarios", "--mode", "replay", "--shard", &shard, "--report-json", &file], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    }
    let merged =
        run_isolated(d, &["merge-reports", "shard-1.json", "shard-2.json", "--report-json", "merged.json"], &[]);
    assert_eq!(merged.status.code(), Some(0), "{}{}", stdout(&merged), stderr(&merged));
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(d.join("merged.json")).unwrap()).unwrap();
    let by_id =
        |r: &Value, id: &str| r["datasets"].as_array().unwrap().iter().find(|x| x["id"] == id).cloned().unwrap();
    for id in ["csv", "jsonl", "yaml", "inline"] {
        let (w, m) = (by_id(&whole, id), by_id(&merged, id));
        assert_eq!(m["labels"]["confusion"], w["labels"]["confusion"], "{id}");
        assert_eq!(m["labels"]["scores"]["f1"], w["labels"]["scores"]["f1"], "{id}");
        assert_eq!(m["rows"], w["rows"], "{id}");
        assert_eq!(m["passed"], w["passed"], "{id}");
    }
}

#[test]
fn a_row_without_a_recording_is_named_in_replay_and_runs_live_in_auto() {
    let (_rt, server, _, dir) = suite();
    let d = dir.path();
    assert_eq!(run(d, &server, &["--mode", "record", "--accept"]).status.code(), Some(0));
    // A new row: its request was never recorded.
    write(d, "scenarios/spam/rows.csv", &format!("{CSV}e,row e: more spam,1\n"));
    let out = run_isolated(d, &["run", "scenarios", "--mode", "replay", "--filter", "csv"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("holds no recording of this row's request (new, or changed since): record it with `run --mode record --filter '=csv[row=e]'`"), "{text}");
    let auto = run(d, &server, &["--filter", "csv", "--accept", "--report-json", "report.json"]);
    assert_eq!(auto.status.code(), Some(0), "{}", stdout(&auto));
    assert_eq!(report(d)["mode"], json!({"requested": null, "replayed": 4, "live": 1, "recorded": 0}));
}

#[test]
fn a_skipped_dataset_is_not_judged() {
    let dir = repo();
    write(
        dir.path(),
        "scenarios/s.yaml",
        "name: later\napi: chat\nmodel: m\nskip: true\nprompt: \"{{ q }}\"\nrows:\n  - {q: a}\n  - {q: b}\nmetrics:\n  min_rows_passed: 1\n",
    );
    let out = run_isolated(dir.path(), &["run", "scenarios", "--mode", "replay"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("2 cases: 0 passed, 0 failed, 0 errored, 2 skipped") && !text.contains("dataset"), "{text}");
}
