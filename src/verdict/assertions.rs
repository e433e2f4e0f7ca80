//! Assertions (`expect`): compiled once per case, then evaluated against each
//! response as a pure function. The main entry points are [`compile`] and [`evaluate`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grading::SampleGrades;
use crate::json::contains_value;
use crate::normalize::normalize;
use crate::response::ModelResponse;
use crate::scenario::{Expectation, Part, Script, SequenceOrder};

/// A `json_schema_file` larger than this is not a schema.
const SCHEMA_FILE_LIMIT: u64 = 8 << 20;

/// The outcome of one assertion on one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AssertionResult {
    pub(crate) kind: String,
    pub(crate) passed: bool,
    pub(crate) message: String,
    /// For a failed check on a text part: the part's name and a shortened copy of
    /// what it looked at, so a failure is readable without `--verbose`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) looked_at: Option<(String, String)>,
    /// The check could not be decided (a grader that failed): not passed, and not a
    /// failure of the answer either.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) errored: bool,
    /// A `judge` check's grade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) judge: Option<JudgeNote>,
}

/// What a grader said, as the reports keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JudgeNote {
    /// The grading model.
    pub(crate) model: String,
    /// The mean score (0 to 1) of the grades; null when none could be had.
    pub(crate) score: Option<f64>,
    /// The grader's reason (or why no grade could be had).
    pub(crate) reason: String,
    /// The grader's own reasoning, separated from its verdict.
    pub(crate) reasoning: String,
    /// Grades that agree with the outcome, of those asked for (`samples`).
    pub(crate) agreeing: u32,
    pub(crate) asked: u32,
}

impl JudgeNote {
    pub(crate) fn of(grade: &crate::grading::Grade) -> JudgeNote {
        let (score, reason, agreeing, asked) = match &grade.outcome {
            Ok(d) => (Some(d.score), d.reason.clone(), d.agreeing, d.asked),
            Err(e) => (None, e.to_string(), 0, 0),
        };
        JudgeNote { model: grade.model.clone(), score, reason, reasoning: grade.reasoning.clone(), agreeing, asked }
    }
}

/// A ready-to-run assertion.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    kind: &'static str,
    part: Part,
    negate: bool,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Equals(String),
    Contains(String),
    IContains(String),
    ContainsAny(Vec<String>),
    ContainsAll(Vec<String>),
    Regex(Regex),
    StartsWith(String),
    JsonValid,
    JsonSchema(Arc<jsonschema::Validator>),
    JsonPointer {
        pointer: String,
        equals: Value,
    },
    Length {
        min: Option<u64>,
        max: Option<u64>,
    },
    Script {
        script: Script,
        min_share: f64,
    },
    StopReason(String),
    NoReasoningLeak,
    ReasoningPresent,
    MaxLatency(u64),
    MaxOutputTokens(u64),
    ToolCalled {
        name: String,
        input: Option<Value>,
    },
    ToolSequence {
        calls: Vec<String>,
        order: SequenceOrder,
    },
    ToolArgs {
        name: String,
        input: Value,
    },
    MaxTurnsUsed(u32),
    /// A `judge` check: its grade comes from the grader, by the check's index.
    Judge(usize),
}

/// Compiles a case's expectations. `scenario_dir` resolves `json_schema_file`. The
/// loader already rejected bad regexes and schemas; what fails here is a file that
/// changed since, and it is reported, not skipped.
pub(crate) fn compile(expectations: &[Expectation], scenario_dir: &Path) -> Result<Vec<Check>, CompileError> {
    expectations.iter().enumerate().map(|(i, e)| compile_one(i, e, scenario_dir)).collect()
}

