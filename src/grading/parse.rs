//! Reading a grader's verdict tolerantly: reasoning tags and code fences are stripped,
//! prose around the JSON object is skipped, and `pass` and `score` may come as text.
//! What cannot be read is an error that quotes the answer, never a guess.

use serde_json::Value;

use super::{GradeError, Vote};
use crate::separate::Separator;

/// The verdict in a grader's final answer.
pub(crate) fn vote(answer: &str) -> Result<Vote, GradeError> {
    // The transports separate reasoning already; a grader that leaks tags into its
    // answer channel is read the same way.
    let mut separator = Separator::new();
    separator.push_text(answer);
    let text = separator.finish(false).final_text;
    let Some(object) = find_object(&text) else {
        return Err(unparseable("no JSON object", &text));
    };
    read(&object).map_err(|why| unparseable(&why, &text))
}

fn unparseable(why: &str, text: &str) -> GradeError {
    let excerpt: String = text.trim().chars().take(200).collect();
    GradeError::Unparseable { why: why.to_owned(), excerpt }
}

/// The first JSON object in `text` that carries a verdict field (a fence's language
/// tag and the fence itself are just text before and after it).
fn find_object(text: &str) -> Option<serde_json::Map<String, Value>> {
    let mut fallback = None;
    for (i, _) in text.match_indices('{') {
        let mut stream = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(Value::Object(map))) = stream.next() {
            if map.contains_key("pass") || map.contains_key("score") {
                return Some(map);
            }
            fallback.get_or_insert(map);
        }
    }
    fallback
}

fn read(map: &serde_json::Map<String, Value>) -> Result<Vote, String> {
    let pass = match map.get("pass") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "pass" | "passed" | "yes" => Some(true),
            "false" | "fail" | "failed" | "no" => Some(false),
            other => return Err(format!("`pass` is {other:?}, not true or false")),
        },
        Some(other) => return Err(format!("`pass` is {other}, not true or false")),
    };
    let score = match map.get("score") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => Some(s.trim().parse::<f64>().map_err(|_| format!("`score` is {s:?}, not a number"))?),
        Some(other) => return Err(format!("`score` is {other}, not a number")),
    };
    if let Some(s) = score
        && !(0.0..=1.0).contains(&s)
    {
        return Err(format!("`score` is {s}, outside 0 to 1"));
    }
    let (pass, score) = match (pass, score) {
        (Some(p), Some(s)) => (p, s),
        (Some(p), None) => (p, if p { 1.0 } else { 0.0 }),
        (None, Some(s)) => (s >= 0.5, s),
        (None, None) => return Err("neither `pass` nor `score`".to_owned()),
    };
    let reason = match map.get("reason") {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Ok(Vote { pass, score, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_verdict_is_read() {
        let v = vote(r#"{"pass": true, "score": 0.9, "reason": "Names Paris."}"#).unwrap();
        assert_eq!(v, Vote { pass: true, score: 0.9, reason: "Names Paris.".into() });
    }

    #[test]
    fn fences_tags_and_prose_around_it_are_skipped() {
        let text = "<reasoning>Check the rubric {carefully}.</reasoning>Here is my verdict:\n```json\n{\"pass\": \"FAIL\", \"score\": \"0.2\", \"reason\": \"Wrong city.\"}\n```\nDone.";
        assert_eq!(vote(text).unwrap(), Vote { pass: false, score: 0.2, reason: "Wrong city.".into() });
        let think = "<think>{\"pass\": true}</think>{\"pass\": false}";
        assert!(!vote(think).unwrap().pass);
    }

    #[test]
    fn a_missing_half_is_derived_from_the_other() {
        assert_eq!(vote(r#"{"score": 0.4}"#).unwrap(), Vote { pass: false, score: 0.4, reason: String::new() });
        assert_eq!(vote(r#"{"pass": true}"#).unwrap().score, 1.0);
    }

    #[test]
    fn what_is_not_a_verdict_is_an_error_that_quotes_it() {
        for (text, why) in [
            ("I think it passes.", "no JSON object"),
            (r#"{"verdict": "yes"}"#, "neither `pass` nor `score`"),
            (r#"{"pass": "maybe"}"#, "`pass` is \"maybe\""),
            (r#"{"pass": true, "score": 7}"#, "outside 0 to 1"),
            (r#"{"pass": true, "score": [1]}"#, "not a number"),
            (r#"{"pass": true"#, "no JSON object"),
        ] {
            match vote(text) {
                Err(GradeError::Unparseable { why: got, excerpt }) => {
                    assert!(got.contains(why), "{text}: {got}");
                    assert!(!excerpt.is_empty());
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_answer_reads_or_says_why(text in "\\PC{0,80}") {
            let _ = vote(&text);
        }
    }
}
