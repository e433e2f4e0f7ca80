//! Render: every format of the run's record, and nothing else. The terminal and the
//! JSON report follow the run as it goes (they take [`Update`]s); JUnit, Markdown and
//! HTML are rendered from the whole record when it ends ([`Collected`]), exactly as
//! `merge-reports` renders a merged one ([`Outputs::write`]).

pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod terminal;

use std::io::Write as _;
use std::path::PathBuf;

use super::build::Update;
use super::case::CaseRecord;
use super::record::{RunHead, RunRecord};
use super::{OutputError, ReportError};
use crate::verdict::Status;

/// A format that follows the run. It fails with the outputs it could not write.
pub(crate) trait Render {
    fn update(&mut self, update: &Update<'_>) -> Result<(), Vec<OutputError>>;
}

/// Where the formats rendered from the whole record go.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outputs {
    pub(crate) junit: Option<PathBuf>,
    pub(crate) summary_md: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`, appended to as every step does.
    pub(crate) step_summary: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
}

impl Outputs {
    pub(crate) fn any(&self) -> bool {
        self.junit.is_some() || self.summary_md.is_some() || self.step_summary.is_some() || self.html.is_some()
    }

    /// Renders `run` into each output, and says what could not be written.
    pub(crate) fn write(&self, run: &RunRecord) -> Vec<OutputError> {
        let mut errors = Vec::new();
        let mut put = |path: &PathBuf, text: Result<String, ReportError>| {
            if let Err(source) = text.and_then(|text| Ok(crate::fs::write_atomic(path, &text)?)) {
                errors.push(OutputError { name: path.display().to_string(), source });
            }
        };
        if let Some(path) = &self.junit {
            put(path, junit::render(run));
        }
        if let Some(path) = &self.html {
            put(path, html::render(run));
        }
        if self.summary_md.is_some() || self.step_summary.is_some() {
            let md = markdown::render(run);
            if let Some(path) = &self.summary_md {
                put(path, Ok(md.clone()));
            }
            if let Some(path) = &self.step_summary {
                let appended = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(md.as_bytes()));
                if let Err(source) = appended {
                    let source = crate::fs::FsError::Write { path: path.clone(), source }.into();
                    errors.push(OutputError { name: "GITHUB_STEP_SUMMARY".into(), source });
                }
            }
        }
        errors
    }
}

/// JUnit, Markdown and HTML: the cases are kept as they finish, and the formats
/// rendered from the whole record at the end. Only what the outputs show is kept: HTML
/// shows the answer each case shows, JUnit an excerpt of the answers of cases that
/// failed, Markdown none.
pub(crate) struct Collected {
    outputs: Outputs,
    head: Option<RunHead>,
    cases: Vec<CaseRecord>,
}

impl Collected {
    pub(crate) fn new(outputs: Outputs) -> Collected {
        Collected { outputs, head: None, cases: Vec::new() }
    }

    fn keep(&self, case: &CaseRecord) -> Option<CaseRecord> {
        let failing = matches!(case.status, Status::Failed | Status::Errored);
        let whole = self.outputs.html.is_some();
        if !whole && self.outputs.junit.is_none() && !failing {
            return None;
        }
        let mut case = case.clone();
        case.answers.clear();
        if !whole {
            case.reasoning = None;
            case.turns.clear();
            case.prompt = None;
            case.final_text = case
                .final_text
                .filter(|_| failing && self.outputs.junit.is_some())
                .map(|text| crate::verdict::assertions::excerpt(&text, junit::ANSWER_EXCERPT));
        }
        Some(case)
    }
}

impl Render for Collected {
    fn update(&mut self, update: &Update<'_>) -> Result<(), Vec<OutputError>> {
        match update {
            Update::Started { head, .. } => self.head = Some((*head).clone()),
            Update::Case(case) => {
                if let Some(kept) = self.keep(case) {
                    self.cases.push(kept);
                }
            }
            Update::Finished(end) => {
                let Some(head) = self.head.take() else { return Ok(()) };
                let run = RunRecord::assemble(head, std::mem::take(&mut self.cases), (*end).clone());
                let errors = self.outputs.write(&run);
                if !errors.is_empty() {
                    return Err(errors);
                }
            }
            Update::CaseStarted { .. } | Update::Dataset(_) => {}
        }
        Ok(())
    }
}
