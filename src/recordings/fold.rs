//! A dataset cassette's journal folded into it, in one atomic write: pretty JSON, rows
//! sorted by request hash, as a cassette is always written.
//!
//! Ten thousand rows of a long prompt are tens of megabytes, so the fold parses as
//! little as it can. The cassette's text is read once and its rows kept as slices of
//! it: a row the journal does not replace is written back byte for byte. Of each
//! journal line only its hash, case and place are kept; its row is read again when its
//! turn comes to be written, and re-indented as it is copied (`serde-transcode`), never
//! built as a tree.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::cassette::{FORMAT, MAX_DATASET_CASSETTE_BYTES, RecordingError, each_journal_line_at};

/// A row of the journal: its hash and case, and where its `row` text lies.
struct Entry {
    hash: String,
    case: String,
    at: u64,
    len: usize,
}

/// Where a row of the folded cassette comes from.
enum Source<'a> {
    /// The cassette as it was: written back as it was.
    Kept(&'a RawValue),
    /// The journal's entry at this index.
    New(usize),
}

#[derive(Deserialize)]
struct CaseOf {
    case: String,
}

/// Writes the cassette at `path` with the rows of `journal` in it. A row recorded again
/// replaces the old one, found by its hash or by its case (its request changed).
pub(super) fn fold(path: &Path, journal: &Path, scenario: String) -> Result<(), RecordingError> {
    let invalid = |path: &Path, line: usize, e: serde_json::Error| RecordingError::Invalid {
        path: path.to_owned(),
        line,
        column: e.column(),
        message: e.to_string(),
    };
    let mut entries = Vec::new();
    each_journal_line_at(journal, |number, at, line| {
        #[derive(Deserialize)]
        struct Line<'a> {
            hash: String,
            #[serde(borrow)]
            row: &'a RawValue,
        }
        let parsed: Line<'_> = serde_json::from_slice(line).map_err(|e| invalid(journal, number, e))?;
        let row = parsed.row.get();
        let case = serde_json::from_str::<CaseOf>(row).map_err(|e| invalid(journal, number, e))?.case;
        // Where the row's text starts within the line: both are the same buffer.
        let within = row.as_ptr() as usize - line.as_ptr() as usize;
        entries.push(Entry { hash: parsed.hash, case, at: at + within as u64, len: row.len() });
        Ok(())
    })?;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Old<'a> {
        format: u32,
        scenario: String,
        #[serde(borrow)]
        rows: HashMap<String, &'a RawValue>,
    }
    let text = match crate::fs::read_text_limited(path, MAX_DATASET_CASSETTE_BYTES, crate::fs::Links::Refuse) {
        Ok(text) => Some(text),
        Err(crate::fs::ReadError::Missing) => None,
        Err(source) => return Err(RecordingError::Read { path: path.to_owned(), source }),
    };
    let old = match &text {
        Some(text) => serde_json::from_str::<Old<'_>>(text).map_err(|e| invalid(path, e.line(), e))?,
        None => Old { format: FORMAT, scenario, rows: HashMap::new() },
    };

    let mut rows: BTreeMap<&str, Source<'_>> = BTreeMap::new();
    let mut by_case: HashMap<&str, &str> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        if let Some(earlier) = by_case.insert(&entry.case, &entry.hash)
            && earlier != entry.hash
        {
            rows.remove(earlier);
        }
        rows.insert(&entry.hash, Source::New(i));
    }
    let recorded: HashSet<&str> = by_case.keys().copied().collect();
    for (hash, raw) in &old.rows {
        // Only a row the journal did not replace by its hash is asked for its case.
        if rows.contains_key(hash.as_str()) {
            continue;
        }
        let case = serde_json::from_str::<CaseOf>(raw.get()).map(|c| c.case).unwrap_or_default();
        if !recorded.contains(case.as_str()) {
            rows.insert(hash, Source::Kept(raw));
        }
    }

    let journal_file = match crate::fs::open_regular(journal, crate::fs::Links::Refuse) {
        Ok(file) => Some(file),
        Err(crate::fs::ReadError::Missing) if entries.is_empty() => None,
        Err(source) => return Err(RecordingError::Read { path: journal.to_owned(), source }),
    };
    let rows = Rows { rows: &rows, entries: &entries, journal: RefCell::new(journal_file), failed: RefCell::new(None) };
    let out = Out { format: old.format, scenario: &old.scenario, rows: &rows };
    let written = crate::fs::write_atomic_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &out).map_err(std::io::Error::from)?;
        w.write_all(b"\n")
    });
    // A journal that could not be read again is what failed, not the cassette's write.
    if let Some(e) = rows.failed.take() {
        let source = crate::fs::ReadError::Io(e);
        return Err(RecordingError::Read { path: journal.to_owned(), source });
    }
    written?;
    Ok(())
}

#[derive(Serialize)]
struct Out<'a> {
    format: u32,
    scenario: &'a str,
    rows: &'a Rows<'a>,
}

/// The folded rows in hash order, each journal row read from the journal as its turn
/// comes.
struct Rows<'a> {
    rows: &'a BTreeMap<&'a str, Source<'a>>,
    entries: &'a [Entry],
    journal: RefCell<Option<std::fs::File>>,
    /// Why the journal could not be read again, for the error to name it.
    failed: RefCell<Option<std::io::Error>>,
}

