//! `run --engine batch` end to end, against a real S3 API (moto's standalone server,
//! which `.ci/run` installs) and the tool's own control-plane stand-in (`batch serve`):
//! records uploaded, jobs created and waited for, output downloaded into cassettes, and
//! the verdicts equal to a live run's; errored records errored cases; the cassettes
//! replaying offline; `--no-wait` then `--collect`; a cancelled wait losing nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{CORPUS, binary, repo, stderr, stdout, write};

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// moto's S3 on a free port, with the bucket `bkt`.
fn moto() -> (Running, String) {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server runs (pip install 'moto[server]'; .ci/run installs it)");
    let running = Running(child);
    let started = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"PUT /bkt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (running, format!("http://127.0.0.1:{port}"))
}

/// `batch serve` answering from the wire corpus's InvokeModel capital case, in order.
fn stand_in(dir: &Path, s3: &str, step: &str) -> (Running, String) {
    stand_in_with(dir, s3, &["--step", step])
}

fn stand_in_with(dir: &Path, s3: &str, args: &[&str]) -> (Running, String) {
    let mut child = binary(dir)
        .args(["batch", "serve", &format!("{CORPUS}/invoke-120b-capital.json"), "--match", "order"])
        .args(args)
        .envs(aws(s3, ""))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect("it says its URL").to_owned();
    (Running(child), url)
}

fn aws(s3: &str, bedrock: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), "AKIDBATCHTEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "batch-test-secret".to_owned()),
        ("AWS_ENDPOINT_URL_S3".to_owned(), s3.to_owned()),
    ];
    if !bedrock.is_empty() {
        env.push(("AWS_ENDPOINT_URL_BEDROCK".to_owned(), bedrock.to_owned()));
    }
    env
}

/// A suite of `rows` InvokeModel rows (one in three expects Paris, so fails) and
/// `converse` Converse rows, which the stand-in's recording cannot answer.
fn suite(dir: &Path, rows: usize, converse: usize) {
    write(
        dir,
        "scenarios/defaults.yaml",
        "batch: {input: 's3://bkt/in/', output: 's3://bkt/out/', role_arn: 'arn:aws:iam::123456789012:role/BedrockBatch'}\n",
    );
    let row = |i: usize| format!("      - {{n: {i}, city: {}}}\n", if i.is_multiple_of(3) { "Paris" } else { "Tokyo" });
    let mut text = String::from(
        "scenarios:\n  - name: capitals\n    api: invoke\n    model: openai.gpt-oss-120b-1:0\n    prompt: 'Capital of Japan? ({{ n }})'\n    expect: [{contains: '{{ city }}'}]\n    rows:\n",
    );
    text.extend((0..rows).map(row));
    if converse > 0 {
        text.push_str("  - name: conversed\n    api: converse\n    model: openai.gpt-oss-120b-1:0\n    prompt: 'Say {{ n }}.'\n    rows:\n");
        text.extend((0..converse).map(|i| format!("      - {{n: {i}}}\n")));
    }
    write(dir, "scenarios/suite.yaml", &text);
}

fn run(dir: &Path, env: &[(String, String)], args: &[&str]) -> (Output, Value) {
    let _ = std::fs::remove_file(dir.join("r.json"));
    let out = binary(dir)
        .args(["run", "--report-json", "r.json", "--update-snapshots", "always"])
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let report = std::fs::read_to_string(dir.join("r.json")).map(|t| serde_json::from_str(&t).unwrap());
    (out, report.unwrap_or(Value::Null))
}

/// Each case's status, by id.
fn statuses(report: &Value) -> BTreeMap<String, String> {
    let cases = report["cases"].as_array().unwrap_or_else(|| panic!("no cases: {report}"));
    cases.iter().map(|c| (c["id"].as_str().unwrap().to_owned(), c["status"].as_str().unwrap().to_owned())).collect()
}

