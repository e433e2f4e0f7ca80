//! Recordings: where a case's answers are kept between runs, and how they are found
//! again. This one module owns them:
//! - the cassette format and the hash that matches a recording to a request
//!   ([`cassette`]);
//! - the run's dataset cassettes, one file for all rows, and their journals
//!   ([`journal`]), folded into them ([`fold`]);
//! - what replay needs of a case, found for it ([`Recording`], [`find`]);
//! - writing a case's cassette ([`Recorder`]: record mode and `init` alike);
//! - `serve`'s responder, which plays recordings to any client ([`playback`]).
//!
//! Nothing here makes a call. A recording's answers go to the loopback server as
//! [`Reply`]s, and the real clients read them as a live run does; that is how any
//! source of recorded answers (a cassette, a batch job's output) is replayed.

pub(crate) mod batch;
pub(crate) mod cassette;
mod fold;
pub(crate) mod journal;
pub mod playback;

use std::path::PathBuf;

pub use cassette::path_for;
pub(crate) use cassette::{Interaction, recorded_request, request_for};
pub(crate) use journal::DatasetCassettes;

use crate::plan::Case;
use crate::response::ModelResponse;
use crate::scenario::Api;
use crate::wire::server::Reply;
use crate::wire::{Provenance, ProvenanceKind, WireError, WireResponse};
use cassette::{Cassette, RecordingError};

/// What replay needs of a case's recording: the answers of its samples (of its model
/// turns, for an agent) in order, and its graders' answers by their requests' hashes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Recording {
    pub(crate) samples: Vec<WireResponse>,
    pub(crate) judge: Vec<(String, WireResponse)>,
}

/// A case's answers kept in memory as the JSON text a cassette holds them in: a
/// fraction of a parsed tree, for thousands of rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answers(Vec<String>);

impl Answers {
    pub(crate) fn new(samples: &[WireResponse]) -> Result<Answers, serde_json::Error> {
        samples.iter().map(serde_json::to_string).collect::<Result<_, _>>().map(Answers)
    }

    /// The answers as a recording without graders' answers.
    pub(crate) fn recording(&self) -> Result<Recording, serde_json::Error> {
        let samples = self.0.iter().map(|text| serde_json::from_str(text)).collect::<Result<_, _>>()?;
        Ok(Recording { samples, judge: Vec::new() })
    }
}

/// Recorded answers as the loopback server sends them.
pub(crate) fn replies(samples: &[WireResponse]) -> Result<Vec<Reply>, WireError> {
    samples.iter().map(Reply::from_wire).collect()
}

/// The recording of `case`, checked against what it would send now: its own cassette,
/// or, for a dataset row, its dataset's (read once for all rows by `datasets`).
pub(crate) fn find(case: &Case, datasets: &DatasetCassettes) -> Result<Recording, RecordingError> {
    match case.row {
        Some(_) => datasets.recording_for(case),
        None => Cassette::load_for(case).map(Cassette::into_recording),
    }
}

/// The most output tokens one of `case`'s recorded answers used: what bounds an
/// estimate of its cost. `None` without a recording that says.
pub(crate) fn recorded_output_tokens(case: &Case, datasets: &DatasetCassettes) -> Option<u64> {
    let recording = find(case, datasets).ok()?;
    recording.samples.iter().filter_map(WireResponse::output_tokens).max()
}

/// One interaction per request a case's responses answered: per sample, or for an
/// agent per model turn (its first request carries the case's full hash, commands and
/// all, which decides whether the cassette still fits). `None` when nothing came back
/// at all (no connection, no credentials): there is nothing to replay.
pub(crate) fn interactions(case: &Case, responses: &[ModelResponse]) -> Option<Vec<Interaction>> {
    let request = request_for(case);
    if case.api == Api::Agent {
        let mut turns: Vec<Interaction> = responses
            .iter()
            .flat_map(|r| &r.turns)
            .filter_map(|t| t.recorded.clone())
            .map(|(request, response)| Interaction { request, response })
            .collect();
        if let Some(first) = turns.first_mut() {
            first.request = request;
        }
        return (!turns.is_empty()).then_some(turns);
    }
    responses
        .iter()
        .map(|r| r.wire.clone().map(|response| Interaction { request: request.clone(), response }))
        .collect()
}

/// Writes cases' cassettes: from a live run (record mode) or hand-written (`init`).
/// A dataset row's goes into its dataset's cassette, through its journal.
pub(crate) struct Recorder<'a> {
    datasets: &'a DatasetCassettes,
    provenance: Provenance,
    recorded_at: Option<String>,
}

impl<'a> Recorder<'a> {
    /// Records what the endpoint answered, now.
    pub(crate) fn live(datasets: &'a DatasetCassettes) -> Recorder<'a> {
        Recorder {
            datasets,
            provenance: Provenance {
                kind: ProvenanceKind::Recorded,
                source: format!("gpt-oss-scenarios {} run --mode record", env!("CARGO_PKG_VERSION")),
                notes: String::new(),
            },
            recorded_at: None,
        }
    }

    /// Records the answers of a Bedrock batch job, read from its output `source`.
    pub(crate) fn batch(datasets: &'a DatasetCassettes, source: String) -> Recorder<'a> {
        let provenance = Provenance { kind: ProvenanceKind::Batch, source, notes: String::new() };
        Recorder { datasets, provenance, recorded_at: None }
    }

    /// Records hand-written answers, saying so.
    pub(crate) fn synthetic(datasets: &'a DatasetCassettes, source: &str, notes: String) -> Recorder<'a> {
        let provenance = Provenance { kind: ProvenanceKind::Synthetic, source: source.to_owned(), notes };
        Recorder { datasets, provenance, recorded_at: Some("synthetic".into()) }
    }

    /// Keeps `interactions` (and the graders' `judge` exchanges) as `case`'s recording
    /// of answers from `endpoint_host`, and says where.
    pub(crate) fn keep(
        &self,
        case: &Case,
        endpoint_host: String,
        interactions: Vec<Interaction>,
        judge: Vec<Interaction>,
    ) -> Result<PathBuf, RecordingError> {
        let cassette = Cassette {
            format: cassette::FORMAT,
            scenario: crate::fs::slashed(&case.source),
            case: case.id.clone(),
            api: case.api,
            model: case.model.clone(),
            recorded_at: self
                .recorded_at
                .clone()
                .unwrap_or_else(|| humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
            endpoint_host,
            provenance: self.provenance.clone(),
            interactions,
            judge,
        };
        let path = path_for(case);
        match case.row {
            Some(_) => self.datasets.append(case, cassette)?,
            None => crate::fs::write_atomic(&path, &cassette.to_text())?,
        }
        Ok(path)
    }
}
