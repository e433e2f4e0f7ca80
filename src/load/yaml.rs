//! YAML text -> JSON value plus a map from JSON pointers to source positions.
//!
//! Validation works on `serde_json::Value` (the JSON Schema speaks JSON), but every
//! error must name `file:line:col`. So the document is read once through serde-saphyr
//! as a tree of [`Spanned`] nodes and flattened into a [`Document`]: the value, and a
//! [`SpanIndex`] that answers "where is `/params/temperature`?".

use std::collections::HashMap;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, Spanned};

/// Scenario files are small; anything larger is a mistake (a log, a dataset) and is
/// refused before the parser spends time and memory on it.
pub(crate) const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

pub(crate) use crate::diagnostic::{Pos, escape_token};

/// A parsed document with the position of every value and key.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub(crate) value: Value,
    pub(crate) spans: SpanIndex,
}

/// JSON pointer -> position of the value there, and of the key that names it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanIndex {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl SpanIndex {
    /// Where the value at `pointer` is, or its closest ancestor that has a position.
    pub(crate) fn value(&self, pointer: &str) -> Pos {
        self.lookup(&self.values, pointer)
    }

    /// Where the key naming `pointer` is (for "unknown field" errors), else the value.
    pub(crate) fn key(&self, pointer: &str) -> Pos {
        match self.keys.get(pointer) {
            Some(pos) => *pos,
            None => self.value(pointer),
        }
    }

    fn lookup(&self, table: &HashMap<String, Pos>, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = table.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }
}

/// Why a file could not be read as YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

/// What is said of a scenario file of `size` bytes, over the limit.
pub(crate) fn too_large(size: u64) -> String {
    format!(
        "the file is {:.1} MiB; scenario files are limited to {} MiB",
        size as f64 / (1024.0 * 1024.0),
        MAX_FILE_BYTES >> 20
    )
}

/// Parses one YAML document. Never panics, whatever the bytes.
pub fn parse(bytes: &[u8]) -> Result<Document, SyntaxError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(SyntaxError { pos: Pos { line: 1, col: 1 }, message: too_large(bytes.len() as u64) });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| utf8_error(bytes, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::Error,
        // `no`, `on`, `y` stay strings: YAML 1.1 booleans turn a Norwegian country code
        // or a one-letter answer into `false`, which is never what a prompt means.
        strict_booleans: true,
        with_snippet: false,
    };
    let root: Spanned<Node> = serde_saphyr::from_str_with_options(text, options).map_err(|e| SyntaxError {
        pos: e
            .location()
            .map(|l| Pos { line: l.line(), col: l.column() })
            .filter(|p| p.line > 0)
            .unwrap_or(Pos { line: 1, col: 1 }),
        message: explain_yaml_error(&e),
    })?;
    let mut spans = SpanIndex::default();
    let value = flatten(root, String::new(), &mut spans);
    Ok(Document { value, spans })
}

fn utf8_error(bytes: &[u8], e: std::str::Utf8Error) -> SyntaxError {
    let good = &bytes[..e.valid_up_to()];
    let line = good.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    // Valid up to here by construction, so this cannot fail; count characters, not bytes.
    let col = std::str::from_utf8(&good[line_start..]).map_or(1, |s| s.chars().count() as u64 + 1);
    SyntaxError {
        pos: Pos { line, col },
        message: format!(
            "the file is not valid UTF-8 (byte 0x{:02x} at offset {}); save it as UTF-8",
            bytes[e.valid_up_to()],
            e.valid_up_to()
        ),
    }
}

