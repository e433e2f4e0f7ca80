//! Datasets: the rows a scenario runs over, read from a JSON Lines, CSV or YAML file
//! (or given inline as `rows:`), each row a map of template variables with an id and
//! the line it came from, so that every later message can name `file:line`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::yaml::{self, Pos, SpanIndex};
use super::{Diagnostic, io_reason};

/// Larger data files are refused before they are read.
pub(crate) const MAX_DATASET_BYTES: u64 = 256 * 1024 * 1024;
/// At most this many problems are listed per data file; the rest are counted.
const MAX_PROBLEMS: usize = 20;

/// One row: its id (the `id` field, else its 1-based number), where it is, its variables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) id: String,
    /// The line of the data file (or of the scenario file, for inline rows) it starts on.
    pub(crate) line: u64,
    pub(crate) vars: Map<String, Value>,
}

/// The rows of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dataset {
    /// The data file as shown to the user, or the scenario file for inline `rows`.
    pub(crate) file: PathBuf,
    pub(crate) rows: Vec<std::sync::Arc<Row>>,
}

impl Dataset {
    /// `file:line` of a row, for messages.
    pub(crate) fn locate(&self, row: &Row) -> String {
        format!("{}:{}", crate::fs::shown(&self.file), row.line)
    }
}

/// A row as read: where it starts, and its variables.
type RawRow = (Pos, Map<String, Value>);

/// Reads the data file at `path`, by its extension.
pub(crate) fn read(path: &Path) -> Result<Dataset, Vec<Diagnostic>> {
    let whole = |message: String| vec![Diagnostic::file(path, message)];
    let bytes = crate::fs::read_limited(path, MAX_DATASET_BYTES, crate::fs::Links::Follow).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            whole(format!("the dataset is {} MiB; datasets are limited to {} MiB", size >> 20, MAX_DATASET_BYTES >> 20))
        } else {
            whole(format!("cannot read this dataset: {}", io_reason(&e)))
        }
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        vec![Diagnostic::at(
            path,
            Pos { line: line as u64, col: 1 },
            "",
            format!(
                "the dataset is not valid UTF-8 (byte 0x{:02x} at offset {}); save it as UTF-8",
                bytes[e.valid_up_to()],
                e.valid_up_to()
            ),
        )]
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let name = path.to_string_lossy().to_lowercase();
    let rows = if name.ends_with(".csv") {
        csv_rows(path, text)
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        yaml_rows(path, text)
    } else {
        jsonl_rows(path, text)
    }?;
    finish(path, rows)
}