impl Rows<'_> {
    fn read(&self, entry: &Entry) -> std::io::Result<Vec<u8>> {
        let mut journal = self.journal.borrow_mut();
        let file = journal.as_mut().ok_or_else(|| std::io::Error::other("the journal is gone"))?;
        file.seek(SeekFrom::Start(entry.at))?;
        let mut text = vec![0; entry.len];
        file.read_exact(&mut text)?;
        Ok(text)
    }
}

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let mut map = s.serialize_map(Some(self.rows.len()))?;
        for (hash, source) in self.rows {
            match source {
                Source::Kept(raw) => map.serialize_entry(hash, raw)?,
                Source::New(i) => {
                    let text = self.read(&self.entries[*i]).map_err(|e| {
                        let message = e.to_string();
                        *self.failed.borrow_mut() = Some(e);
                        S::Error::custom(message)
                    })?;
                    let mut row = serde_json::Deserializer::from_slice(&text);
                    map.serialize_entry(hash, &serde_transcode::Transcoder::new(&mut row))?;
                }
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn row(case: &str, prompt: &str) -> Value {
        json!({"case": case, "api": "chat", "model": "m", "recorded_at": "t", "endpoint_host": "h",
            "provenance": {"kind": "recorded", "source": "s", "notes": ""},
            "interactions": [{"request": {"method": "POST", "path": "/p", "body": {"messages": [{"content": prompt}], "n": 1.5, "e": {}, "l": []}, "hash": "x"},
                "response": {"status": 200, "headers": {}, "json": {"a": "é\n\"q\""}}}]})
    }

    fn journal(dir: &Path, lines: &[(&str, Value)]) -> std::path::PathBuf {
        let path = dir.join("c.json.journal");
        let text: String = lines.iter().map(|(hash, row)| format!("{}\n", json!({"hash": hash, "row": row}))).collect();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_journal_rows_are_written_as_a_pretty_cassette_sorted_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("c.json");
        let journal = journal(dir.path(), &[("bb", row("r[row=2]", "two")), ("aa", row("r[row=1]", "one"))]);
        fold(&cassette, &journal, "s.yaml".into()).unwrap();
        let expected = json!({"format": FORMAT, "scenario": "s.yaml",
            "rows": {"aa": row("r[row=1]", "one"), "bb": row("r[row=2]", "two")}});
        let text = std::fs::read_to_string(&cassette).unwrap();
        assert_eq!(text, format!("{}\n", serde_json::to_string_pretty(&expected).unwrap()), "as a tree would print");
    }

    #[test]
    fn a_row_recorded_again_replaces_the_old_by_hash_or_by_case_and_the_rest_stay_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("c.json");
        let old = json!({"format": FORMAT, "scenario": "s.yaml", "rows": {
            "aa": row("r[row=1]", "one"), "bb": row("r[row=2]", "two"), "cc": row("r[row=3]", "three")}});
        // A hand-written row, not as the fold would indent it, is left as it was.
        let text = serde_json::to_string_pretty(&old).unwrap().replace("\"three\"", "  \"three\"");
        std::fs::write(&cassette, &text).unwrap();
        // Row 1 again with the same request; row 2 with a changed one (a new hash).
        let journal = journal(dir.path(), &[("aa", row("r[row=1]", "one")), ("dd", row("r[row=2]", "TWO"))]);
        fold(&cassette, &journal, "ignored".into()).unwrap();
        let folded: Value = serde_json::from_str(&std::fs::read_to_string(&cassette).unwrap()).unwrap();
        let hashes: Vec<&String> = folded["rows"].as_object().unwrap().keys().collect();
        assert_eq!(hashes, ["aa", "cc", "dd"], "row 2's old request is gone");
        assert_eq!(folded["rows"]["dd"], row("r[row=2]", "TWO"));
        assert_eq!(folded["scenario"], "s.yaml", "the file's own");
        assert!(std::fs::read_to_string(&cassette).unwrap().contains("\"content\":   \"three\""), "kept as written");
    }

    #[test]
    fn a_broken_journal_line_or_cassette_is_named_with_its_line_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("c.json");
        let path = dir.path().join("c.json.journal");
        std::fs::write(&path, format!("{}\n{{\"hash\": 1}}\n", json!({"hash": "aa", "row": row("r", "x")}))).unwrap();
        let e = fold(&cassette, &path, "s".into()).unwrap_err();
        assert!(matches!(&e, RecordingError::Invalid { line: 2, .. }), "{e}");
        assert!(!cassette.exists());
        std::fs::write(&path, format!("{}\n", json!({"hash": "aa", "row": row("r", "x")}))).unwrap();
        std::fs::write(&cassette, "{\"format\": 1,\n \"rows\": [}").unwrap();
        let e = fold(&cassette, &path, "s".into()).unwrap_err();
        assert!(matches!(&e, RecordingError::Invalid { line: 2, .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&cassette).unwrap(), "{\"format\": 1,\n \"rows\": [}", "left as it was");
    }
}
