//! The body of a dataset's snapshot: a table with one line per row (its id, then the
//! parts the policy keeps), so that a night's drift over 500 rows is one diff whose
//! lines are the rows that changed. Cells escape `\`, `|` and line breaks. Pure.

use std::collections::HashMap;

/// A parsed table: its columns, and each row's line by row id, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Table {
    pub(crate) header: String,
    pub(crate) rows: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Table {
    /// Reads a stored body; lines that are not table rows are ignored.
    pub(crate) fn parse(body: &str) -> Table {
        let mut lines = body.lines().map(str::trim_end).filter(|l| l.starts_with('|'));
        let header = lines.next().unwrap_or_default().to_owned();
        let mut table = Table { header, ..Table::default() };
        for line in lines.filter(|l| !is_rule(l)) {
            if let Some(id) = split(line).into_iter().next() {
                table.index.insert(id.clone(), table.rows.len());
                table.rows.push((id, line.to_owned()));
            }
        }
        table
    }

    /// The stored line of row `id`.
    pub(crate) fn line(&self, id: &str) -> Option<&str> {
        self.index.get(id).map(|&i| self.rows[i].1.as_str())
    }
}

/// The header line for these columns.
pub(crate) fn header(columns: &[&str]) -> String {
    line("row", columns.iter().map(|c| (*c).to_owned()))
}

/// One row's line.
pub(crate) fn row_line(id: &str, cells: impl IntoIterator<Item = String>) -> String {
    line(id, cells)
}

/// The whole body: the header, the rule under it, then the rows in order.
pub(crate) fn render(header: &str, rows: &[String]) -> String {
    let columns = split(header).len();
    let rule = format!("|{}", " --- |".repeat(columns));
    let mut out = format!("{header}\n{rule}");
    for row in rows {
        out.push('\n');
        out.push_str(row);
    }
    out
}

fn line(first: &str, rest: impl IntoIterator<Item = String>) -> String {
    let mut out = format!("| {} |", escape(first));
    for cell in rest {
        out.push(' ');
        out.push_str(&escape(&cell));
        out.push_str(" |");
    }
    out
}

fn is_rule(line: &str) -> bool {
    line.chars().all(|c| matches!(c, '|' | '-' | ' ' | ':'))
}

/// A cell's text on one line: `\` `|` newline and carriage return escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The cells of a line, unescaped.
fn split(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => cell.push('\n'),
                Some('r') => cell.push('\r'),
                Some(other) => cell.push(other),
                None => cell.push('\\'),
            },
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            c => cell.push(c),
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_escaping() {
        let h = header(&["final", "stop_reason"]);
        let rows = vec![
            row_line("1", ["{\"violation\":1}".to_owned(), "end_turn".to_owned()]),
            row_line("a|b", ["two\nlines \\ and |pipes|".to_owned(), String::new()]),
        ];
        let body = render(&h, &rows);
        assert_eq!(body.lines().next(), Some("| row | final | stop_reason |"));
        assert_eq!(body.lines().nth(1), Some("| --- | --- | --- |"));
        assert_eq!(body.lines().nth(3), Some("| a\\|b | two\\nlines \\\\ and \\|pipes\\| |  |"));
        let t = Table::parse(&body);
        assert_eq!(t.header, h);
        assert_eq!(t.rows.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["1", "a|b"]);
        assert_eq!(t.line("a|b"), Some(rows[1].as_str()));
        assert_eq!(split(&rows[1])[1], "two\nlines \\ and |pipes|");
    }

    #[test]
    fn a_body_that_is_not_a_table_has_no_rows() {
        assert_eq!(Table::parse("final: x\nstop_reason: end_turn").rows, Vec::<(String, String)>::new());
    }
}