/// Inline `rows:` of the scenario at `pointer` in `file`.
pub(crate) fn inline(
    file: &Path,
    pointer: &str,
    rows: &[Value],
    spans: &SpanIndex,
) -> Result<Dataset, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let at = format!("{pointer}/rows/{i}");
        let pos = spans.value(&at);
        match row.as_object() {
            Some(map) => out.push((pos, map.clone())),
            None => problems.push(Diagnostic::at(
                file,
                pos,
                at,
                "a row is a map of variables, e.g. `{question: ..., label: ...}`",
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    finish(file, out)
}

/// Gives each row its id and checks the ids: present, printable, unique.
fn finish(file: &Path, rows: Vec<RawRow>) -> Result<Dataset, Vec<Diagnostic>> {
    let mut problems = Problems::new(file);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    if rows.is_empty() {
        return Err(vec![Diagnostic::at(file, Pos { line: 1, col: 1 }, "", "the dataset has no rows")]);
    }
    for (i, (pos, vars)) in rows.into_iter().enumerate() {
        let id = match vars.get("id") {
            None => (i + 1).to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                problems.push(pos, format!("a row's `id` is a string or a number, not {}", kind(other)));
                continue;
            }
        };
        if let Some(bad) = id_problem(&id) {
            problems.push(pos, format!("the row id {id:?} {bad}"));
            continue;
        }
        if let Some(first) = seen.insert(id.clone(), pos.line) {
            problems.push(pos, format!("the row id `{id}` is also the id of the row on line {first}; ids are unique"));
            continue;
        }
        out.push(std::sync::Arc::new(Row { id, line: pos.line, vars }));
    }
    problems.into_result(Dataset { file: file.to_path_buf(), rows: out })
}

/// Why `id` cannot name a case (`name[row=ID]`) or a snapshot row, if it cannot.
fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() || id.trim() != id {
        Some("is empty or starts or ends with a space")
    } else if id.chars().any(|c| c.is_control() || "[],=*?".contains(c)) {
        Some("holds a character case ids cannot (`[`, `]`, `,`, `=`, `*`, `?` or a control character)")
    } else if id.chars().count() > 100 {
        Some("is longer than 100 characters")
    } else {
        None
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Problems of one file: the first [`MAX_PROBLEMS`] listed, the rest counted.
struct Problems<'a> {
    file: &'a Path,
    listed: Vec<Diagnostic>,
    more: usize,
}

impl<'a> Problems<'a> {
    fn new(file: &'a Path) -> Problems<'a> {
        Problems { file, listed: Vec::new(), more: 0 }
    }

    fn push(&mut self, pos: Pos, message: String) {
        if self.listed.len() < MAX_PROBLEMS {
            self.listed.push(Diagnostic::at(self.file, pos, "", message));
        } else {
            self.more += 1;
        }
    }

    fn into_result<T>(mut self, ok: T) -> Result<T, Vec<Diagnostic>> {
        if self.listed.is_empty() {
            return Ok(ok);
        }
        if self.more > 0 {
            let pos = self.listed.last().and_then(|d| d.pos).unwrap_or_default();
            self.listed.push(Diagnostic::at(
                self.file,
                pos,
                "",
                format!("and {} more problem(s) in this dataset", self.more),
            ));
        }
        Err(self.listed)
    }
}

/// JSON Lines: one JSON object per line; blank lines are skipped.
fn jsonl_rows(path: &Path, text: &str) -> Result<Vec<RawRow>, Vec<Diagnostic>> {
    let mut problems = Problems::new(path);
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let pos = Pos { line: i as u64 + 1, col: 1 };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => rows.push((pos, map)),
            Ok(other) => problems.push(pos, format!("a row is a JSON object, not {}", kind(&other))),
            Err(e) => problems.push(Pos { col: e.column() as u64, ..pos }, format!("not a JSON object: {e}")),
        }
    }
    problems.into_result(rows)
}

/// CSV: a header line names the variables; every value is a string.
fn csv_rows(path: &Path, text: &str) -> Result<Vec<RawRow>, Vec<Diagnostic>> {
    let mut problems = Problems::new(path);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_owned()).collect(),
        Err(e) => return Err(vec![csv_error(path, &e)]),
    };
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            problems.push(Pos { line: 1, col: 1 }, format!("column {} of the header line has no name", i + 1));
        } else if headers[..i].contains(name) {
            problems.push(Pos { line: 1, col: 1 }, format!("the header names the column `{name}` twice"));
        }
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let vars = headers.iter().cloned().zip(record.iter().map(|v| Value::String(v.to_owned()))).collect();
                rows.push((Pos { line, col: 1 }, vars));
            }
            Err(e) => {
                let d = csv_error(path, &e);
                problems.push(d.pos.unwrap_or_default(), d.message);
                // A malformed line is skipped; reading goes on to find the next.
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    problems.into_result(rows)
}

fn csv_error(path: &Path, e: &csv::Error) -> Diagnostic {
    let line = e.position().map_or(1, csv::Position::line);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("this line has {len} field(s) but the header has {expected_len}")
        }
        _ => format!("malformed CSV: {}", e.to_string().to_lowercase()),
    };
    Diagnostic::at(path, Pos { line, col: 1 }, "", message)
}

