//! The bundled suite (`scenarios/`) against the loopback wire server: every case
//! passes its assertions and matches its committed snapshot.

use std::path::Path;
use std::sync::Arc;

use gpt_oss_scenarios::wire::WireCase;
use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};

use crate::support::{stderr, stdout};

/// Serves the synthetic answers in `tests/fixtures/bundled/`, by API.
pub struct BundledAnswers {
    replies: Vec<(&'static str, Reply)>,
}

impl BundledAnswers {
    pub fn load() -> BundledAnswers {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundled");
        let replies = ["converse", "converse-stream", "chat", "chat-stream"]
            .into_iter()
            .map(|api| {
                let text = std::fs::read_to_string(dir.join(format!("{api}.json"))).expect("fixture");
                let case: WireCase = serde_json::from_str(&text).expect("wire case");
                (api, Reply::from_wire(&case.response).expect("reply"))
            })
            .collect();
        BundledAnswers { replies }
    }
}

impl Responder for BundledAnswers {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let streamed = serde_json::from_slice::<serde_json::Value>(&request.body).is_ok_and(|b| b["stream"] == true);
        let api = if request.path.ends_with("/converse-stream") {
            "converse-stream"
        } else if request.path.ends_with("/converse") {
            "converse"
        } else if streamed {
            "chat-stream"
        } else {
            "chat"
        };
        self.replies.iter().find(|(name, _)| *name == api).map(|(_, r)| r.clone()).expect("every API has a fixture")
    }
}

#[test]
fn the_bundled_suite_passes_against_its_snapshots() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(WireServer::start(Arc::new(BundledAnswers::load()))).unwrap();
    let chat = format!("{}/openai/v1", server.url());
    // BLESS=1 accepts the current answers as the committed snapshots (see CONTRIBUTING.md).
    let update = if std::env::var_os("BLESS").is_some() { "always" } else { "no" };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gpt-oss-scenarios"))
        .args([
            "run",
            "scenarios/",
            "--update-snapshots",
            update,
            "--bedrock-endpoint",
            &server.url(),
            "--openai-base-url",
            &chat,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_BEARER_TOKEN_BEDROCK", "bundled-test")
        .env("OPENAI_API_KEY", "bundled-test")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("10 cases: 8 passed, 0 failed, 0 errored, 2 skipped; 0 pending snapshot(s)"), "{text}");
    assert_eq!(server.requests().len(), 8);
}
