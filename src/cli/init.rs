//! `init [DIR]`: scaffolds a working suite: scenarios for each API and an agent, with
//! synthetic cassettes and accepted snapshots (so `run --mode replay` passes at once),
//! `defaults.yaml`, the schemas for editor completion, `.env.example`, a `.gitignore`
//! entry for `.env`, and the two GitHub workflows. Existing files are left alone.

use crate::stdio::{errln, outln};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::execute::{Clients, RetryPolicy};
use crate::exit;
use crate::load;
use crate::plan::{self, Case};
use crate::providers::{Connection, Environment, Limits, authority, endpoint};
use crate::recordings::cassette::RecordingError;
use crate::recordings::{self, DatasetCassettes, Interaction, Recorder};
use crate::runner::{self, RunnerOptions};
use crate::scenario::{Api, Mode};
use crate::schema::{SchemaKind, json_schema};
use crate::verdict::{SnapshotSettings, UpdateAction};
use crate::wire::WireCase;

const DEFAULTS: &str = "# yaml-language-server: $schema=../schema/defaults.schema.json
# Applies to every scenario below this folder; a scenario's own fields win.
region: us-west-2
model: openai.gpt-oss-20b-1:0
params:
  max_tokens: 1024
  temperature: 1.0
  reasoning_effort: medium
expect:
  - reasoning_present: true
";

const EXAMPLES: &str = "# yaml-language-server: $schema=../schema/scenario.schema.json
# One scenario per API. Their cassettes are synthetic: record real answers with
# `gpt-oss-scenarios run scenarios/ --mode record` (needs credentials, see .env.example).
scenarios:
  - name: decimals-converse
    description: gpt-oss answers in Japanese which of 3.11 and 3.9 is larger.
    api: converse
    system: 質問に対して日本語で回答してください。
    prompt: 3.11と3.9はどちらが大きいですか？
    expect:
      - contains: \"3.9\"
      - script: {name: japanese, min_share: 0.3}
      - no_reasoning_leak: true
    snapshot:
      final: {extract: '(3\\.9|3\\.11) *の?(?:ほう|方)が大きい'}
  - name: decimals-converse-stream
    api: converse-stream
    system: 質問に対して日本語で回答してください。
    prompt: 3.11と3.9はどちらが大きいですか？
    expect:
      - contains: \"3.9\"
    snapshot:
      final: {extract: '(3\\.9|3\\.11) *の?(?:ほう|方)が大きい'}
  - name: decimals-chat
    api: chat
    system: 質問に対して日本語で回答してください。
    prompt: 3.11と3.9はどちらが大きいですか？
    expect:
      - contains: \"3.9\"
    snapshot:
      final: {extract: '(3\\.9|3\\.11) *の?(?:ほう|方)が大きい'}
  - name: decimals-chat-stream
    api: chat-stream
    system: 質問に対して日本語で回答してください。
    prompt: 3.11と3.9はどちらが大きいですか？
    expect:
      - contains: \"3.9\"
    snapshot:
      final: {extract: '(3\\.9|3\\.11) *の?(?:ほう|方)が大きい'}
";

const AGENT: &str = "# yaml-language-server: $schema=../schema/scenario.schema.json
# A Strands-style agent: the model calls get_weather, gets the result, answers.
name: weather-agent
api: agent
transport: converse-stream
system: You are a helpful weather assistant. Use tools when they help.
prompt: What is the weather in Tokyo right now?
tools:
  - name: get_weather
    description: Get the current weather for a city.
    input_schema:
      type: object
      properties: {city: {type: string}}
      required: [city]
    cases:
      - when: {city: Tokyo}
        result: {city: Tokyo, condition: sunny, temperature_c: 22}
    default: {error: unknown city}
expect:
  - tool_sequence: {calls: [get_weather]}
  - icontains: tokyo
";

const ENV_EXAMPLE: &str = "# Copy to .env (never commit it). gpt-oss-scenarios loads .env; real variables win.
# Converse and ConverseStream: a Bedrock API key, or the standard AWS credential chain.
AWS_BEARER_TOKEN_BEDROCK=
# AWS_ACCESS_KEY_ID=
# AWS_SECRET_ACCESS_KEY=
# AWS_SESSION_TOKEN=
# AWS_PROFILE=
# AWS_REGION=us-west-2
# Chat completions and the Responses API: on Bedrock AWS_BEARER_TOKEN_BEDROCK, else OPENAI_API_KEY;
# elsewhere OPENAI_API_KEY only.
# OPENAI_API_KEY=
# Endpoint overrides (plain http:// works for local servers).
# AWS_ENDPOINT_URL_BEDROCK_RUNTIME=
# OPENAI_BASE_URL=
# Responses API (default: Bedrock Mantle in the region).
# GPT_OSS_SCENARIOS_RESPONSES_BASE_URL=
# Snapshots: INSTA_UPDATE=auto|new|always|unseen|no, INSTA_FORCE_PASS=1; CI=true writes none.
# Colour: NO_COLOR=1. CI summaries: GITHUB_STEP_SUMMARY (set by GitHub).
";

