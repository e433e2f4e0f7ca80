//! The state file of a run whose jobs outlive it: the jobs it submitted, and the suite
//! and selection that made them, so that `run --collect STATE` plans the same cases and
//! picks the answers up, from this machine or another, tonight or tomorrow. It holds no
//! secret: ARNs, S3 locations, paths and flags.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::select::Selection;
use crate::scenario::Engine;

/// The state file's format: a collect refuses any other.
pub(crate) const FORMAT: u32 = 1;

/// What a run submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    pub(crate) format: u32,
    /// The run's id, which names its S3 folders.
    pub(crate) run: String,
    pub(crate) submitted_at: String,
    /// The suite's paths, as given.
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) selection: Selection,
    /// The selection flags as typed, for reports.
    pub(crate) selection_flags: Vec<String>,
    /// `--engine`, when given.
    pub(crate) engine: Option<Engine>,
    /// `--batch-input`, `--batch-output` and `--batch-role-arn`, when given.
    #[serde(default)]
    pub(crate) overrides: super::jobs::Overrides,
    /// The folder the submit ran from (the suite's), which `paths` are relative to: a
    /// collect on this machine runs from there, wherever it is typed.
    #[serde(default)]
    pub(crate) root: PathBuf,
    pub(crate) jobs: Vec<Job>,
}

/// One submitted job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Job {
    pub(crate) arn: String,
    pub(crate) name: String,
    pub(crate) model: String,
    pub(crate) region: String,
    pub(crate) invocation: String,
    pub(crate) records: u64,
    /// The records' file.
    pub(crate) input: String,
    /// Where the job writes: its answers are under `{output}{job id}/`.
    pub(crate) output: String,
}

impl Job {
    /// The job's id: the last part of its ARN.
    pub(crate) fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

/// A state file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error(transparent)]
    Fs(#[from] crate::fs::FsError),
    #[error("{path}:{line}:{column}: not a batch state file: {message}")]
    Invalid { path: String, line: usize, column: usize, message: String },
    #[error("{path}: format {found}, and this version reads format {FORMAT}")]
    Format { path: String, found: u32 },
}

impl State {
    /// Where a run's state is kept: beside the suite, named by the run.
    pub(crate) fn path_for(run: &str) -> PathBuf {
        Path::new(".gpt-oss-scenarios").join("batch").join(format!("{run}.json"))
    }

    pub(crate) fn write(&self, path: &Path) -> Result<(), crate::fs::FsError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|source| crate::fs::FsError::Write { path: path.to_owned(), source })?;
        }
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        crate::fs::write_atomic(path, &text)
    }

    pub(crate) fn read(path: &Path) -> Result<State, StateError> {
        let text = crate::fs::read_text_limited(path, 16 << 20, crate::fs::Links::Follow)
            .map_err(|source| crate::fs::FsError::Read { path: path.to_owned(), source })?;
        let shown = crate::fs::shown(path);
        let state: State = serde_json::from_str(&text).map_err(|e| StateError::Invalid {
            path: shown.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if state.format != FORMAT {
            return Err(StateError::Format { path: shown, found: state.format });
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reads_back_as_written_and_a_broken_one_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let state = State {
            format: FORMAT,
            run: "r1".into(),
            submitted_at: "2026-12-03T00:00:00Z".into(),
            paths: vec!["scenarios".into()],
            selection: Selection { tags: vec!["nightly".into()], shard: Some((1, 2)), ..Selection::default() },
            selection_flags: vec!["--tag=nightly".into()],
            engine: Some(Engine::Batch),
            overrides: super::super::jobs::Overrides::default(),
            root: "/suite".into(),
            jobs: vec![Job {
                arn: "arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/abcdef123456".into(),
                name: "n".into(),
                model: "m".into(),
                region: "us-west-2".into(),
                invocation: "InvokeModel".into(),
                records: 100,
                input: "s3://b/in/r1/n.jsonl".into(),
                output: "s3://b/out/r1/".into(),
            }],
        };
        state.write(&path).unwrap();
        assert_eq!(State::read(&path).unwrap(), state);
        assert_eq!(state.jobs[0].id(), "abcdef123456");
        std::fs::write(&path, "{\n  \"format\": 1,\n  \"run\": 3\n}").unwrap();
        let e = State::read(&path).unwrap_err().to_string();
        assert!(e.contains("s.json:3:"), "{e}");
    }
}
