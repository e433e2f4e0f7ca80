//! The command line: clap's raw arguments, and one function per subcommand.
//! Commands print; the library stages they call do not.

mod baseline;
mod batch;
mod commands;
mod doctor;
mod engine;
mod estimate;
mod init;
mod run;
mod signals;
mod snapshots;
mod tools;

pub(crate) use baseline::{BaselineArgs, HistoryArgs};

use crate::stdio::errln;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit;
use crate::recordings::playback::Match;
use crate::scenario::{Api, Mode};
use crate::verdict::UpdateRequest;

/// A flag's parser for one of a domain type's values, by name: the domain types keep
/// no clap derive, and `--help` and completions still list the names.
fn one_of<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(all.iter().map(|t| name(*t)))
        .try_map(move |text| all.iter().copied().find(|t| name(*t) == text).ok_or("not one of the values listed"))
}

/// Declarative scenario and snapshot tests for gpt-oss on Amazon Bedrock and OpenAI-compatible servers.
#[derive(Debug, Parser)]
#[command(name = "gpt-oss-scenarios", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check scenario files and report every problem with file:line:col.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios validate\n  gpt-oss-scenarios validate scenarios/basic scenarios/agents.yaml"
    )]
    Validate {
        /// Scenario files or folders (searched recursively).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// List the cases the scenarios expand to: case id, api, model.
    #[command(after_help = "Examples:\n  gpt-oss-scenarios list\n  gpt-oss-scenarios list scenarios/ --format json")]
    List {
        /// Scenario files or folders (searched recursively).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Run the cases concurrently, judge them, and report.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios run\n  gpt-oss-scenarios run scenarios/ --concurrency 16 --junit junit.xml --report-json report.json\n  gpt-oss-scenarios run --filter 'compare-*' --api chat-stream --shard 2/4\n  gpt-oss-scenarios run --dry-run --tag smoke\n\nCredentials: AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key) or the AWS credential chain for\nconverse* and invoke*; for chat* and responses*, AWS_BEARER_TOKEN_BEDROCK on Bedrock hosts, else OPENAI_API_KEY,\nelse a short-term Bedrock API key derived from the AWS credential chain (`doctor` says which).\nA .env file is loaded.\nExit codes: 0 all passed, 1 a case failed or errored, 2 usage or scenario errors, 4 no case selected,\n130 interrupted."
    )]
    Run(Box<RunArgs>),
    /// Check the setup a run would use, for the suite at hand: each API's endpoint,
    /// where its credentials come from (never their values), the regions and model ids
    /// called, and the known traps. Exit 0 when all is well, 1 with findings, 2 when the
    /// suite does not load.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios doctor\n  gpt-oss-scenarios doctor scenarios/nightly --probe\n\nTraps named: an expired or expiring short-term AWS_BEARER_TOKEN_BEDROCK, a chat base URL on\nBedrock Mantle without /v1, the Responses API on Bedrock Runtime's /openai/v1, a Bedrock key bound for\n(or kept from) a host that is not Bedrock's, a region without the model, unknown model ids."
    )]
    Doctor {
        /// Scenario files or folders (searched recursively).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Make one cheap authenticated call per endpoint and say what answered:
        /// ListAsyncInvokes on Bedrock Runtime, a one-token chat completion on its
        /// /openai/v1, GET /models elsewhere.
        #[arg(long)]
        probe: bool,
        /// Bedrock runtime endpoint, as for `run`.
        #[arg(long, value_name = "URL")]
        bedrock_endpoint: Option<String>,
        /// Base URL for chat*, as for `run`.
        #[arg(long, value_name = "URL")]
        openai_base_url: Option<String>,
        /// Base URL for responses*, as for `run`.
        #[arg(long, value_name = "URL")]
        responses_base_url: Option<String>,
    },
    /// Amazon Bedrock batch inference by hand: write the suite's records, and read a
    /// job's output back into cassettes that `run --mode replay` judges.
    #[command(
        subcommand,
        after_help = "Examples:\n  gpt-oss-scenarios batch prepare scenarios/ --out batch/\n  gpt-oss-scenarios batch import downloaded-output/ scenarios/ && gpt-oss-scenarios run --mode replay"
    )]
    Batch(BatchCommand),
    /// Accept pending snapshots: each `.snap.new` replaces its `.snap`.
    #[command(after_help = "Examples:\n  gpt-oss-scenarios accept\n  gpt-oss-scenarios accept snapshots/basic")]
    Accept {
        /// Snapshot files or folders (default: snapshots/ at the project root).
        paths: Vec<PathBuf>,
    },
    /// Reject pending snapshots: each `.snap.new` is deleted.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios reject\n  gpt-oss-scenarios reject snapshots/basic/compare-decimals.snap"
    )]
    Reject {
        /// Snapshot files or folders (default: snapshots/ at the project root).
        paths: Vec<PathBuf>,
    },
    /// Review pending snapshots one by one: a diff, then accept, reject or skip.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios review\n  printf 'a\\nr\\n' | gpt-oss-scenarios review   # scripted answers"
    )]
    Review {
        /// Snapshot files or folders (default: snapshots/ at the project root).
        paths: Vec<PathBuf>,
    },
    /// Snapshot housekeeping: list (or delete) snapshots no case produces any more.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios snapshots --unreferenced\n  gpt-oss-scenarios snapshots --unreferenced --delete"
    )]
    Snapshots {
        /// Scenario files or folders that define the cases.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// List snapshot files that no case produces.
        #[arg(long, required = true)]
        unreferenced: bool,
        /// Delete them.
        #[arg(long, requires = "unreferenced")]
        delete: bool,
    },
    /// Combine shard reports (from `run --report-json`) into one JSON, JUnit and Markdown report.
    /// List the runs kept in .gpt-oss-scenarios/runs/, newest first: when, mode, counts,
    /// cost and duration (`run --baseline last` compares with the newest of the same
    /// selection; `--no-history` keeps a run out).
    Runs,
    /// Write a kept run's HTML report beside it and open it with the platform's opener
    /// (only print its path where there is none, as on CI). RUN: a kept run's name or
    /// its start (as `runs` lists them), or a report file; default: the newest.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios view\n  gpt-oss-scenarios view 20261203t1959\n  gpt-oss-scenarios view reports/shard-1.json"
    )]
    View { run: Option<String> },
    #[command(
        name = "merge-reports",
        after_help = "Examples:\n  gpt-oss-scenarios merge-reports shard-*.json --junit junit.xml --report-json report.json"
    )]
    MergeReports {
        /// The shard reports.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Write the merged JSON report here.
        #[arg(long, value_name = "FILE")]
        report_json: Option<PathBuf>,
        /// Write a merged JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write a merged Markdown summary here.
        #[arg(long, value_name = "FILE")]
        summary_md: Option<PathBuf>,
        /// Write a merged self-contained HTML report here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Merge a shard set with shards missing, marking the report partial (a set with
        /// a report twice, or shards of two plans or splits, is refused whatever this says).
        #[arg(long)]
        allow_partial: bool,
        #[command(flatten)]
        baseline: BaselineArgs,
    },
    /// Serve recorded exchanges (wire-corpus cases, or every interaction of cassettes) on
    /// 127.0.0.1 to any client, until Ctrl-C.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios serve cassettes/weather-agent.json --port 8080\n  gpt-oss-scenarios serve cassettes/ok.json cassettes/planet.json --match hash --log requests.jsonl\n  gpt-oss-scenarios serve chat-20b-planet.json --latency 50ms\n\nPoint the client at http://127.0.0.1:PORT (Bedrock endpoint) or http://127.0.0.1:PORT/v1 (OpenAI base URL).\nA request for another API than the recording's gets a 400 that says so. A streamed chat\nrequest without stream_options.include_usage gets no usage chunk, as from a real server."
    )]
    Serve {
        /// Recorded exchanges (wire format) or cassettes; their interactions are served in
        /// this order.
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Wait this long before each answer.
        #[arg(long, default_value = "0ms", value_parser = crate::plan::duration::parse_duration)]
        latency: std::time::Duration,
        /// How a request finds its recording: `order` (the n-th request gets the n-th
        /// interaction; past the last, the last again) or `hash` (the interaction whose
        /// recorded request body is the one received).
        #[arg(long = "match", default_value = "order", value_parser = one_of(&Match::ALL, Match::as_str))]
        matching: Match,
        /// Write one JSON line per request to FILE (created, or truncated): path, the
        /// recording served, mismatch.
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
    },
    /// Scaffold a working suite into DIR: scenarios for each API and an agent, with
    /// cassettes and snapshots, defaults.yaml, .env.example and GitHub workflows.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios init my-suite\n  cd my-suite && gpt-oss-scenarios run scenarios/ --mode replay"
    )]
    Init {
        /// The folder (created if missing). Existing files are never overwritten.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios completions bash > /etc/bash_completion.d/gpt-oss-scenarios\n  gpt-oss-scenarios completions zsh > ~/.zfunc/_gpt-oss-scenarios"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of scenario files (or of defaults.yaml, or of the JSON report).
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios schema > schema/scenario.schema.json\n  gpt-oss-scenarios schema --kind defaults"
    )]
    Schema {
        /// Which file kind.
        #[arg(long, value_enum, default_value_t = SchemaArg::Scenario)]
        kind: SchemaArg,
    },
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario files or folders (searched recursively).
    #[arg(default_value = "scenarios")]
    pub(crate) paths: Vec<PathBuf>,
    /// Most cases in flight at once; lowered automatically while the server throttles.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
    /// Stop starting cases after this long (e.g. 30m) and cancel the ones running.
    #[arg(long, value_name = "DURATION", value_parser = crate::plan::duration::parse_limit)]
    pub(crate) deadline: Option<std::time::Duration>,
    /// Stop starting cases once what was spent, plus what the cases in flight may cost,
    /// would pass this many US dollars (e.g. 5 or 0.25); cases not started are skipped.
    /// A case's bound counts its input tokens and its max_tokens (replayed answers cost
    /// nothing); see --dry-run's estimate.
    #[arg(long, value_name = "USD", value_parser = parse_usd)]
    pub(crate) max_cost: Option<f64>,
    /// Stop starting cases after the first failure.
    #[arg(long)]
    pub(crate) fail_fast: bool,
    /// Succeed when the selection matches no case (by default that is exit code 4,
    /// so that a typo in a CI job's filter does not pass).
    #[arg(long)]
    pub(crate) allow_empty: bool,
    /// The largest response a case may receive, in MiB: a larger one is cut off and
    /// the case errors with `too_large`.
    #[arg(long, value_name = "MIB", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub(crate) max_response_mib: u64,
    /// Retries after a throttled or transient failure (default 2, at most 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub(crate) retries: Option<u32>,
    /// Only cases whose id contains this text, matches this glob, or is exactly `=ID`
    /// (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub(crate) filter: Vec<String>,
    /// Only cases with this tag (repeatable).
    #[arg(long, value_name = "TAG")]
    pub(crate) tag: Vec<String>,
    /// Only cases on this API (repeatable).
    #[arg(long, value_name = "API", value_parser = one_of(&Api::ALL, Api::as_str))]
    pub(crate) api: Vec<Api>,
    /// Only cases on this model (repeatable).
    #[arg(long, value_name = "MODEL")]
    pub(crate) model: Vec<String>,
    /// Run the selected cases against this model instead of their own.
    #[arg(long, value_name = "MODEL")]
    pub(crate) set_model: Option<String>,
    /// Run only shard K of N (stable partition by case id), e.g. 2/4.
    #[arg(long, value_name = "K/N", value_parser = crate::plan::select::parse_shard)]
    pub(crate) shard: Option<(u32, u32)>,
    /// Run every selected case N times (1 to 1000), whatever its `samples:` says.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) repeat: Option<u32>,
    /// Where answers come from: auto (replay when a matching cassette exists, else
    /// live), live, replay (never touch the network) or record (live, writing cassettes).
    #[arg(long, value_name = "MODE", value_parser = one_of(&Mode::ALL, Mode::as_str))]
    pub(crate) mode: Option<Mode>,
    /// Print the requests that would be sent (credentials masked) and send nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Write the JSON report here (schema: schema/report.schema.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) report_json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Write a Markdown summary here (also appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub(crate) summary_md: Option<PathBuf>,
    /// Write a self-contained HTML report here: one file, no network, opens from disk.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// Bedrock runtime endpoint for converse* and invoke* (overrides scenarios and AWS_ENDPOINT_URL_BEDROCK_RUNTIME).
    #[arg(long, value_name = "URL")]
    pub(crate) bedrock_endpoint: Option<String>,
    /// Base URL for chat* (overrides scenarios and OPENAI_BASE_URL).
    #[arg(long, value_name = "URL")]
    pub(crate) openai_base_url: Option<String>,
    /// Base URL for responses* (overrides scenarios and GPT_OSS_SCENARIOS_RESPONSES_BASE_URL;
    /// default: Bedrock Mantle in the case's region).
    #[arg(long, value_name = "URL")]
    pub(crate) responses_base_url: Option<String>,
    /// What to do with new and changed snapshots: new (write `.snap.new` to review),
    /// always (overwrite), unseen (write new snapshots, changed ones as `.snap.new`), no
    /// (write nothing) or auto (`new` locally, `no` on CI). Default: INSTA_UPDATE, else auto.
    #[arg(long, value_name = "MODE", value_parser = one_of(&UpdateRequest::ALL, UpdateRequest::as_str))]
    pub(crate) update_snapshots: Option<UpdateRequest>,
    /// Accept every new and changed snapshot (same as --update-snapshots=always).
    #[arg(long)]
    pub(crate) accept: bool,
    /// Snapshot drift alone (assertions pass, the snapshot differs): `fail` the case
    /// (default) or `warn` and pass it, still writing `.snap.new` for review. Nightly
    /// live runs use `warn`: live answers change.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub(crate) drift: Option<DriftPolicy>,
    /// Print every answer with its reasoning, not only failures.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    #[command(flatten)]
    pub(crate) baseline: BaselineArgs,
    #[command(flatten)]
    pub(crate) history: HistoryArgs,
    #[command(flatten)]
    pub(crate) batch: engine::EngineArgs,
}

