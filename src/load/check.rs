//! Semantic rules the schema cannot say: one prompt source, one check per
//! expectation, regexes and schemas that compile, matrix keys that name fields,
//! names unique across the suite.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{Diagnostic, SpanIndex, Suite};
use crate::diagnostic::explain::{closest, plain};

/// Keys of an expectation that modify a check rather than being one.
const MODIFIERS: [&str; 2] = ["part", "not"];

/// Checks that look at the response as a whole, where `part` means nothing.
const WHOLE_RESPONSE: [&str; 9] = [
    "stop_reason",
    "no_reasoning_leak",
    "reasoning_present",
    "max_latency_ms",
    "max_output_tokens",
    "tool_called",
    "tool_sequence",
    "tool_args",
    "max_turns_used",
];

/// The scalar matrix keys; `params.extra.<name>` is accepted too.
pub(crate) const MATRIX_KEYS: [&str; 8] = [
    "api",
    "model",
    "region",
    "params.max_tokens",
    "params.temperature",
    "params.top_p",
    "params.reasoning_effort",
    "params.stop",
];

struct Ctx<'a> {
    file: &'a Path,
    base: &'a str,
    spans: &'a SpanIndex,
    out: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn error(&mut self, pointer: &str, message: impl Into<String>) {
        let full = format!("{}{pointer}", self.base);
        self.out.push(Diagnostic::at(self.file, self.spans.value(&full), full, message));
    }

    fn key_error(&mut self, pointer: &str, message: impl Into<String>) {
        let full = format!("{}{pointer}", self.base);
        self.out.push(Diagnostic::at(self.file, self.spans.key(&full), full, message));
    }
}

/// Rules for one scenario at `base` inside its file. They run on what the schema
/// rejected too (reading values with `get`, never assuming a shape), so that one pass
/// reports every independent problem.
pub(crate) fn scenario(raw: &Value, file: &Path, base: &str, spans: &SpanIndex) -> Vec<Diagnostic> {
    let mut cx = Ctx { file, base, spans, out: Vec::new() };
    prompt(&mut cx, raw);
    expectations(&mut cx, raw);
    snapshot(&mut cx, raw);
    matrix(&mut cx, raw);
    tools(&mut cx, raw);
    data(&mut cx, raw);
    cx.out
}

/// One source of rows; metrics only over rows; a label extractor that compiles.
fn data(cx: &mut Ctx, raw: &Value) {
    if raw.get("dataset").is_some() && raw.get("rows").is_some() {
        cx.key_error("/rows", "give either `dataset` (a file) or `rows` (inline), not both");
    }
    let Some(metrics) = raw.get("metrics") else { return };
    if raw.get("dataset").is_none() && raw.get("rows").is_none() {
        cx.key_error("/metrics", "`metrics` are measured over rows: add `dataset:` (a file) or `rows:`");
    }
    if let Some(pattern) = metrics.pointer("/label/extract/regex") {
        regex_compiles(cx, "/metrics/label/extract/regex", pattern);
    }
}

/// Whether a string is a template (`{{ }}`, `{% %}`, `{# #}`): checked once rendered.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Each tool has exactly one implementation, a unique name and a schema that compiles.
fn tools(cx: &mut Ctx, raw: &Value) {
    let Some(tools) = raw.get("tools").and_then(Value::as_array) else { return };
    let mut names: Vec<&str> = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("/tools/{i}");
        let name = tool["name"].as_str().unwrap_or_default();
        if names.contains(&name) {
            cx.error(&format!("{at}/name"), format!("a tool named `{name}` is already defined"));
        }
        names.push(name);
        let implementations: Vec<&str> =
            ["result", "cases", "command"].into_iter().filter(|k| tool.get(*k).is_some()).collect();
        match implementations.as_slice() {
            [_] => {}
            [] => cx.error(&at, "a tool needs one implementation: `result`, `cases` or `command`"),
            [a, b, ..] => cx.error(&at, format!("a tool has one implementation; found `{a}` and `{b}`")),
        }
        if tool.get("default").is_some() && tool.get("cases").is_none() {
            cx.key_error(&format!("{at}/default"), "`default` goes with `cases`");
        }
        for key in ["timeout", "env"] {
            if tool.get(key).is_some() && tool.get("command").is_none() {
                cx.key_error(&format!("{at}/{key}"), format!("`{key}` goes with `command`"));
            }
        }
        if let Err(e) = jsonschema::validator_for(&tool["input_schema"]) {
            cx.error(&format!("{at}/input_schema"), format!("this is not a valid JSON Schema: {}", schema_error(&e)));
        }
    }
}

