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

use bytes::Bytes;
use serde_json::{Value, json};

use super::cassette::{Cassette, request_hash};
use crate::scenario::Api;
use crate::wire::server::{RecordedRequest, Reply, Responder};
use crate::wire::{WireCase, WireError};

/// How a request finds its recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Match {
    /// The n-th request gets the n-th recording; past the last, the last again (a
    /// client may retry).
    Order,
    /// The recording whose request body (canonical JSON) is the one received, each in
    /// turn when several are the same.
    Hash,
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
}

/// A file `serve` cannot play, naming it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlaybackError {
    #[error("failed to read {}: {source}", crate::fs::shown(path))]
    Read { path: PathBuf, source: std::io::Error },
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
    #[error("cannot write the log {}: {source}", crate::fs::shown(path))]
    Log { path: PathBuf, source: std::io::Error },
}

/// Every interaction in `file`: a wire-corpus case (one), or a cassette (all, in order).
pub(crate) fn load(file: &Path, latency: Duration) -> Result<Vec<Recording>, PlaybackError> {
    let text = std::fs::read_to_string(file).map_err(|source| PlaybackError::Read { path: file.to_owned(), source })?;
    let shown = crate::fs::shown(file);
    let encode = |index: usize, response| {
        Reply::from_wire(response)
            .map(|reply| Reply { delay: latency, ..reply })
            .map_err(|source| PlaybackError::Encode { path: file.to_owned(), index: index + 1, source })
    };
    let wire_error = match serde_json::from_str::<WireCase>(&text) {
        Ok(case) => {
            let path = request_path(case.api, &case.model);
            return Ok(vec![Recording {
                label: format!("{shown} ({})", case.id),
                api: case.api,
                model: model_in_path(&path),
                hash: case.request.is_object().then(|| request_hash(case.api, &case.request)),
                reply: encode(0, &case.response)?,
            }]);
        }
        Err(e) => e,
    };
    let cassette = serde_json::from_str::<Cassette>(&text).map_err(|_| PlaybackError::Parse {
        path: file.to_owned(),
        line: wire_error.line(),
        column: wire_error.column(),
        source: wire_error,
    })?;
    if cassette.interactions.is_empty() {
        return Err(PlaybackError::Empty { path: file.to_owned() });
    }
    let many = cassette.interactions.len() > 1;
    cassette
        .interactions
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
            Ok(Recording {
                label: format!("{shown}{at} ({})", cassette.case),
                api,
                model: model_in_path(&request.path),
                hash: Some(request_hash(api, &request.body)),
                reply: encode(i, &interaction.response)?,
            })
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
    } else if path.ends_with("/chat/completions") {
        Some(if body["stream"] == true { Api::ChatStream } else { Api::Chat })
    } else {
        None
    }
}

/// What a client of `api` sends to, for messages.
fn request_path(api: Api, model: &str) -> String {
    match api {
        Api::Converse => format!("/model/{model}/converse"),
        Api::ConverseStream => format!("/model/{model}/converse-stream"),
        Api::Chat | Api::ChatStream | Api::Agent => "/chat/completions".to_owned(),
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
    /// `log`: append one JSON line per request to this file (created, or truncated).
    pub(crate) fn new(
        recordings: Vec<Recording>,
        matching: Match,
        log: Option<&Path>,
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
        Ok(Playback { recordings, matching, state: Mutex::new(state) })
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
                match fits.iter().find(|&&i| state.served[i] == 0).or(fits.last()) {
                    Some(&i) => i,
                    None => match self.recordings.iter().find(|r| r.api == api) {
                        Some(_) => {
                            return refuse(
                                400,
                                format!(
                                    "no recorded {} request has this body (hash {}): the client sends something other than what was recorded",
                                    api.as_str(),
                                    &hash[..12]
                                ),
                            );
                        }
                        None => return refuse(400, another_api(&self.recordings[0], api)),
                    },
                }
            }
        };
        state.served[index] += 1;
        let reply = self.recordings[index].reply.clone();
        let reply = if api == Api::ChatStream && body["stream_options"]["include_usage"] != true {
            without_usage_chunk(reply)
        } else {
            reply
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
                eprintln!("warning: cannot write the log {}: {e}", crate::fs::shown(path));
            }
        }
        outcome.reply
    }
}

/// An OpenAI stream without its trailing usage chunk (`choices: []`), which servers send
/// only when `stream_options.include_usage` asks for it, and which clients that never
/// asked may not expect (the upstream `completion_stream.py` indexes `choices[0]`).
/// Untouched when there is none; otherwise one chunk per event.
fn without_usage_chunk(reply: Reply) -> Reply {
    let body: Vec<u8> = reply.chunks.iter().flat_map(|c| c.iter().copied()).collect();
    let text = String::from_utf8_lossy(&body);
    let events: Vec<&str> = text.split_inclusive("\n\n").collect();
    let usage_only = |event: &str| {
        event.lines().filter_map(|l| l.strip_prefix("data:")).any(|data| {
            serde_json::from_str::<Value>(data.trim())
                .is_ok_and(|v| v["choices"] == json!([]) && v["usage"].is_object())
        })
    };
    if !events.iter().any(|e| usage_only(e)) {
        return reply;
    }
    let kept: Vec<Bytes> = events.into_iter().filter(|e| !usage_only(e)).map(|e| Bytes::from(e.to_owned())).collect();
    Reply { chunks: kept, ..reply }
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
        assert_eq!(api_of("/v1/embeddings", &json!({})), None);
        assert_eq!(
            model_in_path("/model/openai.gpt-oss-20b-1%3A0/converse").as_deref(),
            Some("openai.gpt-oss-20b-1:0")
        );
    }

    #[test]
    fn the_usage_chunk_is_left_out_and_nothing_else() {
        let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n";
        let reply = Reply { chunks: vec![Bytes::from(&sse[..20]), Bytes::from(&sse[20..])], ..Reply::error(200, "x") };
        let kept = without_usage_chunk(reply);
        let text: String = kept.chunks.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        assert_eq!(text, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n");
        let plain = Reply { chunks: vec![Bytes::from("data: [DONE]\n\n")], ..Reply::error(200, "x") };
        assert_eq!(without_usage_chunk(plain).chunks.len(), 1);
    }
}
