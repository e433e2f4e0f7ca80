//! Datasets: the rows a scenario runs over, read from a JSON Lines, CSV or YAML file
//! (or given inline as `rows:`), each row a map of template variables with an id and
//! the line it came from, so that every later message can name `file:line`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use std::io::{BufRead, Read};

use super::Diagnostic;
use super::utf8::{Checked, NotUtf8};
use super::yaml::{self, Pos, SpanIndex};

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
    /// The variables as compact JSON text: a parsed map costs several times its text,
    /// and a million rows are parsed again only one at a time, when each is rendered.
    vars: Box<str>,
}

impl Row {
    pub(crate) fn new(id: String, line: u64, vars: &Map<String, Value>) -> Row {
        let vars = serde_json::to_string(vars).unwrap_or_else(|_| "{}".to_owned()).into_boxed_str();
        Row { id, line, vars }
    }

    /// The row's variables.
    pub(crate) fn vars(&self) -> Map<String, Value> {
        serde_json::from_str(&self.vars).unwrap_or_default()
    }
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

/// Reads the data file at `path`, by its extension.
pub(crate) fn read(path: &Path) -> Result<Dataset, Vec<Diagnostic>> {
    let whole = |message: String| vec![Diagnostic::file(path, message)];
    let too_large = |size: u64| {
        whole(format!("the dataset is {} MiB; datasets are limited to {} MiB", size >> 20, MAX_DATASET_BYTES >> 20))
    };
    let cannot = |e: crate::fs::ReadError| whole(format!("cannot read this dataset: {e}"));
    let not_utf8 = |e: NotUtf8| {
        vec![Diagnostic::at(
            path,
            Pos { line: e.line, col: 1 },
            "",
            format!("the dataset is not valid UTF-8 (byte 0x{:02x} at offset {}); save it as UTF-8", e.byte, e.offset),
        )]
    };
    let name = path.to_string_lossy().to_lowercase();
    let mut rows = Rows::new(path);
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        // Parsed whole, so limited to a size where that is cheap.
        let bytes =
            crate::fs::read_limited(path, yaml::MAX_FILE_BYTES, crate::fs::Links::Follow).map_err(|e| match e {
                crate::fs::ReadError::TooLarge { .. } => {
                    vec![Diagnostic::at(path, Pos { line: 1, col: 1 }, "", yaml_too_large())]
                }
                e => cannot(e),
            })?;
        let mut checked = Checked::new(bytes.as_slice());
        let mut text = String::new();
        if checked.read_to_string(&mut text).is_err() {
            return Err(checked.error().map(not_utf8).unwrap_or_default());
        }
        yaml_rows(path, text.strip_prefix('\u{feff}').unwrap_or(&text), &mut rows)?;
        return rows.finish();
    }
    // JSON Lines and CSV are read a line or a record at a time, never held whole.
    let file = crate::fs::open_regular(path, crate::fs::Links::Follow).map_err(cannot)?;
    let size = file.metadata().map_err(|e| cannot(e.into()))?.len();
    if size > MAX_DATASET_BYTES {
        return Err(too_large(size));
    }
    let checked = Checked::new(file.take(MAX_DATASET_BYTES));
    let error = if name.ends_with(".csv") {
        csv_rows(checked, &mut rows)
    } else {
        jsonl_rows(std::io::BufReader::new(checked), &mut rows)
    };
    if let Some(e) = error {
        return Err(not_utf8(e));
    }
    rows.finish()
}

/// Inline `rows:` of the scenario at `pointer` in `file`.
pub(crate) fn inline(
    file: &Path,
    pointer: &str,
    rows: &[Value],
    spans: &SpanIndex,
) -> Result<Dataset, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut out = Rows::new(file);
    for (i, row) in rows.iter().enumerate() {
        let at = format!("{pointer}/rows/{i}");
        let pos = spans.value(&at);
        match row.as_object() {
            Some(map) => out.push(pos, map),
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
    out.finish()
}

/// The rows of one file as they are read, each made compact at once: a million parsed
/// maps held together would cost gigabytes. Gives each row its id and checks the ids:
/// present, printable, and (once all are read) unique.
struct Rows<'a> {
    problems: Problems<'a>,
    rows: Vec<std::sync::Arc<Row>>,
    /// Rows seen, good or bad: the next row without an `id` is numbered after them.
    seen: usize,
}

impl<'a> Rows<'a> {
    fn new(file: &'a Path) -> Rows<'a> {
        Rows { problems: Problems::new(file), rows: Vec::new(), seen: 0 }
    }

    fn push(&mut self, pos: Pos, vars: &Map<String, Value>) {
        self.seen += 1;
        let id = match vars.get("id") {
            None => self.seen.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                self.problems.push(pos, format!("a row's `id` is a string or a number, not {}", kind(other)));
                return;
            }
        };
        if let Some(bad) = id_problem(&id) {
            self.problems.push(pos, format!("the row id {id:?} {bad}"));
            return;
        }
        self.rows.push(std::sync::Arc::new(Row::new(id, pos.line, vars)));
    }

