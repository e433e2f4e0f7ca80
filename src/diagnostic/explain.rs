//! Turns JSON Schema validation errors into sentences a scenario author understands.
//!
//! The jsonschema crate's messages are precise but speak schema ("Additional
//! properties are not allowed"); here each error becomes the pointer of the value to
//! blame, whether its key or its value is the place to show, and a sentence.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

/// One explained schema error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explained {
    pub(crate) pointer: String,
    /// Point at the key (an unknown field) rather than at the value.
    pub(crate) at_key: bool,
    pub(crate) message: String,
}

/// Explains one error. `root` is the schema document the validator was built from,
/// used to list what a failing object allows.
pub(crate) fn explain(error: &ValidationError<'_>, root: &Value) -> Vec<Explained> {
    let pointer = error.instance_path().as_str().to_owned();
    let instance = error.instance().as_ref();
    let one = |message: String| vec![Explained { pointer: pointer.clone(), at_key: false, message }];
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_properties(root, error.schema_path().as_str());
            unexpected
                .iter()
                .map(|key| Explained {
                    pointer: format!("{pointer}/{}", super::escape_token(key)),
                    at_key: true,
                    message: unknown_field(key, &allowed),
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            one(format!("missing required field `{name}`"))
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => type_name(*t).to_owned(),
                TypeKind::Multiple(set) => set.iter().map(type_name).collect::<Vec<_>>().join(" or "),
            };
            one(format!("expected {expected}, found {}", describe(instance)))
        }
        ValidationErrorKind::Enum { options } => {
            let choices: Vec<String> = options.as_array().into_iter().flatten().map(plain).collect();
            let mut message = format!("`{}` is not one of: {}", plain(instance), choices.join(", "));
            if let Some(close) = closest(&plain(instance), choices.iter().map(String::as_str)) {
                message.push_str(&format!("; did you mean `{close}`?"));
            }
            one(message)
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            explain_alternatives(&pointer, instance, context, root)
        }
        ValidationErrorKind::MinLength { limit: 1 } => one("must not be empty".into()),
        ValidationErrorKind::MinItems { limit } => {
            one(format!("needs at least {limit} item{}", if *limit == 1 { "" } else { "s" }))
        }
        ValidationErrorKind::MinProperties { limit: 1 } => one("must not be empty".into()),
        ValidationErrorKind::Pattern { pattern } => {
            one(format!("`{}` does not have the required form (regex `{pattern}`)", plain(instance)))
        }
        _ => one(error.to_string()),
    }
}

