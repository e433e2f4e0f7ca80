//! Record and replay through the real binary: cassettes written by `--mode record`,
//! replayed offline; missing and stale cassettes explained; and no secret in any file
//! the tool writes.

use std::path::Path;
use std::sync::Arc;

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};
use serde_json::Value;

use crate::support::{corpus, repo, run_isolated, stderr, stdout, write};

/// Answers each API with a corpus recording.
struct Live;

impl Responder for Live {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let streamed = serde_json::from_slice::<Value>(&request.body).is_ok_and(|b| b["stream"] == true);
        if request.path.ends_with("/converse-stream") {
            corpus("converse-stream-120b-hi")
        } else if request.path.ends_with("/converse") {
            corpus("converse-120b-ok-effort-medium")
        } else if streamed {
            corpus("chat-stream-20b-sun-per-chunk-tags")
        } else {
            corpus("chat-20b-planet")
        }
    }
}

const SUITE: &str = "scenarios:
  - {name: ok, api: converse, prompt: 'Reply with the single word: ok'}
  - {name: hi, api: converse-stream, prompt: Hi}
  - {name: planet, api: chat, prompt: Which planet do humans live on?}
  - {name: sun, api: chat-stream, prompt: What's the name of the Sun in latin?}
";

fn endpoints(server: &WireServer) -> Vec<String> {
    vec!["--bedrock-endpoint".into(), server.url(), "--openai-base-url".into(), format!("{}/openai/v1", server.url())]
}

/// A repository holding [`SUITE`], and a server answering it; the runtime keeps the
/// server running.
fn suite_served_by(responder: Arc<dyn Responder>) -> (tokio::runtime::Runtime, WireServer, tempfile::TempDir) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(responder)).unwrap();
    let dir = repo();
    write(dir.path(), "scenarios/defaults.yaml", "model: openai.gpt-oss-20b-1:0\n");
    write(dir.path(), "scenarios/all.yaml", SUITE);
    (rt, server, dir)
}

#[test]
fn record_then_replay_offline() {
    let (_rt, server, dir) = suite_served_by(Arc::new(Live));
    let mut args = vec!["run", "scenarios", "--mode", "record", "--accept"];
    let urls = endpoints(&server);
    args.extend(urls.iter().map(String::as_str));
    let recorded = run_isolated(
        dir.path(),
        &args,
        &[
            ("AWS_BEARER_TOKEN_BEDROCK", "b"),
            ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1"),
            ("OPENAI_API_KEY", "k"),
        ],
    );
    assert_eq!(recorded.status.code(), Some(0), "{}{}", stdout(&recorded), stderr(&recorded));
    let cassette: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("cassettes/all.json").with_file_name("planet.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cassette["case"], "planet");
    assert_eq!(cassette["scenario"], "scenarios/all.yaml");
    assert_eq!(cassette["provenance"]["kind"], "recorded");
    assert_eq!(cassette["endpoint_host"], server.url().trim_start_matches("http://"));
    assert_eq!(
        cassette["interactions"][0]["request"]["body"]["messages"][0]["content"],
        "Which planet do humans live on?"
    );
    assert_eq!(cassette["interactions"][0]["response"]["status"], 200);
    let served = server.requests().len();

    // Offline: no credentials, no endpoint, and the server is gone.
    drop(server);
    let replayed = run_isolated(dir.path(), &["run", "scenarios", "--mode", "replay", "--update-snapshots", "no"], &[]);
    let text = stdout(&replayed);
    assert_eq!(replayed.status.code(), Some(0), "{text}{}", stderr(&replayed));
    assert!(text.contains("4 cases: 4 passed"), "{text}");
    assert_eq!(served, 4);
}

#[test]
fn missing_and_stale_cassettes_say_to_re_record_and_auto_says_a_stale_one_ran_live() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(Arc::new(Live))).unwrap();
    let dir = repo();
    write(dir.path(), "scenarios/planet.yaml", "name: planet\napi: chat\nmodel: m\nprompt: Which planet?\n");
    let missing = run_isolated(dir.path(), &["run", "scenarios", "--mode", "replay"], &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stdout(&missing).contains("error: cassette: no cassette at ")
            && stdout(&missing).contains("cassettes/planet.json: record one with `run --mode record`"),
        "{}",
        stdout(&missing)
    );

    let mut args = vec!["run", "scenarios", "--mode", "record", "--accept"];
    let urls = endpoints(&server);
    args.extend(urls.iter().map(String::as_str));
    assert_eq!(run_isolated(dir.path(), &args, &[("OPENAI_API_KEY", "k")]).status.code(), Some(0));
    write(dir.path(), "scenarios/planet.yaml", "name: planet\napi: chat\nmodel: m\nprompt: Which planet, please?\n");
    let stale = run_isolated(dir.path(), &["run", "scenarios", "--mode", "replay"], &[]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(stdout(&stale).contains("was recorded for a different request"), "{}", stdout(&stale));
    assert!(stdout(&stale).contains("re-record with `run --mode record`"), "{}", stdout(&stale));

    // `auto` falls back to a live call when the cassette does not match.
    let mut args = vec!["run", "scenarios", "--update-snapshots", "no"];
    args.extend(urls.iter().map(String::as_str));
    let before = server.requests().len();
    let auto = run_isolated(dir.path(), &args, &[("OPENAI_API_KEY", "k")]);
    assert_eq!(auto.status.code(), Some(0), "{}", stdout(&auto));
    assert_eq!(server.requests().len(), before + 1, "auto went live");
    // Issue 14: the stale cassette was skipped in silence; with no credentials the user
    // saw only a credentials error.
    assert!(stdout(&auto).contains("[cassette stale (the scenario changed): ran live]"), "{}", stdout(&auto));
    let offline = run_isolated(dir.path(), &["run", "scenarios", "--update-snapshots", "no"], &[]);
    let text = stdout(&offline);
    assert!(
        text.contains("error: cassette: the cassette") && text.contains("re-record with `run --mode record`"),
        "{text}"
    );
    assert!(text.contains("running it live instead failed too: no API key"), "{text}");
}

