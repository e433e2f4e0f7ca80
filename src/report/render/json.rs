//! `--report-json`: the run's record as JSON, serialized from its types. While the run
//! goes, `<report>.partial` holds the record's head on its first line and each finished
//! case on a line of its own, flushed as it comes, so memory stays flat and a run killed
//! outright (SIGKILL) leaves every finished case readable (`read`). When the run ends
//! the report is written whole, its cases read back one at a time from the partial
//! file, and renamed into place: a reader never sees a half-written report.

use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::ser::{Error as _, SerializeSeq};

use super::Render;
use crate::report::build::Update;
use crate::report::record::{RunHead, RunRecord};
use crate::report::{OutputError, ReportError};

pub(crate) struct JsonRenderer {
    path: PathBuf,
    head: Option<RunHead>,
    out: Option<BufWriter<File>>,
}

impl JsonRenderer {
    pub(crate) fn new(path: &Path) -> JsonRenderer {
        JsonRenderer { path: path.to_owned(), head: None, out: None }
    }
}

/// `<report>.partial`: where the report grows until the run ends.
fn partial_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

impl Render for JsonRenderer {
    fn update(&mut self, update: &Update<'_>) -> Result<(), Vec<OutputError>> {
        self.follow(update)
            .map_err(|e| vec![OutputError { name: self.path.display().to_string(), source: ReportError::Io(e) }])
    }
}

impl JsonRenderer {
    fn follow(&mut self, update: &Update<'_>) -> std::io::Result<()> {
        match update {
            Update::Started { head, .. } => {
                let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir)?;
                let mut out = BufWriter::new(File::create(partial_path(&self.path))?);
                serde_json::to_writer(&mut out, head)?;
                out.write_all(b"\n")?;
                out.flush()?;
                self.head = Some((*head).clone());
                self.out = Some(out);
            }
            Update::Case(case) => {
                let out = self.out.as_mut().ok_or_else(|| std::io::Error::other("the report was not started"))?;
                serde_json::to_writer(&mut *out, case)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
            Update::Finished(end) => {
                let (Some(head), Some(out)) = (self.head.take(), self.out.take()) else {
                    return Err(std::io::Error::other("the report was not started"));
                };
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                let partial = partial_path(&self.path);
                let run = RunRecord::assemble(head, Streamed(&partial), (*end).clone());
                crate::fs::write_atomic_with(&self.path, |out| {
                    serde_json::to_writer(&mut *out, &run).map_err(std::io::Error::from)?;
                    out.write_all(b"\n")
                })
                .map_err(std::io::Error::other)?;
                std::fs::remove_file(partial)?;
            }
            Update::CaseStarted { .. } | Update::Dataset(_) => {}
        }
        Ok(())
    }
}

/// The cases of a partial report, serialized as the record's `cases` by reading them
/// back a line at a time: never all in memory.
struct Streamed<'a>(&'a Path);

impl serde::Serialize for Streamed<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let file = File::open(self.0).map_err(S::Error::custom)?;
        let mut lines = std::io::BufReader::new(file).lines();
        // The first line is the head, already written.
        lines.next().transpose().map_err(S::Error::custom)?;
        let mut seq = serializer.serialize_seq(None)?;
        for line in lines {
            let line = line.map_err(S::Error::custom)?;
            let case: &serde_json::value::RawValue = serde_json::from_str(&line).map_err(S::Error::custom)?;
            seq.serialize_element(case)?;
        }
        seq.end()
    }
}

/// A whole record (`merge-reports`), pretty.
pub(crate) fn render(run: &RunRecord) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(run)
}
