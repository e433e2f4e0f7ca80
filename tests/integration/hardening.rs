//! Issue 25, the second hardening round: each defect the probe found, through the real
//! binary, in a test named after it.

use std::process::Stdio;
use std::sync::Arc;

use gpt_oss_scenarios::wire::WireResponse;
use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder};
use serde_json::{Value, json};

use crate::support::{Fixed, binary, corpus, repo, serve, stderr, stdout, tail, write};

/// A chat server for agents: a tool call first, the answer once a tool result is back.
struct ToolThenAnswer;

impl Responder for ToolThenAnswer {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let answered = body["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
        if answered {
            return corpus("chat-20b-planet");
        }
        Reply::from_wire(&WireResponse::json(
            200,
            json!({
                "id": "c1", "object": "chat.completion", "model": "openai.gpt-oss-20b-1:0",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": "",
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{\"pad\":\"".to_owned() + &"x".repeat(200_000) + "\"}"}}]
                }}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
            }),
        ))
        .unwrap()
    }
}

/// Issue 25: with SIGPIPE at its default, an agent's `command` tool that exits without
/// reading its input ended the whole run with 141 in 3 to 5 of 10 tries. Twenty samples
/// of each tool, each writing a 200 KB input into a pipe the tool never reads.
#[test]
fn a_tool_that_does_not_read_its_input_does_not_kill_the_run() {
    let (_rt, server) = serve(Arc::new(ToolThenAnswer));
    for command in [r#"[echo, "{}"]"#, "[date]"] {
        let dir = repo();
        let scenario = format!(
            "name: clock\napi: agent\ntransport: chat\nmodel: openai.gpt-oss-20b-1:0\nprompt: What time is it?\nsamples: 20\nsnapshot: {{final: ignore}}\ntools:\n  - name: now\n    description: The time.\n    input_schema: {{type: object}}\n    command: {command}\n"
        );
        write(dir.path(), "scenarios/clock.yaml", &scenario);
        let out = binary(dir.path())
            .args(["run", "scenarios", "--mode", "live", "--accept", "--report-json", "r.json"])
            .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
            .env("OPENAI_API_KEY", "k")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{command}: {}", tail(&stdout(&out)));
        let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
        assert_eq!(report["cases"][0]["samples"]["passed"], 20, "{command}");
    }
}

/// Issue 25: `run ... | head -1` died with the pipe, leaving only `r.json.partial`.
/// The reader here goes away before the first line: the run finishes, writes its
/// reports, and exits by its verdict.
#[test]
fn a_closed_stdout_stops_the_printing_not_the_run() {
    let (_rt, server) = serve(Arc::new(ToolThenAnswer));
    let dir = repo();
    for i in 0..30 {
        write(
            dir.path(),
            &format!("scenarios/s{i}.yaml"),
            &format!("name: s{i}\napi: chat\nmodel: openai.gpt-oss-20b-1:0\nprompt: hi\nsnapshot: {{final: ignore}}\n"),
        );
    }
    let mut child = binary(dir.path())
        .args(["run", "scenarios", "--mode", "live", "--accept", "-v", "--report-json", "r.json", "--junit", "j.xml"])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .env("OPENAI_API_KEY", "k")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["cases"].as_array().map(Vec::len), Some(30));
    assert!(dir.path().join("j.xml").is_file());
    assert!(!dir.path().join("r.json.partial").exists());
}

/// `list`, `validate`, `--dry-run` and `completions` to a reader that has gone: a quiet
/// exit by the command's own verdict, never a panic or a signal.
#[test]
fn printing_commands_survive_a_closed_stdout() {
    let dir = repo();
    write(
        dir.path(),
        "scenarios/a.yaml",
        "name: a\napi: chat\nmodel: m\nprompt: hi\nmatrix: {model: [a, b, c, d, e, f]}\n",
    );
    for args in [&["list"][..], &["validate"], &["run", "--dry-run"], &["completions", "bash"], &["schema"]] {
        let mut child = binary(dir.path()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
    }
    // A stdout that fails otherwise (a full disk) is not a reader that left: said, and failed.
    #[cfg(target_os = "linux")]
    for format in ["text", "json"] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = binary(dir.path()).args(["list", "--format", format]).stdout(full).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}: {}", stderr(&out));
        assert!(stderr(&out).starts_with("error: the listing could not be written: "), "{}", stderr(&out));
    }
}

