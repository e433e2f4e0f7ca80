//! Cassettes: one file per case (`cassettes/` at the project root, mirroring the
//! scenario paths like `snapshots/`), holding the request as sent and the responses as
//! the wire carried them, in the wire-corpus format, so that the loopback server
//! replays them through the real clients. The main type is [`Cassette`]. A dataset
//! scenario has one file for all its rows, a [`DatasetCassette`] keyed by request hash.
//!
//! Cassettes hold no secret: requests are bodies only (no headers), responses keep only
//! `content-type`, `retry-after` and `x-amzn-errortype`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Recording;
use crate::json::canonical_json;
use crate::plan::Case;
use crate::providers::{CallRequest, Encoded, encode};
use crate::scenario::Api;
use crate::wire::{Provenance, WireRequest, WireResponse};

/// The cassette format version.
pub(crate) const FORMAT: u32 = 1;

/// The largest cassette read: a dataset's holds every row's exchange. Cassettes are
/// the tool's own files, so one that is a link or not a regular file is refused.
pub(super) const MAX_DATASET_CASSETTE_BYTES: u64 = 4 << 30;

/// The recorded exchanges of one case: one interaction per sample, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cassette {
    pub(crate) format: u32,
    /// The scenario file, relative to the project root.
    pub(crate) scenario: String,
    /// The case id.
    pub(crate) case: String,
    pub(crate) api: Api,
    pub(crate) model: String,
    /// When it was recorded (RFC 3339 UTC), or when the recording was made by its source.
    pub(crate) recorded_at: String,
    /// The host the answers came from.
    pub(crate) endpoint_host: String,
    pub(crate) provenance: Provenance,
    pub(crate) interactions: Vec<Interaction>,
    /// The graders' exchanges (`judge` checks, `semantic` snapshots), in the order they
    /// were asked; replay finds each by its request's hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) judge: Vec<Interaction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Interaction {
    pub(crate) request: WireRequest,
    pub(crate) response: WireResponse,
}

/// Why a recording cannot be found, read or kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordingError {
    #[error("no cassette at {}: record one with `run --mode record` (needs credentials)", crate::fs::shown(path))]
    Missing { path: PathBuf },
    #[error("failed to read cassette {}: {source}", crate::fs::shown(path))]
    Read { path: PathBuf, source: crate::fs::ReadError },
    #[error("{}:{line}:{column}: not a cassette: {message}", crate::fs::shown(path))]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
    #[error(
        "the cassette {} was recorded for a different request (the scenario changed since): re-record with `run --mode record`",
        crate::fs::shown(path)
    )]
    Stale { path: PathBuf },
    #[error(
        "the cassette {} holds {have} interaction(s) but the case runs {need} sample(s): re-record with `run --mode record`",
        crate::fs::shown(path)
    )]
    Short { path: PathBuf, have: usize, need: usize },
    #[error(
        "the cassette {} holds no recording of this row's request (new, or changed since): record it with `run --mode record --filter '={case}'` (needs credentials)",
        crate::fs::shown(path)
    )]
    MissingRow { path: PathBuf, case: String },
    /// A dataset cassette that could not be read, as first reported: every row says
    /// the same.
    #[error("{0}")]
    Broken(std::sync::Arc<RecordingError>),
    /// An unreadable dataset cassette is not overwritten: it may hold recordings worth
    /// keeping, and the journal keeps the new ones.
    #[error("{source}: not overwritten; the rows recorded are kept in {}", crate::fs::shown(journal))]
    NotFolded { source: Box<RecordingError>, journal: PathBuf },
    #[error(transparent)]
    Write(#[from] crate::fs::FsError),
}

impl RecordingError {
    /// Nothing was recorded for the case (as opposed to a recording that is broken or
    /// no longer fits): `auto` runs it live, `init` writes one.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, RecordingError::Missing { .. } | RecordingError::MissingRow { .. })
    }
}

/// The cassette of a dataset scenario: every row's recording in one file, keyed by the
/// hash of its request, so that a lookup is one hash away and recording one row leaves
/// the others as they were. Entries are written sorted by hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatasetCassette {
    pub(crate) format: u32,
    /// The scenario file, relative to the project root.
    pub(crate) scenario: String,
    #[serde(serialize_with = "sorted")]
    pub(crate) rows: HashMap<String, RowRecording>,
}

