//! [`Recordings`]: the dataset cassettes of a run, each read once and shared by all
//! its rows (a lookup per row is one hash away), and the rows recorded into them,
//! written at most every few seconds while recording and once more when the
//! dataset's last row finishes. Nothing is lost between writes that a finished
//! dataset does not write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cassette::{self, Cassette, CassetteError, DatasetCassette, DatasetReplay, Recorded};
use crate::plan::Case;

/// While rows are recorded, their cassette is rewritten at most this often.
const WRITE_EVERY: Duration = Duration::from_secs(2);

/// The run's dataset cassettes, by file.
#[derive(Default)]
pub struct Recordings {
    files: Mutex<HashMap<PathBuf, Arc<Mutex<Slot>>>>,
}

#[derive(Default)]
struct Slot {
    /// What replay needs of the file (its responses), read on first use.
    replay: Option<Result<DatasetReplay, String>>,
    /// The whole file, read when the first row is recorded into it.
    loaded: Option<Loaded>,
    /// Rows recorded since the last write.
    dirty: bool,
    written_at: Option<Instant>,
}

enum Loaded {
    Missing,
    Ready(DatasetCassette),
    /// Unreadable, kept as its error: every row says the same.
    Broken(String),
}

fn load(path: &Path) -> Loaded {
    match DatasetCassette::read(path) {
        Ok(c) => Loaded::Ready(c),
        Err(CassetteError::Missing { .. }) => Loaded::Missing,
        Err(e) => Loaded::Broken(e.to_string()),
    }
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

    /// Keeps a row's new recording; writes the file if the last write is a while ago.
    pub(crate) fn put(&self, case: &Case, recording: Cassette) -> Result<(), RecordError> {
        let path = cassette::path_for(case);
        let slot = self.slot(&path);
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let loaded = slot.loaded.get_or_insert_with(|| load(&path));
        if matches!(loaded, Loaded::Missing) {
            let scenario = crate::fs::slashed(&case.source);
            *loaded = Loaded::Ready(DatasetCassette { format: cassette::FORMAT, scenario, rows: HashMap::new() });
        }
        match loaded {
            Loaded::Ready(file) => file.put(recording),
            // An unreadable cassette is not overwritten: it may hold recordings worth keeping.
            Loaded::Broken(e) => {
                return Err(RecordError(format!("{e}: not overwritten, so this row's recording is not kept")));
            }
            Loaded::Missing => {}
        }
        slot.dirty = true;
        if slot.written_at.is_none_or(|t| t.elapsed() >= WRITE_EVERY) {
            write(&path, &mut slot)?;
        }
        Ok(())
    }

    /// Writes the cassette of `case`'s dataset if rows were recorded since its last write.
    pub(crate) fn flush(&self, case: &Case) -> Result<(), RecordError> {
        let path = cassette::path_for(case);
        let Some(slot) = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&path).cloned()
        else {
            return Ok(());
        };
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.dirty { write(&path, &mut slot) } else { Ok(()) }
    }
}

fn write(path: &Path, slot: &mut Slot) -> Result<(), RecordError> {
    let Some(Loaded::Ready(file)) = &slot.loaded else { return Ok(()) };
    crate::fs::write_atomic(path, &file.to_text()).map_err(|e| RecordError(e.to_string()))?;
    slot.dirty = false;
    slot.written_at = Some(Instant::now());
    Ok(())
}
