//! A unified line diff of two snapshot bodies (the `similar` crate), optionally in
//! colour, as `cargo insta review` shows it.

use similar::{ChangeTag, TextDiff};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// `-` lines from `old`, `+` lines from `new`, with three lines of context.
pub(crate) fn unified(old: &str, new: &str, color: bool) -> String {
    let diff = TextDiff::from_lines(old, new);
    let mut out = String::new();
    for (i, group) in diff.grouped_ops(3).iter().enumerate() {
        if i > 0 {
            out.push_str(if color { "\x1b[2m  ...\x1b[0m\n" } else { "  ...\n" });
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let (sign, style) = match change.tag() {
                    ChangeTag::Delete => ("-", RED),
                    ChangeTag::Insert => ("+", GREEN),
                    ChangeTag::Equal => (" ", DIM),
                };
                let line = change.value().trim_end_matches('\n');
                if color {
                    out.push_str(&format!("{style}{sign} {line}{RESET}\n"));
                } else {
                    out.push_str(&format!("{sign} {line}\n"));
                }
            }
        }
    }
    out
}

/// An uncoloured diff of [`unified`] in colour, line by line, as `unified` would have
/// drawn it: the record keeps its diff plain, the terminal shows it in colour.
pub(crate) fn colorize(diff: &str, color: bool) -> String {
    if !color {
        return diff.to_owned();
    }
    let mut out = String::with_capacity(diff.len() * 2);
    for line in diff.lines() {
        let style = match line.as_bytes().first() {
            Some(b'-') => RED,
            Some(b'+') => GREEN,
            _ => DIM,
        };
        out.push_str(&format!("{style}{line}{RESET}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_removed_and_added_lines_with_context() {
        let d = unified("final: a\nreasoning: x\nstop: end\n", "final: b\nreasoning: x\nstop: end\n", false);
        assert_eq!(d, "- final: a\n+ final: b\n  reasoning: x\n  stop: end\n");
    }

    #[test]
    fn colour_wraps_each_line() {
        let d = unified("a\n", "b\n", true);
        assert_eq!(d, "\x1b[31m- a\x1b[0m\n\x1b[32m+ b\x1b[0m\n");
    }

    #[test]
    fn a_plain_diff_coloured_is_the_coloured_diff() {
        let (old, new) = ("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "A\nb\nc\nd\ne\nf\ng\nh\ni\nJ\n");
        assert_eq!(colorize(&unified(old, new, false), true), unified(old, new, true));
        assert_eq!(colorize("- a\n", false), "- a\n");
    }

    #[test]
    fn identical_texts_have_no_diff() {
        assert_eq!(unified("same\n", "same\n", false), "");
    }
}