/// Runs `command`, killing it if it has not finished within `seconds`: a blocked read
/// fails the test instead of hanging it.
fn output_within(command: &mut std::process::Command, seconds: u64) -> std::process::Output {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    match rx.recv_timeout(std::time::Duration::from_secs(seconds)) {
        Ok(out) => out,
        Err(_) => {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("still running after {seconds} s: {command:?}");
        }
    }
}

#[cfg(unix)]
fn mkfifo(path: &std::path::Path) {
    assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Issue 25: a FIFO as a dataset, a `{file:}` variable or a cassette blocked forever,
/// and a link to `/dev/zero` read until memory ran out. Each is refused, located.
#[cfg(unix)]
#[test]
fn fifos_and_devices_are_refused_not_read() {
    let dir = repo();
    mkfifo(&dir.path().join("scenarios/rows.jsonl").tap_parent());
    mkfifo(&dir.path().join("scenarios/policy.md"));
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("scenarios/zero.csv")).unwrap();
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: '{{ x }}'\ndataset: rows.jsonl\n");
    write(
        dir.path(),
        "scenarios/b.yaml",
        "name: b\napi: chat\nmodel: m\nprompt: '{{ policy }}'\nvars:\n  policy: {file: policy.md}\n",
    );
    write(dir.path(), "scenarios/c.yaml", "name: c\napi: chat\nmodel: m\nprompt: '{{ x }}'\ndataset: zero.csv\n");
    // /dev is allowed here, so that the device itself is what is refused.
    let out = output_within(binary(dir.path()).args(["validate"]).env("GPT_OSS_SCENARIOS_ALLOW_READ", "/dev"), 20);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("scenarios/a.yaml:5:10: /dataset: scenarios/rows.jsonl: cannot read this dataset: it is a FIFO, not a regular file"), "{err}");
    assert!(err.contains("scenarios/b.yaml:6:18: /vars/policy/file: cannot read scenarios/policy.md: it is a FIFO, not a regular file"), "{err}");
    assert!(err.contains("scenarios/c.yaml:5:10: /dataset: scenarios/zero.csv: cannot read this dataset: it is a character device, not a regular file"), "{err}");

    // A cassette that is a FIFO: replay says so at once.
    let dir = repo();
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    mkfifo(&dir.path().join("cassettes/a.json").tap_parent());
    let out = output_within(binary(dir.path()).args(["run", "--mode", "replay", "--report-json", "r.json"]), 20);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let message = report["cases"][0]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cassettes/a.json") && message.contains("it is a FIFO, not a regular file"), "{message}");
}

/// Makes the parent folder of a path, and gives the path back.
trait TapParent {
    fn tap_parent(self) -> Self;
}

impl TapParent for std::path::PathBuf {
    fn tap_parent(self) -> Self {
        std::fs::create_dir_all(self.parent().unwrap()).unwrap();
        self
    }
}

/// Issue 25: a `{file:}` variable read any path (`/proc/self/environ` included) into
/// the prompt. Files outside the project are refused, links that lead out too, unless
/// the user lists the folder in GPT_OSS_SCENARIOS_ALLOW_READ.
#[cfg(unix)]
#[test]
fn file_variables_and_datasets_stay_inside_the_project() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "AKIAOUTSIDE").unwrap();
    std::fs::write(outside.path().join("rows.jsonl"), "{\"x\": 1}\n").unwrap();
    let dir = repo();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("scenarios/link.txt").tap_parent())
        .unwrap();
    let secret = outside.path().join("secret.txt").display().to_string();
    let rows = outside.path().join("rows.jsonl").display().to_string();
    write(
        dir.path(),
        "scenarios/a.yaml",
        &format!("name: a\napi: chat\nmodel: m\nprompt: '{{{{ s }}}}'\nvars:\n  s: {{file: '{secret}'}}\n"),
    );
    write(
        dir.path(),
        "scenarios/b.yaml",
        "name: b\napi: chat\nmodel: m\nprompt: '{{ s }}'\nvars:\n  s: {file: link.txt}\n",
    );
    write(
        dir.path(),
        "scenarios/c.yaml",
        &format!("name: c\napi: chat\nmodel: m\nprompt: '{{{{ x }}}}'\ndataset: '{rows}'\n"),
    );
    let out = output_within(binary(dir.path()).args(["validate"]), 20);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("scenario files read only inside their project").count(), 3, "{err}");
    assert!(err.contains("scenarios/b.yaml:6:13: /vars/s/file: scenarios/link.txt leads to "), "{err}");
    assert!(!err.contains("AKIAOUTSIDE"), "{err}");
    let allowed =
        output_within(binary(dir.path()).args(["validate"]).env("GPT_OSS_SCENARIOS_ALLOW_READ", outside.path()), 20);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
}

