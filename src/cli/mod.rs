//! The command line: clap's raw arguments, and one function per subcommand.
//! Commands print; the library stages they call do not.

mod commands;
mod run;
mod snapshots;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit;
use crate::schema::SchemaKind;

/// Declarative scenario and snapshot tests for gpt-oss on Amazon Bedrock and OpenAI-compatible servers.
#[derive(Debug, Parser)]
#[command(name = "gpt-oss-scenarios", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Run the cases and print each answer with its reasoning apart.
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios run\n  gpt-oss-scenarios run scenarios/basic --openai-base-url http://127.0.0.1:8000/v1\n\nCredentials: AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key) or the AWS credential chain for\nconverse*, OPENAI_API_KEY or else AWS_BEARER_TOKEN_BEDROCK for chat*. A .env file is loaded."
    )]
    Run {
        /// Scenario files or folders (searched recursively).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Bedrock runtime endpoint for converse* (overrides scenarios and AWS_ENDPOINT_URL_BEDROCK_RUNTIME).
        #[arg(long, value_name = "URL")]
        bedrock_endpoint: Option<String>,
        /// Base URL for chat* (overrides scenarios and OPENAI_BASE_URL).
        #[arg(long, value_name = "URL")]
        openai_base_url: Option<String>,
        /// Retries after a throttled or transient failure.
        #[arg(long, default_value_t = 2, value_name = "N")]
        retries: u32,
        /// What to do with new and changed snapshots (default: INSTA_UPDATE, else auto:
        /// `new` locally, `no` on CI).
        #[arg(long, value_enum, value_name = "MODE")]
        update_snapshots: Option<crate::verdict::UpdateRequest>,
        /// Accept every new and changed snapshot (same as --update-snapshots=always).
        #[arg(long)]
        accept: bool,
        /// Print every answer with its reasoning, not only failures.
        #[arg(short, long)]
        verbose: bool,
    },
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
    /// Print the JSON Schema of scenario files (or of defaults.yaml).
    #[command(
        after_help = "Examples:\n  gpt-oss-scenarios schema > schema/scenario.schema.json\n  gpt-oss-scenarios schema --kind defaults"
    )]
    Schema {
        /// Which file kind.
        #[arg(long, value_enum, default_value_t = SchemaKind::Scenario)]
        kind: SchemaKind,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
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
    match cli.command {
        Command::Validate { paths } => commands::validate(&paths),
        Command::List { paths, format } => commands::list(&paths, format),
        Command::Schema { kind } => commands::schema(kind),
        Command::Accept { paths } => snapshots::accept(&paths),
        Command::Reject { paths } => snapshots::reject(&paths),
        Command::Review { paths } => snapshots::review(&paths),
        Command::Snapshots { paths, unreferenced: _, delete } => snapshots::unreferenced(&paths, delete),
        Command::Run { paths, bedrock_endpoint, openai_base_url, retries, update_snapshots, accept, verbose } => {
            run::run(run::RunOptions {
                paths,
                connection: crate::providers::Connection { bedrock_endpoint, openai_base_url },
                retries,
                update: update_snapshots,
                accept,
                verbose,
            })
        }
    }
}
