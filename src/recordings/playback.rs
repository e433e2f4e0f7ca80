//! Playback: recorded exchanges served to any client, the responder behind `serve`.
//!
//! A user points their own application (boto3, openai-python, Strands, async-openai) at
//! recorded traffic. Every interaction of every file is a [`Recording`]; requests are
//! matched to them in order (a multi-turn agent gets turn after turn) or by the hash of
//! their body, as cassettes match cases. A request for another API than the recording
//! is answered with a 400 that says so, and each request can be logged as a JSON line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::cassette::{Cassette, DatasetCassette, request_hash};
use crate::scenario::Api;
use crate::wire::server::{RecordedRequest, Reply, Responder};
use crate::wire::{WireCase, WireError, WireResponse};

/// How a request finds its recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// The n-th request gets the n-th recording; past the last, the last again (a
    /// client may retry).
    Order,
    /// The recording whose request body (canonical JSON) is the one received, each in
    /// turn when several are the same.
    Hash,
}

impl Match {
    pub(crate) const ALL: [Match; 2] = [Match::Order, Match::Hash];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Match::Order => "order",
            Match::Hash => "hash",
        }
    }
}

/// One recorded exchange, ready to serve.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    /// `file#n (case)`: what the log and errors call it.
    pub(crate) label: String,
    /// The API of the recorded request, as the wire carried it (an agent's transport).
    pub(crate) api: Api,
    /// The model the request named, where the path carries it (Converse).
    model: Option<String>,
    /// [`request_hash`] of the recorded request, when its body was recorded.
    hash: Option<String>,
    reply: Reply,
    /// The reply without its trailing usage chunk, for a streamed chat client that did
    /// not ask for usage; `None` when there is no such chunk.
    quiet: Option<Reply>,
}

/// A file `serve` cannot play, naming it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlaybackError {
    #[error("failed to read {}: {source}", crate::fs::shown(path))]
    Read { path: PathBuf, source: crate::fs::ReadError },
    #[error("{}:{line}:{column}: neither a recorded exchange nor a cassette: {source}", crate::fs::shown(path))]
    Parse { path: PathBuf, line: usize, column: usize, source: serde_json::Error },
    #[error("{}: the cassette holds no interaction", crate::fs::shown(path))]
    Empty { path: PathBuf },
    #[error("{}: interaction {index}: {source}", crate::fs::shown(path))]
    Encode { path: PathBuf, index: usize, source: WireError },
    #[error(
        "{}: interaction {index}: the request {path_in_file} is not one of the APIs served",
        crate::fs::shown(path)
    )]
    UnknownApi { path: PathBuf, index: usize, path_in_file: String },
    #[error("failed to create the log {}: {source}", crate::fs::shown(path))]
    Log { path: PathBuf, source: std::io::Error },
}

/// The largest recording `serve` reads.
const MAX_RECORDING_BYTES: u64 = 4 << 30;