/// Synthetic answers, in each API's wire format.
fn synthetic(api: Api) -> Vec<&'static str> {
    match api {
        Api::Converse => vec![include_str!("../../scripts/synthetic/converse.json")],
        Api::ConverseStream => vec![include_str!("../../scripts/synthetic/converse-stream.json")],
        Api::Chat => vec![include_str!("../../scripts/synthetic/chat.json")],
        Api::ChatStream => vec![include_str!("../../scripts/synthetic/chat-stream.json")],
        Api::Invoke => vec![include_str!("../../scripts/synthetic/invoke.json")],
        Api::InvokeStream => vec![include_str!("../../scripts/synthetic/invoke-stream.json")],
        Api::Responses => vec![include_str!("../../scripts/synthetic/responses.json")],
        Api::ResponsesStream => vec![include_str!("../../scripts/synthetic/responses-stream.json")],
        Api::Agent => vec![
            include_str!("../../scripts/synthetic/agent-converse-stream-tool-call.json"),
            include_str!("../../scripts/synthetic/agent-converse-stream-final.json"),
        ],
    }
}

pub(crate) fn init(dir: &Path) -> u8 {
    match scaffold(dir) {
        Ok(()) => {
            outln!("\nnext: cd {} && gpt-oss-scenarios run scenarios/ --mode replay", dir.display());
            exit::SUCCESS
        }
        Err(e) => {
            errln!("error: {e}");
            exit::FAILURES
        }
    }
}

fn write_new(dir: &Path, name: &str, text: &str) -> Result<(), InitError> {
    let path = dir.join(name);
    if path.exists() {
        outln!("kept    {} (exists)", crate::fs::shown(&path));
        return Ok(());
    }
    crate::fs::write_atomic(&path, text)?;
    outln!("created {}", crate::fs::shown(&path));
    Ok(())
}

fn scaffold(dir: &Path) -> Result<(), InitError> {
    std::fs::create_dir_all(dir).map_err(|source| InitError::CreateDir { path: dir.to_owned(), source })?;
    let pretty = |kind| serde_json::to_string_pretty(&json_schema(kind)).unwrap_or_default() + "\n";
    write_new(dir, "scenarios/defaults.yaml", DEFAULTS)?;
    write_new(dir, "scenarios/examples.yaml", EXAMPLES)?;
    write_new(dir, "scenarios/agent.yaml", AGENT)?;
    write_new(dir, "schema/scenario.schema.json", &pretty(SchemaKind::Scenario))?;
    write_new(dir, "schema/defaults.schema.json", &pretty(SchemaKind::Defaults))?;
    write_new(dir, ".env.example", ENV_EXAMPLE)?;
    // GitHub reads workflows only at the repository root: inside an existing repository
    // they go there, working in the suite's folder. Outside any, DIR becomes one below.
    let repo = load::repository_root(dir);
    let suite = repo.as_deref().and_then(|root| load::absolute(dir).strip_prefix(root).ok().map(crate::fs::slashed));
    let workflows = repo.as_deref().filter(|_| suite.as_deref().is_some_and(|s| !s.is_empty())).unwrap_or(dir);
    for (name, template) in [
        ("scenarios.yml", include_str!("templates/ci.yml")),
        ("scenarios-nightly.yml", include_str!("templates/nightly.yml")),
        ("scenarios-nightly-batch.yml", include_str!("templates/nightly-batch.yml")),
    ] {
        write_new(workflows, &format!(".github/workflows/{name}"), &workflow(template, suite.as_deref()))?;
    }
    let ignore = dir.join(".gitignore");
    let current = match crate::fs::read_text_limited(&ignore, 8 << 20, crate::fs::Links::Follow) {
        Ok(text) => text,
        Err(crate::fs::ReadError::Missing) => String::new(),
        Err(source) => return Err(crate::fs::FsError::Read { path: ignore, source }.into()),
    };
    // `.env` holds secrets; `.gpt-oss-scenarios/` the run history and batch state.
    let missing: Vec<&str> = [".env", ".gpt-oss-scenarios/"]
        .into_iter()
        .filter(|entry| !current.lines().any(|l| l.trim() == *entry))
        .collect();
    if !missing.is_empty() {
        let sep = if current.is_empty() || current.ends_with('\n') { "" } else { "\n" };
        crate::fs::write_atomic(&ignore, &format!("{current}{sep}{}\n", missing.join("\n")))?;
        outln!("added   {} to {}", missing.join(" and "), ignore.display());
    }
    // Outside any repository, DIR becomes one, as `cargo new` does.
    if repo.is_none() {
        let made = std::process::Command::new("git").arg("init").arg("-q").arg(dir).status();
        match made {
            Ok(status) if status.success() => outln!("created a git repository in {}", dir.display()),
            _ => return Err(InitError::GitInit(dir.to_owned())),
        }
    }
    let suite = load::load(&[dir.join("scenarios")]);
    let planned = plan::plan(&suite.scenarios);
    if let Some(d) = suite.diagnostics.iter().chain(&planned.diagnostics).next() {
        return Err(InitError::Invalid(d.to_string()));
    }
    let cases = planned.into_cases();
    // A dataset's rows share one cassette: each row is written unless it is there, and
    // the cassette is written whole once all its rows are.
    // The rows written are folded in even when a later case fails to write.
    let datasets = DatasetCassettes::default();
    let written = cases.iter().try_for_each(|case| write_cassette(case, &datasets));
    let folded = cases.iter().try_for_each(|case| datasets.fold(case));
    written?;
    folded?;
    accept_snapshots(cases)
}