/// One row's recording: what a case's [`Cassette`] holds, less what the file says once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RowRecording {
    /// The case id: `name[row=ID]`.
    pub(crate) case: String,
    pub(crate) api: Api,
    pub(crate) model: String,
    pub(crate) recorded_at: String,
    pub(crate) endpoint_host: String,
    pub(crate) provenance: Provenance,
    pub(crate) interactions: Vec<Interaction>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) judge: Vec<Interaction>,
}

fn sorted<S: serde::Serializer>(rows: &HashMap<String, RowRecording>, s: S) -> Result<S::Ok, S::Error> {
    rows.iter().collect::<BTreeMap<_, _>>().serialize(s)
}

/// One line of a dataset cassette's journal: a row recorded since the cassette was last
/// written, keyed by the hash of its first request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JournalEntry {
    pub(crate) hash: String,
    pub(crate) row: RowRecording,
}

/// Where the journal of the dataset cassette at `path` is kept.
pub(crate) fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// A row's recording as one journal line (newline included), redacted; `None` for a
/// recording without a request.
pub(crate) fn journal_line(cassette: Cassette) -> Option<String> {
    let hash = cassette.interactions.first()?.request.hash.clone();
    let row = RowRecording {
        case: cassette.case,
        api: cassette.api,
        model: cassette.model,
        recorded_at: cassette.recorded_at,
        endpoint_host: cassette.endpoint_host,
        provenance: cassette.provenance,
        interactions: cassette.interactions,
        judge: cassette.judge,
    };
    let mut line = serde_json::to_string(&JournalEntry { hash, row }).ok()?;
    crate::secrets::redact_in_place(&mut line);
    line.push('\n');
    Some(line)
}

/// The journal's lines, parsed as `T`, in the order they were written; none when there
/// is no journal. A last line without its newline was torn by a kill while it was
/// written, and is left out.
fn journal_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, RecordingError> {
    let mut lines = Vec::new();
    each_journal_line(path, |line| lines.push(line))?;
    Ok(lines)
}

/// Each of the journal's lines, parsed as `T`, handed to `visit` in order.
fn each_journal_line<T: serde::de::DeserializeOwned>(
    path: &Path,
    mut visit: impl FnMut(T),
) -> Result<(), RecordingError> {
    each_journal_line_at(path, |number, _, line| {
        let parsed = serde_json::from_slice(line).map_err(|e| RecordingError::Invalid {
            path: path.to_owned(),
            line: number,
            column: e.column(),
            message: e.to_string(),
        })?;
        visit(parsed);
        Ok(())
    })
}

/// Each of the journal's whole, non-blank lines, handed to `visit` with its line number
/// and the offset it starts at; nothing when there is no journal. A last line without
/// its newline was torn by a kill while it was written, and is left out.
pub(super) fn each_journal_line_at(
    path: &Path,
    mut visit: impl FnMut(usize, u64, &[u8]) -> Result<(), RecordingError>,
) -> Result<(), RecordingError> {
    use std::io::{BufRead, Read};
    // A line at a time: a journal of ten thousand rows is never held whole as text.
    let file = match crate::fs::open_regular(path, crate::fs::Links::Refuse) {
        Ok(file) => file,
        Err(crate::fs::ReadError::Missing) => return Ok(()),
        Err(source) => return Err(RecordingError::Read { path: path.to_owned(), source }),
    };
    let read_error =
        |e: std::io::Error| RecordingError::Read { path: path.to_owned(), source: crate::fs::ReadError::Io(e) };
    // Past the limit a line would look torn and be dropped: say so instead.
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_DATASET_CASSETTE_BYTES {
        let source = crate::fs::ReadError::TooLarge { size, limit: MAX_DATASET_CASSETTE_BYTES };
        return Err(RecordingError::Read { path: path.to_owned(), source });
    }
    let mut reader = std::io::BufReader::new(file.take(MAX_DATASET_CASSETTE_BYTES));
    let (mut line, mut number, mut offset) = (Vec::new(), 0, 0u64);
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(read_error)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Ok(());
        }
        number += 1;
        if !line.trim_ascii().is_empty() {
            visit(number, offset, &line)?;
        }
        offset += read as u64;
    }
}

/// What replay needs of a journal line.
#[derive(Debug, Deserialize)]
struct JournalReplay {
    hash: String,
    row: ReplayRow,
}

