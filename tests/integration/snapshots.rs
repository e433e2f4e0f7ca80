//! The snapshot workflow end to end: the engine writes `.snap.new`, the real
//! cargo-insta lists and accepts it, and the engine then passes; the same with the
//! built-in `accept`, `reject`, `review` and `snapshots --unreferenced`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use gpt_oss_scenarios::wire::server::WireServer;

use crate::support::{binary, corpus, repo, run_in, stderr, stdout, write};

fn planet_server(runtime: &tokio::runtime::Runtime) -> WireServer {
    runtime.block_on(WireServer::start(Arc::new(corpus("chat-20b-planet")))).unwrap()
}

fn engine(dir: &Path, server: &WireServer, update: &str) -> Output {
    let base = format!("{}/openai/v1", server.url());
    binary(dir)
        .args(["run", "scenarios", "--update-snapshots", update, "--openai-base-url", &base])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap()
}

fn cargo_insta(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("cargo")
        .arg("insta")
        .args(args)
        .current_dir(dir)
        .env_remove("INSTA_UPDATE")
        .env_remove("CI")
        .output()
        .expect("cargo runs");
    assert!(
        !stderr(&out).contains("no such command"),
        "cargo-insta is not installed: cargo install cargo-insta --locked --version 1.49.0 (.ci/run does this)"
    );
    out
}

/// cargo-insta works inside a Cargo package, as a user's suite in a Rust repo is.
fn cargo_package(dir: &Path) {
    write(
        dir,
        "Cargo.toml",
        "[package]\nname = \"suite\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    );
    write(dir, "src/lib.rs", "");
}

const SCENARIO: &str = "name: planet\ndescription: The model names our planet.\napi: chat\nmodel: openai.gpt-oss-20b-1:0\nprompt: Which planet do humans live on?\nexpect:\n  - icontains: earth\n";

#[test]
fn real_cargo_insta_reviews_what_the_engine_writes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = planet_server(&runtime);
    let dir = repo();
    cargo_package(dir.path());
    write(dir.path(), "scenarios/smoke/planet.yaml", SCENARIO);

    let first = engine(dir.path(), &server, "new");
    assert_eq!(first.status.code(), Some(1), "a new snapshot fails the run:\n{}", stdout(&first));
    let pending = dir.path().join("snapshots/smoke/planet.snap.new");
    let written = std::fs::read_to_string(&pending).expect("the engine wrote a .snap.new");

    let listed = cargo_insta(dir.path(), &["pending-snapshots"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("snapshots/smoke/planet.snap"), "{}{}", stdout(&listed), stderr(&listed));

    let accepted = cargo_insta(dir.path(), &["accept"]);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert!(!pending.exists());
    // insta rewrites the file through its own serializer: identical bytes mean the
    // engine writes exactly insta's format.
    let snap = std::fs::read_to_string(dir.path().join("snapshots/smoke/planet.snap")).unwrap();
    assert_eq!(snap, written);

    let again = engine(dir.path(), &server, "no");
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert_eq!(stdout(&cargo_insta(dir.path(), &["pending-snapshots"])).trim(), "No pending snapshots.");
}

#[test]
fn built_in_review_accept_reject_and_housekeeping() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = planet_server(&runtime);
    let dir = repo();
    write(dir.path(), "scenarios/planet.yaml", SCENARIO);
    write(dir.path(), "scenarios/other.yaml", &SCENARIO.replace("name: planet", "name: other"));

    assert_eq!(engine(dir.path(), &server, "new").status.code(), Some(1));
    let snaps = dir.path().join("snapshots");
    assert!(snaps.join("planet.snap.new").exists() && snaps.join("other.snap.new").exists());

    // Scripted review: accept the first (other), reject the second (planet).
    let mut child = binary(dir.path()).arg("review").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"a\nr\n").unwrap();
    let reviewed = child.wait_with_output().unwrap();
    let text = stdout(&reviewed);
    assert!(text.contains("new snapshot:\n+ final: \"Humans live on **Earth**"), "{text}");
    assert!(text.contains("review finished: 1 accepted, 1 rejected, 0 skipped"), "{text}");
    assert!(text.contains("[1/2] snapshots/other.snap"), "relative to the working directory: {text}");
    assert!(snaps.join("other.snap").exists() && !snaps.join("other.snap.new").exists());
    assert!(!snaps.join("planet.snap").exists() && !snaps.join("planet.snap.new").exists());

    assert_eq!(engine(dir.path(), &server, "new").status.code(), Some(1));
    let accepted = run_in(dir.path(), &["accept"]);
    assert!(stdout(&accepted).contains("accepted "), "{}", stdout(&accepted));
    assert_eq!(engine(dir.path(), &server, "no").status.code(), Some(0));

    // A scenario removed leaves its snapshot behind: listed, then deleted.
    std::fs::remove_file(dir.path().join("scenarios/other.yaml")).unwrap();
    let listed = run_in(dir.path(), &["snapshots", "--unreferenced"]);
    // Issue 14: paths are printed relative to the working directory.
    assert_eq!(stdout(&listed).trim(), "snapshots/other.snap");
    let deleted = run_in(dir.path(), &["snapshots", "--unreferenced", "--delete"]);
    assert!(stdout(&deleted).starts_with("deleted "), "{}", stdout(&deleted));
    assert!(!snaps.join("other.snap").exists() && snaps.join("planet.snap").exists());
    assert_eq!(stdout(&run_in(dir.path(), &["snapshots", "--unreferenced"])).trim(), "no unreferenced snapshots");
}

