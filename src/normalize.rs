//! Normalize: the explicit, ordered, named steps that make answer text comparable
//! between runs. Pure. The main entry points are [`normalize`] (the text steps) and
//! [`Redactor`] (user regexes -> named placeholders).
//!
//! The steps, in order:
//! 1. `nfc`: Unicode NFC, so that `é` typed two ways compares equal;
//! 2. `line-endings`: CRLF and lone CR become LF;
//! 3. `trailing-whitespace`: trailing spaces and tabs are trimmed on every line;
//! 4. `blank-edges`: leading and trailing blank lines are removed;
//! 5. `redact`: each user redaction, in the order written.

use regex::Regex;
use unicode_normalization::{UnicodeNormalization, is_nfc_quick};

use crate::scenario::Redaction;

/// Steps 1 to 4.
pub(crate) fn normalize(text: &str) -> String {
    let nfc: String = match is_nfc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => text.to_owned(),
        _ => text.nfc().collect(),
    };
    let lf = nfc.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = lf.split('\n').map(|l| l.trim_end_matches([' ', '\t'])).collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

/// Step 5: user redactions, compiled once per scenario.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    rules: Vec<(Regex, String)>,
}

/// A redaction whose regex does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid redaction regex `{pattern}`: {source}")]
pub(crate) struct RedactionError {
    pattern: String,
    source: regex::Error,
}

impl Redactor {
    /// Regexes were checked when the scenario was loaded; one that still fails to
    /// compile is reported rather than skipped.
    pub(crate) fn new(redactions: &[Redaction]) -> Result<Redactor, RedactionError> {
        let rules = redactions
            .iter()
            .map(|r| {
                Regex::new(&r.regex)
                    .map(|re| (re, r.placeholder.clone()))
                    .map_err(|source| RedactionError { pattern: r.regex.clone(), source })
            })
            .collect::<Result<_, _>>()?;
        Ok(Redactor { rules })
    }

    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (re, placeholder) in &self.rules {
            // `NoExpand`: a placeholder like `[$date]` is literal text, not a group reference.
            out = re.replace_all(&out, regex::NoExpand(placeholder)).into_owned();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_unifies_composed_and_decomposed() {
        assert_eq!(normalize("cafe\u{301}"), "café");
    }

    #[test]
    fn line_endings_become_lf() {
        assert_eq!(normalize("a\r\nb\rc"), "a\nb\nc");
    }

    #[test]
    fn trailing_whitespace_and_blank_edges_go_inner_blank_lines_stay() {
        assert_eq!(normalize("\n\n  first  \t\n\nsecond   \n \n"), "  first\n\nsecond");
        assert_eq!(normalize(" \n\t\n"), "");
    }

    #[test]
    fn redactions_apply_in_order_with_literal_placeholders() {
        let r = Redactor::new(&[
            Redaction { regex: r"\d{4}-\d{2}-\d{2}".into(), placeholder: "[date]".into() },
            Redaction { regex: r"\d+".into(), placeholder: "[$n]".into() },
        ])
        .unwrap();
        assert_eq!(r.apply("on 2025-10-01 at 9"), "on [date] at [$n]");
    }

    #[test]
    fn a_bad_redaction_is_an_error() {
        assert!(Redactor::new(&[Redaction { regex: "(".into(), placeholder: "x".into() }]).is_err());
    }
}