fn compile_one(index: usize, e: &Expectation, dir: &Path) -> Result<Check, CompileError> {
    let mut negate = e.not;
    // `json_valid: false` and friends read as "not".
    let mut flag = |on: bool| {
        if !on {
            negate = !negate;
        }
    };
    let (kind, test) = if let Some(t) = &e.equals {
        ("equals", Test::Equals(normalize(t)))
    } else if let Some(t) = &e.contains {
        ("contains", Test::Contains(t.clone()))
    } else if let Some(t) = &e.icontains {
        ("icontains", Test::IContains(t.to_lowercase()))
    } else if let Some(t) = &e.contains_any {
        ("contains_any", Test::ContainsAny(t.clone()))
    } else if let Some(t) = &e.contains_all {
        ("contains_all", Test::ContainsAll(t.clone()))
    } else if let Some(t) = &e.regex {
        ("regex", Test::Regex(Regex::new(t).map_err(|source| CompileError::Regex { pattern: t.clone(), source })?))
    } else if let Some(t) = &e.starts_with {
        ("starts_with", Test::StartsWith(t.clone()))
    } else if let Some(on) = e.json_valid {
        flag(on);
        ("json_valid", Test::JsonValid)
    } else if let Some(schema) = &e.json_schema {
        ("json_schema", Test::JsonSchema(Arc::new(schema_validator(schema)?)))
    } else if let Some(file) = &e.json_schema_file {
        let path = dir.join(file);
        let text = crate::fs::read_text_limited(&path, SCHEMA_FILE_LIMIT, crate::fs::Links::Follow)
            .map_err(|source| CompileError::Read { path: path.clone(), source })?;
        let schema: Value = serde_json::from_str(&text).map_err(|source| CompileError::NotJson { path, source })?;
        ("json_schema", Test::JsonSchema(Arc::new(schema_validator(&schema)?)))
    } else if let Some(p) = &e.json_pointer {
        ("json_pointer", Test::JsonPointer { pointer: p.pointer.clone(), equals: p.equals.clone() })
    } else if let Some(l) = &e.length {
        ("length", Test::Length { min: l.min, max: l.max })
    } else if let Some(s) = &e.script {
        ("script", Test::Script { script: s.name, min_share: s.min_share.unwrap_or(0.5) })
    } else if let Some(r) = e.stop_reason {
        let name = serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        ("stop_reason", Test::StopReason(name))
    } else if let Some(on) = e.no_reasoning_leak {
        flag(on);
        ("no_reasoning_leak", Test::NoReasoningLeak)
    } else if let Some(on) = e.reasoning_present {
        flag(on);
        ("reasoning_present", Test::ReasoningPresent)
    } else if let Some(ms) = e.max_latency_ms {
        ("max_latency_ms", Test::MaxLatency(ms))
    } else if let Some(n) = e.max_output_tokens {
        ("max_output_tokens", Test::MaxOutputTokens(n))
    } else if let Some(t) = &e.tool_called {
        ("tool_called", Test::ToolCalled { name: t.name.clone(), input: t.input.clone() })
    } else if let Some(t) = &e.tool_sequence {
        ("tool_sequence", Test::ToolSequence { calls: t.calls.clone(), order: t.order.unwrap_or(SequenceOrder::Exact) })
    } else if let Some(t) = &e.tool_args {
        (
            "tool_args",
            Test::ToolArgs {
                name: t.name.clone(),
                input: t.input.clone().unwrap_or(Value::Object(Default::default())),
            },
        )
    } else if let Some(n) = e.max_turns_used {
        ("max_turns_used", Test::MaxTurnsUsed(n))
    } else if e.judge.is_some() {
        ("judge", Test::Judge(index))
    } else {
        return Err(CompileError::NoCheck);
    };
    Ok(Check { kind, part: e.part.unwrap_or(Part::Final), negate, test })
}

fn schema_validator(schema: &Value) -> Result<jsonschema::Validator, CompileError> {
    jsonschema::validator_for(schema).map_err(|e| CompileError::Schema(e.to_string()))
}

