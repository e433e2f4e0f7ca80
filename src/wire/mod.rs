//! The wire format of recorded exchanges, and the loopback server that replays them.
//!
//! An exchange is stored at the level the wire carries it: a JSON body, ConverseStream
//! eventstream frames (as exact bytes or as events to encode), or SSE payloads, with the
//! byte chunks ("writes") it arrived in when those matter. This is the shape of the wire
//! corpus the conformance tests use, and of the interactions inside cassettes. The main
//! types are [`WireCase`], [`WireResponse`] and [`server::WireServer`].

pub(crate) mod eventstream;
pub mod server;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::Api;

/// One recorded (or hand-written) exchange with its expected outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireCase {
    pub id: String,
    pub api: Api,
    pub model: String,
    /// The request body as it was sent, for reference.
    pub(crate) request: Value,
    pub(crate) provenance: Provenance,
    pub response: WireResponse,
    /// What a correct engine extracts from the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
}

/// Where an exchange comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Provenance {
    pub(crate) kind: ProvenanceKind,
    pub(crate) source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) notes: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ProvenanceKind {
    /// Real traffic captured from a server.
    Recorded,
    /// Hand-written from the documented wire format.
    Synthetic,
    /// The answers of an Amazon Bedrock batch inference job, from its output files.
    Batch,
}

/// A request as the engine sends it: what matching compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireRequest {
    pub(crate) method: String,
    /// The path below the endpoint (`/chat/completions`, `/model/<id>/converse`).
    pub(crate) path: String,
    pub(crate) body: Value,
    /// SHA-256 of the API and the body in canonical JSON (sorted keys): a cassette
    /// matches a case when the case would send the same request.
    pub(crate) hash: String,
}

/// An HTTP response as the wire carried it. Exactly one body field is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A whole JSON body (Converse, chat, and every error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// Exact `application/vnd.amazon.eventstream` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eventstream_base64: Option<String>,
    /// Eventstream frames to encode, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<WireEvent>>,
    /// SSE data payloads, one `data: <payload>` event each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<Vec<String>>,
    /// The exact SSE body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_raw: Option<String>,
    /// The exact byte chunks the body arrived in; when present they are the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<Vec<String>>,
}

/// One ConverseStream frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEvent {
    /// `:event-type` (or `:exception-type` for exceptions), e.g. `contentBlockDelta`.
    #[serde(rename = "type")]
    pub(crate) event_type: String,
    /// `event` (the default) or `exception`.
    #[serde(default = "default_message_type")]
    pub(crate) message_type: String,
    pub(crate) payload: Value,
}

fn default_message_type() -> String {
    "event".to_owned()
}

/// A wire response that cannot be turned into bytes.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("invalid base64 in {field}: {source}")]
    Base64 { field: &'static str, source: base64::DecodeError },
    #[error("cannot encode eventstream frame {index}: {source}")]
    Frame { index: usize, source: aws_smithy_eventstream::error::Error },
}

impl WireResponse {
    /// The output tokens the response says it used, wherever its API says it (Converse
    /// `usage.outputTokens`, chat and InvokeModel `usage.completion_tokens`, Responses
    /// `usage.output_tokens`), in its body or in its events; `None` when it says none.
    pub(crate) fn output_tokens(&self) -> Option<u64> {
        let mut found: Option<u64> = None;
        let mut look = |v: &Value| {
            let usage = v.get("usage").or_else(|| v.get("response").and_then(|r| r.get("usage")));
            let n = usage.and_then(|u| {
                ["outputTokens", "completion_tokens", "output_tokens"].iter().find_map(|k| u.get(*k)?.as_u64())
            });
            if let Some(n) = n {
                found = Some(found.map_or(n, |f| f.max(n)));
            }
        };
        self.json.iter().for_each(&mut look);
        for event in self.events.iter().flatten() {
            look(&event.payload);
            // InvokeModel's stream: each chunk's JSON is base64 under `bytes`.
            let bytes = event.payload.get("bytes").and_then(Value::as_str).and_then(|b| BASE64.decode(b).ok());
            if let Some(Ok(chunk)) = bytes.map(|b| serde_json::from_slice::<Value>(&b)) {
                look(&chunk);
            }
        }
        for payload in self.sse.iter().flatten() {
            if let Ok(v) = serde_json::from_str::<Value>(payload) {
                look(&v);
            }
        }
        found
    }

    /// A JSON body with its status.
    pub fn json(status: u16, body: Value) -> WireResponse {
        WireResponse {
            status,
            headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
            json: Some(body),
            ..WireResponse::default()
        }
    }

    /// The body as the chunks it is written in. Streams are written one event per
    /// chunk unless `writes` says exactly how the bytes were cut.
    pub(crate) fn body_chunks(&self) -> Result<Vec<Bytes>, WireError> {
        if let Some(writes) = &self.writes {
            return writes
                .iter()
                .map(|w| {
                    BASE64.decode(w).map(Bytes::from).map_err(|source| WireError::Base64 { field: "writes", source })
                })
                .collect();
        }
        if let Some(json) = &self.json {
            return Ok(vec![Bytes::from(json.to_string())]);
        }
        if let Some(b64) = &self.eventstream_base64 {
            let bytes =
                BASE64.decode(b64).map_err(|source| WireError::Base64 { field: "eventstream_base64", source })?;
            return Ok(vec![Bytes::from(bytes)]);
        }
        if let Some(events) = &self.events {
            return events
                .iter()
                .enumerate()
                .map(|(index, e)| {
                    eventstream::encode(e).map(Bytes::from).map_err(|source| WireError::Frame { index, source })
                })
                .collect();
        }
        if let Some(sse) = &self.sse {
            return Ok(sse.iter().map(|p| Bytes::from(format!("data: {p}\n\n"))).collect());
        }
        if let Some(raw) = &self.sse_raw {
            return Ok(vec![Bytes::from(raw.clone())]);
        }
        Ok(Vec::new())
    }

