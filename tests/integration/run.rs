//! `run` through the real binary against the loopback wire server, one scenario per
//! API, serving recordings from the wire corpus.

use std::sync::Arc;

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};

use gpt_oss_scenarios::providers;

use crate::support::{corpus, repo, run_isolated, stderr, stdout, write};

/// Routes by API the way Bedrock's URLs and bodies tell them apart.
struct ByApi {
    converse: Reply,
    converse_stream: Reply,
    chat: Reply,
    chat_stream: Reply,
}

impl Responder for ByApi {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let streamed =
            serde_json::from_slice::<serde_json::Value>(&request.body).map(|b| b["stream"] == true).unwrap_or(false);
        if request.path.ends_with("/converse-stream") {
            self.converse_stream.clone()
        } else if request.path.ends_with("/converse") {
            self.converse.clone()
        } else if streamed {
            self.chat_stream.clone()
        } else {
            self.chat.clone()
        }
    }
}

const SUITE: &str = "scenarios:
  - {name: ok-converse, api: converse, prompt: 'Reply with the single word: ok'}
  - {name: hi-converse-stream, api: converse-stream, prompt: Hi}
  - {name: planet-chat, api: chat, prompt: Which planet do humans live on?}
  - {name: sun-chat-stream, api: chat-stream, prompt: What's the name of the Sun in latin?}
";

#[test]
fn each_api_runs_against_the_loopback_server() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let responder = ByApi {
        converse: corpus("converse-120b-ok-effort-medium"),
        converse_stream: corpus("converse-stream-120b-hi"),
        chat: corpus("chat-20b-planet"),
        chat_stream: corpus("chat-stream-20b-sun-per-chunk-tags"),
    };
    let server = runtime.block_on(WireServer::start(Arc::new(responder))).unwrap();
    let dir = repo();
    write(dir.path(), "suite/defaults.yaml", "model: openai.gpt-oss-20b-1:0\n");
    write(dir.path(), "suite/all.yaml", SUITE);
    let base = server.url();
    let chat_base = format!("{base}/openai/v1");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "suite", "--verbose", "--bedrock-endpoint", &base, "--openai-base-url", &chat_base];
        args.extend_from_slice(extra);
        run_isolated(
            dir.path(),
            &args,
            &[
                ("AWS_BEARER_TOKEN_BEDROCK", "test-bearer"),
                ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1"),
                ("OPENAI_API_KEY", "test-key"),
            ],
        )
    };
    // First run: accept the snapshots. Second run: they must match, writing nothing.
    let first = run(&["--accept"]);
    assert_eq!(first.status.code(), Some(0), "{}\n{}", stdout(&first), stderr(&first));
    // The AWS SDK reads AWS_BEARER_TOKEN_BEDROCK itself and prefers bearer auth.
    let converse: Vec<_> = server.requests().into_iter().filter(|r| r.path.contains("/converse")).collect();
    assert_eq!(converse.len(), 2);
    assert!(converse.iter().all(|r| r.auth_scheme.as_deref() == Some("Bearer")), "{converse:?}");
    // Every request on the wire is the one encoding that cassettes hash and --dry-run shows.
    let suite = gpt_oss_scenarios::load::load(&[dir.path().join("suite")]);
    let cases = gpt_oss_scenarios::plan::plan(&suite.scenarios).into_cases();
    let encoded: Vec<serde_json::Value> = cases
        .iter()
        .map(|case| {
            providers::encode(case.wire_api(), &providers::CallRequest::new(&case.model, &case.region, &case.spec)).body
        })
        .collect();
    let sent: Vec<serde_json::Value> =
        server.requests().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(sent.len(), 4, "one request per case");
    for body in &sent {
        assert!(encoded.contains(body), "sent {body}, which is not one of the encodings {encoded:?}");
    }
    let out = run(&["--update-snapshots", "no"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for header in [
        " PASS ok-converse (converse,",
        " PASS hi-converse-stream (converse-stream,",
        " PASS planet-chat (chat,",
        " PASS sun-chat-stream (chat-stream,",
    ] {
        assert!(text.contains(header), "{header} missing:\n{text}");
    }
    // The answers, apart from their reasoning.
    assert!(
        text.contains("      final:\n        ok\n      reasoning:\n        User wants reply with the single word"),
        "{text}"
    );
    assert!(text.contains("      final:\n        In Latin the Sun is called **Sol**"), "{text}");
    assert!(!text.contains("<reasoning>"), "reasoning tags leaked into the output:\n{text}");
    assert!(text.contains("4 cases: 4 passed, 0 failed, 0 errored, 0 skipped; 0 pending snapshot(s)"), "{text}");
    let snapshot = std::fs::read_to_string(dir.path().join("snapshots/planet-chat.snap")).unwrap();
    assert!(snapshot.starts_with("---\nsource: suite/all.yaml\nexpression: planet-chat\n"), "{snapshot}");
    // Every request reached the loopback server, each at its API's path (cases run
    // concurrently, so in any order).
    let mut paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 8);
    paths.sort();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "/model/openai.gpt-oss-20b-1%3A0/converse",
            "/model/openai.gpt-oss-20b-1%3A0/converse-stream",
            "/openai/v1/chat/completions",
        ]
    );
}

#[test]
fn errors_read_as_sentences() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(WireServer::start(Arc::new(corpus("chat-429-rate-limit")))).unwrap();
    let dir = repo();
    write(dir.path(), "s.yaml", "name: busy\napi: chat\nmodel: openai.gpt-oss-20b-1:0\nprompt: hi\n");
    let base = format!("{}/openai/v1", server.url());
    let out = run_isolated(
        dir.path(),
        &["run", "s.yaml", "--openai-base-url", &base, "--retries", "1"],
        &[("OPENAI_API_KEY", "k")],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("ERROR busy (chat, openai.gpt-oss-20b-1:0)"), "{text}");
    assert!(text.contains("error: throttled (HTTP 429): "), "{text}");
    assert!(text.contains("(after 2 attempts)"), "{text}");
    assert_eq!(server.requests().len(), 2, "one retry after the throttle");
}

#[test]
fn missing_credentials_name_what_to_set() {
    let dir = repo();
    write(
        dir.path(),
        "s.yaml",
        "scenarios:\n  - {name: c, api: chat, model: openai.gpt-oss-20b-1:0, prompt: hi}\n  - {name: v, api: converse, model: openai.gpt-oss-20b-1:0, prompt: hi}\n",
    );
    let out = run_isolated(dir.path(), &["run", "s.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("error: auth: no API key for https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1, and no AWS credentials to derive a short-term Bedrock API key from: none of the chain's sources has any"),
        "{text}"
    );
    assert!(
        text.contains("error: auth: no AWS credentials for Bedrock in us-west-2: set AWS_BEARER_TOKEN_BEDROCK"),
        "{text}"
    );
}