/// A case's `expect` or `snapshot` that cannot be compiled. The loader rejects these;
/// what reaches here is a file that changed since.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CompileError {
    #[error("invalid regex `{pattern}`: {source}")]
    Regex { pattern: String, source: regex::Error },
    #[error("invalid JSON Schema: {0}")]
    Schema(String),
    #[error("failed to read {}: {source}", crate::fs::shown(path))]
    Read { path: PathBuf, source: crate::fs::ReadError },
    #[error("{} is not JSON: {source}", crate::fs::shown(path))]
    NotJson { path: PathBuf, source: serde_json::Error },
    #[error("an expectation without a check")]
    NoCheck,
    #[error(transparent)]
    Redaction(#[from] crate::normalize::RedactionError),
}

/// Evaluates every check against one response; `judge` checks read their grades.
pub(crate) fn evaluate(checks: &[Check], response: &ModelResponse, grades: &SampleGrades) -> Vec<AssertionResult> {
    checks.iter().map(|c| evaluate_one(c, response, grades)).collect()
}

/// A `judge` check, decided by its grade.
fn judged(check: &Check, r: &ModelResponse, grade: Option<&crate::grading::Grade>) -> AssertionResult {
    let (part_name, text) = part_text(check.part, r);
    let Some(grade) = grade else {
        let message = "the grader was not asked (the answer errored)".to_owned();
        return AssertionResult {
            kind: "judge".into(),
            passed: false,
            message,
            looked_at: None,
            errored: true,
            judge: None,
        };
    };
    let note = JudgeNote::of(grade);
    let (passed, errored, message) = match &grade.outcome {
        Ok(d) => {
            let verdict = if d.passed { "passes" } else { "fails" };
            let votes = if d.asked > 1 { format!(", {} of {} grades", d.agreeing, d.asked) } else { String::new() };
            (d.passed, false, format!("{verdict} the rubric (score {:.2}{votes}): {}", d.score, d.reason))
        }
        Err(e) => (false, true, format!("errored: {e}")),
    };
    let looked_at = (!passed).then(|| (part_name.to_owned(), excerpt(&text, 200)));
    AssertionResult { kind: "judge".into(), passed, message, looked_at, errored, judge: Some(note) }
}

fn part_text(part: Part, r: &ModelResponse) -> (&'static str, String) {
    match part {
        Part::Final => ("final", normalize(&r.final_text)),
        Part::Reasoning => ("reasoning", normalize(&r.reasoning)),
        Part::RawText => ("raw_text", normalize(&r.raw_text)),
    }
}

