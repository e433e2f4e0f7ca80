//! Snapshots: what of a response is kept ([`SnapshotRules`] from the scenario's
//! `snapshot:` policy), the insta-compatible file it is kept in ([`SnapshotFile`]),
//! and how a stored snapshot is compared with a new one. Pure: reading and writing
//! files is the caller's business (see `verdict::store`).

use regex::Regex;
use serde_json::Value;

use super::assertions::{CompileError, parse_json_answer};
use super::yaml::{Yaml, emit};
use crate::json::{canonical_json, sort_keys};
use crate::normalize::{Redactor, normalize};
use crate::plan::Case;
use crate::response::ModelResponse;
use crate::scenario::{PartPolicy, SnapshotPolicy, Volatile};

/// A scenario's snapshot policy with defaults filled in and regexes compiled.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotRules {
    final_policy: Rule,
    reasoning_policy: Rule,
    tool_calls: bool,
    stop_reason: bool,
    redactor: Redactor,
    json_redact: Vec<String>,
    keep: Vec<Volatile>,
}

#[derive(Debug, Clone)]
enum Rule {
    Exact,
    Ignore,
    Present,
    Extract(Regex),
    Json,
    /// Kept as `Exact`; a different text is judged (`verdict::semantic`).
    Semantic,
}

impl SnapshotRules {
    /// Defaults: final `exact`, reasoning `present`, tool calls and stop reason kept.
    pub(crate) fn new(policy: Option<&SnapshotPolicy>) -> Result<SnapshotRules, CompileError> {
        let default = SnapshotPolicy::default();
        let p = policy.unwrap_or(&default);
        let rule = |p: Option<&PartPolicy>, fallback: Rule| -> Result<Rule, CompileError> {
            Ok(match p {
                None => fallback,
                Some(PartPolicy::Exact) => Rule::Exact,
                Some(PartPolicy::Ignore) => Rule::Ignore,
                Some(PartPolicy::Present) => Rule::Present,
                Some(PartPolicy::Json) => Rule::Json,
                Some(PartPolicy::Semantic) => Rule::Semantic,
                Some(PartPolicy::Extract(re)) => {
                    Rule::Extract(Regex::new(re).map_err(|source| CompileError::Regex { pattern: re.clone(), source })?)
                }
            })
        };
        Ok(SnapshotRules {
            final_policy: rule(p.final_answer.as_ref(), Rule::Exact)?,
            reasoning_policy: rule(p.reasoning.as_ref(), Rule::Present)?,
            tool_calls: p.tool_calls.unwrap_or(true),
            stop_reason: p.stop_reason.unwrap_or(true),
            redactor: Redactor::new(&p.redact)?,
            json_redact: p.json_redact.clone(),
            keep: p.keep.clone(),
        })
    }

    /// Whether the final answer is compared by meaning (`final: semantic`).
    pub(crate) fn semantic(&self) -> bool {
        matches!(self.final_policy, Rule::Semantic)
    }

    /// The snapshot body of a response, or `None` when the policy keeps nothing.
    pub(crate) fn body(&self, r: &ModelResponse) -> Option<String> {
        let entries = self.entries(r, false);
        (!entries.is_empty()).then(|| emit(&entries, true))
    }

