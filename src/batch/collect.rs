//! A job's output files read back into cassettes, a line at a time: each line is found
//! again as a case's sample by its record id (the case's request hash), and a case's
//! cassette is written as soon as all its samples are in, so memory holds only the cases
//! still waiting for a sample. Lines are checked against the `manifest.json.out` beside
//! them; every problem names its file and line.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::plan::Case;
use crate::recordings::batch::{self, LineError};
use crate::recordings::{Answers, DatasetCassettes, Interaction, Recorder, request_for};
use crate::wire::WireResponse;

/// Why output could not be read into cassettes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error(transparent)]
    Fs(#[from] crate::fs::FsError),
    #[error(transparent)]
    Recording(#[from] crate::recordings::cassette::RecordingError),
    #[error("{path}: cannot read it: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}: {error}")]
    Line { path: String, line: usize, error: LineError },
    #[error("{path}: it counts {manifest} records, and the output files beside it hold {lines}")]
    Manifest { path: String, manifest: u64, lines: u64 },
    #[error("{0}: no `.jsonl.out` file there: give the folder a job wrote its output to")]
    NoOutput(String),
}

/// A job's `manifest.json.out`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) total: u64,
    pub(crate) processed: u64,
    pub(crate) success: u64,
    pub(crate) error: u64,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
}

/// What an import did.
#[derive(Debug, Default)]
pub(crate) struct Imported {
    /// Output lines read, and how many of them were errors.
    pub(crate) lines: u64,
    pub(crate) errored: u64,
    pub(crate) files: usize,
    /// The cases whose cassettes now hold an answer for every sample, by id: those
    /// answers, for the run to judge without reading them back.
    /// (`None`: kept only in the cassette).
    pub(crate) answered: HashMap<String, Option<Answers>>,
    /// Cases given some samples' answers but not all: their cassettes were left alone.
    pub(crate) incomplete: usize,
    /// Each folder's manifest, where it wrote one.
    pub(crate) manifests: BTreeMap<PathBuf, Manifest>,
}

/// Every `.jsonl.out` (any `.out` but the manifest) under `dir`, in order.
pub(crate) fn output_files(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let mut found = Vec::new();
    let read = std::fs::read_dir(dir).map_err(|source| ImportError::Read { path: crate::fs::shown(dir), source })?;
    let mut entries: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(output_files(&path)?);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".out") && n != "manifest.json.out")
        {
            found.push(path);
        }
    }
    Ok(found)
}

/// A case waiting for its samples' answers.
struct Waiting {
    samples: BTreeMap<u32, WireResponse>,
}

/// The cases `which` (indexes among `cases`, as planned: dataset rows unrendered), by
/// the hash part of their record ids. Each is rendered and hashed; a case batch cannot
/// carry is left out.
pub(crate) fn hashes(cases: &[Case], which: impl Iterator<Item = usize>) -> HashMap<String, Vec<usize>> {
    let mut by_hash: HashMap<String, Vec<usize>> = HashMap::new();
    for i in which {
        let case = &cases[i];
        if case.skip.is_some() || batch::invocation(case).is_err() {
            continue;
        }
        let Ok(rendered) = case.rendered() else { continue };
        let id = batch::record_id(&rendered, 0);
        let hash = batch::parse_record_id(&id).map(|(h, _)| h.to_owned()).unwrap_or_default();
        by_hash.entry(hash).or_default().push(i);
    }
    by_hash
}