/// Every file under `dir`, with its text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != ".git") {
                out.extend(files(&path));
            }
        } else {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
    out
}

#[test]
fn secrets_never_reach_disk() {
    let (_rt, server, dir) = suite_served_by(Arc::new(Live));
    let canaries = [
        ("AWS_BEARER_TOKEN_BEDROCK", "canary-bearer-5e1d"),
        ("AWS_ACCESS_KEY_ID", "AKIACANARY7Q2W"),
        ("AWS_SECRET_ACCESS_KEY", "canary-secret-9b7f"),
        ("AWS_SESSION_TOKEN", "canary-session-4c2a"),
        ("OPENAI_API_KEY", "canary-openai-81e0"),
    ];
    let urls = endpoints(&server);
    let reports = ["--report-json", "out/report.json", "--junit", "out/junit.xml", "--summary-md", "out/summary.md"];
    let mut args = vec!["run", "scenarios", "--mode", "record", "--update-snapshots", "new", "--verbose"];
    args.extend(urls.iter().map(String::as_str));
    args.extend(reports);
    // With the bearer token (bearer auth), then without it (SigV4 signing with the keys).
    // The loopback server is listed as a proxy in front of Bedrock, so the key goes to it.
    let listed = [&canaries[..], &[("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1")]].concat();
    let first = run_isolated(dir.path(), &args, &listed);
    let second = run_isolated(dir.path(), &args, &canaries[1..]);
    let step = dir.path().join("out/step.md");
    let third = run_isolated(dir.path(), &["run", "scenarios", "--mode", "replay", "--dry-run"], &canaries);
    let _ = run_isolated(
        dir.path(),
        &["run", "scenarios", "--mode", "replay", "--report-json", "out/replay.json"],
        &[canaries[0], canaries[4], ("GITHUB_STEP_SUMMARY", step.to_str().unwrap())],
    );
    let written = files(dir.path());
    assert!(written.iter().any(|(p, _)| p.ends_with("cassettes/sun.json")), "{written:?}");
    assert!(written.iter().any(|(p, _)| p.ends_with(".snap.new")), "{written:?}");
    let outputs = [&first, &second, &third].iter().map(|o| format!("{}{}", stdout(o), stderr(o))).collect::<Vec<_>>();
    for (_, canary) in canaries {
        for (path, text) in &written {
            assert!(!text.contains(canary), "{canary} leaked into {path}");
        }
        for text in &outputs {
            assert!(!text.contains(canary), "{canary} leaked into the output:\n{text}");
        }
    }
    assert_eq!(first.status.code(), Some(1), "new snapshots are pending:\n{}", outputs[0]);
    assert!(server.requests().len() >= 8, "both runs reached the server");
}

/// Echoes the credentials back, as some servers' 401/403 bodies echo request headers,
/// and as a model may repeat what it was told.
struct Echo;

const BEARER: &str = "canary-bearer-e1c0";
const OPENAI: &str = "canary-openai-e2c0";
const SESSION: &str = "canary-session-e3c0";

impl Responder for Echo {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let json = |status, body: Value| {
            let mut reply = Reply::from_wire(&gpt_oss_scenarios::wire::WireResponse {
                status,
                headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
                json: Some(body),
                ..Default::default()
            })
            .unwrap();
            if status == 403 {
                reply.headers.push(("x-amzn-errortype".into(), "AccessDeniedException".into()));
            }
            reply
        };
        if request.path.contains("/converse") {
            json(
                403,
                serde_json::json!({"message": format!("denied: Authorization: Bearer {BEARER}; X-Amz-Security-Token: {SESSION}")}),
            )
        } else if serde_json::from_slice::<Value>(&request.body).is_ok_and(|b| b["stream"] == true) {
            json(
                401,
                serde_json::json!({"error": {"message": format!("Incorrect API key provided: {OPENAI}"), "type": "invalid_request_error"}}),
            )
        } else {
            json(
                200,
                serde_json::json!({"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0,
                "message": {"role": "assistant", "content": format!("Your key is {OPENAI}.")}, "finish_reason": "stop"}]}),
            )
        }
    }
}