#[test]
fn a_changed_answer_shows_a_diff_and_ci_writes_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = planet_server(&runtime);
    let dir = repo();
    write(dir.path(), "scenarios/planet.yaml", SCENARIO);
    write(
        dir.path(),
        "snapshots/planet.snap",
        "---\nsource: scenarios/planet.yaml\nexpression: planet\n---\nfinal: Humans live on Mars.\nreasoning: \"[present]\"\nstop_reason: end_turn\n",
    );
    let base = format!("{}/openai/v1", server.url());
    let out = binary(dir.path())
        .args(["run", "scenarios", "--openai-base-url", &base])
        .env("OPENAI_API_KEY", "k")
        .env("CI", "true")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("        - final: Humans live on Mars.\n        + final: \"Humans live on **Earth**"),
        "{text}"
    );
    assert!(text.contains("no snapshot written (CI, or updates off)"), "{text}");
    assert!(!dir.path().join("snapshots/planet.snap.new").exists());
}

/// Issue 13: scenario paths typed with `..` placed snapshots outside `snapshots/`.
#[test]
fn paths_with_dot_dot_keep_snapshots_inside_the_project() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = planet_server(&runtime);
    // No .git: the project root is the working directory, found among the file's
    // folders only once `..` is resolved.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "scenarios/smoke/planet.yaml", SCENARIO);
    let base = format!("{}/openai/v1", server.url());
    let out = binary(dir.path())
        .args(["run", "scenarios/../scenarios/./smoke/planet.yaml", "--accept", "--openai-base-url", &base])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(dir.path().join("snapshots/smoke/planet.snap").exists(), "{}", stdout(&out));
    let mut stray = Vec::new();
    for entry in walk(dir.path()) {
        let name = entry.to_string_lossy().into_owned();
        if name.ends_with(".snap") && !entry.starts_with(dir.path().join("snapshots")) {
            stray.push(name);
        }
    }
    assert!(stray.is_empty(), "snapshots outside snapshots/: {stray:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Issue 13: SIGKILL during a snapshot write left temp files that nothing removed.
#[test]
fn temp_files_of_interrupted_writes_are_cleaned_up_by_snapshots_delete() {
    let dir = repo();
    write(dir.path(), "scenarios/planet.yaml", SCENARIO);
    // What a write killed between create and rename leaves beside its target.
    write(dir.path(), "snapshots/.gpt-oss-scenarios-Ab12Cd.tmp", "---\nsource: x\n---\nfinal: half");
    let listed = run_in(dir.path(), &["snapshots", "--unreferenced"]);
    assert!(stdout(&listed).contains(".gpt-oss-scenarios-Ab12Cd.tmp"), "{}", stdout(&listed));
    let deleted = run_in(dir.path(), &["snapshots", "--unreferenced", "--delete"]);
    assert_eq!(deleted.status.code(), Some(0), "{}", stderr(&deleted));
    assert!(!dir.path().join("snapshots/.gpt-oss-scenarios-Ab12Cd.tmp").exists());
}

/// Issue 16: a dataset's table is one insta snapshot: cargo-insta lists it, accepts it
/// byte for byte, and the run then passes.
#[test]
fn real_cargo_insta_reviews_a_dataset_table() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = planet_server(&runtime);
    let dir = repo();
    cargo_package(dir.path());
    write(
        dir.path(),
        "scenarios/rows/planets.yaml",
        "name: planets\napi: chat\nmodel: openai.gpt-oss-20b-1:0\nprompt: \"{{ question }}\"\nrows:\n  - {id: q1, question: Which planet do humans live on?}\n  - {id: q2, question: 'Which planet do we live on, | and where?'}\nsnapshot:\n  final: {extract: Earth}\n",
    );
    let first = engine(dir.path(), &server, "new");
    assert_eq!(first.status.code(), Some(1), "{}", stdout(&first));
    assert!(stdout(&first).contains("new snapshot table: 2 row(s) new (q1, q2)"), "{}", stdout(&first));
    let pending = dir.path().join("snapshots/rows/planets.snap.new");
    let written = std::fs::read_to_string(&pending).expect("one .snap.new for the dataset");
    assert!(written.ends_with("| row | final | reasoning | stop_reason |\n| --- | --- | --- | --- |\n| q1 | [\"Earth\"] | [present] | end_turn |\n| q2 | [\"Earth\"] | [present] | end_turn |\n"), "{written}");
    let listed = cargo_insta(dir.path(), &["pending-snapshots"]);
    assert!(stdout(&listed).contains("snapshots/rows/planets.snap"), "{}{}", stdout(&listed), stderr(&listed));
    let accepted = cargo_insta(dir.path(), &["accept"]);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert_eq!(std::fs::read_to_string(dir.path().join("snapshots/rows/planets.snap")).unwrap(), written);
    let again = engine(dir.path(), &server, "no");
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}