/// Rules for a schema-valid `defaults.yaml`.
pub(crate) fn defaults(raw: &Value, file: &Path, spans: &SpanIndex) -> Vec<Diagnostic> {
    let mut cx = Ctx { file, base: "", spans, out: Vec::new() };
    expectations(&mut cx, raw);
    snapshot(&mut cx, raw);
    cx.out
}

fn prompt(cx: &mut Ctx, raw: &Value) {
    match (raw.get("prompt"), raw.get("messages")) {
        (Some(_), Some(_)) => cx.key_error("/messages", "give either `prompt` or `messages`, not both"),
        (None, None) => cx.error("", "no prompt: add `prompt:` (one user turn) or `messages:` (a conversation)"),
        (Some(p), None) => {
            if p.as_str().is_some_and(|p| p.trim().is_empty()) {
                cx.error("/prompt", "the prompt is empty");
            }
        }
        (None, Some(messages)) => {
            for (i, m) in messages.as_array().into_iter().flatten().enumerate() {
                if m["content"].as_str().is_some_and(|c| c.trim().is_empty()) {
                    cx.error(&format!("/messages/{i}/content"), "the message is empty");
                }
            }
            let last = messages.as_array().and_then(|m| m.last());
            if last.is_some_and(|m| m["role"] != "user") {
                let i = messages.as_array().map_or(0, |m| m.len() - 1);
                cx.error(
                    &format!("/messages/{i}/role"),
                    "the last message must be a `user` message: the model answers it",
                );
            }
        }
    }
}

fn expectations(cx: &mut Ctx, raw: &Value) {
    let Some(items) = raw.get("expect").and_then(Value::as_array) else { return };
    for (i, item) in items.iter().enumerate() {
        let at = format!("/expect/{i}");
        let Some(map) = item.as_object() else { continue };
        let checks: Vec<&str> = map.keys().map(String::as_str).filter(|k| !MODIFIERS.contains(k)).collect();
        match checks.as_slice() {
            [] => {
                cx.error(&at, "an expectation needs a check, such as `contains`, `regex` or `stop_reason`");
                continue;
            }
            [_] => {}
            [first, second, ..] => {
                cx.error(
                    &at,
                    format!(
                        "an expectation holds one check; found `{first}` and `{second}`: split them into two items"
                    ),
                );
                continue;
            }
        }
        let check = checks[0];
        if map.contains_key("part") && WHOLE_RESPONSE.contains(&check) {
            cx.key_error(
                &format!("{at}/part"),
                format!("`part` does not apply to `{check}`, which looks at the whole response"),
            );
        }
        if check == "judge" && map.get("not").is_some_and(|n| n == &Value::Bool(true)) {
            cx.key_error(
                &format!("{at}/not"),
                "`not` does not apply to `judge`: write the rubric the other way round (what a passing answer does)",
            );
        }
        let value = &map[check];
        let here = format!("{at}/{check}");
        match check {
            "regex" => regex_compiles(cx, &here, value),
            "json_schema" => {
                if let Err(e) = jsonschema::validator_for(value) {
                    cx.error(&here, format!("this is not a valid JSON Schema: {}", schema_error(&e)));
                }
            }
            "json_schema_file" => schema_file(cx, &here, value),
            "length" => {
                if let (Some(min), Some(max)) = (value["min"].as_u64(), value["max"].as_u64())
                    && min > max
                {
                    cx.error(&here, format!("`min` ({min}) is greater than `max` ({max})"));
                }
            }
            _ => {}
        }
    }
}

fn regex_compiles(cx: &mut Ctx, pointer: &str, value: &Value) {
    let Some(pattern) = value.as_str().filter(|p| !is_template(p)) else { return };
    if let Err(e) = regex::Regex::new(pattern) {
        // The regex crate's message spans several lines with a caret; the last line says why.
        let why = e.to_string().lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
        let why = why.strip_prefix("error: ").unwrap_or(&why).to_owned();
        cx.error(pointer, format!("invalid regex `{pattern}`: {why}"));
    }
}