/// Issues 13 and 25: a committed `.snap` that links to a credentials file (inside the
/// project or out) printed it in the diff. Links are refused, whatever they lead to.
#[cfg(unix)]
#[test]
fn a_linked_snapshot_is_refused_and_never_printed() {
    let dir = repo();
    write(dir.path(), ".env", "OPENAI_API_KEY=sk-inside-the-project-1234\n");
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    record(dir.path());
    std::fs::remove_file(dir.path().join("snapshots/a.snap")).unwrap();
    std::os::unix::fs::symlink("../.env", dir.path().join("snapshots/a.snap")).unwrap();
    let out = output_within(binary(dir.path()).args(["run", "--mode", "replay", "-v"]), 30);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("snapshots/a.snap") && all.contains("is a symbolic link"), "{all}");
    assert!(!all.contains("sk-inside-the-project"), "{all}");
}

/// Records the suite in `dir` from a loopback chat server, accepting its snapshots.
pub(crate) fn record(dir: &std::path::Path) {
    let (_rt, server) = serve(Arc::new(Fixed(corpus("chat-20b-planet"))));
    let out = binary(dir)
        .args(["run", "--mode", "record", "--accept"])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", tail(&stdout(&out)));
}

pub(crate) fn chat_chunk(text: &str, finish: Option<&str>) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})
}

/// Issue 25: `too_large` kept the whole answer it cut (8 at once peaked at 939 MB, with
/// a 260 MB report). A prefix is kept, and the report says how much was dropped.
#[test]
fn an_oversize_answer_keeps_a_bounded_prefix() {
    let piece = "x".repeat(1 << 20);
    let mut sse: Vec<String> = (0..3).map(|_| chat_chunk(&piece, None).to_string()).collect();
    sse.push(chat_chunk("", Some("stop")).to_string());
    let response = WireResponse {
        status: 200,
        headers: [("content-type".to_owned(), "text/event-stream".to_owned())].into(),
        sse: Some(sse),
        ..WireResponse::default()
    };
    let (_rt, server) = serve(Arc::new(Fixed(Reply::from_wire(&response).unwrap())));
    let dir = repo();
    write(dir.path(), "scenarios/big.yaml", "name: big\napi: chat-stream\nmodel: m\nprompt: hi\n");
    let out = binary(dir.path())
        .args(["run", "--mode", "record", "--max-response-mib", "2", "--report-json", "r.json"])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(report.len() < 300 << 10, "the report holds {} bytes", report.len());
    let report: Value = serde_json::from_str(&report).unwrap();
    let case = &report["cases"][0];
    assert_eq!(case["error"]["kind"], "too_large");
    let kept = case["final"].as_str().unwrap();
    assert!(
        kept.starts_with("xxxx") && kept.ends_with("more bytes not kept: the response passed the size limit]"),
        "{}",
        &kept[kept.len() - 100..]
    );
    assert!(!dir.path().join("cassettes/big.json").exists(), "an oversize answer is not recorded");
}

/// Counts requests, answering each after a short wait.
struct Slow {
    served: std::sync::atomic::AtomicUsize,
}

impl Responder for Slow {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        self.served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut reply = corpus("chat-20b-planet");
        reply.delay = std::time::Duration::from_millis(5);
        reply
    }
}