/// Every interaction in `file`: a wire-corpus case (one), or a cassette (all, in order).
pub(crate) fn load(file: &Path, latency: Duration) -> Result<Vec<Recording>, PlaybackError> {
    let text = crate::fs::read_text_limited(file, MAX_RECORDING_BYTES, crate::fs::Links::Follow)
        .map_err(|source| PlaybackError::Read { path: file.to_owned(), source })?;
    let shown = crate::fs::shown(file);
    let recording = |index: usize, label: String, api: Api, model: Option<String>, hash, response: &WireResponse| {
        let encode = |response: &WireResponse| {
            Reply::from_wire(response)
                .map(|reply| Reply { delay: latency, ..reply })
                .map_err(|source| PlaybackError::Encode { path: file.to_owned(), index: index + 1, source })
        };
        let quiet = match without_usage_chunk(response) {
            Some(quiet) => Some(encode(&quiet)?),
            None => None,
        };
        Ok(Recording { label, api, model, hash, reply: encode(response)?, quiet })
    };
    let wire_error = match serde_json::from_str::<WireCase>(&text) {
        Ok(case) => {
            let model = crate::providers::uses_aws_sdk(case.api).then(|| case.model.clone());
            let hash = case.request.is_object().then(|| request_hash(case.api, &case.request));
            let label = format!("{shown} ({})", case.id);
            return Ok(vec![recording(0, label, case.api, model, hash, &case.response)?]);
        }
        Err(e) => e,
    };
    // A case's cassette, or a dataset's: every row's interactions, by case id, each
    // followed by its graders'.
    let (name, interactions) = match serde_json::from_str::<Cassette>(&text) {
        Ok(cassette) => (cassette.case, cassette.interactions.into_iter().chain(cassette.judge).collect::<Vec<_>>()),
        Err(_) => match serde_json::from_str::<DatasetCassette>(&text) {
            Ok(dataset) => {
                let mut rows: Vec<_> = dataset.rows.into_values().collect();
                rows.sort_by(|a, b| a.case.cmp(&b.case));
                (dataset.scenario, rows.into_iter().flat_map(|r| r.interactions.into_iter().chain(r.judge)).collect())
            }
            Err(_) => {
                return Err(PlaybackError::Parse {
                    path: file.to_owned(),
                    line: wire_error.line(),
                    column: wire_error.column(),
                    source: wire_error,
                });
            }
        },
    };
    if interactions.is_empty() {
        return Err(PlaybackError::Empty { path: file.to_owned() });
    }
    let many = interactions.len() > 1;
    interactions
        .iter()
        .enumerate()
        .map(|(i, interaction)| {
            let request = &interaction.request;
            let api = api_of(&request.path, &request.body).ok_or_else(|| PlaybackError::UnknownApi {
                path: file.to_owned(),
                index: i + 1,
                path_in_file: request.path.clone(),
            })?;
            let at = if many { format!("#{}", i + 1) } else { String::new() };
            let label = format!("{shown}{at} ({name})");
            let hash = Some(request_hash(api, &request.body));
            recording(i, label, api, model_in_path(&request.path), hash, &interaction.response)
        })
        .collect()
}

/// The API a request is for, from its path and body, as the clients send them.
pub(crate) fn api_of(path: &str, body: &Value) -> Option<Api> {
    let path = path.split('?').next().unwrap_or_default();
    if path.ends_with("/converse-stream") {
        Some(Api::ConverseStream)
    } else if path.ends_with("/converse") {
        Some(Api::Converse)
    } else if path.ends_with("/invoke-with-response-stream") {
        Some(Api::InvokeStream)
    } else if path.ends_with("/invoke") {
        Some(Api::Invoke)
    } else if path.ends_with("/chat/completions") {
        Some(if body["stream"] == true { Api::ChatStream } else { Api::Chat })
    } else if path.ends_with("/responses") {
        Some(if body["stream"] == true { Api::ResponsesStream } else { Api::Responses })
    } else {
        None
    }
}

/// The model of a Bedrock path (`/model/openai.gpt-oss-20b-1%3A0/converse`), decoded.
fn model_in_path(path: &str) -> Option<String> {
    let rest = path.split_once("/model/")?.1;
    let encoded = rest.split('/').next()?;
    Some(percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned())
}

/// The recordings, served to requests as `matching` says, each request logged.
pub(crate) struct Playback {
    recordings: Vec<Recording>,
    matching: Match,
    state: Mutex<State>,
    warn: Box<dyn Fn(String) + Send + Sync>,
}

#[derive(Default)]
struct State {
    /// How many times each recording was served.
    served: Vec<usize>,
    /// The next recording in order.
    next: usize,
    /// Requests seen so far.
    requests: usize,
    log: Option<(PathBuf, std::io::LineWriter<std::fs::File>)>,
}

/// What one request got.
struct Outcome {
    reply: Reply,
    served: Option<usize>,
    mismatch: Option<String>,
}

