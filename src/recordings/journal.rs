//! [`DatasetCassettes`]: the dataset cassettes of a run, each read once and shared by
//! all its rows (a lookup per row is one hash away), and the rows recorded into them.
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

use super::Recording;
use super::cassette::{self, Cassette, DatasetReplay, RecordingError};
use crate::plan::Case;

/// The run's dataset cassettes, by file.
#[derive(Default)]
pub struct DatasetCassettes {
    files: Mutex<HashMap<PathBuf, Arc<Mutex<Slot>>>>,
}

#[derive(Default)]
struct Slot {
    /// What replay needs of the file (its responses), read on first use; a file that
    /// could not be read is kept as its error, which every row then reports.
    replay: Option<Result<DatasetReplay, Arc<RecordingError>>>,
    /// The journal, open for appending once a row has been recorded.
    journal: Option<std::fs::File>,
}

impl DatasetCassettes {
    fn slot(&self, path: &Path) -> Arc<Mutex<Slot>> {
        let mut files = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.entry(path.to_path_buf()).or_default().clone()
    }

    /// The recording of a row case.
    pub(crate) fn recording_for(&self, case: &Case) -> Result<Recording, RecordingError> {
        let path = cassette::path_for(case);
        let slot = self.slot(&path);
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match slot.replay.get_or_insert_with(|| DatasetReplay::read(&path).map_err(Arc::new)) {
            Ok(file) => file.recording_for(case),
            Err(e) if matches!(**e, RecordingError::Missing { .. }) => Err(RecordingError::Missing { path }),
            Err(e) => Err(RecordingError::Broken(e.clone())),
        }
    }

    /// Appends a row's new recording to its cassette's journal.
    pub(crate) fn append(&self, case: &Case, recording: Cassette) -> Result<(), RecordingError> {
        let path = cassette::path_for(case);
        let Some(line) = cassette::journal_line(recording) else { return Ok(()) };
        let slot = self.slot(&path);
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let journal = cassette::journal_path(&path);
        let failed = |source| RecordingError::from(crate::fs::FsError::Write { path: journal.clone(), source });
        let file = match &mut slot.journal {
            Some(file) => file,
            empty => {
                if let Some(dir) = journal.parent() {
                    std::fs::create_dir_all(dir).map_err(failed)?;
                }
                let mut file =
                    std::fs::OpenOptions::new().create(true).read(true).append(true).open(&journal).map_err(failed)?;
                cut_torn_line(&mut file).map_err(failed)?;
                empty.insert(file)
            }
        };
        // One write per line. A kill mid-write tears at most this line, which the
        // reader leaves out and the next run cuts off; a write that fails is undone.
        let before = file.metadata().map_err(failed)?.len();
        file.write_all(line.as_bytes()).map_err(|e| {
            let _ = file.set_len(before);
            failed(e)
        })
    }

    /// Folds the journal of `case`'s dataset into its cassette, if rows were recorded.
    pub(crate) fn fold(&self, case: &Case) -> Result<(), RecordingError> {
        let path = cassette::path_for(case);
        let Some(slot) = self.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&path).cloned()
        else {
            return Ok(());
        };
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.journal.take().is_none() {
            return Ok(());
        }
        fold(&path, case)
    }
}

/// Cuts a journal back to its last whole line: what a kill tore off mid-write would
/// otherwise run into the next line appended.
fn cut_torn_line(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut end = file.metadata()?.len();
    let mut block = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let piece = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(piece)?;
        if let Some(newline) = piece.iter().rposition(|b| *b == b'\n') {
            let whole = start + newline as u64 + 1;
            return if whole == file.metadata()?.len() { Ok(()) } else { file.set_len(whole) };
        }
        end = start;
    }
    file.set_len(0)
}

/// Writes the cassette at `path` with its journal's rows in it, then removes the
/// journal. An unreadable cassette is not overwritten (see
/// [`RecordingError::NotFolded`]).
fn fold(path: &Path, case: &Case) -> Result<(), RecordingError> {
    let journal = cassette::journal_path(path);
    let kept = |e: RecordingError| RecordingError::NotFolded { source: Box::new(e), journal: journal.clone() };
    match super::fold::fold(path, &journal, crate::fs::slashed(&case.source)) {
        Ok(()) => Ok(crate::fs::remove(&journal)?),
        Err(RecordingError::Write(e)) => Err(RecordingError::Write(e)),
        Err(e) => Err(kept(e)),
    }
}