/// Issue 13: a 401/403 body that echoes request headers put the key verbatim into the
/// output, every report and recorded cassettes.
#[test]
fn credentials_echoed_by_the_server_are_redacted_everywhere() {
    let (_rt, server, dir) = suite_served_by(Arc::new(Echo));
    let step = dir.path().join("out/step.md");
    let urls = endpoints(&server);
    let mut args =
        vec!["run", "scenarios", "--mode", "record", "--update-snapshots", "new", "--verbose", "--retries", "0"];
    args.extend(urls.iter().map(String::as_str));
    args.extend(["--report-json", "out/report.json", "--junit", "out/junit.xml", "--summary-md", "out/summary.md"]);
    let env = [
        ("AWS_BEARER_TOKEN_BEDROCK", BEARER),
        ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1"),
        ("OPENAI_API_KEY", OPENAI),
        ("AWS_SESSION_TOKEN", SESSION),
        ("GITHUB_STEP_SUMMARY", step.to_str().unwrap()),
    ];
    let out = run_isolated(dir.path(), &args, &env);
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(printed.contains("[redacted OPENAI_API_KEY]"), "the echo was seen, redacted:\n{printed}");
    assert!(printed.contains("[redacted AWS_BEARER_TOKEN_BEDROCK]"), "{printed}");
    let written = files(dir.path());
    assert!(written.iter().any(|(p, _)| p.ends_with("cassettes/planet.json")), "{written:?}");
    assert!(written.iter().any(|(p, _)| p.ends_with("out/junit.xml")), "{written:?}");
    for canary in [BEARER, OPENAI, SESSION] {
        assert!(!printed.contains(canary), "{canary} leaked into the output:\n{printed}");
        for (path, text) in &written {
            assert!(!text.contains(canary), "{canary} leaked into {path}");
        }
    }
}

/// Issue 14: the JSON report did not say how answers were got; in `auto` mode, how many
/// came from cassettes and how many went live.
#[test]
fn the_json_report_records_the_mode_with_auto_hits_and_misses() {
    let (_rt, server, dir) = suite_served_by(Arc::new(Live));
    let urls = endpoints(&server);
    let keys = [
        ("AWS_BEARER_TOKEN_BEDROCK", "b"),
        ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1"),
        ("OPENAI_API_KEY", "k"),
    ];
    let report = |mode: Option<&str>| {
        let mut args = vec!["run", "scenarios", "--accept", "--report-json", "report.json"];
        if let Some(mode) = mode {
            args.extend(["--mode", mode]);
        }
        args.extend(urls.iter().map(String::as_str));
        let out = run_isolated(dir.path(), &args, &keys);
        assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
        let report: Value = serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
        report
    };
    let recorded = report(Some("record"));
    assert_eq!(recorded["mode"], serde_json::json!({"requested": "record", "replayed": 0, "live": 0, "recorded": 4}));
    assert_eq!(recorded["version"], env!("CARGO_PKG_VERSION"));

    write(dir.path(), "scenarios/all.yaml", &SUITE.replace("Which planet do humans", "Which planet do we"));
    let auto = report(None);
    assert_eq!(auto["mode"], serde_json::json!({"requested": null, "replayed": 3, "live": 1, "recorded": 0}));
    let sources: Vec<(&str, &str)> = auto["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["source"].as_str().unwrap()))
        .collect();
    assert_eq!(sources.iter().find(|(id, _)| *id == "planet"), Some(&("planet", "live")), "{sources:?}");
    assert_eq!(sources.iter().filter(|(_, s)| *s == "replay").count(), 3, "{sources:?}");
    let explicit = report(Some("auto"));
    assert_eq!(explicit["mode"]["requested"], "auto");
}

/// Issue 15: cassettes are read when their case runs; a corrupt one fails its own case,
/// naming the file, and the others replay through the run's one server.
#[test]
fn a_corrupt_cassette_fails_only_its_own_case() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(crate::support::run_in(dir.path(), &["init", "suite"]).status.code(), Some(0));
    let suite = dir.path().join("suite");
    std::fs::write(suite.join("cassettes/decimals-chat.json"), "{\"format\": 1,\n  \"scenario\": tru").unwrap();
    let out = run_isolated(&suite, &["run", "--mode", "replay"], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("5 cases: 4 passed, 0 failed, 1 errored"), "{text}");
    assert!(text.contains("cassettes/decimals-chat.json:2:"), "{text}");
    assert!(text.contains("not a cassette"), "{text}");
}
