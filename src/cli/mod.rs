//! The command line: clap's raw arguments, and one function per subcommand.
//! Commands print; the library stages they call do not.

mod commands;
mod run;

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
        Command::Run { paths, bedrock_endpoint, openai_base_url, retries } => run::run(run::RunOptions {
            paths,
            connection: crate::providers::Connection { bedrock_endpoint, openai_base_url },
            retries,
        }),
    }
}