/// The files `schema` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SchemaArg {
    /// A scenario file: one scenario, or a list under `scenarios:`.
    Scenario,
    /// A `defaults.yaml` file.
    Defaults,
    /// The `run --report-json` report.
    Report,
}

impl RunArgs {
    fn into_options(self) -> run::RunOptions {
        let mut flags = Vec::new();
        flags.extend(self.filter.iter().map(|f| format!("--filter={f}")));
        flags.extend(self.tag.iter().map(|t| format!("--tag={t}")));
        flags.extend(self.api.iter().map(|a| format!("--api={a}")));
        flags.extend(self.model.iter().map(|m| format!("--model={m}")));
        flags.extend(self.set_model.iter().map(|m| format!("--set-model={m}")));
        flags.extend(self.shard.iter().map(|(k, n)| format!("--shard={k}/{n}")));
        flags.extend(self.repeat.iter().map(|n| format!("--repeat={n}")));
        run::RunOptions {
            paths: self.paths,
            connection: crate::providers::Connection {
                bedrock_endpoint: self.bedrock_endpoint,
                openai_base_url: self.openai_base_url,
                responses_base_url: self.responses_base_url,
            },
            selection: crate::plan::select::Selection {
                filters: self.filter,
                tags: self.tag,
                apis: self.api,
                models: self.model,
                set_model: self.set_model,
                shard: self.shard,
                repeat: self.repeat,
            },
            selection_flags: flags,
            concurrency: usize::from(self.concurrency),
            retries: self.retries,
            deadline: self.deadline,
            max_cost: self.max_cost,
            fail_fast: self.fail_fast,
            dry_run: self.dry_run,
            update: self.update_snapshots,
            accept: self.accept,
            drift_warn: self.drift == Some(DriftPolicy::Warn),
            verbose: self.verbose,
            report_json: self.report_json,
            junit: self.junit,
            summary_md: self.summary_md,
            html: self.html,
            mode: self.mode,
            max_response_mib: self.max_response_mib,
            allow_empty: self.allow_empty,
            baseline: self.baseline,
            history: self.history,
            batch: self.batch,
        }
    }
}