    /// The columns of a dataset's snapshot table: the parts this policy keeps, the same
    /// for every row whatever its answer.
    pub(crate) fn columns(&self, agent: bool) -> Vec<&'static str> {
        let mut columns = Vec::new();
        if !matches!(self.final_policy, Rule::Ignore) {
            columns.push("final");
        }
        if !matches!(self.reasoning_policy, Rule::Ignore) {
            columns.push("reasoning");
        }
        if self.stop_reason {
            columns.push("stop_reason");
        }
        // Only agents have tools (with their calls in their turns).
        if agent {
            columns.push("turns");
        }
        if self.keep.contains(&Volatile::Usage) {
            columns.push("usage");
        }
        if self.keep.contains(&Volatile::Latency) {
            columns.push("latency_ms");
        }
        columns
    }

    /// A response's cells under `columns`, each on one line: text as it is, JSON answers
    /// and structures as compact JSON.
    pub(crate) fn cells(&self, r: &ModelResponse, columns: &[&str]) -> Vec<String> {
        let entries = self.entries(r, true);
        columns
            .iter()
            .map(|c| match entries.iter().find(|(k, _)| k == c) {
                Some((_, value)) => cell(value),
                None if *c == "turns" => "[]".to_owned(),
                None => String::new(),
            })
            .collect()
    }

    /// The kept parts of a response; `compact` writes JSON answers on one line.
    fn entries(&self, r: &ModelResponse, compact: bool) -> Vec<(String, Yaml)> {
        let mut entries = Vec::new();
        if let Some(v) = self.part(&self.final_policy, &r.final_text, compact) {
            entries.push(("final".to_owned(), v));
        }
        if let Some(v) = self.part(&self.reasoning_policy, &r.reasoning, compact) {
            entries.push(("reasoning".to_owned(), v));
        }
        if self.stop_reason {
            entries.push(("stop_reason".to_owned(), r.stop_reason.as_deref().map_or(Yaml::Null, Yaml::str)));
        }
        if !r.turns.is_empty() {
            entries.push(("turns".to_owned(), Yaml::Seq(r.turns.iter().map(|t| self.turn(t)).collect())));
        } else if self.tool_calls && !r.tool_calls.is_empty() {
            let calls = r.tool_calls.iter().map(|c| Yaml::Map(self.call(&c.id, &c.name, &c.input))).collect();
            entries.push(("tool_calls".to_owned(), Yaml::Seq(calls)));
        }
        if self.keep.contains(&Volatile::Usage)
            && let Some(u) = r.usage
        {
            let usage = vec![
                ("input_tokens".to_owned(), Yaml::Int(u.input_tokens as i64)),
                ("output_tokens".to_owned(), Yaml::Int(u.output_tokens as i64)),
            ];
            entries.push(("usage".to_owned(), Yaml::Map(usage)));
        }
        if self.keep.contains(&Volatile::Latency) {
            entries.push(("latency_ms".to_owned(), Yaml::Int(r.latency_ms as i64)));
        }
        entries
    }

    /// One agent turn: its reasoning (under the reasoning policy), its text (under the
    /// `final` policy: the last turn's text is the answer, word for word; only whether
    /// it is there under `semantic`, whose meaning is judged on the final answer), and
    /// each tool call with what the tool gave back.
    fn turn(&self, t: &crate::response::Turn) -> Yaml {
        let mut entries = Vec::new();
        if let Some(v) = self.part(&self.reasoning_policy, &t.reasoning, false) {
            entries.push(("reasoning".to_owned(), v));
        }
        let text_rule = if self.semantic() { &Rule::Present } else { &self.final_policy };
        if !normalize(&t.text).is_empty()
            && let Some(v) = self.part(text_rule, &t.text, false)
        {
            entries.push(("text".to_owned(), v));
        }
        if self.tool_calls && !t.tool_calls.is_empty() {
            let calls = t
                .tool_calls
                .iter()
                .map(|c| {
                    let mut call = self.call(&c.id, &c.name, &c.input);
                    call.push(("result".to_owned(), Yaml::Str(self.redactor.apply(&c.result))));
                    if c.is_error {
                        call.push(("error".to_owned(), Yaml::Bool(true)));
                    }
                    Yaml::Map(call)
                })
                .collect();
            entries.push(("tool_calls".to_owned(), Yaml::Seq(calls)));
        }
        if entries.is_empty() {
            entries.push(("text".to_owned(), Yaml::str("")));
        }
        Yaml::Map(entries)
    }

    /// A tool call: its id only when ids are kept (they change on every run).
    fn call(&self, id: &str, name: &str, input: &Value) -> Vec<(String, Yaml)> {
        let mut call = Vec::new();
        if self.keep.contains(&Volatile::Ids) {
            call.push(("id".to_owned(), Yaml::str(id)));
        }
        call.push(("name".to_owned(), Yaml::str(name)));
        call.push(("input".to_owned(), Yaml::str(canonical_json(input))));
        call
    }

    fn part(&self, rule: &Rule, raw: &str, compact: bool) -> Option<Yaml> {
        let text = self.redactor.apply(&normalize(raw));
        match rule {
            Rule::Ignore => None,
            Rule::Exact | Rule::Semantic => Some(Yaml::Str(text)),
            Rule::Present => Some(Yaml::str(if text.is_empty() { "[empty]" } else { "[present]" })),
            Rule::Extract(re) => {
                // One capture group: snapshot what it captured; otherwise the whole match.
                let group = usize::from(re.captures_len() == 2);
                let found = re.captures_iter(&text).filter_map(|c| c.get(group)).map(|m| Yaml::str(m.as_str()));
                Some(Yaml::Seq(found.collect()))
            }
            Rule::Json => Some(match parse_json_answer(&text) {
                Ok(mut value) => {
                    for pointer in &self.json_redact {
                        if let Some(slot) = value.pointer_mut(pointer) {
                            *slot = Value::String("[redacted]".into());
                        }
                    }
                    if compact {
                        Yaml::Str(canonical_json(&value))
                    } else {
                        Yaml::Str(serde_json::to_string_pretty(&sort_keys(value)).unwrap_or_default())
                    }
                }
                Err(_) => Yaml::Map(vec![("not_json".into(), Yaml::Str(text))]),
            }),
        }
    }
}

