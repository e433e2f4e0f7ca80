//! Helpers shared by the integration tests.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the real binary from `dir` with `args`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpt-oss-scenarios"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary starts")
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

/// Every variable that carries a credential the tool could pick up.
pub const CREDENTIALS: [&str; 6] = [
    "AWS_BEARER_TOKEN_BEDROCK",
    "OPENAI_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
];

/// Runs the real binary from `dir` cut off from the caller's credentials, endpoints,
/// AWS profile (HOME) and instance metadata, with only `env` added.
pub fn run_isolated(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gpt-oss-scenarios"));
    command.args(args).current_dir(dir).env("NO_COLOR", "1").env("HOME", dir).env("AWS_EC2_METADATA_DISABLED", "true");
    let endpoints = ["OPENAI_BASE_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL", "GITHUB_STEP_SUMMARY"];
    for name in CREDENTIALS.iter().chain(&endpoints) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied()).output().expect("the binary starts")
}