/// anyOf/oneOf: when exactly one alternative has the right shape and fails deeper
/// down, its errors are the useful ones; otherwise list what would have been accepted.
fn explain_alternatives(
    pointer: &str,
    instance: &Value,
    context: &[Vec<ValidationError<'static>>],
    root: &Value,
) -> Vec<Explained> {
    let deeper: Vec<&Vec<ValidationError<'static>>> = context
        .iter()
        .filter(|errors| !errors.is_empty() && errors.iter().all(|e| e.instance_path().as_str() != pointer))
        .collect();
    if deeper.len() == 1 {
        return deeper[0].iter().flat_map(|e| explain(e, root)).collect();
    }
    let mut accepted = Vec::new();
    let mut constants = Vec::new();
    for errors in context {
        for e in errors.iter().filter(|e| e.instance_path().as_str() == pointer) {
            let form = match e.kind() {
                ValidationErrorKind::Constant { expected_value } => {
                    constants.push(plain(expected_value));
                    plain(expected_value)
                }
                ValidationErrorKind::Required { property } => {
                    format!("{{{}: ...}}", property.as_str().unwrap_or_default())
                }
                ValidationErrorKind::Type { kind: TypeKind::Single(t) } => {
                    match single_required(root, e.schema_path().as_str()) {
                        Some(key) => format!("{{{key}: ...}}"),
                        None => type_name(*t).to_owned(),
                    }
                }
                _ => continue,
            };
            if !accepted.contains(&form) {
                accepted.push(form);
            }
        }
    }
    let mut message = if accepted.is_empty() {
        format!("{} is not valid here", describe(instance))
    } else if constants.len() == accepted.len() && instance.is_string() {
        format!("`{}` is not one of: {}", plain(instance), accepted.join(", "))
    } else {
        format!("{} is not valid here; expected one of: {}", describe(instance), accepted.join(", "))
    };
    if let Some(word) = instance.as_str()
        && let Some(close) = closest(word, constants.iter().map(String::as_str))
    {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    vec![Explained { pointer: pointer.to_owned(), at_key: false, message }]
}

/// For an alternative that is an object with one required key (an externally
/// tagged enum variant such as `{extract: ...}`), that key.
fn single_required(root: &Value, schema_path: &str) -> Option<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    match root.pointer(parent)?.get("required")?.as_array()?.as_slice() {
        [only] => only.as_str().map(str::to_owned),
        _ => None,
    }
}

fn unknown_field(key: &str, allowed: &[String]) -> String {
    let mut message = format!("unknown field `{key}`");
    if let Some(close) = closest(key, allowed.iter().map(String::as_str)) {
        message.push_str(&format!("; did you mean `{close}`?"));
    } else if !allowed.is_empty() {
        message.push_str(&format!("; expected one of: {}", allowed.join(", ")));
    }
    message
}

/// The property names of the schema object that holds the failing keyword.
fn allowed_properties(root: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    root.pointer(parent)
        .and_then(|node| node.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d > 0 && *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn type_name(t: JsonType) -> &'static str {
    match t {
        JsonType::Null => "null",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Number => "a number",
        JsonType::String => "a string",
        JsonType::Array => "a list",
        JsonType::Object => "a mapping",
    }
}

/// A short description of a value for "found ..." phrases.
pub(crate) fn describe(value: &Value) -> String {
    let shown = plain(value);
    let shown =
        if shown.chars().count() > 40 { format!("{}...", shown.chars().take(40).collect::<String>()) } else { shown };
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => format!("the boolean `{shown}`"),
        Value::Number(_) => format!("the number `{shown}`"),
        Value::String(_) => format!("the string `{shown}`"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// A value as a user wrote it: strings without JSON quotes.
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::validators;
    use serde_json::json;

    fn explain_all(instance: Value) -> Vec<(String, bool, String)> {
        let v = validators();
        v.file
            .iter_errors(&instance)
            .flat_map(|e| explain(&e, &v.root))
            .map(|e| (e.pointer, e.at_key, e.message))
            .collect()
    }

    #[test]
    fn unknown_field_suggests_the_closest_name() {
        let e = explain_all(json!({"name": "a", "params": {"temprature": 1}}));
        assert_eq!(
            e,
            [("/params/temprature".into(), true, "unknown field `temprature`; did you mean `temperature`?".into())]
        );
    }

    #[test]
    fn unknown_field_far_from_any_name_lists_the_choices() {
        let e = explain_all(json!({"name": "a", "endpoints": {"zzz": "x"}}));
        assert_eq!(
            e[0].2,
            "unknown field `zzz`; expected one of: bedrock_runtime, openai_base_url, responses_base_url"
        );
    }

    #[test]
    fn wrong_type_says_what_was_found() {
        let e = explain_all(json!({"name": "a", "samples": "three"}));
        assert_eq!(e, [("/samples".into(), false, "expected an integer, found the string `three`".into())]);
    }

    #[test]
    fn enum_mismatch_lists_choices_and_suggests() {
        let e = explain_all(json!({"name": "a", "api": "chat-streem"}));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].2.starts_with("`chat-streem` is not one of: converse, converse-stream, chat, chat-stream, invoke, invoke-stream, responses, responses-stream, agent"),
            "{e:?}"
        );
        assert!(e[0].2.ends_with("did you mean `chat-stream`?"), "{e:?}");
    }

    #[test]
    fn policy_alternatives_are_listed() {
        let e = explain_all(json!({"name": "a", "snapshot": {"final": "exactly"}}));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "/snapshot/final");
        assert!(e[0].2.contains("exact") && e[0].2.contains("{extract: ...}"), "{e:?}");
    }
}