impl Playback {
    /// `log`: one JSON line per request goes to this file (created, or truncated).
    /// `warn` hears of a log line that could not be written (the caller prints).
    pub(crate) fn new(
        recordings: Vec<Recording>,
        matching: Match,
        log: Option<&Path>,
        warn: Box<dyn Fn(String) + Send + Sync>,
    ) -> Result<Playback, PlaybackError> {
        let log = match log {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|source| PlaybackError::Log { path: path.to_owned(), source })?;
                Some((path.to_owned(), std::io::LineWriter::new(file)))
            }
            None => None,
        };
        let state = State { served: vec![0; recordings.len()], log, ..State::default() };
        Ok(Playback { recordings, matching, state: Mutex::new(state), warn })
    }

    fn choose(&self, state: &mut State, request: &RecordedRequest) -> Outcome {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let Some(api) = api_of(&request.path, &body) else {
            return refuse(404, format!("{} {} is not an API this server replays", request.method, request.path));
        };
        let index = match self.matching {
            Match::Order => {
                let Some(last) = self.recordings.len().checked_sub(1) else {
                    return refuse(500, "nothing to serve".into());
                };
                let index = state.next.min(last);
                let recording = &self.recordings[index];
                if recording.api != api {
                    return refuse(400, another_api(recording, api));
                }
                state.next = (index + 1).min(self.recordings.len());
                index
            }
            Match::Hash => {
                let hash = request_hash(api, &body);
                let model = model_in_path(&request.path);
                let fits: Vec<usize> = (0..self.recordings.len())
                    .filter(|&i| {
                        let r = &self.recordings[i];
                        r.api == api
                            && r.hash.as_deref() == Some(hash.as_str())
                            && (model.is_none() || r.model == model)
                    })
                    .collect();
                if let Some(&i) = fits.iter().find(|&&i| state.served[i] == 0).or(fits.last()) {
                    i
                } else if !self.recordings.iter().any(|r| r.api == api) {
                    return refuse(400, another_api(&self.recordings[0], api));
                } else if let Some(r) =
                    self.recordings.iter().find(|r| r.api == api && r.hash.as_deref() == Some(&hash))
                {
                    let recorded = r.model.as_deref().unwrap_or("another model");
                    let asked = model.as_deref().unwrap_or("none");
                    return refuse(
                        400,
                        format!("{} has this body but was recorded for {recorded}, not {asked}", r.label),
                    );
                } else {
                    let short = hash.get(..12).unwrap_or(&hash);
                    return refuse(
                        400,
                        format!(
                            "no recorded {} request has this body (hash {short}): the client sends something other than what was recorded",
                            api.as_str()
                        ),
                    );
                }
            }
        };
        state.served[index] += 1;
        let recording = &self.recordings[index];
        let asked_for_usage = body["stream_options"]["include_usage"] == true;
        let reply = match &recording.quiet {
            Some(quiet) if api == Api::ChatStream && !asked_for_usage => quiet.clone(),
            _ => recording.reply.clone(),
        };
        Outcome { reply, served: Some(index), mismatch: None }
    }
}

fn refuse(status: u16, message: String) -> Outcome {
    Outcome { reply: Reply::error(status, &message), served: None, mismatch: Some(message) }
}

fn another_api(recording: &Recording, asked: Api) -> String {
    format!(
        "this request is for {}, but {} answers {} requests: point the client at that API, or serve another recording",
        asked.as_str(),
        recording.label,
        recording.api.as_str()
    )
}

impl Responder for Playback {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let Ok(mut state) = self.state.lock() else {
            return Reply::error(500, "the playback state is poisoned");
        };
        state.requests += 1;
        let outcome = self.choose(&mut state, request);
        let n = state.requests;
        if let Some((path, log)) = state.log.as_mut() {
            let line = json!({
                "request": n,
                "method": request.method,
                "path": request.path,
                "served": outcome.served.map(|i| self.recordings[i].label.as_str()),
                "status": outcome.reply.status,
                "mismatch": outcome.mismatch,
            });
            if let Err(e) = writeln!(log, "{line}") {
                (self.warn)(format!("failed to write to the log {}: {e}", crate::fs::shown(path)));
            }
        }
        outcome.reply
    }
}

/// An OpenAI stream without its trailing usage chunk (`choices: []`), which servers send
/// only when `stream_options.include_usage` asks for it, and which clients that never
/// asked may not expect (the upstream `completion_stream.py` indexes `choices[0]`).
/// `None` when there is none. Recorded `writes` keep every other byte boundary.
fn without_usage_chunk(response: &WireResponse) -> Option<WireResponse> {
    if response.json.is_some() {
        return None;
    }
    if let (None, Some(sse)) = (&response.writes, &response.sse) {
        let kept: Vec<String> = sse.iter().filter(|p| !usage_only(p)).cloned().collect();
        return (kept.len() < sse.len()).then(|| WireResponse { sse: Some(kept), ..response.clone() });
    }
    let chunks = response.body_chunks().ok()?;
    let body: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    let cuts: Vec<(usize, usize)> = events(&body)
        .into_iter()
        .filter(|&(start, end)| {
            let event = String::from_utf8_lossy(&body[start..end]);
            event.lines().filter_map(|l| l.strip_prefix("data:")).any(usage_only)
        })
        .collect();
    if cuts.is_empty() {
        return None;
    }
    let mut writes = Vec::new();
    let mut offset = 0;
    for chunk in &chunks {
        let kept: Vec<u8> = (offset..offset + chunk.len())
            .filter(|&i| !cuts.iter().any(|&(start, end)| (start..end).contains(&i)))
            .map(|i| body[i])
            .collect();
        offset += chunk.len();
        if !kept.is_empty() {
            writes.push(BASE64.encode(kept));
        }
    }
    Some(WireResponse { writes: Some(writes), sse: None, sse_raw: None, ..response.clone() })
}