/// `batch`'s subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BatchCommand {
    /// Write a JSONL file of records per model and invocation type (InvokeModel for
    /// converse-less single-turn cases, chat included; Converse for converse), split at
    /// 50,000 records. Streamed cases, agents and the Responses API are said to run live.
    Prepare {
        /// Scenario files or folders (searched recursively).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// The folder to write the records to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Read a job's output (every `.jsonl.out` under DIR, checked against the
    /// `manifest.json.out` beside it) into the cases' cassettes.
    Import {
        /// The folder the job's output was downloaded to.
        dir: PathBuf,
        /// Scenario files or folders that define the cases (the suite prepared).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// A loopback stand-in for Bedrock's batch control plane (create, get, list and stop
    /// jobs), answering each job's records from recordings as `serve` does; jobs read and
    /// write S3 wherever AWS_ENDPOINT_URL_S3 points (moto's server, say).
    Serve {
        /// Recorded exchanges (wire format) or cassettes to answer records from.
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// How a record finds its answer: `hash` (the recording of its request body) or
        /// `order`.
        #[arg(long = "match", default_value = "hash", value_parser = one_of(&Match::ALL, Match::as_str))]
        matching: Match,
        /// The fewest records a job takes.
        #[arg(long, default_value_t = 100)]
        min_records: u64,
        /// The time between a job's statuses (Submitted, Validating, Scheduled, InProgress).
        #[arg(long, default_value = "1s", value_parser = crate::plan::duration::parse_duration)]
        step: std::time::Duration,
        /// The time each record takes.
        #[arg(long, default_value = "0ms", value_parser = crate::plan::duration::parse_duration)]
        latency: std::time::Duration,
        /// The region in job ARNs.
        #[arg(long, default_value = "us-west-2")]
        region: String,
        /// A role that exists (repeatable): a job with another is refused. Any role when none is given.
        #[arg(long, value_name = "ARN")]
        role: Vec<String>,
    },
}

/// What snapshot drift does to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DriftPolicy {
    Fail,
    Warn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    Text,
    Json,
}