fn evaluate_one(check: &Check, r: &ModelResponse, grades: &SampleGrades) -> AssertionResult {
    let (part_name, text) = part_text(check.part, r);
    // Each test says whether it holds and describes what it looked for, in a phrase
    // that reads after "expected ..." when it fails.
    let (holds, what): (bool, String) = match &check.test {
        Test::Equals(t) => (text == *t, format!("{part_name} to equal {t:?}")),
        Test::Contains(t) => (text.contains(t.as_str()), format!("{part_name} to contain {t:?}")),
        Test::IContains(t) => {
            (text.to_lowercase().contains(t.as_str()), format!("{part_name} to contain {t:?} (any case)"))
        }
        Test::ContainsAny(ts) => {
            (ts.iter().any(|t| text.contains(t.as_str())), format!("{part_name} to contain one of {ts:?}"))
        }
        Test::ContainsAll(ts) => {
            let missing: Vec<&String> = ts.iter().filter(|t| !text.contains(t.as_str())).collect();
            (missing.is_empty(), format!("{part_name} to contain all of {ts:?} (missing {missing:?})"))
        }
        Test::Regex(re) => (re.is_match(&text), format!("{part_name} to match /{}/", re.as_str())),
        Test::StartsWith(t) => (text.starts_with(t.as_str()), format!("{part_name} to start with {t:?}")),
        Test::JsonValid => match parse_json_answer(&text) {
            Ok(_) => (true, format!("{part_name} to be JSON")),
            Err(e) => (false, format!("{part_name} to be JSON ({e})")),
        },
        Test::JsonSchema(validator) => match parse_json_answer(&text) {
            Err(e) => (false, format!("{part_name} to be JSON valid against the schema ({e})")),
            Ok(value) => {
                let errors: Vec<String> =
                    validator.iter_errors(&value).map(|e| format!("{}: {e}", e.instance_path())).take(3).collect();
                (errors.is_empty(), format!("{part_name} to be valid against the schema ({})", errors.join("; ")))
            }
        },
        Test::JsonPointer { pointer, equals } => match parse_json_answer(&text) {
            Err(e) => (false, format!("{part_name} to be JSON with {pointer} = {equals} ({e})")),
            Ok(value) => {
                let found = value.pointer(pointer);
                (found == Some(equals), format!("{pointer} of {part_name} to equal {equals} (found {found:?})"))
            }
        },
        Test::Length { min, max } => {
            let n = text.chars().count() as u64;
            let ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
            (ok, format!("{part_name} length within {min:?}..{max:?} (found {n})"))
        }
        Test::Script { script, min_share } => {
            let share = script_share(&text, *script);
            (
                share >= *min_share,
                format!("at least {min_share:.2} of {part_name}'s letters in {script:?} (found {share:.2})"),
            )
        }
        Test::StopReason(want) => {
            let got = r.stop_reason.as_deref().unwrap_or("none");
            (got == want, format!("stop reason {want} (found {got})"))
        }
        Test::NoReasoningLeak => {
            let marker = LEAK_MARKERS.iter().find(|m| r.final_text.contains(**m));
            let ok = marker.is_none() && !r.flags.leaked();
            let found = match marker {
                Some(m) => format!("{m} in the final answer"),
                None if r.flags.leaked() => format!("{} in the answer channel", r.flags.names().join(", ")),
                None => "none".into(),
            };
            (ok, format!("no reasoning in the answer channel (found {found})"))
        }
        Test::ReasoningPresent => (!r.reasoning.trim().is_empty(), "reasoning to be present".into()),
        Test::MaxLatency(ms) => (r.latency_ms <= *ms, format!("latency at most {ms} ms (found {} ms)", r.latency_ms)),
        Test::MaxOutputTokens(n) => match r.usage {
            Some(u) => (u.output_tokens <= *n, format!("at most {n} output tokens (found {})", u.output_tokens)),
            None => (false, format!("at most {n} output tokens (the server reported no usage)")),
        },
        Test::ToolCalled { name, input } => {
            let ok = r
                .tool_calls
                .iter()
                .any(|c| c.name == *name && input.as_ref().is_none_or(|want| contains_value(&c.input, want)));
            let called: Vec<&str> = r.tool_calls.iter().map(|c| c.name.as_str()).collect();
            let with = input.as_ref().map(|i| format!(" with {i}")).unwrap_or_default();
            (ok, format!("a call to {name}{with} (calls: {called:?})"))
        }
        Test::ToolSequence { calls, order } => {
            let called: Vec<&str> = r.tool_calls.iter().map(|c| c.name.as_str()).collect();
            let ok = match order {
                SequenceOrder::Exact => called == *calls,
                SequenceOrder::InOrder => {
                    let mut rest = called.iter();
                    calls.iter().all(|want| rest.any(|c| c == want))
                }
                SequenceOrder::AnyOrder => {
                    let mut sorted_have = called.clone();
                    sorted_have.sort_unstable();
                    let mut sorted_want: Vec<&str> = calls.iter().map(String::as_str).collect();
                    sorted_want.sort_unstable();
                    sorted_have == sorted_want
                }
            };
            (ok, format!("tool calls {calls:?} ({order:?}; found {called:?})"))
        }
        Test::ToolArgs { name, input } => {
            let of_tool: Vec<&Value> = r.tool_calls.iter().filter(|c| c.name == *name).map(|c| &c.input).collect();
            let ok = !of_tool.is_empty() && of_tool.iter().all(|have| contains_value(have, input));
            (ok, format!("every call to {name} with {input} (inputs: {of_tool:?})"))
        }
        Test::MaxTurnsUsed(n) => {
            let used = r.turns.len().max(1);
            (used <= *n as usize, format!("at most {n} model turns (used {used})"))
        }
        Test::Judge(index) => return judged(check, r, grades.check(*index)),
    };
    let passed = holds != check.negate;
    let message = match (passed, check.negate) {
        (true, false) => format!("ok: {what}"),
        (true, true) => format!("ok: not {what}"),
        (false, false) => format!("expected {what}"),
        (false, true) => format!("expected not {what}"),
    };
    let on_text = !matches!(
        check.test,
        Test::StopReason(_)
            | Test::MaxLatency(_)
            | Test::MaxOutputTokens(_)
            | Test::ToolCalled { .. }
            | Test::ToolSequence { .. }
            | Test::ToolArgs { .. }
            | Test::MaxTurnsUsed(_)
    );
    let looked_at = (!passed && on_text).then(|| (part_name.to_owned(), excerpt(&text, 200)));
    AssertionResult { kind: check.kind.to_owned(), passed, message, looked_at, errored: false, judge: None }
}