    /// The dataset, once ids are found unique: rows sorted by id (an index each, not a
    /// copy of every id), each later row with an id already seen said and dropped.
    fn finish(mut self) -> Result<Dataset, Vec<Diagnostic>> {
        let file = self.problems.file;
        if self.seen == 0 && self.problems.listed.is_empty() {
            return Err(vec![Diagnostic::at(file, Pos { line: 1, col: 1 }, "", "the dataset has no rows")]);
        }
        let rows = &self.rows;
        let mut order: Vec<u32> = (0..rows.len() as u32).collect();
        order.sort_unstable_by(|a, b| rows[*a as usize].id.cmp(&rows[*b as usize].id).then(a.cmp(b)));
        // For each row whose id an earlier row has: the earlier row's line.
        let mut first_line: Vec<Option<u64>> = vec![None; rows.len()];
        for pair in order.windows(2) {
            let (a, b) = (pair[0] as usize, pair[1] as usize);
            if rows[a].id == rows[b].id {
                first_line[b] = Some(first_line[a].unwrap_or(rows[a].line));
            }
        }
        drop(order);
        if first_line.iter().any(Option::is_some) {
            let repeated = rows.iter().zip(&first_line).filter_map(|(row, first)| {
                let message =
                    format!("the row id `{}` is also the id of the row on line {}; ids are unique", row.id, (*first)?);
                Some((Pos { line: row.line, col: 1 }, message))
            });
            self.problems.merge(repeated);
            let mut keep = first_line.iter().map(Option::is_none);
            self.rows.retain(|_| keep.next().unwrap_or(true));
        }
        self.problems.into_result(Dataset { file: file.to_path_buf(), rows: self.rows })
    }
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

    /// Adds problems found after the others, in line order, so that the first ones
    /// listed are still the first in the file.
    fn merge(&mut self, late: impl Iterator<Item = (Pos, String)>) {
        // `late` is in line order: past its first few, none can be listed.
        let mut unlisted = 0;
        let late: Vec<Diagnostic> = late
            .filter(|_| {
                unlisted += 1;
                unlisted <= MAX_PROBLEMS
            })
            .map(|(pos, message)| Diagnostic::at(self.file, pos, "", message))
            .collect();
        let line = |d: &Diagnostic| d.pos.map_or(0, |p| p.line);
        let mut all = std::mem::take(&mut self.listed);
        let total = all.len() + unlisted;
        all.extend(late);
        all.sort_by_key(line);
        all.truncate(MAX_PROBLEMS);
        self.more += total - all.len();
        self.listed = all;
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
fn jsonl_rows(mut reader: std::io::BufReader<Checked<impl Read>>, rows: &mut Rows) -> Option<NotUtf8> {
    let mut line = String::new();
    for i in 0.. {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let error = reader.get_ref().error();
                if error.is_none() {
                    rows.problems
                        .push(Pos { line: i + 1, col: 1 }, format!("cannot read this line: {}", crate::fs::reason(&e)));
                }
                return error;
            }
        }
        let pos = Pos { line: i + 1, col: 1 };
        let text = if i == 0 { line.trim_start_matches('\u{feff}') } else { line.as_str() };
        let line = text.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => rows.push(pos, &map),
            Ok(other) => rows.problems.push(pos, format!("a row is a JSON object, not {}", kind(&other))),
            Err(e) => rows.problems.push(Pos { col: e.column() as u64, ..pos }, format!("not a JSON object: {e}")),
        }
    }
    None
}

/// CSV: a header line names the variables; every value is a string.
fn csv_rows(checked: Checked<impl Read>, rows: &mut Rows) -> Option<NotUtf8> {
    let path = rows.problems.file;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(checked);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_owned()).collect(),
        Err(e) => {
            let d = csv_error(path, &e);
            rows.problems.push(d.pos.unwrap_or_default(), d.message);
            return reader.get_ref().error();
        }
    };
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            rows.problems.push(Pos { line: 1, col: 1 }, format!("column {} of the header line has no name", i + 1));
        } else if headers[..i].contains(name) {
            rows.problems.push(Pos { line: 1, col: 1 }, format!("the header names the column `{name}` twice"));
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let vars: Map<String, Value> =
                    headers.iter().cloned().zip(record.iter().map(|v| Value::String(v.to_owned()))).collect();
                rows.push(Pos { line, col: 1 }, &vars);
            }
            Err(e) => {
                let d = csv_error(path, &e);
                rows.problems.push(d.pos.unwrap_or_default(), d.message);
                // A malformed line is skipped; reading goes on to find the next.
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    reader.get_ref().error()
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

/// Why a YAML dataset is too large.
fn yaml_too_large() -> String {
    format!(
        "a YAML dataset is limited to {} MiB; keep a larger one as JSON Lines or CSV, which have no such limit",
        yaml::MAX_FILE_BYTES >> 20
    )
}

/// YAML: a list of maps.
fn yaml_rows(path: &Path, text: &str, rows: &mut Rows) -> Result<(), Vec<Diagnostic>> {
    let doc = yaml::parse(text.as_bytes()).map_err(|e| vec![Diagnostic::at(path, e.pos, "", e.message)])?;
    let Value::Array(items) = doc.value else {
        return Err(vec![Diagnostic::at(
            path,
            Pos { line: 1, col: 1 },
            "",
            "a YAML dataset is a list of rows, each a map",
        )]);
    };
    for (i, item) in items.into_iter().enumerate() {
        let pos = doc.spans.value(&format!("/{i}"));
        match item {
            Value::Object(map) => rows.push(pos, &map),
            other => rows.problems.push(pos, format!("a row is a map of variables, not {}", kind(&other))),
        }
    }
    Ok(())
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