#[test]
fn a_dataset_goes_through_batch_and_its_verdicts_are_a_live_runs() {
    let dir = repo();
    suite(dir.path(), 300, 100);
    let (_s3, s3) = moto();
    let (_plane, plane) = stand_in(dir.path(), &s3, "50ms");
    let env = aws(&s3, &plane);
    let (out, report) = run(dir.path(), &env, &["--engine", "batch", "--poll-max", "100ms"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "a third of the rows fail: {text}");
    let batch = &report["mode"]["batch"];
    assert_eq!(batch["jobs"].as_array().unwrap().len(), 2, "{batch}");
    assert_eq!(report["mode"]["batched"], 400);
    for job in batch["jobs"].as_array().unwrap() {
        assert_eq!(job["status"], "Completed", "{job}");
        assert_eq!(job["manifest"]["total_records"], job["records"], "{job}");
    }
    let got = statuses(&report);
    let case = |id: &str| report["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    let first = case("capitals[row=2]");
    assert_eq!(first["source"], "batch");
    assert!(first["batch_job"].as_str().unwrap().contains(":model-invocation-job/"), "{first}");
    assert_eq!(first["service_tier"], "batch", "billed at the batch price");
    // Errored records are errored cases, with the job's message for them.
    let errored = case("conversed[row=1]");
    assert_eq!(errored["status"], "errored", "{errored}");
    assert!(!errored["error"]["message"].as_str().unwrap_or_default().is_empty(), "{errored}");

    // The same rows live, through `serve`: the same verdicts.
    let mut serve = binary(dir.path())
        .args(["serve", &format!("{CORPUS}/invoke-120b-capital.json"), "--match", "order"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(serve.stdout.as_mut().unwrap()).read_line(&mut first_line).unwrap();
    let _serve = Running(serve);
    let url = first_line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
    let live_env = vec![
        ("AWS_BEARER_TOKEN_BEDROCK".to_owned(), "bedrock-test-key".to_owned()),
        ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS".to_owned(), "127.0.0.1".to_owned()),
    ];
    let (_, live) = run(dir.path(), &live_env, &["--mode", "live", "--filter", "capitals", "--bedrock-endpoint", &url]);
    let live = statuses(&live);
    assert_eq!(live.len(), 300);
    assert!(live.iter().all(|(id, status)| got[id] == *status), "batch and live verdicts differ");
    assert_eq!(live.values().filter(|s| *s == "failed").count(), 100);

    // The cassettes replay offline to the same verdicts, errors included.
    let (_, replayed) = run(dir.path(), &[], &["--mode", "replay"]);
    assert_eq!(statuses(&replayed), got, "replay gives the batch run's verdicts");

    // Too few records for a strict run: refused before anything is uploaded.
    let (out, _) = run(dir.path(), &env, &["--engine", "batch-strict", "--filter", "capitals[row=1]"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("a batch job takes at least 100"), "{}", stderr(&out));
}

#[test]
fn no_wait_then_collect_gives_the_waiting_report_and_a_cancelled_wait_loses_nothing() {
    let dir = repo();
    suite(dir.path(), 120, 0);
    let (_s3, s3) = moto();
    let (_plane, plane) = stand_in(dir.path(), &s3, "300ms");
    let env = aws(&s3, &plane);
    let (out, waited) = run(dir.path(), &env, &["--engine", "batch", "--poll-max", "100ms"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let (out, _) = run(dir.path(), &env, &["--engine", "batch", "--no-wait"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    let state = said.split("run --collect ").nth(1).and_then(|s| s.split('`').next()).expect(&said).to_owned();
    assert!(dir.path().join(&state).is_file(), "{said}");
    let (out, collected) = run(dir.path(), &env, &["--collect", &state, "--poll-max", "100ms"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(statuses(&collected), statuses(&waited), "collect reports what waiting reports");
    assert_eq!(collected["mode"]["batched"], 120);

    // Interrupted while waiting: the job keeps running, and a collect gets its answers.
    let (_slow, slow) = stand_in(dir.path(), &s3, "2s");
    let env = aws(&s3, &slow);
    let mut child = binary(dir.path())
        .args(["run", "--engine", "batch", "--poll-max", "100ms"])
        .envs(env.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let submitted = lines.by_ref().map_while(Result::ok).find(|l| l.starts_with("submitted arn:"));
    assert!(submitted.is_some(), "the job was submitted");
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{err}");
    let state = err.split("run --collect ").nth(1).and_then(|s| s.split('`').next()).expect(&err).to_owned();
    assert!(err.contains("the batch jobs keep running"), "{err}");
    let (out, collected) = run(dir.path(), &env, &["--collect", &state, "--poll-max", "200ms"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(statuses(&collected), statuses(&waited), "nothing was lost");
}

#[test]
fn records_past_a_part_go_up_in_parts_while_written_and_every_one_comes_back() {
    let dir = repo();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "batch: {input: 's3://bkt/in/', output: 's3://bkt/out/', role_arn: 'arn:aws:iam::123456789012:role/BedrockBatch'}\n",
    );
    // 110 records of 80 KB: past the 8 MiB part, so a multipart upload of two parts.
    let mut text = format!(
        "scenarios:\n  - name: long\n    api: invoke\n    model: openai.gpt-oss-120b-1:0\n    vars: {{pad: '{}'}}\n    prompt: 'Capital of Japan? ({{{{ n }}}}) {{{{ pad }}}}'\n    expect: [{{contains: Tokyo}}]\n    rows:\n",
        "x".repeat(80_000)
    );
    text.extend((0..110).map(|i| format!("      - {{n: {i}}}\n")));
    write(dir.path(), "scenarios/suite.yaml", &text);
    let (_s3, s3) = moto();
    let (_plane, plane) = stand_in(dir.path(), &s3, "50ms");
    let (out, report) = run(dir.path(), &aws(&s3, &plane), &["--engine", "batch", "--poll-max", "100ms"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let got = statuses(&report);
    assert_eq!(got.len(), 110);
    assert!(got.values().all(|s| s == "passed"), "{got:?}");
    assert_eq!(report["mode"]["batch"]["jobs"][0]["manifest"]["success_records"], 110);
}

#[test]
fn a_missing_bucket_or_role_is_said_before_anything_is_paid_for() {
    let dir = repo();
    suite(dir.path(), 100, 0);
    let (_s3, s3) = moto();
    let role = "arn:aws:iam::123456789012:role/BedrockBatch";
    let (_plane, plane) = stand_in_with(dir.path(), &s3, &["--step", "50ms", "--role", role]);
    let env = aws(&s3, &plane);
    let (out, _) = run(dir.path(), &env, &["--engine", "batch", "--batch-input", "s3://no-such-bucket/in/"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("s3://no-such-bucket/in/") && err.contains("NoSuchBucket"), "{err}");
    // Records go straight to S3: no local file, and no state file without a job.
    let left = dir.path().join(".gpt-oss-scenarios/batch");
    assert!(walkdir(&left).is_empty(), "{:?}", walkdir(&left));

    let other = "arn:aws:iam::123456789012:role/Missing";
    let (out, _) = run(dir.path(), &env, &["--engine", "batch", "--batch-role-arn", other]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ValidationException") && err.contains("role/Missing"), "{err}");
    assert!(!err.contains("batch-test-secret") && !stdout(&out).contains("batch-test-secret"), "no secret shown");

    let (out, _) = run(dir.path(), &env, &["--engine", "batch", "--batch-role-arn", "BedrockBatch"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not an IAM role ARN"), "{}", stderr(&out));
}

#[test]
fn a_submit_that_fails_part_way_leaves_its_first_jobs_collectable() {
    let dir = repo();
    suite(dir.path(), 100, 0);
    // A second scenario whose own `batch:` names a role the stand-in does not have: its
    // job (Converse, created after the InvokeModel one) is refused.
    let mut rows = String::from(
        "name: refused\napi: converse\nmodel: openai.gpt-oss-120b-1:0\nprompt: 'Say {{ n }}.'\nbatch: {input: 's3://bkt/in/', output: 's3://bkt/out/', role_arn: 'arn:aws:iam::123456789012:role/Missing'}\nrows:\n",
    );
    rows.extend((0..100).map(|i| format!("  - {{n: {i}}}\n")));
    write(dir.path(), "scenarios/refused.yaml", &rows);
    let (_s3, s3) = moto();
    let role = "arn:aws:iam::123456789012:role/BedrockBatch";
    let (_plane, plane) = stand_in_with(dir.path(), &s3, &["--step", "50ms", "--role", role]);
    let env = aws(&s3, &plane);
    let (out, _) = run(dir.path(), &env, &["--engine", "batch", "--max-cost", "1"]);
    assert_eq!(out.status.code(), Some(2), "a job is paid as a whole: {}", stderr(&out));
    assert!(stderr(&out).contains("--max-cost bounds live calls"), "{}", stderr(&out));

    let (out, _) = run(dir.path(), &env, &["--engine", "batch"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("role/Missing"), "{err}");
    let state = err.split("run --collect ").nth(1).and_then(|s| s.split('`').next()).expect(&err).to_owned();
    let (out, report) = run(dir.path(), &env, &["--collect", &state, "--poll-max", "100ms"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let got = statuses(&report);
    let passed = got.values().filter(|s| *s == "passed").count();
    assert_eq!(passed, 66, "the first job's answers, a third failing by design");
    let refused = report["cases"].as_array().unwrap().iter().find(|c| c["id"] == "refused[row=1]").unwrap();
    assert_eq!(refused["status"], "errored");
    assert!(refused["error"]["message"].as_str().unwrap().contains("never created"), "{refused}");
}

/// Every file under `dir` (none when it does not exist).
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { found.extend(walkdir(&path)) } else { found.push(path) }
    }
    found
}
