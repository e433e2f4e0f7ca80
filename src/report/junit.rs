//! JUnit XML (quick-junit): one `<testsuite>` per scenario file, one `<testcase>` per
//! case; failures carry the assertion messages and the snapshot diff. Read by GitHub,
//! GitLab and Jenkins test reporters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::record::CaseRecord;
use super::{ReportError, Reporter};
use crate::runner::Event;
use crate::verdict::Status;

/// Renders case records as a JUnit report.
pub(crate) fn render(cases: &[CaseRecord]) -> Result<String, ReportError> {
    let mut report = Report::new("gpt-oss-scenarios");
    let mut suites: Vec<TestSuite> = Vec::new();
    for c in cases {
        let index = match suites.iter().position(|s| s.name.as_str() == c.scenario) {
            Some(i) => i,
            None => {
                suites.push(TestSuite::new(c.scenario.as_str()));
                suites.len() - 1
            }
        };
        let status = match c.status {
            Status::Passed => TestCaseStatus::success(),
            Status::Skipped => {
                let mut s = TestCaseStatus::skipped();
                if let Some(why) = &c.skip_reason {
                    s.set_message(why.as_str());
                }
                s
            }
            Status::Failed | Status::Errored => {
                let kind = if c.status == Status::Failed { NonSuccessKind::Failure } else { NonSuccessKind::Error };
                let mut s = TestCaseStatus::non_success(kind);
                let lines = c.failure_lines();
                s.set_message(lines.first().cloned().unwrap_or_else(|| "failed".into()));
                let mut description = lines.join("\n");
                if let Some(diff) = c.snapshot.as_ref().and_then(|s| s.diff.as_ref()) {
                    description.push_str("\n\n");
                    description.push_str(diff);
                }
                s.set_description(description);
                if let Some(e) = &c.error {
                    s.set_type(e.kind.as_str());
                }
                s
            }
        };
        let mut case = TestCase::new(c.id.as_str(), status);
        case.set_classname(format!("{}.{}", c.api, c.model));
        case.set_time(Duration::from_millis(c.duration_ms));
        suites[index].add_test_case(case);
    }
    report.add_test_suites(suites);
    Ok(report.to_string()?)
}

/// Collects records during the run; writes the file when it ends.
pub(crate) struct JunitReporter {
    path: PathBuf,
    cases: Vec<CaseRecord>,
}

impl JunitReporter {
    pub(crate) fn new(path: &Path) -> JunitReporter {
        JunitReporter { path: path.to_owned(), cases: Vec::new() }
    }
}

impl Reporter for JunitReporter {
    fn event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::CaseFinished { result } => {
                let mut record = CaseRecord::from_result(result);
                // JUnit shows no answers: keep only what the XML needs.
                record.final_text = None;
                record.reasoning = None;
                self.cases.push(record);
            }
            Event::RunFinished { .. } => {
                let xml = render(&self.cases).map_err(std::io::Error::other)?;
                crate::fs::write_atomic(&self.path, &xml).map_err(std::io::Error::other)?;
            }
            _ => {}
        }
        Ok(())
    }
}