fn schema_file(cx: &mut Ctx, pointer: &str, value: &Value) {
    let Some(name) = value.as_str() else { return };
    let path = cx.file.parent().unwrap_or(Path::new("")).join(name);
    // A schema's errors quote it: like a dataset, it is read only inside the project.
    if let Err(e) = super::readable_from(cx.file, &path) {
        return cx.error(pointer, e.to_string());
    }
    let text = match crate::fs::read_text_limited(&path, super::yaml::MAX_FILE_BYTES, crate::fs::Links::Follow) {
        Ok(t) => t,
        Err(e) => return cx.error(pointer, format!("cannot read the schema file {}: {e}", path.display())),
    };
    match serde_json::from_str::<Value>(&text) {
        Err(e) => cx.error(pointer, format!("{} is not JSON: {e}", path.display())),
        Ok(schema) => {
            if let Err(e) = jsonschema::validator_for(&schema) {
                cx.error(pointer, format!("{} is not a valid JSON Schema: {}", path.display(), schema_error(&e)));
            }
        }
    }
}

/// A meta-schema error with the place inside the user's schema that it concerns.
fn schema_error(e: &jsonschema::ValidationError<'_>) -> String {
    match e.instance_path().as_str() {
        "" => e.to_string(),
        at => format!("at {at}: {e}"),
    }
}

fn snapshot(cx: &mut Ctx, raw: &Value) {
    let Some(policy) = raw.get("snapshot") else { return };
    if policy.get("reasoning").is_some_and(|p| p == "semantic") {
        cx.error(
            "/snapshot/reasoning",
            "`semantic` applies to `final` only: reasoning is snapshotted `exact`, `present` or `ignore`",
        );
    }
    if policy.get("semantic").is_some() && policy.get("final").is_some_and(|p| p != "semantic") {
        cx.key_error(
            "/snapshot/semantic",
            "`snapshot.semantic` is for `final: semantic`, and `final` is something else here",
        );
    }
    for part in ["final", "reasoning"] {
        if let Some(pattern) = policy.get(part).and_then(|p| p.get("extract")) {
            regex_compiles(cx, &format!("/snapshot/{part}/extract"), pattern);
        }
    }
    for (i, r) in policy.get("redact").and_then(Value::as_array).into_iter().flatten().enumerate() {
        regex_compiles(cx, &format!("/snapshot/redact/{i}/regex"), &r["regex"]);
    }
    for (i, p) in policy.get("json_redact").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if p.as_str().is_some_and(|p| !p.is_empty() && !p.starts_with('/')) {
            cx.error(&format!("/snapshot/json_redact/{i}"), "a JSON pointer starts with `/`, e.g. `/id`");
        }
    }
}

fn matrix(cx: &mut Ctx, raw: &Value) {
    let Some(matrix) = raw.get("matrix").and_then(Value::as_object) else { return };
    for (key, values) in matrix {
        let at = format!("/matrix/{}", super::yaml::escape_token(key));
        let extra = key.strip_prefix("params.extra.").is_some_and(|rest| !rest.is_empty());
        if !extra && !MATRIX_KEYS.contains(&key.as_str()) {
            let mut message = format!("`{key}` is not a field the matrix can vary");
            match closest(key, MATRIX_KEYS) {
                Some(close) => message.push_str(&format!("; did you mean `{close}`?")),
                None => message.push_str(&format!("; use one of: {}, or params.extra.<name>", MATRIX_KEYS.join(", "))),
            }
            cx.key_error(&at, message);
            continue;
        }
        let values = values.as_array().map(Vec::as_slice).unwrap_or_default();
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                cx.error(&format!("{at}/{i}"), format!("`{}` is listed twice", plain(v)));
            }
        }
    }
}

/// Names must be unique: they start case ids and name snapshot files.
pub(crate) fn duplicate_names(suite: &mut Suite) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut found = Vec::new();
    for (i, s) in suite.scenarios.iter().enumerate() {
        if let Some(first) = seen.insert(&s.spec.name, i) {
            seen.insert(&s.spec.name, first);
            let f = &suite.scenarios[first];
            let pos = f.pos("/name");
            found.push(s.diagnostic(
                "/name",
                format!(
                    "the name `{}` is already used at {}:{}:{}; scenario names must be unique",
                    s.spec.name,
                    f.file.display(),
                    pos.line,
                    pos.col
                ),
            ));
        }
    }
    suite.diagnostics.extend(found);
}
