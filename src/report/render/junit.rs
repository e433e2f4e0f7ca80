//! JUnit XML (quick-junit): one `<testsuite>` per scenario file, one `<testcase>` per
//! case (a dataset's rows included) and one per dataset for its thresholds; failures
//! carry the assertion messages, the snapshot diff and the metrics. Read by GitHub,
//! GitLab and Jenkins test reporters.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::ReportError;
use crate::report::record::RunRecord;
use crate::verdict::Status;

/// The suite of a scenario file, added on first use.
fn suite<'a>(suites: &'a mut Vec<TestSuite>, scenario: &str) -> &'a mut TestSuite {
    let index = match suites.iter().position(|s| s.name.as_str() == scenario) {
        Some(i) => i,
        None => {
            suites.push(TestSuite::new(scenario));
            suites.len() - 1
        }
    };
    &mut suites[index]
}

/// How much of a failed case's answer the report quotes.
pub(crate) const ANSWER_EXCERPT: usize = 500;

/// The record as JUnit XML: a suite per scenario file, a test case per case and per
/// dataset.
pub(crate) fn render(run: &RunRecord) -> Result<String, ReportError> {
    let (cases, datasets) = (&run.cases, &run.datasets);
    let mut report = Report::new("gpt-oss-scenarios");
    let mut suites: Vec<TestSuite> = Vec::new();
    for c in cases {
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
                // What the model said, so a failure reads on the CI page without the report.
                if let Some(answer) = c.final_text.as_deref().filter(|a| !a.is_empty()) {
                    description.push_str("\n\nanswer: ");
                    description.push_str(&crate::verdict::assertions::excerpt(answer, ANSWER_EXCERPT));
                }
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
        // CI pages group by classname: the scenario file, as a test's module would be.
        case.set_classname(c.scenario.as_str());
        case.set_time(Duration::from_millis(c.duration_ms));
        if let Some(u) = &c.usage {
            case.add_property(Property::new("input_tokens", u.input_tokens.to_string()));
            case.add_property(Property::new("output_tokens", u.output_tokens.to_string()));
        }
        if let Some(usd) = c.cost_usd {
            case.add_property(Property::new("cost_usd", format!("{usd:.8}")));
        }
        if let Some(tier) = &c.service_tier {
            case.add_property(Property::new("service_tier", tier.as_str()));
        }
        if let Some(source) = c.source.and_then(|s| serde_json::to_value(s).ok()) {
            case.add_property(Property::new("source", source.as_str().unwrap_or_default()));
        }
        if let Some(job) = &c.batch_job {
            case.add_property(Property::new("batch_job", job.as_str()));
        }
        if let Some(usd) = c.judging.and_then(|j| j.cost_usd) {
            case.add_property(Property::new("judging_cost_usd", format!("{usd:.8}")));
        }
        suite(&mut suites, &c.scenario).add_test_case(case);
    }
    for d in datasets {
        let status = if d.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(d.reasons.first().cloned().unwrap_or_else(|| "failed".into()));
            s.set_description(d.lines().join("\n"));
            s
        };
        // The dataset's verdict beside its rows: `name (dataset)`.
        let mut case = TestCase::new(format!("{} (dataset)", d.id), status);
        case.set_classname(d.scenario.as_str());
        case.set_system_out(d.lines().join("\n"));
        suite(&mut suites, &d.scenario).add_test_case(case);
    }
    // JUnit has no run-wide properties: every suite carries the run's cost, per model too.
    let cost = &run.summary.cost;
    for s in &mut suites {
        s.add_property(Property::new("run.cost_usd", format!("{:.8}", cost.usd)));
        s.add_property(Property::new("run.spent_usd", format!("{:.8}", cost.spent_usd)));
        for m in &cost.models {
            s.add_property(Property::new(format!("run.cost_usd.{}", m.model), format!("{:.8}", m.usd)));
        }
        if let Some(usd) = run.summary.judging.cost_usd {
            s.add_property(Property::new("run.judging_cost_usd", format!("{usd:.8}")));
        }
    }
    report.add_test_suites(suites);
    Ok(xml_safe(&report.to_string()?))
}

/// `xml` with every character XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF,
/// lone surrogates cannot occur in a `str`) replaced by U+FFFD: one such character in
/// a model's answer would otherwise make the whole file unreadable. They can only
/// occur in text, never in markup, so replacing them in the rendered file is safe.
fn xml_safe(xml: &str) -> String {
    let allowed =
        |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    xml.chars().map(|c| if allowed(c) { c } else { '\u{FFFD}' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: U+FFFE in model text made the whole JUnit file invalid.
    #[test]
    fn characters_xml_forbids_are_replaced() {
        let xml = xml_safe("<m>a\u{FFFE}b\u{1}c\u{1B}[31md\te\u{1F600}</m>");
        assert_eq!(xml, "<m>a\u{FFFD}b\u{FFFD}c\u{FFFD}[31md\te\u{1F600}</m>");
        let doc = format!(
            "<testsuites><testsuite name=\"s\"><testcase name=\"{}\"/></testsuite></testsuites>",
            xml_safe("x\u{FFFF}\u{0}")
        );
        assert!(junit_parser::from_reader(std::io::Cursor::new(doc)).is_ok());
    }
}
