//! A small YAML emitter that writes exactly what insta's emitter writes for snapshot
//! headers (same quoting rules, same indentation), so that `cargo insta accept`, which
//! rewrites a snapshot through insta's own serializer, produces identical bytes. Bodies
//! use the same rules plus literal blocks for multi-line text, for readable diffs.

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yaml {
    Str(String),
    Int(i64),
    /// A number as insta writes it (`1.0` is written `1`).
    Real(String),
    Bool(bool),
    Null,
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    pub(crate) fn str(s: impl Into<String>) -> Yaml {
        Yaml::Str(s.into())
    }

    /// From JSON: integers stay integers, other numbers are written as insta writes f64.
    pub(crate) fn from_json(value: &serde_json::Value) -> Yaml {
        use serde_json::Value;
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Int(i),
                None => Yaml::Real(n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string())),
            },
            Value::String(s) => Yaml::Str(s.clone()),
            Value::Array(items) => Yaml::Seq(items.iter().map(Yaml::from_json).collect()),
            Value::Object(map) => Yaml::Map(map.iter().map(|(k, v)| (k.clone(), Yaml::from_json(v))).collect()),
        }
    }
}

/// Emits a top-level mapping as insta does (`literal_blocks: false`), or with
/// multi-line strings as `|-` blocks (`literal_blocks: true`). No `---` line, no
/// trailing newline.
pub(crate) fn emit(entries: &[(String, Yaml)], literal_blocks: bool) -> String {
    let mut e = Emitter { out: String::new(), level: -1, literal_blocks };
    e.map(entries);
    e.out
}

struct Emitter {
    out: String,
    level: isize,
    literal_blocks: bool,
}

impl Emitter {
    fn indent(&mut self) {
        for _ in 0..self.level.max(0) {
            self.out.push_str("  ");
        }
    }

    fn node(&mut self, value: &Yaml) {
        match value {
            Yaml::Seq(items) => self.seq(items),
            Yaml::Map(entries) => self.map(entries),
            Yaml::Str(s) => self.scalar_str(s),
            Yaml::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Yaml::Int(i) => self.out.push_str(&i.to_string()),
            Yaml::Real(r) => self.out.push_str(r),
            Yaml::Null => self.out.push('~'),
        }
    }

    fn scalar_str(&mut self, s: &str) {
        if need_quotes(s) {
            escape_str(&mut self.out, s);
        } else {
            self.out.push_str(s);
        }
    }

    fn seq(&mut self, items: &[Yaml]) {
        if items.is_empty() {
            self.out.push_str("[]");
            return;
        }
        self.level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push('\n');
                self.indent();
            }
            self.out.push('-');
            self.value(true, item);
        }
        self.level -= 1;
    }

    fn map(&mut self, entries: &[(String, Yaml)]) {
        if entries.is_empty() {
            self.out.push_str("{}");
            return;
        }
        self.level += 1;
        for (i, (key, value)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push('\n');
                self.indent();
            }
            self.scalar_str(key);
            self.out.push(':');
            self.value(false, value);
        }
        self.level -= 1;
    }

    /// A value after `:` or `-`: collections go on the next line unless inline after
    /// `-` (insta's compact style).
    fn value(&mut self, inline: bool, value: &Yaml) {
        match value {
            Yaml::Seq(items) if !(inline || items.is_empty()) => self.nested(|e| e.seq(items)),
            Yaml::Map(entries) if !(inline || entries.is_empty()) => self.nested(|e| e.map(entries)),
            Yaml::Str(s) if self.literal_blocks && s.contains('\n') && literal_safe(s) => self.literal(s),
            _ => {
                self.out.push(' ');
                self.node(value);
            }
        }
    }

    fn nested(&mut self, body: impl FnOnce(&mut Emitter)) {
        self.out.push('\n');
        self.level += 1;
        self.indent();
        self.level -= 1;
        body(self);
    }

    fn literal(&mut self, s: &str) {
        let indent = ((self.level + 1) * 2).max(2) as usize;
        // A first line that starts with a space needs an explicit indentation indicator.
        let indicator = if s.starts_with(' ') { indent.to_string() } else { String::new() };
        self.out.push_str(&format!(" |{indicator}-"));
        for line in s.split('\n') {
            self.out.push('\n');
            if !line.is_empty() {
                self.out.push_str(&" ".repeat(indent));
                self.out.push_str(line);
            }
        }
    }
}

