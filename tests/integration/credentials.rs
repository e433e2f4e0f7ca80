//! IAM credentials alone reach every API (issue 27): with no API key set, chat, the
//! Responses API and judges send a short-term Bedrock API key derived from the AWS
//! credential chain, and the loopback server accepts it only when it verifies against
//! those credentials, the way AWS verifies it: the signature recomputed here, with
//! aws-sigv4, from the same credentials and the key's own timestamp.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use base64::Engine as _;
use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};
use serde_json::{Value, json};

use crate::support::{binary, corpus, repo, stderr, stdout, write};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/session+token==";

/// The environment of a role's session: keys and a session token, nothing else.
const ENV_KEYS: [(&str, &str); 3] =
    [("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY), ("AWS_SESSION_TOKEN", SESSION_TOKEN)];

/// What the key said, when it verified: the region it was signed for.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Verified { region: String },
    Refused(String),
}

/// Verifies every request's bearer key, then answers chat, the Responses API and a
/// grader's question from the wire corpus.
struct Verifying {
    credentials: Credentials,
    seen: Mutex<Vec<Seen>>,
}

impl Verifying {
    fn new(session_token: Option<&str>) -> Arc<Verifying> {
        let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, session_token.map(str::to_owned), None, "test");
        Arc::new(Verifying { credentials, seen: Mutex::default() })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Responder for Verifying {
    fn authorize(&self, authorization: Option<&str>) -> Option<Reply> {
        let sigv4 = format!("AWS4-HMAC-SHA256 Credential={}/", self.credentials.access_key_id());
        let verdict = match authorization {
            Some(a) if a.starts_with("Bearer ") => verify(&a["Bearer ".len()..], &self.credentials),
            // The SDK's own SigV4 (Converse, InvokeModel): its signature is the SDK's
            // business; the scope says whose and where.
            Some(a) if a.starts_with(&sigv4) => Ok(a[sigv4.len()..].split('/').nth(1).unwrap_or_default().to_owned()),
            _ => Err("no bearer key".to_owned()),
        };
        let seen = match &verdict {
            Ok(region) => Seen::Verified { region: region.clone() },
            Err(why) => Seen::Refused(why.clone()),
        };
        self.seen.lock().unwrap().push(seen);
        verdict.err().map(|why| Reply::error(403, &format!("Authentication failed: {why}")))
    }

    fn respond(&self, request: &RecordedRequest) -> Reply {
        let body = String::from_utf8_lossy(&request.body);
        // What `doctor --probe` asks: ListAsyncInvokes, and an OpenAI server's models.
        if request.path.starts_with("/async-invoke") {
            return Reply::json(200, &json!({"asyncInvokeSummaries": []}));
        }
        if request.path.ends_with("/models") {
            return Reply::json(
                200,
                &json!({"object": "list", "data": [{"id": "openai.gpt-oss-20b", "object": "model"}]}),
            );
        }
        if body.contains("impartial grader") {
            let verdict = json!({"pass": true, "score": 0.9, "reason": "names the Earth"}).to_string();
            let answer = json!({"id": "g", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": format!("<reasoning>Check.</reasoning>{verdict}")}}],
                "usage": {"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110}});
            Reply::json(200, &answer)
        } else if request.path.ends_with("/responses") {
            corpus("responses-20b-capital")
        } else {
            corpus("chat-20b-planet")
        }
    }
}

/// The region `key` was signed for, when its signature is what `credentials` make for
/// its own query at its own time; why not, otherwise.
fn verify(key: &str, credentials: &Credentials) -> Result<String, String> {
    let encoded = key.strip_prefix("bedrock-api-key-").ok_or("not a short-term key")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| e.to_string())?;
    let text = String::from_utf8(decoded).map_err(|e| e.to_string())?;
    let token = text.strip_suffix("&Version=1").ok_or("no &Version=1")?;
    let url = url::Url::parse(&format!("https://{token}")).map_err(|e| e.to_string())?;
    if url.host_str() != Some("bedrock.amazonaws.com") || url.path() != "/" {
        return Err(format!("signed for {url}"));
    }
    let query = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let credential = query("X-Amz-Credential").ok_or("no credential")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [id, _, region, "bedrock", "aws4_request"] = scope.as_slice() else { return Err(credential) };
    if *id != credentials.access_key_id() {
        return Err(format!("signed by {id}"));
    }
    if query("X-Amz-Security-Token").as_deref() != credentials.session_token() {
        return Err("the session token is not the credentials'".into());
    }
    let date = query("X-Amz-Date").ok_or("no date")?;
    let at = humantime::parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &date[9..11],
        &date[11..13],
        &date[13..15]
    ))
    .map_err(|e| e.to_string())?;
    let expires = Duration::from_secs(query("X-Amz-Expires").ok_or("no expiry")?.parse().map_err(|_| "expiry")?);
    if expires > Duration::from_secs(43_200) {
        return Err("valid for more than 12 hours".into());
    }
    if at + expires < SystemTime::now() || at > SystemTime::now() + Duration::from_secs(300) {
        return Err("expired, or signed in the future".into());
    }
    // AWS's side: the same request, signed again from the caller's credentials.
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let request = SignableRequest::new(
        "POST",
        "https://bedrock.amazonaws.com/?Action=CallWithBearerToken",
        [("host", "bedrock.amazonaws.com")].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let expected = sign(request, &params).unwrap().into_parts().1;
    match query("X-Amz-Signature") {
        Some(signature) if signature == expected => Ok((*region).to_owned()),
        _ => Err("the signature does not verify".into()),
    }
}

const SUITE: &str = "scenarios:
  - {name: planet-chat, api: chat, model: openai.gpt-oss-20b-1:0, prompt: Which planet do humans live on?}
  - {name: capital-responses, api: responses, model: openai.gpt-oss-20b, prompt: Capital of Japan?}
  - name: planet-judged
    api: chat
    model: openai.gpt-oss-20b-1:0
    prompt: Which planet do humans live on?
    expect:
      - judge: {rubric: Names the Earth., grader: {api: chat, model: openai.gpt-oss-120b-1:0}}
";

/// Runs the suite live against `server` with only `env` set (besides the endpoints).
fn run(server: &WireServer, dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Output, Value) {
    let out = binary(dir)
        .args(["run", "scenarios", "--mode", "live", "--retries", "0", "--report-json", "report.json"])
        .args(["--update-snapshots", "always"])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .args(["--responses-base-url", &format!("{}/v1", server.url())])
        .env("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let report =
        std::fs::read_to_string(dir.join("report.json")).map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    (out, report)
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    let cases = report["cases"].as_array().cloned().unwrap_or_default();
    cases.iter().map(|c| (c["id"].as_str().unwrap().to_owned(), c["status"].as_str().unwrap().to_owned())).collect()
}

/// Asserts every case passed, the server saw only keys that verify (one per case, one
/// for the grader), and no credential reached any output or file.
fn assert_verified(out: &std::process::Output, report: &Value, verifying: &Verifying, dir: &std::path::Path) {
    assert!(out.status.success(), "{}\n{}", stdout(out), stderr(out));
    for (id, status) in statuses(report) {
        assert_eq!(status, "passed", "{id}");
    }
    let seen = verifying.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|s| *s == Seen::Verified { region: "us-west-2".into() }), "{seen:?}");
    let mut written = stdout(out) + &stderr(out);
    for entry in walk(dir) {
        written.push_str(&std::fs::read_to_string(entry).unwrap_or_default());
    }
    for secret in [SECRET_KEY, SESSION_TOKEN, "bedrock-api-key-"] {
        assert!(!written.contains(secret), "{secret} was written");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn environment_keys_alone_authenticate_chat_responses_and_judges() {
    let verifying = Verifying::new(Some(SESSION_TOKEN));
    let (_rt, server) = crate::support::serve(verifying.clone());
    let dir = repo();
    write(dir.path(), "scenarios/suite.yaml", SUITE);
    let (out, report) = run(&server, dir.path(), &ENV_KEYS);
    assert_verified(&out, &report, &verifying, dir.path());
}

#[test]
fn a_profile_in_a_credentials_file_alone_authenticates_too() {
    let verifying = Verifying::new(None);
    let (_rt, server) = crate::support::serve(verifying.clone());
    let dir = repo();
    write(dir.path(), "scenarios/suite.yaml", SUITE);
    let aws = tempfile::tempdir().unwrap();
    let credentials = aws.path().join("credentials");
    std::fs::write(
        &credentials,
        format!("[default]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other\n\n[nightly]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .unwrap();
    let config = aws.path().join("config");
    std::fs::write(&config, "[profile nightly]\nregion = us-west-2\n").unwrap();
    let env = [
        ("AWS_PROFILE", "nightly"),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];
    let (out, report) = run(&server, dir.path(), &env);
    assert_verified(&out, &report, &verifying, dir.path());
}

#[test]
fn an_explicit_key_wins_and_a_key_from_other_credentials_is_refused() {
    let verifying = Verifying::new(Some(SESSION_TOKEN));
    let (_rt, server) = crate::support::serve(verifying.clone());
    let dir = repo();
    write(dir.path(), "scenarios/suite.yaml", SUITE);
    // A long-term key set: it is what is sent, not a derived one (so it fails here).
    let env = [ENV_KEYS.as_slice(), &[("AWS_BEARER_TOKEN_BEDROCK", "ABSKexplicit-long-term-key")]].concat();
    let (out, _) = run(&server, dir.path(), &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // One per case: a refused answer leaves its grader nothing to judge.
    assert_eq!(verifying.seen().len(), 3, "{:?}", verifying.seen());
    assert!(
        verifying.seen().iter().all(|s| *s == Seen::Refused("not a short-term key".into())),
        "{:?}",
        verifying.seen()
    );
    // Credentials the server does not know: their derived key does not verify.
    let other = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "another-secret-key"),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
    ];
    let (out, report) = run(&server, dir.path(), &other);
    assert_eq!(out.status.code(), Some(1));
    assert!(verifying.seen().contains(&Seen::Refused("the signature does not verify".into())));
    assert!(statuses(&report).iter().all(|(_, s)| s == "errored"), "{report}");
}

#[test]
fn a_profile_that_does_not_exist_is_one_clear_sentence() {
    let verifying = Verifying::new(None);
    let (_rt, server) = crate::support::serve(verifying.clone());
    let dir = repo();
    write(dir.path(), "scenarios/suite.yaml", SUITE);
    let (out, report) = run(&server, dir.path(), &[("AWS_PROFILE", "no-such-profile")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(verifying.seen().is_empty(), "nothing is sent without credentials");
    let message = report["cases"][0]["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("no-such-profile"), "{message}");
    assert!(message.contains("no AWS credentials to derive a short-term Bedrock API key"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

/// A short-term key AWS's generator made on 2025-01-01 for 12 hours: long expired.
const EXPIRED_KEY: &str = "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbiZYLUFtei1BbGdvcml0aG09QVdTNC1ITUFDLVNIQTI1NiZYLUFtei1DcmVkZW50aWFsPUFLSUFJT1NGT0ROTjdFWEFNUExFJTJGMjAyNTAxMDElMkZ1cy13ZXN0LTIlMkZiZWRyb2NrJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNTAxMDFUMDgwMDAwWiZYLUFtei1FeHBpcmVzPTQzMjAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TaWduYXR1cmU9YTVjMTRlMzA1MjQ1ZGNkZWI3NTkzNjk5NjRhYjkxMDhhMWZjMTFmOWRjNWU2YmE4NDQ1M2RhODc3ZmRkOTRhNyZWZXJzaW9uPTE=";

/// `doctor` on a copy of the bundled suite: a developer's `.env` at the crate root
/// must not change what it finds.
fn doctor(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = repo();
    copy(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"), &dir.path().join("scenarios"));
    binary(dir.path()).arg("doctor").args(args).envs(env.iter().copied()).output().unwrap()
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let (path, target) = (entry.path(), to.join(entry.file_name()));
        if path.is_dir() { copy(&path, &target) } else { std::fs::copy(&path, &target).map(drop).unwrap() }
    }
}

#[test]
fn doctor_passes_on_the_bundled_suite_and_says_where_keys_come_from() {
    let out = doctor(&[], &ENV_KEYS);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("chat, chat-stream -> https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1"), "{text}");
    assert!(text.contains("responses, responses-stream -> https://bedrock-mantle.us-west-2.api.aws/v1"), "{text}");
    assert!(
        text.contains("credentials: Bearer key: a short-term Bedrock API key for us-west-2, derived from environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY with AWS_SESSION_TOKEN"),
        "{text}"
    );
    assert!(text.contains("credentials: SigV4: environment: AWS_ACCESS_KEY_ID"), "{text}");
    assert!(text.contains("all well"), "{text}");
    let all = text + &stderr(&out);
    for secret in [SECRET_KEY, SESSION_TOKEN, ACCESS_KEY, "bedrock-api-key-"] {
        assert!(!all.contains(secret), "{secret} printed");
    }
}

#[test]
fn doctor_names_a_stale_short_term_key_and_a_missing_profile() {
    let out = doctor(&[], &[("AWS_BEARER_TOKEN_BEDROCK", EXPIRED_KEY)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("finding: AWS_BEARER_TOKEN_BEDROCK is a short-term Bedrock API key signed 2025-01-01T08:00:00Z for 12h: it expired at 2025-01-01T20:00:00Z"),
        "{text}"
    );
    assert!(!text.contains(EXPIRED_KEY));
    let out = doctor(&[], &[("AWS_PROFILE", "nightly-typo")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "AWS_PROFILE names profile `nightly-typo`, which is in neither the AWS config file nor the credentials file"
        ),
        "{text}"
    );
}

#[test]
fn doctor_probes_each_endpoint_with_credentials_that_verify() {
    let verifying = Verifying::new(Some(SESSION_TOKEN));
    let (_rt, server) = crate::support::serve(verifying.clone());
    let dir = repo();
    write(
        dir.path(),
        "scenarios/suite.yaml",
        &format!("{SUITE}  - {{name: planet-converse, api: converse, model: openai.gpt-oss-20b-1:0, prompt: hi}}\n"),
    );
    let out = binary(dir.path())
        .args(["doctor", "--probe", "--bedrock-endpoint", &server.url()])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .args(["--responses-base-url", &format!("{}/v1", server.url())])
        .env("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1")
        .envs(ENV_KEYS)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert_eq!(text.matches("probe:       GET /models answered HTTP 200").count(), 2, "{text}");
    assert!(text.contains("probe:       ListAsyncInvokes answered"), "{text}");
    let seen = verifying.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|s| *s == Seen::Verified { region: "us-west-2".into() }), "{seen:?}");
}
