//! Every secret value the tool has seen, and [`redact`], which removes them from any
//! text. A server may echo a request header back in an error body; a model may repeat
//! what it was sent. Every response passes through here before anything prints or
//! stores it, so no route leads a key to a file or output.
//!
//! The values come from two places: the credential variables, read once at start
//! ([`init_from_env`]), and whatever the credential providers resolve while the run goes
//! on ([`add`]): keys from a profile, SSO, a web identity or a container role, and the
//! passwords of endpoint URLs. A stream carries text in pieces, so a secret may
//! arrive split over two events: [`redact_stream`] looks across them too.

use std::borrow::Cow;
use std::sync::RwLock;

use serde_json::Value;

/// Every variable that carries a credential the tool or the AWS SDK reads.
pub(crate) const CREDENTIAL_VARS: [&str; 5] =
    ["AWS_BEARER_TOKEN_BEDROCK", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"];

/// Shorter values are not redacted: they would blank out ordinary words, and no real
/// key is that short.
const MIN_LEN: usize = 8;

/// `(what it is, its value)`, longest value first so that a key that contains
/// another is replaced whole.
static SECRETS: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Reads the credential variables (after `.env` is loaded).
pub(crate) fn init_from_env() {
    for name in CREDENTIAL_VARS {
        if let Ok(value) = std::env::var(name) {
            add(name, &value);
        }
    }
}

/// Remembers a secret value, under a name that says what it was (`AWS_SESSION_TOKEN`,
/// `a password in an endpoint URL`), from then on redacted wherever it appears.
pub(crate) fn add(name: &str, value: &str) {
    let value = value.trim();
    if value.len() < MIN_LEN {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    if secrets.iter().any(|(_, known)| known == value) {
        return;
    }
    secrets.push((name.to_owned(), value.to_owned()));
    secrets.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
}

fn with_secrets<T>(f: impl FnOnce(&[(String, String)]) -> T) -> T {
    f(&SECRETS.read().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// `text` with every secret value replaced by `[redacted NAME]`.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    with_secrets(|secrets| redact_with(secrets, text))
}

fn marker(name: &str) -> String {
    format!("[redacted {name}]")
}

fn redact_with<'a>(secrets: &[(String, String)], text: &'a str) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for (name, value) in secrets {
        if out.contains(value.as_str()) {
            out = Cow::Owned(out.replace(value.as_str(), &marker(name)));
        }
    }
    out
}

/// Redacts every string in a JSON value, in place.
pub(crate) fn redact_json(value: &mut Value) {
    match value {
        Value::String(s) => redact_in_place(s),
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

/// Redacts a string in place.
pub(crate) fn redact_in_place(text: &mut String) {
    if let Cow::Owned(clean) = redact(text) {
        *text = clean;
    }
}

/// Redacts the documents of one stream (its events, in order): each string on its
/// own, and the strings that stand at the same place in successive documents (the
/// deltas of one answer, of its reasoning, of a tool call's arguments) as one text, so
/// that a secret sent in two pieces is found too. Its first piece becomes the marker,
/// and the rest of it is dropped from the pieces after. Says whether anything changed.
pub(crate) fn redact_stream(documents: &mut [Value]) -> bool {
    with_secrets(|secrets| redact_stream_with(secrets, documents))
}

fn redact_stream_with(secrets: &[(String, String)], documents: &mut [Value]) -> bool {
    if secrets.is_empty() {
        return false;
    }
    // Each string leaf's place (the stream it belongs to and its path of keys and
    // indices) and JSON pointer, by document.
    let mut places: Vec<(String, usize, String)> = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let stream = stream_of(document);
        leaves(document, &mut String::new(), &mut String::new(), &mut |path, pointer| {
            places.push((format!("{stream}{path}"), index, pointer));
        });
    }
    // Stable: within one place, documents stay in stream order.
    places.sort_by(|a, b| a.0.cmp(&b.0));
    let mut changed = false;
    for group in places.chunk_by(|a, b| a.0 == b.0) {
        let mut pieces: Vec<String> = group
            .iter()
            .map(|(_, index, pointer)| {
                documents[*index].pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
            })
            .collect();
        if !redact_pieces(secrets, &mut pieces) {
            continue;
        }
        changed = true;
        for ((_, index, pointer), piece) in group.iter().zip(pieces) {
            if let Some(slot) = documents[*index].pointer_mut(pointer) {
                *slot = Value::String(piece);
            }
        }
    }
    changed
}

/// Which of a response's interleaved streams a document continues: the fields that
/// tell them apart (Responses' `type`, `item_id` and indices, Converse's
/// `contentBlockIndex`), at its top or one object down (chat's tool calls are told
/// apart by [`leaves`]). The reasoning and the answer
/// of one response are two texts, so a secret split across one of them is joined
/// whatever the other sends between its pieces.
fn stream_of(document: &Value) -> String {
    const KEYS: [&str; 6] = ["type", "item_id", "output_index", "content_index", "summary_index", "contentBlockIndex"];
    let mut stream = String::new();
    let Value::Object(top) = document else { return stream };
    let children = top.values().filter_map(Value::as_object);
    for object in std::iter::once(top).chain(children) {
        for key in KEYS {
            if let Some(value) = object.get(key).filter(|v| !v.is_object() && !v.is_array()) {
                stream.push_str(&format!("{key}={value};"));
            }
        }
    }
    stream
}

/// Calls `found(path, pointer)` for every string in `value`. The path names the place
/// (an array element that says its own `index`, as a streamed tool call does, by that
/// index, since calls interleave at one array position), the pointer finds it again.
fn leaves(value: &Value, path: &mut String, pointer: &mut String, found: &mut impl FnMut(String, String)) {
    let mut descend = |item: &Value, place: String, step: String, path: &mut String, pointer: &mut String| {
        let (path_len, pointer_len) = (path.len(), pointer.len());
        path.push_str(&place);
        pointer.push_str(&step);
        leaves(item, path, pointer, found);
        path.truncate(path_len);
        pointer.truncate(pointer_len);
    };
    match value {
        Value::String(_) => found(path.clone(), pointer.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let place = match item.get("index").filter(|v| v.is_u64() || v.is_string()) {
                    Some(index) => format!("/index={index}"),
                    None => format!("/{i}"),
                };
                descend(item, place, format!("/{i}"), path, pointer);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let step = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
                descend(item, step.clone(), step, path, pointer);
            }
        }
        _ => {}
    }
}

/// Redacts pieces of one text, each alone and then across their joins. Says whether
/// anything changed.
pub(crate) fn redact_pieces(secrets: &[(String, String)], pieces: &mut [String]) -> bool {
    let mut changed = false;
    for piece in pieces.iter_mut() {
        if let Cow::Owned(clean) = redact_with(secrets, piece) {
            *piece = clean;
            changed = true;
        }
    }
    if pieces.len() < 2 {
        return changed;
    }
    let joined = pieces.concat();
    // What is left spans two pieces or more: byte ranges of the joined text.
    let mut spans: Vec<(usize, usize, &str)> = Vec::new();
    for (name, value) in secrets {
        spans.extend(joined.match_indices(value.as_str()).map(|(start, v)| (start, start + v.len(), name.as_str())));
    }
    if spans.is_empty() {
        return changed;
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize, &str)> = Vec::new();
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.0 < last.1 => last.1 = last.1.max(span.1),
            _ => merged.push(span),
        }
    }
    let mut offset = 0;
    for piece in pieces.iter_mut() {
        let (start, end) = (offset, offset + piece.len());
        offset = end;
        if !merged.iter().any(|s| s.0 < end && s.1 > start) {
            continue;
        }
        let mut out = String::new();
        let mut at = start;
        for &(s, e, name) in merged.iter().filter(|s| s.0 < end && s.1 > start) {
            if s > at {
                out.push_str(&joined[at..s]);
            }
            if s >= start {
                out.push_str(&marker(name));
            }
            at = e.min(end);
        }
        if at < end {
            out.push_str(&joined[at..end]);
        }
        *piece = out;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets() -> Vec<(String, String)> {
        vec![
            ("OPENAI_API_KEY".to_owned(), "sk-canary-1234".to_owned()),
            ("AWS_SESSION_TOKEN".to_owned(), "tok-5678-abcd".to_owned()),
        ]
    }

    #[test]
    fn every_credential_value_is_replaced_wherever_it_stands() {
        let text = "401: header Authorization: Bearer sk-canary-1234; session tok-5678-abcd, again sk-canary-1234";
        assert_eq!(
            redact_with(&secrets(), text),
            "401: header Authorization: Bearer [redacted OPENAI_API_KEY]; session [redacted AWS_SESSION_TOKEN], again [redacted OPENAI_API_KEY]"
        );
        assert!(matches!(redact_with(&secrets(), "nothing secret"), Cow::Borrowed(_)));
    }

    /// Issue 25: a secret split across two stream events was stored in two pieces.
    #[test]
    fn a_secret_in_pieces_is_found_across_them() {
        let mut pieces = vec!["key: sk-can".to_owned(), "ary-".to_owned(), "1234 and tok-5678-abcd".to_owned()];
        assert!(redact_pieces(&secrets(), &mut pieces));
        assert_eq!(pieces, ["key: [redacted OPENAI_API_KEY]", "", " and [redacted AWS_SESSION_TOKEN]"]);
        let mut clean = vec!["sk-can".to_owned(), "dy".to_owned()];
        assert!(!redact_pieces(&secrets(), &mut clean));
        assert_eq!(clean, ["sk-can", "dy"]);
    }

    #[test]
    fn stream_documents_are_joined_by_the_place_of_each_string() {
        let chunk = |text: &str| json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]});
        let mut documents = vec![chunk("The key is tok-56"), json!({"usage": {"n": 1}}), chunk("78-abcd, done")];
        assert!(redact_stream_with(&secrets(), &mut documents));
        assert_eq!(documents[0]["choices"][0]["delta"]["content"], "The key is [redacted AWS_SESSION_TOKEN]");
        assert_eq!(documents[2]["choices"][0]["delta"]["content"], ", done");
        assert_eq!(documents[0]["id"], "c1", "other places untouched");
    }

    #[test]
    fn interleaved_streams_are_joined_each_on_its_own() {
        let delta = |kind: &str, item: &str, text: &str| json!({"type": kind, "item_id": item, "delta": text});
        let mut documents = vec![
            delta("response.reasoning_text.delta", "r1", "the token: tok-56"),
            delta("response.output_text.delta", "m1", "Hello"),
            delta("response.reasoning_text.delta", "r1", "78-abcd."),
        ];
        assert!(redact_stream_with(&secrets(), &mut documents));
        assert_eq!(documents[0]["delta"], "the token: [redacted AWS_SESSION_TOKEN]");
        assert_eq!(documents[1]["delta"], "Hello");
        assert_eq!(documents[2]["delta"], ".");
    }

    /// As in tests/fixtures/wire/cases/chat-stream-two-tool-calls.json: two calls'
    /// arguments interleave at the same array position, told apart by `index`.
    #[test]
    fn interleaved_tool_calls_are_joined_by_their_index() {
        let call = |index: u64, arguments: &str| json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}}]});
        let mut documents = vec![call(0, "{\"key\": \"tok-56"), call(1, "{\"tz\":"), call(0, "78-abcd\"}")];
        assert!(redact_stream_with(&secrets(), &mut documents));
        let arguments = |d: &Value| d["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].clone();
        assert_eq!(arguments(&documents[0]), "{\"key\": \"[redacted AWS_SESSION_TOKEN]");
        assert_eq!(arguments(&documents[1]), "{\"tz\":");
        assert_eq!(arguments(&documents[2]), "\"}");
    }

    #[test]
    fn a_longer_secret_that_holds_a_shorter_one_is_replaced_whole() {
        let secrets = [("LONG".to_owned(), "abcdefgh-ijkl".to_owned()), ("SHORT".to_owned(), "abcdefgh".to_owned())];
        assert_eq!(redact_with(&secrets, "x abcdefgh-ijkl y"), "x [redacted LONG] y");
    }
}