/// One table cell: a string as it is, anything else as compact JSON.
fn cell(value: &Yaml) -> String {
    match value {
        Yaml::Str(s) => s.clone(),
        other => canonical_json(&to_json(other)),
    }
}

fn to_json(value: &Yaml) -> Value {
    match value {
        Yaml::Str(s) => Value::String(s.clone()),
        Yaml::Int(i) => Value::from(*i),
        Yaml::Real(r) => r.parse::<f64>().map_or_else(|_| Value::String(r.clone()), Value::from),
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// A snapshot file: insta's metadata header, then the body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SnapshotFile {
    pub(crate) header: Vec<(String, Yaml)>,
    pub(crate) body: String,
}

impl SnapshotFile {
    /// The header for a case: `source` (the scenario, relative to the project root),
    /// `description`, `expression` (the case id) and `info` (api, model, params).
    pub(crate) fn for_case(case: &Case, body: String) -> SnapshotFile {
        let source = crate::fs::slashed(&case.source);
        let mut header = vec![("source".to_owned(), Yaml::Str(source))];
        if let Some(d) = &case.spec.description {
            header.push(("description".to_owned(), Yaml::str(d)));
        }
        header.push(("expression".to_owned(), Yaml::str(&case.id)));
        let mut info =
            vec![("api".to_owned(), Yaml::str(case.api.as_str())), ("model".to_owned(), Yaml::str(&case.model))];
        let params = serde_json::to_value(case.spec.params.clone().unwrap_or_default()).unwrap_or(Value::Null);
        if params.as_object().is_some_and(|p| !p.is_empty()) {
            info.push(("params".to_owned(), Yaml::from_json(&params)));
        }
        if case.samples > 1 {
            info.push(("samples".to_owned(), Yaml::Int(i64::from(case.samples))));
        }
        header.push(("info".to_owned(), Yaml::Map(info)));
        SnapshotFile { header, body }
    }

    /// The header for a dataset's table: like a case's, named by the id its rows share,
    /// with the data file (relative to the project root) in `info`.
    pub(crate) fn for_dataset(case: &Case, id: &str, data: &std::path::Path, body: String) -> SnapshotFile {
        let mut file = SnapshotFile::for_case(case, body);
        file.header.retain(|(k, _)| k != "description");
        for (key, value) in &mut file.header {
            match (key.as_str(), value) {
                ("expression", value) => *value = Yaml::str(id),
                ("info", Yaml::Map(info)) => {
                    info.push(("dataset".to_owned(), Yaml::Str(crate::fs::slashed(data))));
                }
                _ => {}
            }
        }
        file
    }

    /// The file's bytes, exactly as insta writes them.
    pub(crate) fn render(&self) -> String {
        format!("---\n{}\n---\n{}\n", emit(&self.header, false), normalize_contents(&self.body))
    }
}

/// The body of a stored snapshot file, as insta reads it: the header ends at the
/// first `---` line after the opening one; line endings are folded.
pub(crate) fn stored_body(file_text: &str) -> String {
    let mut lines = file_text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        // insta's legacy header-less format: the body follows the first blank line.
        let body: Vec<&str> = file_text.lines().skip_while(|l| !l.trim().is_empty()).skip(1).collect();
        return body.join("\n");
    }
    for line in lines.by_ref() {
        if line.trim_end() == "---" {
            break;
        }
    }
    lines.collect::<Vec<_>>().join("\n")
}

