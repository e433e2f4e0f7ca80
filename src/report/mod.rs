//! Report: the run's one record, and every format of it.
//!
//! ```text
//! runner --Event--> build::Builder --Update--> render::{terminal, json, Collected: junit, markdown, html}
//! shard reports --read--> merge::merge --RunRecord--> render::{json, junit, markdown, html}
//! ```
//!
//! [`build`] makes each case and dataset into its record once, with the totals and
//! the baseline comparison; [`render`] only draws records, and decides nothing.
//! [`Reports`] is a run's reporting: the builder and its renderers.

pub(crate) mod baseline;
pub(crate) mod build;
pub(crate) mod case;
pub(crate) mod dataset;
pub(crate) mod diff;
pub(crate) mod history;
pub(crate) mod merge;
pub(crate) mod read;
pub(crate) mod record;
pub(crate) mod render;

use std::path::PathBuf;

use crate::runner::Event;
use build::Builder;
use render::Render;

/// A report that could not be read, rendered or written, naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("failed to read report {path}: {source}")]
    Read { path: PathBuf, source: crate::fs::ReadError },
    #[error("{path}:{line}:{column}: not a gpt-oss-scenarios report: {source}")]
    Parse { path: PathBuf, line: usize, column: usize, source: serde_json::Error },
    #[error(
        "{path} is a report of format {found}, and this gpt-oss-scenarios ({}) reads format {}: read it with the version that wrote it",
        env!("CARGO_PKG_VERSION"),
        record::FORMAT
    )]
    Format { path: PathBuf, found: u64 },
    #[error("failed to render the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("failed to render JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    #[error(transparent)]
    Write(#[from] crate::fs::FsError),
    #[error("{0}")]
    Io(std::io::Error),
}

/// An output of the run that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{name} could not be written, and is missing or incomplete: {source}")]
pub(crate) struct OutputError {
    pub(crate) name: String,
    pub(crate) source: ReportError,
}

/// A run's reporting: its record built from the runner's events, drawn by each
/// renderer as it goes. A renderer that fails once (a full disk) is dropped: its error
/// is said once, and the others go on.
pub(crate) struct Reports {
    builder: Builder,
    renderers: Vec<Box<dyn Render>>,
    errors: Vec<OutputError>,
}

impl Reports {
    pub(crate) fn new(builder: Builder) -> Reports {
        Reports { builder, renderers: Vec::new(), errors: Vec::new() }
    }

    pub(crate) fn add(&mut self, renderer: Box<dyn Render>) {
        self.renderers.push(renderer);
    }

    pub(crate) fn event(&mut self, event: &Event<'_>) {
        let (renderers, errors) = (&mut self.renderers, &mut self.errors);
        self.builder.event(event, &mut |update| {
            renderers.retain_mut(|renderer| match renderer.update(update) {
                Ok(()) => true,
                Err(failed) => {
                    errors.extend(failed);
                    false
                }
            });
        });
    }

    /// The run's totals, the baseline comparison's record, and what could not be written.
    pub(crate) fn finish(self) -> (record::SummaryRecord, Option<record::BaselineRecord>, Vec<OutputError>) {
        let compared = self.builder.compared().cloned();
        (self.builder.summary().clone(), compared, self.errors)
    }
}

/// `text` without the control characters a terminal or a Markdown renderer would
/// act on: C0 controls but tab and newline (ESC starts ANSI and OSC sequences, CR
/// overwrites lines), DEL and the C1 range. Model answers and server messages pass
/// through here before they are printed.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let control = |c: char| (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9F}').contains(&c);
    if text.chars().any(control) {
        text.chars().filter(|c| !control(*c)).collect::<String>().into()
    } else {
        text.into()
    }
}

/// Whether to colour output: only on a terminal, and never when `NO_COLOR` is set.
pub(crate) fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    /// Issue 13: raw ANSI/OSC escape sequences from the server reached the terminal.
    #[test]
    fn escape_sequences_from_the_server_are_not_printed() {
        let hostile = "ok\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}\u{1b}[2J\rgone\u{9b}31m\u{0}\ttab\nline";
        assert_eq!(super::printable(hostile), "ok]8;;http://xlink]8;;[2Jgone31m\ttab\nline");
        assert!(matches!(super::printable("plain, ü, 日本"), std::borrow::Cow::Borrowed(_)));
    }
}
