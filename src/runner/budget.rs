//! `--max-cost`: no case starts once what was spent, plus what the cases in flight may
//! still cost, plus what it may cost, would pass the budget. What a case may cost is
//! bounded before it starts (`execute::estimate`); what it cost is counted from its
//! answers when it ends. Replayed answers cost nothing.

use crate::execute::estimate;
use crate::plan::Case;
use crate::pricing;
use crate::recordings::{self, DatasetCassettes};
use crate::response::{ErrorKind, Source};
use crate::scenario::Mode;
use crate::verdict::CaseVerdict;

/// A run's budget in USD, and what is spent and reserved against it.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: f64,
    spent: f64,
    /// The bounds of the cases in flight, added up.
    reserved: f64,
}

impl Budget {
    pub(crate) fn new(limit: f64) -> Budget {
        Budget { limit, spent: 0.0, reserved: 0.0 }
    }

    /// What `case` may cost, in `mode`: in replay, nothing; in auto with a recording
    /// that still fits, its graders' questions (a grader's answer the recording lacks is
    /// asked live); else its whole estimate. A model with no price counts as nothing: it
    /// cannot be budgeted.
    pub(crate) fn bound(case: &Case, mode: Mode, datasets: &DatasetCassettes) -> f64 {
        if mode == Mode::Replay {
            return 0.0;
        }
        // A dataset row is found, and estimated, as it will run: rendered.
        let Ok(rendered) = case.rendered() else { return 0.0 };
        let estimate = estimate::case(&rendered, None);
        let replays = mode == Mode::Auto && recordings::find(&rendered, datasets).is_ok();
        if replays { estimate.graders_usd } else { estimate.usd }.unwrap_or(0.0)
    }

    /// Whether a case that may cost `bound` could ever start: what is spent only grows.
    pub(crate) fn could_fit(&self, bound: f64) -> bool {
        self.spent + bound <= self.limit
    }

    /// Whether a case that may cost `bound` can start now.
    pub(crate) fn admits(&self, bound: f64) -> bool {
        self.spent + self.reserved + bound <= self.limit
    }

    /// A case that may cost `bound` starts.
    pub(crate) fn reserve(&mut self, bound: f64) {
        self.reserved += bound;
    }

    /// A case that was reserved `bound` ended: the reservation goes, what it cost stays.
    pub(crate) fn settle(&mut self, bound: f64, case: &Case, verdict: &CaseVerdict) {
        self.reserved = (self.reserved - bound).max(0.0);
        let paid = spent(case, verdict);
        // An answer cut short (a timeout, a broken stream) was generated, and billed,
        // without saying all its usage (an agent's says its earlier turns' only): it
        // counts at the case's bound, not as free.
        let unsaid = verdict.samples.iter().any(|s| {
            let r = &s.response;
            r.source != Source::Replayed
                && r.error.as_ref().is_some_and(|e| {
                    matches!(
                        e.kind,
                        ErrorKind::Timeout
                            | ErrorKind::Truncated
                            | ErrorKind::StreamError
                            | ErrorKind::TooLarge
                            | ErrorKind::Cancelled
                    )
                })
        });
        self.spent += if unsaid { paid.max(bound) } else { paid };
    }
}

/// What a finished case paid for: its answers that did not come from a recording, and
/// their graders', at their prices.
fn spent(case: &Case, verdict: &CaseVerdict) -> f64 {
    let answers: f64 = verdict
        .samples
        .iter()
        .filter(|s| s.response.source != Source::Replayed)
        .filter_map(|s| {
            let (usage, served) = (s.response.usage?, s.response.service_tier.as_deref());
            pricing::answer(&case.spec, &case.model, served, usage.input_tokens, usage.output_tokens)
        })
        .sum();
    // Graders are asked live even for a replayed answer when the recording lacks theirs.
    let graders: f64 = verdict.samples.iter().filter_map(|s| s.grades.cost().live_usd).sum();
    answers + graders
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::response::{ModelResponse, Usage};
    use crate::verdict::SampleOutcome;

    fn case() -> Case {
        Case::for_tests(
            serde_json::json!({"name": "n", "api": "converse", "model": "openai.gpt-oss-120b-1:0", "prompt": "p"}),
        )
    }

    /// A verdict of samples with these sources, each of a million tokens in and out.
    fn answered(sources: &[Source]) -> CaseVerdict {
        let mut verdict = CaseVerdict::skipped();
        for source in sources {
            let usage = Some(Usage { input_tokens: 1_000_000, output_tokens: 1_000_000 });
            verdict.samples.push(SampleOutcome {
                response: ModelResponse { usage, source: *source, ..ModelResponse::default() },
                assertions: Vec::new(),
                snapshot_matched: None,
                passed: true,
                errored: false,
                grades: Default::default(),
            });
        }
        verdict
    }

    #[test]
    fn a_case_starts_only_if_spent_reserved_and_its_bound_fit() {
        let mut budget = Budget::new(1.0);
        assert!(budget.admits(1.0), "exactly the budget fits");
        assert!(!budget.admits(1.01));
        budget.reserve(0.6);
        assert!(!budget.admits(0.5), "a case in flight counts at its bound");
        // It ends having paid for a live answer (0.15 + 0.60 at the 120b's price) and
        // a replayed one (nothing): its reservation goes, its cost stays.
        budget.settle(0.6, &case(), &answered(&[Source::Live, Source::Replayed]));
        assert!((budget.spent - 0.75).abs() < 1e-9, "{}", budget.spent);
        assert!(budget.admits(0.25) && !budget.admits(0.26));
        // A live answer cut at its timeout said no usage: it counts at its bound.
        let mut cut = answered(&[Source::Live]);
        cut.samples[0].response.usage = None;
        cut.samples[0].response.error = Some(crate::response::CallError::new(ErrorKind::Timeout, None, "slow"));
        budget.reserve(0.2);
        budget.settle(0.2, &case(), &cut);
        assert!((budget.spent - 0.95).abs() < 1e-9, "{}", budget.spent);
        // One refused before any token (no credentials) cost nothing.
        let mut refused = answered(&[Source::Live]);
        refused.samples[0].response.usage = None;
        refused.samples[0].response.error = Some(crate::response::CallError::new(ErrorKind::Auth, None, "no key"));
        budget.settle(0.0, &case(), &refused);
        assert!((budget.spent - 0.95).abs() < 1e-9);
    }

    #[test]
    fn a_grader_asked_live_for_a_replayed_answer_counts() {
        let mut replayed = answered(&[Source::Replayed]);
        let cost = crate::grading::Cost { usd: Some(0.3), live_usd: Some(0.2), ..Default::default() };
        let grade = crate::grading::Grade {
            outcome: Err(crate::grading::GradeError::Truncated),
            reasoning: String::new(),
            model: "m".into(),
            cost,
        };
        replayed.samples[0].grades.checks.push((0, grade));
        let mut budget = Budget::new(1.0);
        budget.settle(0.0, &case(), &replayed);
        assert!((budget.spent - 0.2).abs() < 1e-9, "the answer was free, its live grader not: {}", budget.spent);
        assert!(budget.could_fit(0.8) && !budget.could_fit(0.81));
    }
}
