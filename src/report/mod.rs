//! Report: turns results into text for people (and, later, machines). Reporters only
//! print what they are given; they never decide an outcome.

pub(crate) mod diff;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod record;
pub(crate) mod terminal;

use std::path::PathBuf;

use crate::runner::Event;

/// A report that could not be read, rendered or written, naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("failed to read report {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: not a gpt-oss-scenarios report: {source}")]
    Parse { path: PathBuf, line: usize, column: usize, source: serde_json::Error },
    #[error("failed to render the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("failed to render JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    #[error(transparent)]
    Write(#[from] crate::fs::FsError),
}

/// Consumes runner events. Errors are I/O errors of the reporter's own output.
pub(crate) trait Reporter {
    fn event(&mut self, event: &Event<'_>) -> std::io::Result<()>;
}

/// Whether to colour output: only on a terminal, and never when `NO_COLOR` is set.
pub(crate) fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
