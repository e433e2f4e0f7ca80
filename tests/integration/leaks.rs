//! Issue 25, the second hardening round: secrets never reach a written file, and the
//! Bedrock key stays on Bedrock. Each defect the probe found, through the real binary.

use std::sync::Arc;

use gpt_oss_scenarios::wire::WireResponse;
use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder};
use serde_json::{Value, json};

use crate::hardening::chat_chunk;
use crate::support::{Fixed, binary, corpus, repo, serve, stderr, stdout, tail, write};

/// The halves of each canary: a stream sends a secret in two pieces.
const SPLIT: [(&str, &str, &str); 2] = [
    ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-CANARYBEARERHALF1", "CANARYBEARERHALF2"),
    ("OPENAI_API_KEY", "sk-CANARYOPENAIHALF1", "CANARYOPENAIHALF2"),
];

/// Echoes both keys in every answer: whole in JSON bodies, cut in two across stream
/// events, and, on InvokeModel's stream, inside each chunk's base64 `bytes`.
struct Canary;

fn pieces() -> Vec<String> {
    let mut out = vec!["Keys: ".to_owned()];
    for (_, a, b) in SPLIT {
        out.extend([a.to_owned(), format!("{b} ")]);
    }
    out
}

impl Responder for Canary {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        use base64::Engine;
        let whole = pieces().concat();
        let streamed = serde_json::from_slice::<Value>(&request.body).is_ok_and(|b| b["stream"] == true);
        let event = |kind: &str, payload: Value| json!({"type": kind, "payload": payload});
        let response: Value = if request.path.ends_with("/converse-stream") {
            let mut events = vec![event("messageStart", json!({"role": "assistant"}))];
            events.extend(
                pieces()
                    .iter()
                    .map(|p| event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": p}}))),
            );
            events.push(event("contentBlockStop", json!({"contentBlockIndex": 0})));
            events.push(event("messageStop", json!({"stopReason": "end_turn"})));
            json!({"status": 200, "headers": {"content-type": "application/vnd.amazon.eventstream"}, "events": events})
        } else if request.path.ends_with("/converse") {
            json!({"status": 200, "json": {"output": {"message": {"role": "assistant", "content": [{"text": whole}]}},
                "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}})
        } else if request.path.ends_with("/invoke-with-response-stream") {
            let mut chunks: Vec<Value> = pieces().iter().map(|p| chat_chunk(p, None)).collect();
            chunks.push(chat_chunk("", Some("stop")));
            let events: Vec<Value> = chunks
                .iter()
                .map(|c| {
                    let bytes = base64::engine::general_purpose::STANDARD.encode(c.to_string());
                    event("chunk", json!({"bytes": bytes}))
                })
                .collect();
            json!({"status": 200, "headers": {"content-type": "application/vnd.amazon.eventstream"}, "events": events})
        } else if request.path.ends_with("/responses") && streamed {
            let mut raw = String::new();
            for p in pieces() {
                let delta = json!({"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0, "delta": p});
                raw.push_str(&format!("event: response.output_text.delta\ndata: {delta}\n\n"));
            }
            let done = json!({"type": "response.completed", "response": {"id": "r", "object": "response", "status": "completed", "output": []}});
            raw.push_str(&format!("event: response.completed\ndata: {done}\n\n"));
            json!({"status": 200, "headers": {"content-type": "text/event-stream"}, "sse_raw": raw})
        } else if request.path.ends_with("/responses") {
            json!({"status": 200, "json": {"id": "r", "object": "response", "status": "completed", "output": [
                {"type": "message", "id": "m", "role": "assistant", "content": [{"type": "output_text", "text": whole}]}]}})
        } else if streamed {
            let mut sse: Vec<String> = pieces().iter().map(|p| chat_chunk(p, None).to_string()).collect();
            sse.push(chat_chunk("", Some("stop")).to_string());
            sse.push("[DONE]".into());
            json!({"status": 200, "headers": {"content-type": "text/event-stream"}, "sse": sse})
        } else {
            // chat and InvokeModel: a chat completion.
            json!({"status": 200, "json": {"id": "c", "object": "chat.completion", "model": "m", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": whole}, "finish_reason": "stop"}]}})
        };
        let mut response: WireResponse = serde_json::from_value(response).unwrap();
        if response.json.is_some() {
            response.headers.insert("content-type".into(), "application/json".into());
        }
        Reply::from_wire(&response).unwrap()
    }
}

/// Every file under `dir` and every base64 run inside it, decoded: what a probe for
/// leaked canaries reads.
fn readable_everywhere(dir: &std::path::Path, printed: &str) -> Vec<(String, String)> {
    use base64::Engine;
    let mut out = vec![("the output".to_owned(), printed.to_owned())];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for run in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=')) {
            if run.len() >= 16
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(run)
            {
                out.push((format!("{} (base64)", path.display()), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        out.push((path.display().to_string(), text));
    }
    out
}

/// Issue 25: InvokeModel stream cassettes kept each chunk's base64 `bytes` as it came,
/// so echoed credentials reached committed cassettes, and a secret split across two
/// stream events was stored in two pieces. On all eight APIs, recorded, with every
/// report: no canary, and no half of one, in any written file, decoded base64 included.
#[test]
fn canaries_reach_no_written_file_even_split_or_in_base64() {
    let (_rt, server) = serve(Arc::new(Canary));
    let dir = repo();
    let mut suite = String::from("scenarios:\n");
    for api in [
        "converse",
        "converse-stream",
        "invoke",
        "invoke-stream",
        "chat",
        "chat-stream",
        "responses",
        "responses-stream",
    ] {
        suite.push_str(&format!("  - {{name: echo-{api}, api: {api}, model: openai.gpt-oss-20b-1:0, prompt: Echo}}\n"));
    }
    write(dir.path(), "scenarios/echo.yaml", &suite);
    let base = server.url();
    let out = binary(dir.path())
        .args(["run", "--mode", "record", "--update-snapshots", "new", "-v", "--retries", "0"])
        .args(["--bedrock-endpoint", &base, "--openai-base-url", &format!("{base}/openai/v1")])
        .args(["--responses-base-url", &format!("{base}/v1")])
        .args([
            "--report-json",
            "out/r.json",
            "--junit",
            "out/j.xml",
            "--summary-md",
            "out/s.md",
            "--html",
            "out/r.html",
        ])
        .envs(SPLIT.iter().map(|(name, a, b)| (*name, format!("{a}{b}"))))
        .env("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1")
        .output()
        .unwrap();
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(printed.contains("[redacted OPENAI_API_KEY]"), "the echo was seen, redacted: {}", tail(&printed));
    let cassettes = std::fs::read_dir(dir.path().join("cassettes")).unwrap().count();
    assert_eq!(cassettes, 8, "{}", tail(&printed));
    for (what, text) in readable_everywhere(dir.path(), &printed) {
        for (name, a, b) in SPLIT {
            for half in [a.trim_start_matches("bedrock-api-key-").trim_start_matches("sk-"), b] {
                assert!(!text.contains(half), "a piece of {name} reached {what}");
            }
        }
    }
}

/// Issue 25: only the five credential variables were redacted. A session token read
/// from a credentials file by the AWS chain, echoed back by a 403, was stored verbatim.
#[test]
fn a_session_token_from_a_credentials_file_is_redacted_too() {
    const TOKEN: &str = "CANARYFILESESSIONTOKEN7d2e";
    const SECRET: &str = "CANARYFILESECRETKEY6c1f";
    struct Denied;
    impl Responder for Denied {
        fn respond(&self, _: &RecordedRequest) -> Reply {
            let body = json!({"message": format!("The security token {TOKEN} and key {SECRET} are invalid")});
            let mut reply = Reply::from_wire(&WireResponse::json(403, body)).unwrap();
            reply.headers.push(("x-amzn-errortype".into(), "UnrecognizedClientException".into()));
            reply
        }
    }
    let (_rt, server) = serve(Arc::new(Denied));
    let dir = repo();
    write(
        dir.path(),
        "aws/credentials",
        &format!(
            "[team]\naws_access_key_id = AKIAFILE0000CANARY\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n"
        ),
    );
    write(
        dir.path(),
        "scenarios/a.yaml",
        "scenarios:\n  - {name: c, api: converse, model: openai.gpt-oss-20b-1:0, prompt: hi}\n  - {name: i, api: invoke-stream, model: openai.gpt-oss-20b-1:0, prompt: hi}\n",
    );
    let out = binary(dir.path())
        .args(["run", "--mode", "record", "-v", "--retries", "0", "--report-json", "r.json", "--junit", "j.xml"])
        .args(["--bedrock-endpoint", &server.url()])
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("aws/credentials"))
        .env("AWS_PROFILE", "team")
        .output()
        .unwrap();
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(printed.contains("[redacted AWS_SESSION_TOKEN]"), "{}", tail(&printed));
    assert!(printed.contains("[redacted AWS_SECRET_ACCESS_KEY]"), "{}", tail(&printed));
    for (what, text) in readable_everywhere(dir.path(), &printed) {
        if what.contains("aws/credentials") {
            continue;
        }
        assert!(!text.contains(TOKEN) && !text.contains(SECRET), "a credential reached {what}");
    }
}

/// Issue 25: a `.env` above the repository root was loaded, and could list a host for
/// the Bedrock key and point the base URL at it over http. Only the working directory's
/// `.env` is read (the suite's root, or a folder inside the repository).
#[test]
fn a_dotenv_above_the_repository_is_not_loaded() {
    let outer = tempfile::tempdir().unwrap();
    write(
        outer.path(),
        ".env",
        "OPENAI_BASE_URL=http://evil.example/v1\nGPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS=evil.example\n",
    );
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    write(&repo, "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    let out =
        binary(&repo).args(["run", "--dry-run"]).env("AWS_BEARER_TOKEN_BEDROCK", "bedrock-key-1234").output().unwrap();
    let text = stdout(&out);
    assert!(!text.contains("evil.example"), "{text}");
    assert!(text.contains("POST https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/chat/completions"), "{text}");
    // The suite's own `.env` is read.
    write(&repo, ".env", "OPENAI_BASE_URL=http://127.0.0.1:9/v1\n");
    let out = binary(&repo).args(["run", "--dry-run"]).output().unwrap();
    assert!(stdout(&out).contains("POST http://127.0.0.1:9/v1/chat/completions"), "{}", stdout(&out));
}

/// Issue 25: the host check split the URL by hand and matched a suffix, so userinfo, a
/// fragment or a query sent the key to 127.0.0.1, and any `*.amazonaws.com` or
/// `*.api.aws` host (load balancers, API Gateway, S3 websites) took it. Each of those
/// gets no key, on chat and on Converse alike; Bedrock's own hosts do.
#[test]
fn no_look_alike_host_is_given_the_bedrock_key() {
    let dir = repo();
    write(
        dir.path(),
        "scenarios/a.yaml",
        "scenarios:\n  - {name: c, api: chat, model: m, prompt: hi}\n  - {name: v, api: converse, model: m, prompt: hi}\n",
    );
    let look_alikes = [
        "https://x.amazonaws.com:@127.0.0.1:8443/v1",
        "https://127.0.0.1#.amazonaws.com/v1",
        "https://127.0.0.1?.amazonaws.com/v1",
        "https://my-alb-1.us-east-1.elb.amazonaws.com/v1",
        "https://abc.execute-api.us-east-1.amazonaws.com/v1",
        "https://bucket.s3-website-us-east-1.amazonaws.com/v1",
        "https://anything.api.aws/v1",
        "http://bedrock-runtime.us-east-1.amazonaws.com/openai/v1",
    ];
    for url in look_alikes {
        let out = binary(dir.path())
            .args(["run", "--dry-run", "--openai-base-url", url, "--bedrock-endpoint", url])
            .env("AWS_BEARER_TOKEN_BEDROCK", "bedrock-key-1234")
            .output()
            .unwrap();
        let text = stdout(&out);
        assert!(!text.contains("(AWS_BEARER_TOKEN_BEDROCK)"), "{url} was given the key:\n{text}");
        assert!(text.contains("Authorization: (none)") && text.contains("AWS4-HMAC-SHA256"), "{url}:\n{text}");
    }
    let out = binary(dir.path())
        .args(["run", "--dry-run", "--openai-base-url", "https://bedrock-mantle.us-east-1.api.aws/v1"])
        .env("AWS_BEARER_TOKEN_BEDROCK", "bedrock-key-1234")
        .output()
        .unwrap();
    assert_eq!(stdout(&out).matches("Bearer **** (AWS_BEARER_TOKEN_BEDROCK)").count(), 2, "{}", stdout(&out));
}

/// Issue 25: the report's `prompt` field was not redacted (cassettes were): a `{file:}`
/// variable that holds a key put it in every report verbatim.
#[test]
fn a_secret_in_the_prompt_is_redacted_in_every_report() {
    let dir = repo();
    write(dir.path(), "scenarios/notes.txt", "deploy with sk-PROMPTCANARY-0042 please");
    write(
        dir.path(),
        "scenarios/a.yaml",
        "name: a\napi: chat\nmodel: m\nprompt: '{{ notes }}'\nvars:\n  notes: {file: notes.txt}\n",
    );
    let (_rt, server) = serve(Arc::new(Fixed(corpus("chat-20b-planet"))));
    let out = binary(dir.path())
        .args([
            "run",
            "--mode",
            "record",
            "--accept",
            "--report-json",
            "r.json",
            "--html",
            "r.html",
            "--junit",
            "j.xml",
        ])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .env("OPENAI_API_KEY", "sk-PROMPTCANARY-0042")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(report.contains("deploy with [redacted OPENAI_API_KEY] please"), "{report}");
    for (what, text) in readable_everywhere(dir.path(), &format!("{}{}", stdout(&out), stderr(&out))) {
        if what.ends_with("notes.txt") {
            continue;
        }
        assert!(!text.contains("PROMPTCANARY"), "the key reached {what}");
    }
}

/// A password in an endpoint URL (`http://user:token@proxy/v1`) reached every cassette's
/// `endpoint_host`, and every message that named the URL.
#[test]
fn a_password_in_an_endpoint_url_reaches_no_file() {
    let (_rt, server) = serve(Arc::new(Fixed(corpus("chat-20b-planet"))));
    let dir = repo();
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    let base = server.url().replace("http://", "http://proxy-user:URLPASSWORD-0042@");
    let out = binary(dir.path())
        .args(["run", "--mode", "record", "--accept", "--report-json", "r.json", "--openai-base-url"])
        .arg(format!("{base}/openai/v1"))
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    let cassette: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cassettes/a.json")).unwrap()).unwrap();
    assert_eq!(cassette["endpoint_host"], server.url().trim_start_matches("http://"), "{printed}");
    for (what, text) in readable_everywhere(dir.path(), &printed) {
        assert!(!text.contains("URLPASSWORD"), "the URL's password reached {what}");
    }

    // --dry-run prints the URL, masked.
    let out = binary(dir.path())
        .args(["run", "--dry-run", "--openai-base-url"])
        .arg(format!("{base}/openai/v1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("POST http://****:****@127.0.0.1:"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("URLPASSWORD") && !stdout(&out).contains("proxy-user"), "{}", stdout(&out));
}