/// A literal block keeps text exactly only when it has no control characters, no
/// trailing whitespace on a line, and no trailing newline.
fn literal_safe(s: &str) -> bool {
    !s.ends_with('\n')
        && s.split('\n').all(|l| l.trim_end() == l)
        && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// insta's `need_quotes`, rule for rule.
fn need_quotes(s: &str) -> bool {
    s.is_empty()
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        || s.contains(|c: char| {
            matches!(c, ':' | '{' | '}' | '[' | ']' | ',' | '#' | '`' | '"' | '\'' | '\\' | '\0'..='\x06' | '\t' | '\n' | '\r' | '\x0e'..='\x1a' | '\x1c'..='\x1f')
        })
        || [
            "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE", "false", "on", "On", "ON",
            "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ]
        .contains(&s)
        || s.starts_with('.')
        || s.starts_with("0x")
        || s.parse::<i64>().is_ok()
        || s.parse::<f64>().is_ok()
}

/// insta's `escape_str`: JSON-style double quotes, non-ASCII written as is.
fn escape_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_insta_header_layout() {
        let entries = vec![
            ("source".to_owned(), Yaml::str("scenarios/basic/planet.yaml")),
            ("description".to_owned(), Yaml::str("The model names the planet: Earth")),
            ("expression".to_owned(), Yaml::str("compare[api=chat,model=openai.gpt-oss-20b-1:0]")),
            (
                "info".to_owned(),
                Yaml::Map(vec![
                    ("api".into(), Yaml::str("chat")),
                    ("model".into(), Yaml::str("openai.gpt-oss-20b-1:0")),
                    (
                        "params".into(),
                        Yaml::Map(vec![
                            ("temperature".into(), Yaml::Real("1".into())),
                            ("stop".into(), Yaml::Seq(vec![Yaml::str("END")])),
                        ]),
                    ),
                    ("tags".into(), Yaml::Seq(vec![])),
                ]),
            ),
        ];
        assert_eq!(
            emit(&entries, false),
            "source: scenarios/basic/planet.yaml\n\
             description: \"The model names the planet: Earth\"\n\
             expression: \"compare[api=chat,model=openai.gpt-oss-20b-1:0]\"\n\
             info:\n  api: chat\n  model: \"openai.gpt-oss-20b-1:0\"\n  params:\n    temperature: 1\n    stop:\n      - END\n  tags: []"
        );
    }

    #[test]
    fn quoting_follows_insta() {
        let q = |s: &str| emit(&[("k".into(), Yaml::str(s))], false);
        assert_eq!(q("plain text"), "k: plain text");
        assert_eq!(q("3.9"), "k: \"3.9\"");
        assert_eq!(q("no"), "k: \"no\"");
        assert_eq!(q("- item"), "k: \"- item\"");
        assert_eq!(q("a\nb\t\"c\""), "k: \"a\\nb\\t\\\"c\\\"\"");
        assert_eq!(q("日本語"), "k: 日本語");
        assert_eq!(q(""), "k: \"\"");
    }

    #[test]
    fn literal_blocks_for_multi_line_bodies() {
        let entries = vec![
            ("final".to_owned(), Yaml::str("line one\n\n  indented: yes")),
            ("lead".to_owned(), Yaml::str("  starts with spaces\nnext")),
            (
                "tool_calls".to_owned(),
                Yaml::Seq(vec![Yaml::Map(vec![
                    ("name".into(), Yaml::str("get_weather")),
                    ("input".into(), Yaml::str("{\"city\":\"Tokyo\"}")),
                ])]),
            ),
        ];
        assert_eq!(
            emit(&entries, true),
            "final: |-\n  line one\n\n    indented: yes\nlead: |2-\n    starts with spaces\n  next\ntool_calls:\n  - name: get_weather\n    input: \"{\\\"city\\\":\\\"Tokyo\\\"}\""
        );
    }

    #[test]
    fn unsafe_multi_line_text_falls_back_to_quotes() {
        assert_eq!(emit(&[("k".into(), Yaml::str("a \nb"))], true), "k: \"a \\nb\"");
    }
}
