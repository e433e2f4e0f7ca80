//! Every Bedrock path to gpt-oss beyond Converse and chat: InvokeModel and its stream,
//! the Responses API and its stream. `run` through the real binary, live against the
//! loopback wire server, then recorded and replayed; `--dry-run`; model id warnings.

use std::sync::Arc;

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};

use crate::support::{corpus, repo, run_isolated, stderr, stdout, write};

/// Answers each API from its wire-corpus case, told apart as Bedrock tells them apart.
struct ByApi {
    invoke: Reply,
    invoke_stream: Reply,
    responses: Reply,
    responses_stream: Reply,
}

impl Responder for ByApi {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let streamed =
            serde_json::from_slice::<serde_json::Value>(&request.body).map(|b| b["stream"] == true).unwrap_or(false);
        if request.path.ends_with("/invoke-with-response-stream") {
            self.invoke_stream.clone()
        } else if request.path.ends_with("/invoke") {
            self.invoke.clone()
        } else if request.path.ends_with("/v1/responses") && streamed {
            self.responses_stream.clone()
        } else if request.path.ends_with("/v1/responses") {
            self.responses.clone()
        } else {
            Reply::error(404, &format!("not a path this test serves: {}", request.path))
        }
    }
}

const SUITE: &str = "scenarios:
  - {name: capital-invoke, api: invoke, model: openai.gpt-oss-120b-1:0, prompt: Capital of Japan?}
  - {name: capital-invoke-stream, api: invoke-stream, model: openai.gpt-oss-120b-1:0, prompt: Capital of Japan?}
  - {name: capital-responses, api: responses, model: openai.gpt-oss-20b, prompt: Capital of Japan?}
  - {name: capital-responses-stream, api: responses-stream, model: openai.gpt-oss-20b, prompt: Capital of Japan?}
";

const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-secret-1"),
    ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1"),
    ("OPENAI_API_KEY", "openai-secret-2"),
];