/// Runs the command line and returns the process exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are successes; everything else is a usage error.
            let _ = e.print();
            return if e.use_stderr() { exit::INVALID } else { exit::SUCCESS };
        }
    };
    let mut command = cli.command;
    if let Err(e) = enter_suite_root(&mut command) {
        errln!("error: {e}");
        return exit::INVALID;
    }
    match command {
        Command::Validate { paths } => commands::validate(&paths),
        Command::List { paths, format } => commands::list(&paths, format),
        Command::Schema { kind } => commands::schema(kind),
        Command::Accept { paths } => snapshots::accept(&paths),
        Command::Reject { paths } => snapshots::reject(&paths),
        Command::Review { paths } => snapshots::review(&paths),
        Command::Snapshots { paths, unreferenced: _, delete } => snapshots::unreferenced(&paths, delete),
        Command::Run(args) => run::run(args.into_options()),
        Command::Batch(BatchCommand::Prepare { paths, out }) => batch::prepare(&paths, &out),
        Command::Batch(BatchCommand::Import { dir, paths }) => batch::import(&dir, &paths),
        Command::Batch(BatchCommand::Serve { cases, port, matching, min_records, step, latency, region, role }) => {
            let settings = crate::batch::standin::Settings { region, min_records, step, latency, roles: role };
            batch::serve(batch::ServeOptions { cases, port, matching, settings })
        }
        Command::Doctor { paths, probe, bedrock_endpoint, openai_base_url, responses_base_url } => {
            let connection = crate::providers::Connection { bedrock_endpoint, openai_base_url, responses_base_url };
            doctor::doctor(doctor::DoctorOptions { paths, connection, probe })
        }
        Command::Init { dir } => init::init(&dir),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Generated into memory: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "gpt-oss-scenarios", &mut script);
            crate::stdio::out(&String::from_utf8_lossy(&script));
            exit::SUCCESS
        }
        Command::Runs => tools::runs(),
        Command::View { run } => tools::view(run.as_deref()),
        Command::MergeReports { inputs, report_json, junit, summary_md, html, allow_partial, baseline } => {
            let outputs = tools::Outputs { report_json, junit, summary_md, html };
            tools::merge_reports(&inputs, &outputs, &baseline, allow_partial)
        }
        Command::Serve { cases, port, latency, matching, log } => {
            tools::serve(&cases, port, latency, matching, log.as_deref())
        }
    }
}

