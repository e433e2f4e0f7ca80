//! Report: turns results into text for people (and, later, machines). Reporters only
//! print what they are given; they never decide an outcome.

pub mod diff;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod record;
pub mod terminal;

use crate::runner::Event;

/// Consumes runner events. Errors are I/O errors of the reporter's own output.
pub trait Reporter {
    fn event(&mut self, event: &Event<'_>) -> std::io::Result<()>;
}

/// Whether to colour output: only on a terminal, and never when `NO_COLOR` is set.
pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
