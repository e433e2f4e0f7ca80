//! [`Diagnostic`]: one problem in one file, located by line, column and JSON pointer,
//! and [`explain`], which turns a JSON Schema error into such a sentence. A leaf: both
//! `load` and `plan` report problems this way.

pub(crate) mod explain;

use std::fmt;
use std::path::PathBuf;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: u64,
    pub(crate) col: u64,
}

/// Escapes one reference token of a JSON pointer (RFC 6901).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// One problem found while loading or planning a suite. Displays as
/// `file:line:col: /json/pointer: sentence`, the shape editors and CI annotators parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Diagnostic {
    pub(crate) file: PathBuf,
    pub(crate) pos: Option<Pos>,
    /// The JSON pointer of the offending value; empty for the whole document.
    pub(crate) pointer: String,
    pub(crate) message: String,
}

impl Diagnostic {
    pub(crate) fn at(
        file: impl Into<PathBuf>,
        pos: Pos,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic { file: file.into(), pos: Some(pos), pointer: pointer.into(), message: message.into() }
    }

    /// A problem with the file as a whole (unreadable, missing).
    pub(crate) fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), pos: None, pointer: String::new(), message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.col)?;
        }
        if !self.pointer.is_empty() {
            write!(f, ": {}", self.pointer)?;
        }
        write!(f, ": {}", self.message)
    }
}