/// Issue 25: a dataset's cassette was rewritten whole every 2 s under one lock
/// (superlinear), and a SIGKILL during recording lost 199 of 700 answered rows. Rows
/// are appended as they finish: a kill loses at most the rows in flight, and what was
/// recorded replays.
#[cfg(unix)]
#[test]
fn a_killed_dataset_recording_keeps_every_answered_row() {
    use std::sync::atomic::Ordering;
    let slow = Arc::new(Slow { served: Default::default() });
    let (_rt, server) = serve(slow.clone());
    let dir = repo();
    let rows: String = (0..700).map(|i| format!("{{\"id\": \"r{i}\", \"q\": \"question {i}\"}}\n")).collect();
    write(dir.path(), "scenarios/rows.jsonl", &rows);
    write(dir.path(), "scenarios/ds.yaml", "name: ds\napi: chat\nmodel: m\nprompt: '{{ q }}'\ndataset: rows.jsonl\n");
    let mut child = binary(dir.path())
        .args(["run", "--mode", "record", "--concurrency", "8"])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .env("OPENAI_API_KEY", "k")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while slow.served.load(Ordering::SeqCst) < 300 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let served = slow.served.load(Ordering::SeqCst);
    assert!((300..700).contains(&served), "killed halfway: {served} requests");
    let journal = std::fs::read_to_string(dir.path().join("cassettes/ds.json.journal")).unwrap();
    let kept = journal.lines().filter(|l| l.ends_with('}')).count();
    assert!(kept + 8 >= served, "{kept} rows kept of {served} asked, at most 8 in flight");
    // What was kept replays: every row asked for, but those the kill lost.
    let replay = binary(dir.path()).args(["run", "--mode", "replay", "--report-json", "r.json"]).output().unwrap();
    assert_eq!(replay.status.code(), Some(1), "rows the kill lost are errors");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let missing = report["cases"].as_array().unwrap().iter().filter(|c| c["error"]["kind"] == "cassette").count();
    assert_eq!(missing, 700 - kept, "{}", tail(&stdout(&replay)));
    // A line torn by the kill is cut off when recording resumes; then every row is kept.
    let mut journal =
        std::fs::OpenOptions::new().append(true).open(dir.path().join("cassettes/ds.json.journal")).unwrap();
    std::io::Write::write_all(&mut journal, b"{\"hash\": \"torn").unwrap();
    let again = binary(dir.path())
        .args(["run", "--mode", "record", "--openai-base-url", &format!("{}/openai/v1", server.url())])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    assert!(!stdout(&again).contains("not a cassette"), "{}", tail(&stdout(&again)));
    assert!(!dir.path().join("cassettes/ds.json.journal").exists(), "folded into the cassette");
    let replay = binary(dir.path()).args(["run", "--mode", "replay", "--report-json", "r.json"]).output().unwrap();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let missing = report["cases"].as_array().unwrap().iter().filter(|c| c["error"]["kind"] == "cassette").count();
    assert_eq!(missing, 0, "{}", tail(&stdout(&replay)));
}