/// YAML: a list of maps.
fn yaml_rows(path: &Path, text: &str) -> Result<Vec<RawRow>, Vec<Diagnostic>> {
    if text.len() as u64 > yaml::MAX_FILE_BYTES {
        let message = format!(
            "a YAML dataset is limited to {} MiB; keep a larger one as JSON Lines or CSV, which have no such limit",
            yaml::MAX_FILE_BYTES >> 20
        );
        return Err(vec![Diagnostic::at(path, Pos { line: 1, col: 1 }, "", message)]);
    }
    let doc = yaml::parse(text.as_bytes()).map_err(|e| vec![Diagnostic::at(path, e.pos, "", e.message)])?;
    let Value::Array(items) = doc.value else {
        return Err(vec![Diagnostic::at(
            path,
            Pos { line: 1, col: 1 },
            "",
            "a YAML dataset is a list of rows, each a map",
        )]);
    };
    let mut problems = Problems::new(path);
    let mut rows = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let pos = doc.spans.value(&format!("/{i}"));
        match item {
            Value::Object(map) => rows.push((pos, map)),
            other => problems.push(pos, format!("a row is a map of variables, not {}", kind(&other))),
        }
    }
    problems.into_result(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_three_formats_give_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = write(dir.path(), "a.jsonl", b"{\"id\": \"a\", \"label\": \"1\"}\n\n{\"label\": \"0\"}\n");
        let csv = write(dir.path(), "a.csv", b"id,label\na,1\n,0\n");
        let yaml = write(dir.path(), "a.yaml", b"- {id: a, label: \"1\"}\n- label: \"0\"\n");
        let j = read(&jsonl).unwrap();
        assert_eq!(j.rows.iter().map(|r| (r.id.as_str(), r.line)).collect::<Vec<_>>(), [("a", 1), ("2", 3)]);
        let y = read(&yaml).unwrap();
        assert_eq!(y.rows.iter().map(|r| (r.id.as_str(), r.line)).collect::<Vec<_>>(), [("a", 1), ("2", 2)]);
        // A CSV `id` column with an empty cell keeps the empty id, which is refused.
        let e = read(&csv).unwrap_err();
        assert!(
            e[0].to_string().ends_with("a.csv:3:1: the row id \"\" is empty or starts or ends with a space"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn malformed_lines_are_named_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let csv = write(dir.path(), "b.csv", b"q,label\n\"x\",1\ny,1,extra\nz,0\n");
        let e = read(&csv).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].to_string().ends_with("b.csv:3:1: this line has 3 field(s) but the header has 2"), "{}", e[0]);
        let jsonl = write(dir.path(), "b.jsonl", b"{\"q\": 1}\n[1]\n{\"q\": \n");
        let e: Vec<String> = read(&jsonl).unwrap_err().iter().map(ToString::to_string).collect();
        assert!(e[0].ends_with("b.jsonl:2:1: a row is a JSON object, not a list"), "{e:?}");
        assert!(e[1].contains("b.jsonl:3:"), "{e:?}");
        let bytes = write(dir.path(), "c.csv", b"q\nok\n\xff\n");
        let e = read(&bytes).unwrap_err()[0].to_string();
        assert!(e.contains("c.csv:3:1: the dataset is not valid UTF-8"), "{e}");
    }

    proptest::proptest! {
        /// Whatever the text, a data file is rows or located errors, never a panic.
        #[test]
        fn any_text_reads_without_panicking(text in "[a-z0-9,\"\n\r{}:\\[\\] '#&*|>-]{0,300}", kind in 0..3usize, bom in proptest::bool::ANY) {
            let dir = tempfile::tempdir().unwrap();
            let name = ["x.csv", "x.jsonl", "x.yaml"][kind];
            let bytes = if bom { format!("\u{feff}{text}\u{ff}") } else { text };
            let path = write(dir.path(), name, bytes.as_bytes());
            if let Err(problems) = read(&path) {
                proptest::prop_assert!(!problems.is_empty());
                proptest::prop_assert!(problems.iter().all(|p| p.to_string().starts_with(&path.display().to_string())));
            }
        }
    }

    #[test]
    fn ids_are_unique_and_usable_in_case_ids() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = write(dir.path(), "d.jsonl", b"{\"id\": 7}\n{\"id\": \"7\"}\n{\"id\": \"a,b\"}\n{\"id\": true}\n");
        let e: Vec<String> = read(&jsonl).unwrap_err().iter().map(ToString::to_string).collect();
        assert!(e[0].ends_with(":2:1: the row id `7` is also the id of the row on line 1; ids are unique"), "{e:?}");
        assert!(e[1].contains(":3:1: the row id \"a,b\" holds a character"), "{e:?}");
        assert!(e[2].ends_with(":4:1: a row's `id` is a string or a number, not a boolean"), "{e:?}");
    }
}