    /// Removes every secret value from what the response holds, before it is kept in
    /// a cassette: the JSON body, and a stream's events as one text (see
    /// [`crate::secrets::redact_stream`]), base64 payloads decoded first (InvokeModel's
    /// chunks carry their JSON as base64 `bytes`, which text redaction never sees) and
    /// encoded again. Exact `eventstream_base64` bytes are never written by the tool,
    /// only read from the hand-made corpus, so they are left alone.
    pub(crate) fn redact_secrets(&mut self) {
        if let Some(json) = &mut self.json {
            crate::secrets::redact_json(json);
        }
        if let Some(events) = &mut self.events {
            redact_documents(
                events,
                |e| decoded_payload(&e.payload),
                |e, document| {
                    e.payload = encoded_payload(&e.payload, document);
                },
            );
        }
        if let Some(sse) = &mut self.sse {
            redact_documents(sse, |p| text_document(p), |p, document| *p = document_text(&document));
        }
        if let Some(raw) = &mut self.sse_raw {
            redact_sse_text(raw);
        }
        if let Some(writes) = &mut self.writes {
            let Ok(bytes) = writes.iter().map(|w| BASE64.decode(w)).collect::<Result<Vec<_>, _>>() else { return };
            // Whole SSE text, redacted as `sse_raw` is, and written again as one chunk:
            // the cut points are only kept while no secret crosses them.
            let Ok(text) = String::from_utf8(bytes.concat()) else { return };
            let mut clean = text.clone();
            redact_sse_text(&mut clean);
            if clean != text {
                *writes = vec![BASE64.encode(clean)];
            }
        }
    }

    /// Whether the body is a stream (chunked transfer) rather than one JSON document.
    pub(crate) fn is_stream(&self) -> bool {
        self.json.is_none()
    }
}

/// A payload as redaction sees it: InvokeModel's `{"bytes": BASE64}` decoded to the
/// chunk's JSON (or text) it carries, anything else as it is.
fn decoded_payload(payload: &Value) -> Value {
    let bytes = payload.get("bytes").and_then(Value::as_str).and_then(|b| BASE64.decode(b).ok());
    match bytes.and_then(|b| String::from_utf8(b).ok()) {
        Some(text) if payload.as_object().is_some_and(|o| o.len() == 1) => text_document(&text),
        _ => payload.clone(),
    }
}

/// The payload to keep after redaction: a decoded chunk encoded again as it came.
fn encoded_payload(original: &Value, document: Value) -> Value {
    if decoded_payload(original) == *original {
        return document;
    }
    serde_json::json!({"bytes": BASE64.encode(document_text(&document))})
}

/// A text that is JSON as its value, anything else as a string.
fn text_document(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn document_text(document: &Value) -> String {
    match document {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Redacts the items of one stream as its documents (see
/// [`crate::secrets::redact_stream`]), rewriting only the items whose document changed:
/// the others keep their exact bytes.
fn redact_documents<T>(items: &mut [T], document: impl Fn(&T) -> Value, rewrite: impl Fn(&mut T, Value)) {
    let mut documents: Vec<Value> = items.iter().map(&document).collect();
    if crate::secrets::redact_stream(&mut documents) {
        for (item, redacted) in items.iter_mut().zip(documents) {
            if document(item) != redacted {
                rewrite(item, redacted);
            }
        }
    }
}

/// Redacts an SSE body: each `data:` line's payload as one document of the stream, and
/// the whole text once more for whatever stands outside them.
fn redact_sse_text(raw: &mut String) {
    let mut lines: Vec<String> = raw.split('\n').map(str::to_owned).collect();
    let mut data: Vec<&mut String> = lines.iter_mut().filter(|l| l.starts_with("data:")).collect();
    redact_documents(
        &mut data,
        |line| text_document(line["data:".len()..].trim_start()),
        |line, document| **line = format!("data: {}", document_text(&document)),
    );
    // Split and joined again, an untouched text is the same bytes.
    *raw = lines.join("\n");
    crate::secrets::redact_in_place(raw);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sse_payloads_become_data_lines() {
        let r = WireResponse { status: 200, sse: Some(vec!["{}".into(), "[DONE]".into()]), ..Default::default() };
        let chunks = r.body_chunks().unwrap();
        assert_eq!(chunks, [Bytes::from("data: {}\n\n"), Bytes::from("data: [DONE]\n\n")]);
        assert!(r.is_stream());
    }

    #[test]
    fn writes_are_the_body() {
        let r = WireResponse {
            status: 200,
            sse: Some(vec!["ignored".into()]),
            writes: Some(vec![BASE64.encode("da"), BASE64.encode("ta: x\n\n")]),
            ..Default::default()
        };
        assert_eq!(r.body_chunks().unwrap(), [Bytes::from("da"), Bytes::from("ta: x\n\n")]);
    }

    #[test]
    fn json_body_is_compact_and_keeps_key_order() {
        let r = WireResponse { status: 200, json: Some(json!({"b": 1, "a": [true]})), ..Default::default() };
        assert_eq!(r.body_chunks().unwrap(), [Bytes::from(r#"{"b":1,"a":[true]}"#)]);
        assert!(!r.is_stream());
    }

    #[test]
    fn bad_base64_is_an_error_not_a_panic() {
        let r = WireResponse { status: 200, writes: Some(vec!["!!!".into()]), ..Default::default() };
        assert!(r.body_chunks().is_err());
    }
}