/// Run from inside a suite, a command that names no paths finds the suite the way cargo
/// finds `Cargo.toml`: the nearest folder above the working directory that holds
/// `scenarios/`, not above the repository root. The command then works from that folder,
/// so the suite's snapshots, cassettes and `.env` are the ones used, and paths print
/// relative to the suite, as cargo prints them relative to the package. Output files
/// named on the command line stay where the user meant them.
fn enter_suite_root(command: &mut Command) -> Result<(), SuiteRootError> {
    let defaulted = |paths: &[PathBuf]| paths.is_empty() || paths == [PathBuf::from("scenarios")];
    let applies = match command {
        Command::Validate { paths } | Command::List { paths, .. } | Command::Snapshots { paths, .. } => {
            defaulted(paths)
        }
        Command::Accept { paths } | Command::Reject { paths } | Command::Review { paths } => paths.is_empty(),
        Command::Run(args) => defaulted(&args.paths) && args.batch.collect.is_none(),
        Command::Runs | Command::View { .. } => true,
        _ => false,
    };
    if !applies || std::path::Path::new("scenarios").is_dir() {
        return Ok(());
    }
    let Some(root) = std::env::current_dir().ok().and_then(|cwd| crate::load::suite_above(&cwd)) else { return Ok(()) };
    if let Command::Run(args) = command {
        let files =
            [&mut args.report_json, &mut args.junit, &mut args.summary_md, &mut args.html, &mut args.baseline.baseline];
        for file in files.into_iter().flatten() {
            *file = crate::load::absolute(file);
        }
    }
    std::env::set_current_dir(&root).map_err(|source| SuiteRootError { root, source })
}

