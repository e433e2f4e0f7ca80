//! Bedrock batch inference by hand (issue 28's first part), through the real binary:
//! `batch prepare` writes the records a job takes; a job's output (made here from the
//! wire corpus, as Bedrock writes it: a line per record, `modelOutput` or `error`, and a
//! manifest) is read back by `batch import` into cassettes; `run --mode replay` then
//! judges them like any recording, an errored record as an errored case.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{CORPUS, binary, repo, stderr, stdout, write};

const SUITE: &str = "scenarios:
  - {name: capital-converse, api: converse, model: openai.gpt-oss-120b-1:0, prompt: Say ok., samples: 2, expect: [{contains: ok}]}
  - {name: capital-invoke, api: invoke, model: openai.gpt-oss-120b-1:0, prompt: Capital of Japan?, expect: [{contains: Tokyo}]}
  - {name: throttled-chat, api: chat, model: openai.gpt-oss-120b-1:0, prompt: Capital of France?}
  - {name: streamed, api: chat-stream, model: openai.gpt-oss-120b-1:0, prompt: hi}
  - name: capitals
    api: chat
    model: openai.gpt-oss-120b-1:0
    prompt: 'Capital of {{ country }}?'
    rows:
      - {country: Japan}
      - {country: Nippon}
    expect: [{contains: Tokyo}]
";

/// A wire-corpus case's response body.
fn body(id: &str) -> Value {
    let case: Value = serde_json::from_str(&std::fs::read_to_string(format!("{CORPUS}/{id}.json")).unwrap()).unwrap();
    case["response"]["json"].clone()
}

/// What a job writes for `records`: an answer per record, or an error for the records
/// whose input asks about France; and its manifest.
fn job_output(records: &Path, out: &Path) -> usize {
    let name = records.file_name().unwrap().to_str().unwrap();
    let mut lines = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for line in std::fs::read_to_string(records).unwrap().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let converse = name.contains(".Converse.");
        let mut output = json!({"recordId": record["recordId"], "modelInput": record["modelInput"]});
        if record["modelInput"].to_string().contains("France") {
            output["error"] =
                json!({"errorCode": 429, "errorMessage": "Too many tokens, please wait before trying again."});
            failed += 1;
        } else {
            output["modelOutput"] = body(if converse { "converse-120b-ok-effort-high" } else { "invoke-120b-capital" });
            ok += 1;
        }
        lines.push(output.to_string());
    }
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join(format!("{name}.out")), lines.join("\n") + "\n").unwrap();
    let manifest = json!({"totalRecordCount": ok + failed, "processedRecordCount": ok + failed,
        "successRecordCount": ok, "errorRecordCount": failed, "inputTokenCount": 100, "outputTokenCount": 100});
    std::fs::write(out.join("manifest.json.out"), manifest.to_string()).unwrap();
    ok + failed
}

#[test]
fn a_suite_goes_through_batch_files_and_is_judged_from_the_cassettes_they_make() {
    let dir = repo();
    write(dir.path(), "scenarios/suite.yaml", SUITE);
    let out = binary(dir.path()).args(["batch", "prepare", "--out", "batch"]).output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("1 case not for batch (streamed: streaming is what it tests): run them live"), "{text}");
    assert!(stderr(&out).contains("Bedrock refuses a job of fewer than 100"), "{}", stderr(&out));
    let converse = dir.path().join("batch/openai.gpt-oss-120b-1_0.Converse.1.jsonl");
    let invoke = dir.path().join("batch/openai.gpt-oss-120b-1_0.InvokeModel.1.jsonl");
    // Two samples of the Converse case; the InvokeModel case, the chat case and two rows.
    let mut records = 0;
    for (file, job, expected) in [(&converse, "job-a", 2), (&invoke, "job-b", 4)] {
        let n = job_output(file, &dir.path().join("output").join(job));
        assert_eq!(n, expected, "{}", file.display());
        records += n;
    }
    let rows: Vec<Value> =
        std::fs::read_to_string(&invoke).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().any(|r| r["modelInput"].to_string().contains("Capital of Nippon?")), "rows rendered");
    assert!(rows.iter().all(|r| r["modelInput"].get("stream").is_none()), "InvokeModel bodies have no stream");

    let out = binary(dir.path()).args(["batch", "import", "output"]).output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!("imported {records} answers (1 errored) from 2 files into the cassettes of 5 cases")),
        "{text}"
    );
    let cassette: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cassettes/capital-converse.json")).unwrap())
            .unwrap();
    assert_eq!(cassette["provenance"]["kind"], "batch");
    assert_eq!(cassette["interactions"].as_array().unwrap().len(), 2);

    // Judged from the cassettes, offline, as any recording is.
    let out = binary(dir.path())
        .args(["run", "--mode", "replay", "--filter", "capital", "--filter", "throttled", "--report-json", "r.json"])
        .args(["--update-snapshots", "always"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let status = |id: &str| {
        let case = report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {report}"));
        (case["status"].as_str().unwrap().to_owned(), case["error"].clone())
    };
    for id in ["capital-converse", "capital-invoke", "capitals[row=1]", "capitals[row=2]"] {
        assert_eq!(status(id).0, "passed", "{id}: {}", stdout(&out));
    }
    let (throttled, error) = status("throttled-chat");
    assert_eq!(throttled, "errored");
    assert_eq!(error["kind"], "throttled", "classified as a live call's would be: {error}");
    assert!(error["message"].as_str().unwrap().contains("Too many tokens"), "{error}");
}

#[test]
fn an_output_that_does_not_fit_the_suite_is_an_error_naming_the_file_and_line() {
    let dir = repo();
    write(dir.path(), "scenarios/suite.yaml", SUITE);
    let import = |dir: &Path| binary(dir).args(["batch", "import", "output"]).output().unwrap();
    write(
        dir.path(),
        "output/job/records.jsonl.out",
        "{\"recordId\":\"0123456789abcdef01234567-0\",\"modelOutput\":{}}\n",
    );
    let out = import(dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "output/job/records.jsonl.out:1: recordId `0123456789abcdef01234567-0` is no record of this suite's cases"
        ),
        "{}",
        stderr(&out)
    );
    write(dir.path(), "output/job/records.jsonl.out", "\n{\"recordId\": \n");
    let out = import(dir.path());
    assert!(stderr(&out).contains("output/job/records.jsonl.out:2: not JSON"), "{}", stderr(&out));
    // A manifest that counts other records than the lines beside it.
    let prepared = binary(dir.path()).args(["batch", "prepare", "--out", "batch"]).output().unwrap();
    assert_eq!(prepared.status.code(), Some(0));
    std::fs::remove_file(dir.path().join("output/job/records.jsonl.out")).unwrap();
    job_output(&dir.path().join("batch/openai.gpt-oss-120b-1_0.Converse.1.jsonl"), &dir.path().join("output/job"));
    write(dir.path(), "output/job/manifest.json.out", r#"{"successRecordCount": 7, "errorRecordCount": 0}"#);
    let out = import(dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("output/job/manifest.json.out: it counts 7 records, and the output files beside it hold 2"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("cassettes").exists(), "nothing written from an output that does not add up");
    let out = binary(dir.path()).args(["batch", "import", "batch"]).output().unwrap();
    assert!(stderr(&out).contains("batch: no `.jsonl.out` file there"), "{}", stderr(&out));
}