/// Reads every output file under `dir` into the cassettes of `cases` (as planned:
/// dataset rows unrendered), found by `by_hash` (see [`hashes`]), with provenance `source`.
pub(crate) fn import(
    dir: &Path,
    cases: &[Case],
    by_hash: &HashMap<String, Vec<usize>>,
    source: String,
) -> Result<Imported, ImportError> {
    let outputs = output_files(dir)?;
    if outputs.is_empty() {
        return Err(ImportError::NoOutput(crate::fs::shown(dir)));
    }
    let api_of = |id: &str| {
        let (hash, _) = batch::parse_record_id(id)?;
        by_hash.get(hash).and_then(|at| at.first()).map(|&i| cases[i].api)
    };
    // The manifests are checked first: nothing is written from output that does not add up.
    let mut per_folder: BTreeMap<PathBuf, u64> = BTreeMap::new();
    for path in &outputs {
        let file = crate::fs::open_regular(path, crate::fs::Links::Follow)
            .map_err(|source| crate::fs::FsError::Read { path: path.clone(), source })?;
        let mut lines = 0;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|source| ImportError::Read { path: crate::fs::shown(path), source })?;
            lines += u64::from(!line.trim().is_empty());
        }
        *per_folder.entry(path.parent().map(Path::to_path_buf).unwrap_or_default()).or_default() += lines;
    }
    let mut imported = Imported { files: outputs.len(), ..Imported::default() };
    for (folder, lines) in &per_folder {
        if let Some(manifest) = read_manifest(folder)? {
            let counted = manifest.success + manifest.error;
            if counted != *lines {
                let path = crate::fs::shown(&folder.join("manifest.json.out"));
                return Err(ImportError::Manifest { path, manifest: counted, lines: *lines });
            }
            imported.manifests.insert(folder.clone(), manifest);
        }
    }
    let datasets = DatasetCassettes::default();
    let recorder = Recorder::batch(&datasets, source);
    let mut waiting: HashMap<usize, Waiting> = HashMap::new();
    let mut touched: Vec<usize> = Vec::new();
    // Reading the lines is quick; writing a case's recording (rendering, hashing and
    // serializing its whole prompt again) is not, so workers do that, one per core.
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get).clamp(1, 8);
    let (send, receive) = std::sync::mpsc::sync_channel::<(usize, BTreeMap<u32, WireResponse>)>(workers * 4);
    let receive = std::sync::Mutex::new(receive);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut kept = Vec::new();
                    loop {
                        let next = receive.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                        let Ok((i, samples)) = next else { return Ok(kept) };
                        let samples: Vec<WireResponse> = samples.into_values().collect();
                        if let Err(e) = keep(&recorder, &cases[i], &samples) {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            return Err(e);
                        }
                        kept.push((i, Answers::new(&samples).ok()));
                    }
                })
            })
            .collect();
        let read = (|| {
            for path in &outputs {
                let shown = crate::fs::shown(path);
                let file = crate::fs::open_regular(path, crate::fs::Links::Follow)
                    .map_err(|source| crate::fs::FsError::Read { path: path.clone(), source })?;
                for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
                    let line = line.map_err(|source| ImportError::Read { path: shown.clone(), source })?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let (id, response) = batch::read_output(&line, api_of).map_err(|error| ImportError::Line {
                        path: shown.clone(),
                        line: n + 1,
                        error,
                    })?;
                    imported.lines += 1;
                    imported.errored += u64::from(response.status >= 400);
                    let (hash, sample) = batch::parse_record_id(&id).unwrap_or_default();
                    for &i in by_hash.get(hash).into_iter().flatten() {
                        let case = &cases[i];
                        let entry = waiting.entry(i).or_insert_with(|| Waiting { samples: BTreeMap::new() });
                        if sample < case.samples {
                            entry.samples.insert(sample, response.clone());
                        }
                        if entry.samples.len() == case.samples as usize {
                            let done = waiting.remove(&i).map(|w| w.samples).unwrap_or_default();
                            // A worker that failed stops the reading; its error is the one said.
                            if failed.load(std::sync::atomic::Ordering::Relaxed) || send.send((i, done)).is_err() {
                                return Ok(());
                            }
                        }
                    }
                }
            }
            Ok::<(), ImportError>(())
        })();
        drop(send);
        let mut kept = Ok(());
        for handle in handles {
            match handle.join() {
                Ok(Ok(done)) => {
                    for (i, answers) in done {
                        imported.answered.insert(cases[i].id.clone(), answers);
                        touched.push(i);
                    }
                }
                Ok(Err(e)) => kept = Err(e),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        kept.and(read)
    });
    imported.incomplete = waiting.len();
    // The rows kept are folded into their datasets' cassettes even when a line failed.
    let mut folded = Ok(());
    for &i in &touched {
        // Once per dataset: its journal is taken by the first fold.
        if let Err(e) = datasets.fold(&cases[i]) {
            folded = Err(e);
        }
    }
    result?;
    folded?;
    Ok(imported)
}

/// Writes `case`'s cassette from its samples' answers, in sample order.
fn keep(recorder: &Recorder<'_>, case: &Case, samples: &[WireResponse]) -> Result<(), ImportError> {
    let case = case.rendered().map_err(|e| ImportError::Read {
        path: crate::fs::shown(&case.file),
        source: std::io::Error::other(format!("{}: {}", e.pointer, e.message)),
    })?;
    let request = request_for(&case);
    let interactions =
        samples.iter().map(|response| Interaction { request: request.clone(), response: response.clone() }).collect();
    recorder.keep(&case, "bedrock-batch".to_owned(), interactions, Vec::new())?;
    Ok(())
}

/// The `manifest.json.out` in `folder`, if there is one.
pub(crate) fn read_manifest(folder: &Path) -> Result<Option<Manifest>, ImportError> {
    let path = folder.join("manifest.json.out");
    let shown = crate::fs::shown(&path);
    let text = match crate::fs::read_text_limited(&path, 1 << 20, crate::fs::Links::Follow) {
        Ok(text) => text,
        Err(crate::fs::ReadError::Missing) => return Ok(None),
        Err(source) => return Err(crate::fs::FsError::Read { path, source }.into()),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| ImportError::Line {
        path: shown.clone(),
        line: e.line(),
        error: LineError::NotJson(e.to_string()),
    })?;
    let count = |key: &str| value[key].as_u64().unwrap_or(0);
    Ok(Some(Manifest {
        total: count("totalRecordCount"),
        processed: count("processedRecordCount"),
        success: count("successRecordCount"),
        error: count("errorRecordCount"),
        input_tokens: count("inputTokenCount"),
        output_tokens: count("outputTokenCount"),
    }))
}