#[test]
fn invoke_and_responses_run_live_record_and_replay() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let responder = ByApi {
        invoke: corpus("invoke-120b-capital"),
        invoke_stream: corpus("invoke-stream-120b-capital"),
        responses: corpus("responses-20b-capital"),
        responses_stream: corpus("responses-stream-20b-capital"),
    };
    let server = runtime.block_on(WireServer::start(Arc::new(responder))).unwrap();
    let dir = repo();
    write(dir.path(), "suite/all.yaml", SUITE);
    let base = server.url();
    let mantle = format!("{base}/v1");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "suite", "--verbose", "--bedrock-endpoint", &base, "--responses-base-url", &mantle];
        args.extend_from_slice(extra);
        run_isolated(dir.path(), &args, &CREDENTIALS)
    };
    let live = run(&["--mode", "live", "--accept"]);
    let text = stdout(&live);
    assert_eq!(live.status.code(), Some(0), "{text}\n{}", stderr(&live));
    for api in ["invoke", "invoke-stream", "responses", "responses-stream"] {
        assert!(text.contains(&format!(" PASS capital-{api} ({api},")), "{api} missing:\n{text}");
    }
    // The answer apart from its reasoning, whichever way the reasoning came.
    assert_eq!(text.matches("      final:\n        Tokyo.\n      reasoning:\n").count(), 4, "{text}");
    assert!(!text.contains("<reasoning>"), "{text}");
    let mut paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "/model/openai.gpt-oss-120b-1%3A0/invoke",
            "/model/openai.gpt-oss-120b-1%3A0/invoke-with-response-stream",
            "/v1/responses"
        ]
    );
    // InvokeModel goes through the AWS SDK, which sends the Bedrock API key as bearer;
    // its body is a chat completions request naming the model, without `stream`.
    let invoke = server.requests().into_iter().find(|r| r.path.ends_with("/invoke")).unwrap();
    assert_eq!(invoke.auth_scheme.as_deref(), Some("Bearer"));
    let body: serde_json::Value = serde_json::from_slice(&invoke.body).unwrap();
    assert_eq!(body["model"], "openai.gpt-oss-120b-1:0");
    assert_eq!(body["messages"][0]["content"], "Capital of Japan?");
    assert!(body.get("stream").is_none(), "{body}");

    // Recorded, then replayed with the server gone: the same answers, from cassettes.
    let record = run(&["--mode", "record", "--update-snapshots", "no"]);
    assert_eq!(record.status.code(), Some(0), "{}\n{}", stdout(&record), stderr(&record));
    drop(server);
    let replay = run_isolated(
        dir.path(),
        &["run", "suite", "--mode", "replay", "--verbose", "--report-json", "r.json", "--junit", "j.xml"],
        &[],
    );
    let text = stdout(&replay);
    assert_eq!(replay.status.code(), Some(0), "{text}\n{}", stderr(&replay));
    assert_eq!(text.matches("      final:\n        Tokyo.\n").count(), 4, "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let mut apis: Vec<&str> = report["cases"].as_array().unwrap().iter().map(|c| c["api"].as_str().unwrap()).collect();
    apis.sort_unstable();
    assert_eq!(apis, ["invoke", "invoke-stream", "responses", "responses-stream"]);
    let junit = std::fs::read_to_string(dir.path().join("j.xml")).unwrap();
    assert!(junit.contains("capital-responses-stream"), "{junit}");
    // No credential reached a file the tool wrote.
    for entry in walk(dir.path()) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        for (_, secret) in CREDENTIALS.iter().filter(|(name, _)| !name.starts_with("GPT_OSS_SCENARIOS_")) {
            assert!(!text.contains(secret), "{} holds a credential", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn errors_on_the_new_paths_read_as_sentences() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let responder = ByApi {
        invoke: corpus("invoke-429-throttling"),
        invoke_stream: corpus("invoke-stream-exception-frame"),
        responses: corpus("responses-400-wrong-route"),
        responses_stream: corpus("responses-stream-error-event"),
    };
    let server = runtime.block_on(WireServer::start(Arc::new(responder))).unwrap();
    let dir = repo();
    write(dir.path(), "suite/all.yaml", SUITE);
    let base = server.url();
    let mantle = format!("{base}/v1");
    let out = run_isolated(
        dir.path(),
        &[
            "run",
            "suite",
            "--mode",
            "live",
            "--retries",
            "0",
            "--bedrock-endpoint",
            &base,
            "--responses-base-url",
            &mantle,
        ],
        &CREDENTIALS,
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error: throttled (HTTP 429): Too many requests"), "{text}");
    assert!(text.contains("error: model: The model stream was interrupted"), "{text}");
    assert!(
        text.contains("error: invalid_request (HTTP 400): The model openai.gpt-oss-20b-1:0 does not support"),
        "{text}"
    );
    assert!(text.contains("error: stream_error: The server had an error"), "{text}");
}

#[test]
fn dry_run_shows_where_each_new_path_goes_with_credentials_masked() {
    let dir = repo();
    write(dir.path(), "suite/all.yaml", SUITE);
    let out = run_isolated(dir.path(), &["run", "suite", "--dry-run"], &CREDENTIALS);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("POST https://bedrock-runtime.us-west-2.amazonaws.com/model/openai.gpt-oss-120b-1%3A0/invoke\nAuthorization: Bearer **** (AWS_BEARER_TOKEN_BEDROCK)"), "{text}");
    assert!(text.contains("/model/openai.gpt-oss-120b-1%3A0/invoke-with-response-stream"), "{text}");
    assert!(
        text.contains(
            "POST https://bedrock-mantle.us-west-2.api.aws/v1/responses\nAuthorization: Bearer **** (AWS_BEARER_TOKEN_BEDROCK)"
        ),
        "{text}"
    );
    assert!(text.contains("\"input\": ["), "{text}");
    for (_, secret) in CREDENTIALS.iter().filter(|(name, _)| !name.starts_with("GPT_OSS_SCENARIOS_")) {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn model_ids_of_another_endpoint_warn_and_still_run() {
    let dir = repo();
    write(
        dir.path(),
        "s.yaml",
        "scenarios:\n  - {name: a, api: responses, model: openai.gpt-oss-20b-1:0, prompt: hi}\n  - {name: b, api: converse, model: openai.gpt-oss-safegaurd-20b, prompt: hi}\n  - {name: c, api: chat, model: my-local-model, prompt: hi}\n  - {name: d, api: converse, model: openai.gpt-oss-20b-1:0, prompt: hi, grader: {model: openai.gpt-oss-120b}, expect: [{judge: {rubric: polite}}]}\n",
    );
    let out = run_isolated(dir.path(), &["validate", "s.yaml"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(stdout(&out).contains("4 cases"), "{}", stdout(&out));
    assert!(
        err.contains("warning: s.yaml:2:38: /scenarios/0/model: `openai.gpt-oss-20b-1:0` is not gpt-oss's id on Bedrock Mantle (responses), though it still runs (Bedrock adds models); did you mean `openai.gpt-oss-20b`?\n"),
        "{err}"
    );
    assert!(err.contains("did you mean `openai.gpt-oss-safeguard-20b`?"), "{err}");
    // A grader's model too, on the API it is asked over (the case's, here Converse).
    assert!(err.contains("/scenarios/3/grader: `openai.gpt-oss-120b` is not gpt-oss's id on Bedrock Runtime (converse), though it still runs (Bedrock adds models); did you mean `openai.gpt-oss-120b-1:0`?\n"), "{err}");
    assert_eq!(err.matches("warning:").count(), 3, "{err}");
}