/// The first `max` characters of `text`, with "…" when there was more.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

/// Markers that must not survive separation into a final answer.
const LEAK_MARKERS: [&str; 9] = [
    "<reasoning>",
    "</reasoning>",
    "<think>",
    "</think>",
    "<|channel|>",
    "<|message|>",
    "<|start|>",
    "<|end|>",
    "<|return|>",
];

/// An answer parsed as JSON; a surrounding Markdown code fence is allowed, since
/// models often add one.
pub(crate) fn parse_json_answer(text: &str) -> Result<Value, NotJson> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    serde_json::from_str(body.trim()).map_err(NotJson)
}

/// An answer that is not JSON.
#[derive(Debug, thiserror::Error)]
#[error("not JSON: {0}")]
pub(crate) struct NotJson(serde_json::Error);

/// The share of letters written in `script` (0 when there are no letters).
pub(crate) fn script_share(text: &str, script: Script) -> f64 {
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return 0.0;
    }
    let hits = letters.iter().filter(|c| in_script(**c, script)).count();
    hits as f64 / letters.len() as f64
}

fn in_script(c: char, script: Script) -> bool {
    let u = c as u32;
    let han = matches!(u, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F);
    match script {
        Script::Japanese => han || matches!(u, 0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F),
        Script::Han => han,
        Script::Hangul => matches!(u, 0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F),
        Script::Latin => c.is_ascii_alphabetic() || matches!(u, 0x00C0..=0x024F | 0x1E00..=0x1EFF),
        Script::Cyrillic => matches!(u, 0x0400..=0x052F),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{ToolCall, Usage};
    use serde_json::json;

    fn response() -> ModelResponse {
        ModelResponse {
            final_text: "3.9 のほうが大きいです。\r\n".into(),
            reasoning: "Compare 3.11 and 3.90.".into(),
            raw_text: "<reasoning>Compare 3.11 and 3.90.</reasoning>3.9 のほうが大きいです。".into(),
            stop_reason: Some("end_turn".into()),
            tool_calls: vec![ToolCall {
                id: "t1".into(),
                name: "get_weather".into(),
                input: json!({"city": "Tokyo", "unit": "c"}),
            }],
            usage: Some(Usage { input_tokens: 70, output_tokens: 40 }),
            latency_ms: 800,
            ..ModelResponse::default()
        }
    }

    fn eval_on(e: Value, r: &ModelResponse) -> AssertionResult {
        let e: Expectation = serde_json::from_value(e).unwrap();
        evaluate(&compile(&[e], Path::new(".")).unwrap(), r, &SampleGrades::default()).remove(0)
    }

    /// Passes on the response above, and fails on the altered expectation.
    fn both(pass: Value, fail: Value) {
        let p = eval_on(pass.clone(), &response());
        assert!(p.passed, "{pass} should pass: {}", p.message);
        let f = eval_on(fail.clone(), &response());
        assert!(!f.passed, "{fail} should fail: {}", f.message);
        assert!(f.message.starts_with("expected"), "{}", f.message);
    }

    #[test]
    fn text_checks() {
        both(json!({"equals": "3.9 のほうが大きいです。"}), json!({"equals": "3.11"}));
        both(json!({"contains": "3.9"}), json!({"contains": "3.11"}));
        both(
            json!({"icontains": "COMPARE", "part": "reasoning"}),
            json!({"icontains": "CONTRAST", "part": "reasoning"}),
        );
        both(json!({"contains_any": ["x", "3.9"]}), json!({"contains_any": ["x", "y"]}));
        both(json!({"contains_all": ["3.9", "大きい"]}), json!({"contains_all": ["3.9", "小さい"]}));
        both(json!({"regex": "^3\\.9"}), json!({"regex": "^3\\.11"}));
        both(json!({"starts_with": "3.9"}), json!({"starts_with": "大"}));
        both(json!({"regex": "<reasoning>", "part": "raw_text"}), json!({"regex": "<think>", "part": "raw_text"}));
    }

    #[test]
    fn negation_inverts() {
        both(json!({"contains": "3.11", "not": true}), json!({"contains": "3.9", "not": true}));
        let r = eval_on(json!({"contains": "3.9", "not": true}), &response());
        assert_eq!(r.message, "expected not final to contain \"3.9\"");
    }

    #[test]
    fn json_checks() {
        let json_answer =
            ModelResponse { final_text: "```json\n{\"answer\": 3.9}\n```".into(), ..ModelResponse::default() };
        assert!(eval_on(json!({"json_valid": true}), &json_answer).passed);
        assert!(!eval_on(json!({"json_valid": true}), &response()).passed);
        assert!(eval_on(json!({"json_valid": false}), &response()).passed);
        let schema = json!({"json_schema": {"type": "object", "required": ["answer"]}});
        assert!(eval_on(schema.clone(), &json_answer).passed);
        assert!(!eval_on(json!({"json_schema": {"type": "object", "required": ["missing"]}}), &json_answer).passed);
        assert!(!eval_on(schema, &response()).passed);
        assert!(eval_on(json!({"json_pointer": {"pointer": "/answer", "equals": 3.9}}), &json_answer).passed);
        assert!(!eval_on(json!({"json_pointer": {"pointer": "/answer", "equals": 3.11}}), &json_answer).passed);
    }

    #[test]
    fn json_schema_file_is_read_relative_to_the_scenario() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.json"), r#"{"type": "array"}"#).unwrap();
        let e: Expectation = serde_json::from_value(json!({"json_schema_file": "s.json"})).unwrap();
        let checks = compile(&[e], dir.path()).unwrap();
        let r = ModelResponse { final_text: "[1]".into(), ..ModelResponse::default() };
        assert!(evaluate(&checks, &r, &SampleGrades::default())[0].passed);
        let r = ModelResponse { final_text: "{}".into(), ..ModelResponse::default() };
        assert!(!evaluate(&checks, &r, &SampleGrades::default())[0].passed);
        let missing: Expectation = serde_json::from_value(json!({"json_schema_file": "gone.json"})).unwrap();
        assert!(compile(&[missing], dir.path()).is_err());
    }

    #[test]
    fn length_and_script() {
        both(json!({"length": {"min": 5, "max": 20}}), json!({"length": {"max": 5}}));
        both(json!({"script": {"name": "japanese", "min_share": 0.8}}), json!({"script": {"name": "latin"}}));
        assert_eq!(script_share("abc", Script::Japanese), 0.0);
        assert_eq!(script_share("123", Script::Latin), 0.0);
        assert!((script_share("カタカナとkanji", Script::Japanese) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn response_checks() {
        both(json!({"stop_reason": "end_turn"}), json!({"stop_reason": "max_tokens"}));
        both(json!({"reasoning_present": true}), json!({"reasoning_present": false}));
        both(json!({"max_latency_ms": 1000}), json!({"max_latency_ms": 500}));
        both(json!({"max_output_tokens": 40}), json!({"max_output_tokens": 39}));
        both(
            json!({"tool_called": {"name": "get_weather", "input": {"city": "Tokyo"}}}),
            json!({"tool_called": {"name": "get_weather", "input": {"city": "Paris"}}}),
        );
        both(json!({"tool_called": {"name": "get_weather"}}), json!({"tool_called": {"name": "get_time"}}));
    }

    #[test]
    fn agent_checks() {
        let mut r = response();
        r.tool_calls.push(ToolCall { id: "t2".into(), name: "get_time".into(), input: json!({"zone": "JST"}) });
        r.turns = vec![Default::default(), Default::default()];
        let check = |e: Value| eval_on(e, &r).passed;
        assert!(check(json!({"tool_sequence": {"calls": ["get_weather", "get_time"]}})));
        assert!(!check(json!({"tool_sequence": {"calls": ["get_time", "get_weather"]}})));
        assert!(check(json!({"tool_sequence": {"calls": ["get_time", "get_weather"], "order": "any_order"}})));
        assert!(check(json!({"tool_sequence": {"calls": ["get_time"], "order": "in_order"}})));
        assert!(!check(json!({"tool_sequence": {"calls": ["get_time", "get_weather"], "order": "in_order"}})));
        assert!(!check(json!({"tool_sequence": {"calls": ["get_weather"], "order": "any_order"}})));
        assert!(check(json!({"tool_args": {"name": "get_weather", "input": {"city": "Tokyo"}}})));
        assert!(!check(json!({"tool_args": {"name": "get_weather", "input": {"city": "Paris"}}})));
        assert!(!check(json!({"tool_args": {"name": "get_news", "input": {}}})));
        assert!(check(json!({"max_turns_used": 2})));
        assert!(!check(json!({"max_turns_used": 1})));
    }

    #[test]
    fn no_reasoning_leak_looks_at_flags_and_the_final_text() {
        assert!(eval_on(json!({"no_reasoning_leak": true}), &response()).passed);
        let mut leaked = response();
        leaked.flags.tags = true;
        let result = eval_on(json!({"no_reasoning_leak": true}), &leaked);
        assert!(!result.passed);
        assert!(result.message.contains("tags in the answer channel"), "{}", result.message);
        let mut marker = response();
        marker.final_text = "ok<|end|>".into();
        assert!(!eval_on(json!({"no_reasoning_leak": true}), &marker).passed);
    }

    #[test]
    fn missing_usage_fails_token_limits() {
        let r = eval_on(json!({"max_output_tokens": 10}), &ModelResponse::default());
        assert!(!r.passed && r.message.contains("no usage"), "{}", r.message);
    }

    #[test]
    fn a_judge_check_is_decided_by_its_grade_and_a_failed_grader_errors_it() {
        use crate::grading::{Cost, Decision, Grade, GradeError};
        let e: Expectation = serde_json::from_value(json!({"judge": {"rubric": "Says 3.9."}})).unwrap();
        let checks = compile(&[e], Path::new(".")).unwrap();
        let graded = |outcome| SampleGrades {
            checks: vec![(
                0,
                Grade { outcome, reasoning: "thought".into(), model: "big".into(), cost: Cost::default() },
            )],
            equivalence: None,
        };
        let decision = |passed| Decision { passed, score: 0.8, reason: "why".into(), agreeing: 2, asked: 3, shown: 0 };
        let pass = &evaluate(&checks, &response(), &graded(Ok(decision(true))))[0];
        assert!(pass.passed && !pass.errored, "{pass:?}");
        assert_eq!(pass.message, "passes the rubric (score 0.80, 2 of 3 grades): why");
        assert_eq!(pass.judge.as_ref().unwrap().reasoning, "thought");
        let fail = &evaluate(&checks, &response(), &graded(Ok(decision(false))))[0];
        assert!(!fail.passed && !fail.errored && fail.looked_at.is_some(), "{fail:?}");
        let error = &evaluate(
            &checks,
            &response(),
            &graded(Err(GradeError::Call { message: "throttled".into(), retryable: true })),
        )[0];
        assert!(!error.passed && error.errored, "{error:?}");
        assert!(error.message.contains("throttled"), "{}", error.message);
        let none = &evaluate(&checks, &response(), &SampleGrades::default())[0];
        assert!(none.errored);
    }
}
