//! Helpers shared by the integration tests.

use std::path::Path;
use std::process::{Command, Output};

use gpt_oss_scenarios::wire::WireCase;
use std::sync::Arc;

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder, WireServer};

/// The wire corpus, copied into the repository with each case's provenance.
pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wire/cases");

/// The recorded response of wire-corpus case `id`, ready to serve.
pub fn corpus(id: &str) -> Reply {
    let path = format!("{CORPUS}/{id}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let case: WireCase = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    Reply::from_wire(&case.response).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The real binary, to run from `dir` in a clean environment (see [`clean_env`]).
pub fn binary(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gpt-oss-scenarios"));
    clean_env(&mut command, dir);
    command
}

/// Runs `command` from `dir`, cut off from whatever the caller's environment would
/// change: CI and insta settings, the job summary, every `AWS_*`, `OPENAI_*` and `GPT_OSS_SCENARIOS_*`
/// variable (credentials, endpoints, profiles) and instance metadata. Tests add back
/// what they mean to set.
pub fn clean_env(command: &mut Command, dir: &Path) {
    command.current_dir(dir).env("NO_COLOR", "1");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let cleared = ["AWS_", "OPENAI_", "INSTA_", "GPT_OSS_SCENARIOS_"].iter().any(|p| name.starts_with(p))
            || name == "CI"
            || name == "GITHUB_STEP_SUMMARY";
        if cleared {
            command.env_remove(name.as_ref());
        }
    }
    let nowhere = dir.join(".no-aws-config");
    command
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// Runs the real binary from `dir` with `args`, in the clean environment of [`binary`].
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    binary(dir).args(args).output().expect("the binary starts")
}

/// Runs the real binary from the crate root.
pub fn run(args: &[&str]) -> Output {
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temporary folder that counts as a repository root, so that defaults lookup
/// stops there instead of wandering into whatever holds the temp dir.
pub fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir .git");
    dir
}

pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// Runs the real binary from `dir` in the clean environment of [`binary`], with only
/// `env` added.
pub fn run_isolated(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    binary(dir).args(args).envs(env.iter().copied()).output().expect("the binary starts")
}

/// The end of a long output, for a failure message.
pub fn tail(text: &str) -> &str {
    let start = (text.len().saturating_sub(2000)..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    &text[start..]
}

/// Always the same answer.
pub struct Fixed(pub Reply);

impl Responder for Fixed {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        self.0.clone()
    }
}

/// A loopback server answering with `responder`; the runtime keeps it running.
pub fn serve(responder: Arc<dyn Responder>) -> (tokio::runtime::Runtime, WireServer) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(WireServer::start(responder)).unwrap();
    (rt, server)
}
