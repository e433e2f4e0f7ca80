//! [`Recordings`]: the dataset cassettes of a run, each read once and shared by all
//! its rows (a lookup per row is one hash away), and the rows recorded into them.
//!
//! A recorded row is appended to its cassette's journal (`<cassette>.journal`, one JSON
//! line per row) as soon as it finishes: recording costs the same per row however many
//! came before, and a kill loses at most the rows in flight. When the dataset's last
//! row finishes, the journal is folded into the cassette in one atomic write. Replay
//! reads a journal a killed run left behind as part of its cassette.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::cassette::{self, Cassette, CassetteError, DatasetCassette, DatasetReplay, Recorded};
use crate::plan::Case;

/// The run's dataset cassettes, by file.
#[derive(Default)]
pub struct Recordings {
    files: Mutex<HashMap<PathBuf, Arc<Mutex<Slot>>>>,
}

#[derive(Default)]
struct Slot {
    /// What replay needs of the file (its responses), read on first use.
    replay: Option<Result<DatasetReplay, String>>,
    /// The journal, open for appending once a row has been recorded.
    journal: Option<std::fs::File>,
}

/// Why a recorded row could not be kept.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RecordError(String);

impl Recordings {
    fn slot(&self, path: &Path) -> Arc<Mutex<Slot>> {
        let mut files = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.entry(path.to_path_buf()).or_default().clone()
    }

    /// The recording of a row case.
    pub(crate) fn responses_for(&self, case: &Case) -> Result<Recorded, CassetteError> {
        let path = cassette::path_for(case);
        let slot = self.slot(&path);
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let replay = slot.replay.get_or_insert_with(|| match DatasetReplay::read(&path) {
            Ok(r) => Ok(r),
            Err(CassetteError::Missing { .. }) => Err(String::new()),
            Err(e) => Err(e.to_string()),
        });
        match replay {
            Ok(file) => file.responses_for(case),
            Err(e) if e.is_empty() => Err(CassetteError::Missing { path }),
            Err(e) => Err(CassetteError::Broken(e.clone())),
        }
    }

    /// Appends a row's new recording to its cassette's journal.
    pub(crate) fn put(&self, case: &Case, recording: Cassette) -> Result<(), RecordError> {
        let path = cassette::path_for(case);
        let Some(line) = cassette::journal_line(recording) else { return Ok(()) };
        let slot = self.slot(&path);
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let journal_path = cassette::journal_path(&path);
        let failed =
            |e: std::io::Error| RecordError(format!("failed to write {}: {e}", crate::fs::shown(&journal_path)));
        if slot.journal.is_none() {
            if let Some(dir) = journal_path.parent() {
                std::fs::create_dir_all(dir).map_err(failed)?;
            }
            let file = std::fs::OpenOptions::new().create(true).append(true).open(&journal_path).map_err(failed)?;
            slot.journal = Some(file);
        }
        // One write per line: a kill mid-write tears at most this line, which the
        // reader then leaves out.
        slot.journal.as_mut().map_or(Ok(()), |file| file.write_all(line.as_bytes())).map_err(failed)
    }

    /// Folds the journal of `case`'s dataset into its cassette, if rows were recorded.
    pub(crate) fn flush(&self, case: &Case) -> Result<(), RecordError> {
        let path = cassette::path_for(case);
        let Some(slot) = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&path).cloned()
        else {
            return Ok(());
        };
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.journal.take().is_none() {
            return Ok(());
        }
        fold(&path, case).map_err(RecordError)
    }
}

/// Writes the cassette at `path` with its journal's rows in it, then removes the
/// journal. An unreadable cassette is not overwritten: it may hold recordings worth
/// keeping, and the journal keeps the new ones.
fn fold(path: &Path, case: &Case) -> Result<(), String> {
    let journal = cassette::journal_path(path);
    let kept =
        |e: String| format!("{e}: not overwritten; the rows recorded are kept in {}", crate::fs::shown(&journal));
    let mut file = match DatasetCassette::read_alone(path) {
        Ok(file) => file,
        Err(CassetteError::Missing { .. }) => DatasetCassette {
            format: cassette::FORMAT,
            scenario: crate::fs::slashed(&case.source),
            rows: HashMap::new(),
        },
        Err(e) => return Err(kept(e.to_string())),
    };
    file.put_all(cassette::read_journal(&journal).map_err(|e| kept(e.to_string()))?);
    file.write(path).map_err(|e| e.to_string())?;
    crate::fs::remove(&journal).map_err(|e| e.to_string())
}