/// Writes `case`'s cassette of hand-written answers, through the same [`Recorder`] as
/// `--mode record`, unless it has one (even one that no longer fits: it is the user's).
fn write_cassette(case: &Case, datasets: &DatasetCassettes) -> Result<(), InitError> {
    let recorded = match case.row {
        Some(_) => !datasets.recording_for(case).is_err_and(|e| e.is_missing()),
        None => recordings::path_for(case).exists(),
    };
    if recorded {
        return Ok(());
    }
    let request = recordings::request_for(case);
    let interactions = synthetic(case.api)
        .into_iter()
        .map(|text| {
            let wire: WireCase = serde_json::from_str(text).map_err(InitError::Synthetic)?;
            Ok(Interaction { request: request.clone(), response: wire.response })
        })
        .collect::<Result<Vec<Interaction>, InitError>>()?;
    let notes = format!("Hand-written {} answers; re-record with `run --mode record`.", case.wire_api());
    let recorder = Recorder::synthetic(datasets, "gpt-oss-scenarios init", notes);
    let host = authority(&endpoint(case.wire_api(), &Connection::default(), &case.region));
    let path = recorder.keep(case, host, interactions, Vec::new())?;
    match case.row {
        Some(_) => outln!("recorded {} in {}", case.id, crate::fs::shown(&path)),
        None => outln!("created {}", crate::fs::shown(&path)),
    }
    Ok(())
}

/// Replays every case that has no snapshot yet and accepts its snapshot, so the suite
/// passes as shipped. A snapshot already there is the user's: it is kept as it is.
fn accept_snapshots(cases: Vec<Case>) -> Result<(), InitError> {
    let (kept, cases): (Vec<Case>, Vec<Case>) = cases.into_iter().partition(|c| c.snapshot_path().exists());
    for case in &kept {
        outln!("kept    {} (exists)", crate::fs::shown(&case.snapshot_path()));
    }
    if cases.is_empty() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(InitError::Runtime)?;
    let options = RunnerOptions {
        concurrency: 4,
        retry: RetryPolicy::none(),
        deadline: None,
        fail_fast: false,
        snapshots: SnapshotSettings { action: UpdateAction::Overwrite, force_pass: false },
        grace: Duration::from_secs(1),
        mode: Some(Mode::Replay),
        max_cost: None,
        from_batch: Default::default(),
    };
    let clients: Arc<Clients> = Clients::new(Environment::default(), Connection::default(), Limits::default());
    let mut problems = Vec::new();
    let mut emit = |event: runner::Event<'_>| {
        if let runner::Event::CaseFinished { result } = event {
            match &result.verdict.snapshot {
                Some(s) if s.written.is_some() => outln!("created {}", crate::fs::shown(&s.path)),
                _ => {}
            }
            if result.verdict.status != crate::verdict::Status::Passed {
                problems.push(result.case.id.clone());
            }
        }
    };
    runtime.block_on(runner::run(cases, clients, options, futures_util::stream::pending(), &mut emit));
    if problems.is_empty() { Ok(()) } else { Err(InitError::Failed(problems.join(", "))) }
}

/// Why `init` could not scaffold a working suite.
#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error("failed to create {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Write(#[from] crate::fs::FsError),
    #[error("{0} is not in a git repository and `git init` failed: run it, then init again")]
    GitInit(PathBuf),
    #[error("the scaffolded suite does not load: {0}")]
    Invalid(String),
    #[error("a bundled synthetic answer is not a recorded exchange: {0}")]
    Synthetic(serde_json::Error),
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("failed to start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("scaffolded cases did not pass: {0}")]
    Failed(String),
}

/// A workflow template with this tool's version filled in, so that CI installs the
/// release that scaffolded the suite, and the suite's folder below the repository root
/// (`qa/suite`; empty or none for a suite at the root): commands run there, and the
/// artifact paths, which GitHub resolves from the repository root, start with it.
fn workflow(template: &str, suite: Option<&str>) -> String {
    let suite = suite.filter(|s| !s.is_empty());
    let prefix = suite.map(|s| format!("{s}/")).unwrap_or_default();
    // Inside double quotes the folder is escaped as JSON, which YAML reads alike.
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let inner = |text: &str| quoted(text).trim_matches('"').to_owned();
    template
        .replace("GPT_OSS_SCENARIOS_VERSION", env!("CARGO_PKG_VERSION"))
        .replace("\"SUITE_DIR\"", &quoted(suite.unwrap_or(".")))
        .replace("\"SUITE_PREFIX", &format!("\"{}", inner(&prefix)))
        .replace("SUITE_PREFIX", &prefix)
}