/// What replay needs of a dataset cassette: each row's responses, by request hash.
/// Of each request only its hash is read: a row's holds its whole prompt (a long
/// policy, ten thousand times), which replay never looks at.
#[derive(Debug, Deserialize)]
pub(crate) struct DatasetReplay {
    rows: HashMap<String, ReplayRow>,
}

#[derive(Debug, Deserialize)]
struct ReplayRow {
    interactions: Vec<ReplayInteraction>,
    #[serde(default)]
    judge: Vec<ReplayInteraction>,
}

#[derive(Debug, Deserialize)]
struct ReplayInteraction {
    request: RequestHash,
    /// Kept as text, parsed when its row runs: text is a fraction of a parsed tree.
    response: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Deserialize)]
struct RequestHash {
    hash: String,
}

impl DatasetReplay {
    /// Reads the file as a stream (its text is never held whole), and the rows of a
    /// journal a killed recording left beside it.
    pub(crate) fn read(path: &Path) -> Result<DatasetReplay, RecordingError> {
        let journal: Vec<JournalReplay> = journal_lines(&journal_path(path))?;
        let mut replay = match crate::fs::open_regular(path, crate::fs::Links::Refuse) {
            Ok(file) => {
                use std::io::Read;
                let reader = std::io::BufReader::new(file.take(MAX_DATASET_CASSETTE_BYTES));
                serde_json::from_reader(reader).map_err(|e| RecordingError::Invalid {
                    path: path.to_owned(),
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                })?
            }
            Err(crate::fs::ReadError::Missing) if !journal.is_empty() => DatasetReplay { rows: HashMap::new() },
            Err(crate::fs::ReadError::Missing) => return Err(RecordingError::Missing { path: path.to_owned() }),
            Err(source) => return Err(RecordingError::Read { path: path.to_owned(), source }),
        };
        replay.rows.extend(journal.into_iter().map(|line| (line.hash, line.row)));
        Ok(replay)
    }

    /// The recording of `case`: one response per sample (per model turn for an agent),
    /// found by the hash of what it would send now, and its graders' answers.
    pub(crate) fn recording_for(&self, case: &Case) -> Result<Recording, RecordingError> {
        let path = path_for(case);
        let Some(row) = self.rows.get(&request_for(case).hash) else {
            return Err(RecordingError::MissingRow { path, case: case.id.clone() });
        };
        if case.api != Api::Agent && row.interactions.len() < case.samples as usize {
            return Err(RecordingError::Short { path, have: row.interactions.len(), need: case.samples as usize });
        }
        let parse = |i: &ReplayInteraction| {
            serde_json::from_str::<WireResponse>(i.response.get()).map_err(|e| RecordingError::Invalid {
                path: path.clone(),
                line: e.line(),
                column: e.column(),
                message: format!("the recording of {}: {e}", case.id),
            })
        };
        Ok(Recording {
            samples: row.interactions.iter().map(parse).collect::<Result<_, _>>()?,
            judge: row
                .judge
                .iter()
                .map(|i| Ok((i.request.hash.clone(), parse(i)?)))
                .collect::<Result<_, RecordingError>>()?,
        })
    }
}

fn read_text(path: &Path) -> Result<String, RecordingError> {
    match crate::fs::read_text_limited(path, MAX_DATASET_CASSETTE_BYTES, crate::fs::Links::Refuse) {
        Ok(t) => Ok(t),
        Err(crate::fs::ReadError::Missing) => Err(RecordingError::Missing { path: path.to_owned() }),
        Err(source) => Err(RecordingError::Read { path: path.to_owned(), source }),
    }
}

/// Where a case's cassette lives: like its snapshot, under `cassettes/`. A dataset
/// row's is its scenario's one file, whatever the matrix values.
pub fn path_for(case: &Case) -> PathBuf {
    let snapshot = case.snapshot_path();
    let relative = snapshot.strip_prefix(case.project_root.join("snapshots")).unwrap_or(&snapshot);
    let path = case.project_root.join("cassettes").join(relative);
    match case.row {
        Some(_) => path.with_file_name(format!("{}.json", case.spec.name)),
        None => path.with_extension("json"),
    }
}