/// The suite found above the working directory could not be entered.
#[derive(Debug, thiserror::Error)]
#[error("failed to enter the suite at {}: {source}", root.display())]
struct SuiteRootError {
    root: PathBuf,
    source: std::io::Error,
}

/// A `--max-cost` that is not an amount of money.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an amount of US dollars (e.g. 5 or 0.25)")]
struct NotUsd(String);

/// A budget in US dollars: a finite number, zero or more (`$` allowed).
fn parse_usd(text: &str) -> Result<f64, NotUsd> {
    match text.trim().trim_start_matches('$').parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(usd),
        _ => Err(NotUsd(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::builder::TypedValueParser as _;

    fn parses<T: Copy + PartialEq + std::fmt::Debug + Send + Sync + 'static>(
        all: &'static [T],
        name: fn(T) -> &'static str,
    ) {
        let command = clap::Command::new("t");
        for value in all {
            let parsed = one_of(all, name).parse_ref(&command, None, std::ffi::OsStr::new(name(*value)));
            assert_eq!(parsed.ok(), Some(*value), "{}", name(*value));
        }
        assert!(one_of(all, name).parse_ref(&command, None, std::ffi::OsStr::new("nope")).is_err());
    }

    /// Every value a flag lists parses to itself, and `ALL` lists every variant: a new
    /// one fails these matches until it is listed.
    #[test]
    fn flag_values_list_every_variant() {
        for (i, update) in UpdateRequest::ALL.into_iter().enumerate() {
            let index = match update {
                UpdateRequest::Auto => 0,
                UpdateRequest::New => 1,
                UpdateRequest::Always => 2,
                UpdateRequest::Unseen => 3,
                UpdateRequest::No => 4,
            };
            assert_eq!(index, i);
        }
        for (i, matching) in Match::ALL.into_iter().enumerate() {
            let index = match matching {
                Match::Order => 0,
                Match::Hash => 1,
            };
            assert_eq!(index, i);
        }
        parses(&UpdateRequest::ALL, UpdateRequest::as_str);
        parses(&Match::ALL, Match::as_str);
        parses(&Api::ALL, Api::as_str);
        parses(&Mode::ALL, Mode::as_str);
    }
}