/// Whether an SSE data payload is the usage-only chunk.
fn usage_only(data: &str) -> bool {
    serde_json::from_str::<Value>(data.trim()).is_ok_and(|v| v["choices"] == json!([]) && v["usage"].is_object())
}

/// The byte ranges of the SSE events in `body`: each ends with a blank line, `\n\n` or
/// `\r\n\r\n`; text after the last one is an event too.
fn events(body: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < body.len() {
        let end = if body[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if body[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        };
        match end {
            Some(end) => {
                out.push((start, end));
                (start, i) = (end, end);
            }
            None => i += 1,
        }
    }
    if start < body.len() {
        out.push((start, body.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_comes_from_the_path_and_the_stream_flag() {
        assert_eq!(api_of("/model/m/converse", &Value::Null), Some(Api::Converse));
        assert_eq!(api_of("/model/m/converse-stream", &Value::Null), Some(Api::ConverseStream));
        assert_eq!(api_of("/openai/v1/chat/completions", &json!({"stream": true})), Some(Api::ChatStream));
        assert_eq!(api_of("/v1/chat/completions?x=1", &json!({})), Some(Api::Chat));
        assert_eq!(api_of("/model/m/invoke", &Value::Null), Some(Api::Invoke));
        assert_eq!(api_of("/model/m/invoke-with-response-stream", &Value::Null), Some(Api::InvokeStream));
        assert_eq!(api_of("/v1/responses", &json!({"stream": true})), Some(Api::ResponsesStream));
        assert_eq!(api_of("/v1/responses", &json!({"stream": false})), Some(Api::Responses));
        assert_eq!(api_of("/v1/embeddings", &json!({})), None);
        assert_eq!(
            model_in_path("/model/openai.gpt-oss-20b-1%3A0/converse").as_deref(),
            Some("openai.gpt-oss-20b-1:0")
        );
    }

    #[test]
    fn the_usage_chunk_is_left_out_and_nothing_else() {
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":1}}"#;
        let text = r#"{"choices":[{"delta":{"content":"hi"}}]}"#;
        let sse = WireResponse {
            status: 200,
            sse: Some(vec![text.into(), usage.into(), "[DONE]".into()]),
            ..WireResponse::default()
        };
        let quiet = without_usage_chunk(&sse).expect("a usage chunk to leave out");
        assert_eq!(quiet.sse, Some(vec![text.to_owned(), "[DONE]".to_owned()]));
        let plain = WireResponse { sse: Some(vec![text.into(), "[DONE]".into()]), ..sse.clone() };
        assert_eq!(without_usage_chunk(&plain), None);
        assert_eq!(without_usage_chunk(&WireResponse::json(200, json!({"choices": []}))), None);
    }

    #[test]
    fn recorded_writes_keep_their_other_boundaries_with_either_line_ending() {
        let body = "data: {\"choices\":[{}]}\r\n\r\ndata: {\"choices\":[],\"usage\":{}}\r\n\r\ndata: [DONE]\r\n\r\n";
        let cut = [10, 30, 55];
        let mut writes = Vec::new();
        let mut last = 0;
        for at in cut.into_iter().chain([body.len()]) {
            writes.push(BASE64.encode(&body[last..at]));
            last = at;
        }
        let recorded = WireResponse { status: 200, writes: Some(writes), ..WireResponse::default() };
        let quiet = without_usage_chunk(&recorded).expect("a usage chunk to leave out");
        let chunks: Vec<String> =
            quiet.body_chunks().unwrap().iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        assert_eq!(chunks.concat(), "data: {\"choices\":[{}]}\r\n\r\ndata: [DONE]\r\n\r\n");
        assert_eq!(chunks[0], "data: {\"ch", "the first recorded write is untouched");
    }
}