/// insta's comparison: trailing whitespace and CRLF do not count.
pub(crate) fn normalize_contents(body: &str) -> String {
    body.trim_end().replace("\r\n", "\n")
}

pub(crate) fn contents_match(stored: &str, new: &str) -> bool {
    normalize_contents(stored) == normalize_contents(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{ToolCall, Usage};
    use crate::scenario::Redaction;
    use serde_json::json;

    fn response() -> ModelResponse {
        ModelResponse {
            final_text: "\n3.9 のほうが大きいです。  \r\n\r\n理由: 3.90 > 3.11\n".into(),
            reasoning: "Compare 3.11 and 3.90 on 2025-10-01.".into(),
            stop_reason: Some("end_turn".into()),
            tool_calls: vec![ToolCall {
                id: "call_1".into(),
                name: "get_weather".into(),
                input: json!({"unit": "c", "city": "Tokyo"}),
            }],
            usage: Some(Usage { input_tokens: 70, output_tokens: 40 }),
            latency_ms: 812,
            ..ModelResponse::default()
        }
    }

    fn rules(policy: Value) -> SnapshotRules {
        SnapshotRules::new(Some(&serde_json::from_value(policy).unwrap())).unwrap()
    }

    fn parsed(body: &str) -> Value {
        serde_saphyr::from_str(body).expect("the body is valid YAML")
    }

    #[test]
    fn default_policy_keeps_the_answer_exactly_and_reasoning_presence() {
        let body = SnapshotRules::new(None).unwrap().body(&response()).unwrap();
        assert_eq!(
            body,
            "final: |-\n  3.9 のほうが大きいです。\n\n  理由: 3.90 > 3.11\nreasoning: \"[present]\"\nstop_reason: end_turn\ntool_calls:\n  - name: get_weather\n    input: \"{\\\"city\\\":\\\"Tokyo\\\",\\\"unit\\\":\\\"c\\\"}\""
        );
        let v = parsed(&body);
        assert_eq!(v["final"], "3.9 のほうが大きいです。\n\n理由: 3.90 > 3.11");
        assert_eq!(v["tool_calls"][0]["input"], "{\"city\":\"Tokyo\",\"unit\":\"c\"}");
    }

    #[test]
    fn ignore_and_present_policies() {
        let r = rules(json!({"final": "present", "reasoning": "ignore", "tool_calls": false, "stop_reason": false}));
        assert_eq!(r.body(&response()).unwrap(), "final: \"[present]\"");
        let empty = ModelResponse::default();
        assert_eq!(r.body(&empty).unwrap(), "final: \"[empty]\"");
        let nothing =
            rules(json!({"final": "ignore", "reasoning": "ignore", "tool_calls": false, "stop_reason": false}));
        assert_eq!(nothing.body(&response()), None);
    }

    #[test]
    fn extract_keeps_only_the_stable_core() {
        let r = rules(
            json!({"final": {"extract": "3\\.\\d+"}, "reasoning": "ignore", "tool_calls": false, "stop_reason": false}),
        );
        assert_eq!(r.body(&response()).unwrap(), "final:\n  - \"3.9\"\n  - \"3.90\"\n  - \"3.11\"");
        let group = rules(
            json!({"final": {"extract": "(\\d)\\.9"}, "reasoning": "ignore", "tool_calls": false, "stop_reason": false}),
        );
        assert_eq!(group.body(&response()).unwrap(), "final:\n  - \"3\"\n  - \"3\"");
        // A different wording with the same core gives the same snapshot; another core does not.
        let mut reworded = response();
        reworded.final_text = "答え: 3.9 (3.90 vs 3.11)".into();
        assert_eq!(r.body(&reworded), r.body(&response()));
        reworded.final_text = "3.11 is larger".into();
        assert_ne!(r.body(&reworded), r.body(&response()));
    }

    #[test]
    fn json_policy_sorts_and_redacts() {
        let r = rules(
            json!({"final": "json", "reasoning": "ignore", "tool_calls": false, "stop_reason": false, "json_redact": ["/id"]}),
        );
        let mut resp = response();
        resp.final_text = "```json\n{\"z\": 1, \"id\": \"abc\", \"a\": [2]}\n```".into();
        let body = r.body(&resp).unwrap();
        assert_eq!(parsed(&body)["final"], "{\n  \"a\": [\n    2\n  ],\n  \"id\": \"[redacted]\",\n  \"z\": 1\n}");
        resp.final_text = "not json".into();
        assert_eq!(r.body(&resp).unwrap(), "final:\n  not_json: not json");
    }

    #[test]
    fn redactions_and_volatile_values() {
        let mut policy: SnapshotPolicy =
            serde_json::from_value(json!({"reasoning": "exact", "keep": ["usage", "ids"]})).unwrap();
        policy.redact.push(Redaction { regex: r"\d{4}-\d{2}-\d{2}".into(), placeholder: "[date]".into() });
        let r = SnapshotRules::new(Some(&policy)).unwrap();
        let body = r.body(&response()).unwrap();
        assert!(body.contains("reasoning: \"Compare 3.11 and 3.90 on [date].\""), "{body}");
        assert!(body.contains("  - id: call_1\n    name: get_weather"), "{body}");
        assert!(body.ends_with("usage:\n  input_tokens: 70\n  output_tokens: 40"), "{body}");
        assert!(!body.contains("latency"));
        // By default ids, usage and latency stay out: they change on every run.
        let default = SnapshotRules::new(None).unwrap().body(&response()).unwrap();
        assert!(!default.contains("call_1") && !default.contains("usage") && !default.contains("812"));
    }

    #[test]
    fn stored_bodies_compare_like_insta() {
        let file = "---\nsource: a.yaml\nexpression: x\n---\nfinal: ok\r\nstop_reason: end_turn\n\n";
        let body = stored_body(file);
        assert!(contents_match(&body, "final: ok\nstop_reason: end_turn"));
        assert!(!contents_match(&body, "final: ko\nstop_reason: end_turn"));
        assert_eq!(stored_body("expression: x\nsource: y\n\nfinal: ok\n"), "final: ok");
    }

    /// Issue 14: for agents the `final` policy did not reach `turns[].text`, which
    /// holds the answer word for word, so a reworded answer failed its snapshot even
    /// when the extract matched.
    #[test]
    fn the_final_policy_applies_to_agent_turn_text() {
        let turn = |text: &str| crate::response::Turn { text: text.into(), ..Default::default() };
        let agent = |answer: &str| ModelResponse {
            final_text: answer.into(),
            turns: vec![turn("Let me check."), turn(answer)],
            ..ModelResponse::default()
        };
        let extract = rules(json!({"final": {"extract": "(sunny|rainy)"}, "reasoning": "ignore"}));
        let a = extract.body(&agent("It is sunny in Tokyo today.")).unwrap();
        let b = extract.body(&agent("Tokyo: sunny, 22 degrees.")).unwrap();
        assert_eq!(a, b, "a reworded answer with the same extract snapshots the same");
        assert!(!a.contains("Tokyo"), "{a}");
        let ignore = rules(json!({"final": "ignore", "reasoning": "ignore"})).body(&agent("It is sunny.")).unwrap();
        assert!(!ignore.contains("sunny"), "{ignore}");
    }
}