/// serde-saphyr's messages are written for developers ("set DuplicateKeyPolicy in
/// Options"); the ones a scenario author can meet are reworded for them.
fn explain_yaml_error(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    let mut e = e;
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = e {
        e = error;
    }
    match e {
        Error::DuplicateMappingKey { key: Some(key), .. } => format!("the key `{key}` appears twice in this mapping"),
        Error::DuplicateMappingKey { key: None, .. } => "a key appears twice in this mapping".into(),
        Error::MultipleDocuments { .. } => {
            "the file holds more than one YAML document (`---`); put several scenarios in one file as a list under `scenarios:`".into()
        }
        Error::Budget { breach: BudgetBreach::Depth { .. }, .. } => "the document is nested too deeply".into(),
        Error::Budget { .. }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => {
            "the document expands to too many values (are aliases nested inside aliases?); refusing to read it".into()
        }
        other => {
            let message = lowercase_first(&serde_saphyr::DefaultMessageFormatter.format_message(other));
            if message == "recursion limit exceeded" { "the document is nested too deeply".into() } else { message }
        }
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn flatten(node: Spanned<Node>, pointer: String, spans: &mut SpanIndex) -> Value {
    let loc = node.referenced;
    spans.values.insert(pointer.clone(), Pos { line: loc.line(), col: loc.column() });
    match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Number(n) => Value::Number(n),
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => Value::Array(
            items.into_iter().enumerate().map(|(i, item)| flatten(item, format!("{pointer}/{i}"), spans)).collect(),
        ),
        Node::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (key, value) in entries {
                let child = format!("{pointer}/{}", escape_token(&key.value));
                let kl = key.referenced;
                spans.keys.insert(child.clone(), Pos { line: kl.line(), col: kl.column() });
                let v = flatten(value, child, spans);
                map.insert(key.value, v);
            }
            Value::Object(map)
        }
    }
}

/// A YAML node as serde-saphyr hands it over; children keep their positions.
enum Node {
    Null,
    Bool(bool),
    Number(Number),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Bool(b))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v).map(Node::Number).ok_or_else(|| E::custom("NaN and infinity are not allowed"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_nested_values_and_keys() {
        let doc = parse(b"name: a\nparams:\n  temperature: 3.5\nlist:\n  - x\n  - y\n").unwrap();
        assert_eq!(doc.value["params"]["temperature"], 3.5);
        assert_eq!(doc.spans.value("/params/temperature"), Pos { line: 3, col: 16 });
        assert_eq!(doc.spans.key("/params/temperature"), Pos { line: 3, col: 3 });
        assert_eq!(doc.spans.value("/list/1"), Pos { line: 6, col: 5 });
        // An unknown pointer falls back to its closest ancestor.
        assert_eq!(doc.spans.value("/params/temperature/x"), Pos { line: 3, col: 16 });
    }

    #[test]
    fn keeps_key_order_and_number_kinds() {
        let doc = parse(b"b: 1\na: 1.0\nc: -2\n").unwrap();
        let keys: Vec<_> = doc.value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert!(doc.value["b"].is_u64());
        assert!(doc.value["a"].is_f64());
        assert!(doc.value["c"].is_i64());
    }

    #[test]
    fn yaml11_booleans_stay_strings() {
        let doc = parse(b"a: no\nb: true\n").unwrap();
        assert_eq!(doc.value["a"], "no");
        assert_eq!(doc.value["b"], true);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse(b"a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert_eq!(err.message, "the key `a` appears twice in this mapping");
    }

    #[test]
    fn invalid_utf8_names_the_position() {
        let err = parse(b"name: ok\nprompt: \"caf\xe9\"\n").unwrap_err();
        assert_eq!(err.pos, Pos { line: 2, col: 13 });
        assert!(err.message.contains("UTF-8"));
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let big = vec![b'a'; MAX_FILE_BYTES as usize + 1];
        assert!(parse(&big).unwrap_err().message.contains("limited to"));
    }

    #[test]
    fn alias_bomb_is_stopped() {
        let mut y = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let prev = (b'a' + i) as char;
            let next = (b'a' + i + 1) as char;
            y.push_str(&format!("{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(parse(y.as_bytes()).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let y = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse(y.as_bytes()).is_err());
    }
}