/// The request the case sends, as a cassette records it. An agent's `command` tools
/// run in replay too, so they are part of its hash: a changed command makes the
/// cassette stale, as a changed prompt does.
pub(crate) fn request_for(case: &Case) -> WireRequest {
    let api = case.wire_api();
    let mut request = recorded_request(api, &CallRequest::new(&case.model, &case.region, &case.spec));
    let commands: Vec<Value> = case
        .spec
        .tools
        .iter()
        .filter(|t| t.command.is_some())
        .map(|t| serde_json::json!({"name": t.name, "command": t.command, "env": t.env, "timeout": t.timeout}))
        .collect();
    if !commands.is_empty() {
        let canonical = canonical_json(&serde_json::json!({"api": api, "body": request.body, "commands": commands}));
        request.hash = hex_sha256(&canonical);
    }
    request
}

/// A request on `api`, as a cassette records it. InvokeModel's service tier travels in
/// a header, not the body, so a tier set there is hashed beside the body: a recording
/// made on another tier is stale, as it is on every other API. (`serve` matches such a
/// request by its body alone.)
pub(crate) fn recorded_request(api: Api, request: &CallRequest) -> WireRequest {
    let Encoded { path, body } = encode(api, request);
    let hash = match (api, request.params.service_tier) {
        (Api::Invoke | Api::InvokeStream, Some(tier)) => {
            hex_sha256(&canonical_json(&serde_json::json!({"api": api, "body": body, "service_tier": tier.as_str()})))
        }
        _ => request_hash(api, &body),
    };
    WireRequest { method: "POST".into(), path, body, hash }
}

pub(crate) fn request_hash(api: Api, body: &Value) -> String {
    hex_sha256(&canonical_json(&serde_json::json!({"api": api, "body": body})))
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Cassette {
    pub(crate) fn read(path: &Path) -> Result<Cassette, RecordingError> {
        let text = read_text(path)?;
        serde_json::from_str(&text).map_err(|e| RecordingError::Invalid {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }

    pub(crate) fn into_recording(self) -> Recording {
        Recording {
            samples: self.interactions.into_iter().map(|i| i.response).collect(),
            judge: self.judge.into_iter().map(|i| (i.request.hash, i.response)).collect(),
        }
    }

    /// The cassette for `case`, checked against what the case would send now.
    pub(crate) fn load_for(case: &Case) -> Result<Cassette, RecordingError> {
        let path = path_for(case);
        let cassette = Cassette::read(&path)?;
        let want = request_for(case).hash;
        // An agent's later turns depend on the answers before them, which the cassette
        // itself supplies: the first request decides. Other cases send the same request
        // for every sample.
        let stale = match (case.api, cassette.interactions.first()) {
            (_, None) => true,
            (Api::Agent, Some(first)) => first.request.hash != want,
            (_, Some(_)) => cassette.interactions.iter().any(|i| i.request.hash != want),
        };
        if stale {
            return Err(RecordingError::Stale { path });
        }
        if case.api != Api::Agent && cassette.interactions.len() < case.samples as usize {
            return Err(RecordingError::Short { path, have: cassette.interactions.len(), need: case.samples as usize });
        }
        Ok(cassette)
    }

    /// Pretty JSON, one line per field: reviewable in a pull-request diff.
    /// The file's text, with any credential value redacted (a prompt or a tool
    /// result could carry one into a request body).
    pub(crate) fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        crate::secrets::redact_in_place(&mut text);
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_ignores_key_order_but_not_content() {
        let a = request_hash(Api::Chat, &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
        let b = request_hash(Api::Chat, &json!({"messages": [{"content": "hi", "role": "user"}], "model": "m"}));
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(
            a,
            request_hash(Api::ChatStream, &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        );
        assert_ne!(a, request_hash(Api::Chat, &json!({"model": "m", "messages": [{"role": "user", "content": "ho"}]})));
    }

    #[test]
    fn an_invoke_requests_tier_is_in_its_hash_though_not_in_its_body() {
        let spec = |tier: Option<&str>| -> crate::scenario::Scenario {
            let params = tier.map_or(json!({}), |t| json!({"service_tier": t}));
            serde_json::from_value(json!({"name": "n", "prompt": "hi", "params": params})).unwrap()
        };
        let hash = |api, tier| recorded_request(api, &CallRequest::new("m", "us-west-2", &spec(tier)));
        let (plain, flex) = (hash(Api::Invoke, None), hash(Api::Invoke, Some("flex")));
        assert_eq!(plain.body, flex.body);
        assert_ne!(plain.hash, flex.hash);
        assert_eq!(plain.hash, request_hash(Api::Invoke, &plain.body), "no tier, the hash recordings already have");
        assert_ne!(hash(Api::Converse, None).hash, hash(Api::Converse, Some("flex")).hash, "in Converse's body");
    }
}