/// Issue 25: `serve` buffered request bodies without a limit (a 1 GiB body peaked at
/// 2.1 GB) and had no header timeout. A body past 32 MiB gets a 413 with nothing held;
/// a client that never finishes its headers is let go.
#[cfg(target_os = "linux")]
#[test]
fn serve_bounds_request_bodies_and_header_time() {
    use std::io::{BufRead, Read, Write};
    let mut child = binary(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["serve", &format!("{}/chat-20b-planet.json", crate::support::CORPUS)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_owned();

    let mut big = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        big,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        1u64 << 30
    )
    .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..64 {
        if big.write_all(&chunk).is_err() {
            break; // the server answered and closed: what is wanted
        }
    }
    let mut answer = String::new();
    let _ = big.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(200)]);
    assert!(answer.contains("larger than 32 MiB"), "{answer}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert!(peak_kb < 150 << 10, "serve peaked at {peak_kb} kB");

    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = slow.read_to_end(&mut rest).is_ok();
    assert!(closed, "the connection was not closed");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "let go after {:?}", started.elapsed());
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Issue 25 (left from November): `merge-reports` accepted `format: 99`, could not read
/// the `.partial` a killed run leaves, and copied raw ESC from a report into Markdown.
#[test]
fn merge_reports_refuses_other_formats_reads_partials_and_escapes_markdown() {
    let dir = repo();
    for i in 0..3 {
        write(dir.path(), &format!("scenarios/s{i}.yaml"), &format!("name: s{i}\napi: chat\nmodel: m\nprompt: hi\n"));
    }
    record(dir.path());
    let out = binary(dir.path()).args(["run", "--mode", "replay", "--report-json", "r.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = std::fs::read_to_string(dir.path().join("r.json")).unwrap();

    write(dir.path(), "future.json", &text.replacen("\"format\":1", "\"format\":99", 1));
    let out = binary(dir.path()).args(["merge-reports", "future.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("future.json is a report of format 99, and this gpt-oss-scenarios"),
        "{}",
        stderr(&out)
    );

    // What a SIGKILL leaves: the head's line, two whole cases, a third cut mid-line.
    let report: Value = serde_json::from_str(&text).unwrap();
    let head = json!({"format": 1, "version": report["version"], "started_at": report["started_at"], "filters": []});
    let cases: Vec<String> = report["cases"].as_array().unwrap().iter().map(Value::to_string).collect();
    let partial = format!("{head}\n{}\n{}\n{}", cases[0], cases[1], &cases[2][..40]);
    write(dir.path(), "r.json.partial", &partial);
    let out = binary(dir.path()).args(["merge-reports", "r.json.partial", "--report-json", "m.json"]).output().unwrap();
    assert!(stdout(&out).contains("merged 1 report(s): 2 cases"), "{}{}", stdout(&out), stderr(&out));
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
    assert_eq!(merged["summary"]["interrupted"], true);

    let mut hostile: Value = serde_json::from_str(&text).unwrap();
    hostile["cases"][0]["id"] = json!("s0\u{1b}]8;;http://x\u{7}\u{1b}[2J");
    hostile["cases"][0]["model"] = json!("m\u{1b}[31m");
    hostile["cases"][0]["status"] = json!("failed");
    write(dir.path(), "hostile.json", &hostile.to_string());
    let out = binary(dir.path()).args(["merge-reports", "hostile.json", "--summary-md", "m.md"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let md = std::fs::read_to_string(dir.path().join("m.md")).unwrap();
    assert!(md.contains("`s0]8;;http://x[2J`") && !md.contains('\u{1b}') && !md.contains('\u{7}'), "{md:?}");
}

/// Issue 25 (left from November): `timeout: 0s` was accepted, and every call then
/// ended before it started. A case's, a tool's and `--deadline`'s zero are refused.
#[test]
fn a_timeout_of_no_time_is_refused() {
    let dir = repo();
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\ntimeout: 0s\n");
    let out = binary(dir.path()).args(["validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("scenarios/a.yaml:5:10: /timeout: `0s` is no time at all"), "{}", stderr(&out));
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    let out = binary(dir.path()).args(["run", "--dry-run", "--deadline", "0ms"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`0ms` is no time at all"), "{}", stderr(&out));
}

/// Issue 25 (left from November): files were written 0600 whatever the umask, and
/// `init` turned a 0644 `.gitignore` into 0600. New files get the umask's mode (0644
/// under 022, 0664 under 002); a file replaced keeps its own.
#[cfg(unix)]
#[test]
fn written_files_keep_the_umask_mode() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for (umask, expected) in [("022", 0o644), ("002", 0o664)] {
        let dir = repo();
        write(dir.path(), ".gitignore", "target/\n");
        std::fs::set_permissions(dir.path().join(".gitignore"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let bin = env!("CARGO_BIN_EXE_gpt-oss-scenarios");
        let mut init = std::process::Command::new("sh");
        crate::support::clean_env(&mut init, dir.path());
        let out = init.args(["-c", &format!("umask {umask} && exec {bin} init .")]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mut run = std::process::Command::new("sh");
        crate::support::clean_env(&mut run, dir.path());
        let out = run
            .args(["-c", &format!("umask {umask} && exec {bin} run --mode replay --report-json r.json --junit j.xml")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        assert_eq!(mode(&dir.path().join(".gitignore")), 0o640, "a replaced file keeps its mode");
        for written in ["r.json", "j.xml", "defaults.yaml", "scenarios", "cassettes", "snapshots"] {
            let path = dir.path().join(written);
            let files: Vec<std::path::PathBuf> = if path.is_dir() {
                let mut all = Vec::new();
                let mut stack = vec![path];
                while let Some(p) = stack.pop() {
                    if p.is_dir() {
                        stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                    } else {
                        all.push(p);
                    }
                }
                all
            } else if path.exists() {
                vec![path]
            } else {
                Vec::new()
            };
            for file in files {
                assert_eq!(mode(&file), expected, "umask {umask}: {}", file.display());
            }
        }
    }
}
