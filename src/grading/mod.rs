//! Grading: what a judge asks a grading model and how its answers are read and
//! decided. Pure: the prompts ([`prompt`]), each question as the grader's own case
//! ([`questions`]), the tolerant reading of a verdict ([`parse`]) and the majority
//! decision ([`decide`]). `execute` asks the grader; `verdict` turns a [`Grade`] into
//! an assertion's outcome or a snapshot's.

pub(crate) mod parse;
pub(crate) mod prompt;
pub(crate) mod questions;

use crate::response::Usage;

/// One answer of the grader, read: `{"pass": bool, "score": 0..1, "reason": "..."}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vote {
    pub(crate) pass: bool,
    pub(crate) score: f64,
    pub(crate) reason: String,
}

/// Why a grade could not be had. Never a failure of the answer judged: the check
/// that needed it is errored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum GradeError {
    /// The grader answered, but not with a verdict.
    #[error("the grader's answer is not a verdict ({why}): {excerpt:?}")]
    Unparseable { why: parse::NotAVerdict, excerpt: String },
    /// The grader's token budget ran out before its verdict.
    #[error(
        "the grader ran out of tokens before its verdict (stop reason max_tokens): raise the grader's `params.max_tokens`"
    )]
    Truncated,
    /// No answer: throttled after retries, a transport error, a timeout.
    #[error("the grader could not be asked: {message}")]
    Call { message: String, retryable: bool },
    /// Replay found no recording of this grader request (the message says why and what to do).
    #[error("{0}")]
    Cassette(String),
    /// Too few grades came back to make a majority either way.
    #[error("{errored} of {asked} grades failed, too many to decide: {first}")]
    Undecided { asked: u32, errored: u32, first: Box<GradeError> },
    /// No grader model (the planner reports it first; a file changed since).
    #[error("{0}")]
    Setup(crate::plan::grader::NoGrader),
}

impl GradeError {
    /// Whether asking again may give a grade: a throttled or unreachable grader.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            GradeError::Call { retryable, .. } => *retryable,
            GradeError::Undecided { first, .. } => first.retryable(),
            GradeError::Unparseable { .. } | GradeError::Truncated | GradeError::Cassette(_) | GradeError::Setup(_) => {
                false
            }
        }
    }
}

/// The outcome of asking the grader `asked` times.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub(crate) passed: bool,
    /// The mean score of the grades that came back.
    pub(crate) score: f64,
    /// The reason of the first grade that agrees with the decision.
    pub(crate) reason: String,
    /// How many grades agree with the decision, of `asked`.
    pub(crate) agreeing: u32,
    pub(crate) asked: u32,
    /// Which grade's reason is shown (its index among those asked for).
    pub(crate) shown: usize,
}

/// What grading cost: counted apart from the case's own calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Cost {
    /// Requests sent to the grader (retries included).
    pub(crate) calls: u32,
    pub(crate) usage: Option<Usage>,
    /// In USD, at the grader's price; `None` when it has none.
    pub(crate) usd: Option<f64>,
    /// Of `usd`, the answers not replayed from a recording: what the run paid for.
    pub(crate) live_usd: Option<f64>,
    pub(crate) latency_ms: u64,
    /// Questions that met throttling (retried, or throttled in the end): the runner's
    /// adaptive limit eases off for a throttled grader as for a throttled model.
    pub(crate) throttled: u32,
}

impl Cost {
    pub(crate) fn add(&mut self, other: Cost) {
        self.calls = self.calls.saturating_add(other.calls);
        self.throttled = self.throttled.saturating_add(other.throttled);
        self.usage = Usage::sum(self.usage.into_iter().chain(other.usage));
        self.usd = crate::pricing::add(self.usd, other.usd);
        self.live_usd = crate::pricing::add(self.live_usd, other.live_usd);
        self.latency_ms = self.latency_ms.saturating_add(other.latency_ms);
    }
}

/// A judge's grade of one answer: decided, or why not, with the grader's reasoning
/// (separated from its verdict) and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grade {
    pub(crate) outcome: Result<Decision, GradeError>,
    /// The grader's reasoning for the grade shown (the first agreeing one).
    pub(crate) reasoning: String,
    pub(crate) model: String,
    pub(crate) cost: Cost,
}

impl Grade {
    /// A grade that could not be asked for at all.
    pub(crate) fn failed(error: GradeError, model: &str) -> Grade {
        Grade { outcome: Err(error), reasoning: String::new(), model: model.to_owned(), cost: Cost::default() }
    }
}

/// What the graders said of one sample: each `judge` check's grade by its index in the
/// case's `expect`, and, for a `semantic` snapshot, whether a reworded answer is
/// equivalent to the stored one.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SampleGrades {
    pub(crate) checks: Vec<(usize, Grade)>,
    pub(crate) equivalence: Option<Grade>,
}

impl SampleGrades {
    pub(crate) fn check(&self, index: usize) -> Option<&Grade> {
        self.checks.iter().find(|(i, _)| *i == index).map(|(_, g)| g)
    }

    pub(crate) fn cost(&self) -> Cost {
        let mut cost = Cost::default();
        for grade in self.checks.iter().map(|(_, g)| g).chain(&self.equivalence) {
            cost.add(grade.cost);
        }
        cost
    }
}

/// A reworded answer to put to the equivalence judge: the stored text and the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewording {
    pub(crate) accepted: String,
    pub(crate) answer: String,
}

/// Decides `asked` grades by strict majority: the check passes when more than half
/// pass (`score >= min_score` with a threshold, the grader's `pass` without), fails
/// when at least half fail, and is undecided when the grades that errored could tip it.
pub(crate) fn decide(
    asked: u32,
    grades: &[Result<Vote, GradeError>],
    min_score: Option<f64>,
) -> Result<Decision, GradeError> {
    let passes = |v: &Vote| min_score.map_or(v.pass, |m| v.score + 1e-9 >= m);
    let votes: Vec<&Vote> = grades.iter().filter_map(|g| g.as_ref().ok()).collect();
    let agrees = |g: &Result<Vote, GradeError>, passed: bool| g.as_ref().is_ok_and(|v| passes(v) == passed);
    let passing = votes.iter().filter(|v| passes(v)).count() as u32;
    let failing = votes.len() as u32 - passing;
    let passed = if passing * 2 > asked {
        true
    } else if failing * 2 >= asked {
        false
    } else {
        let first = grades.iter().find_map(|g| g.as_ref().err()).cloned();
        let first = first.unwrap_or_else(|| GradeError::Call { message: "no grade came back".into(), retryable: true });
        let errored = asked.saturating_sub(votes.len() as u32);
        // One grade asked for: its own error says it best.
        return Err(if asked == 1 { first } else { GradeError::Undecided { asked, errored, first: Box::new(first) } });
    };
    let score = votes.iter().map(|v| v.score).sum::<f64>() / votes.len().max(1) as f64;
    let shown = grades.iter().position(|g| agrees(g, passed)).unwrap_or_default();
    let reason = grades.get(shown).and_then(|g| g.as_ref().ok()).map(|v| v.reason.clone()).unwrap_or_default();
    Ok(Decision { passed, score, reason, agreeing: if passed { passing } else { failing }, asked, shown })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(pass: bool, score: f64) -> Result<Vote, GradeError> {
        Ok(Vote { pass, score, reason: format!("{pass} {score}") })
    }

    fn error() -> Result<Vote, GradeError> {
        Err(GradeError::Call { message: "throttled".into(), retryable: true })
    }

    #[test]
    fn one_grade_decides_by_its_pass_or_by_the_threshold() {
        let d = decide(1, &[vote(true, 0.6)], None).unwrap();
        assert!(d.passed);
        assert_eq!((d.agreeing, d.asked, d.reason.as_str()), (1, 1, "true 0.6"));
        assert!(!decide(1, &[vote(true, 0.6)], Some(0.7)).unwrap().passed);
        assert!(decide(1, &[vote(false, 0.7)], Some(0.7)).unwrap().passed);
        let throttled = GradeError::Call { message: "throttled".into(), retryable: true };
        assert_eq!(decide(1, &[error()], None).unwrap_err(), throttled);
    }

    #[test]
    fn a_majority_decides_and_errors_only_matter_when_they_could_tip_it() {
        let d = decide(3, &[vote(true, 1.0), vote(false, 0.0), vote(true, 0.5)], None).unwrap();
        assert!(d.passed);
        assert_eq!((d.agreeing, d.shown), (2, 0));
        assert!((d.score - 0.5).abs() < 1e-9);
        assert!(decide(3, &[vote(true, 1.0), error(), vote(true, 1.0)], None).unwrap().passed);
        let d = decide(3, &[error(), vote(true, 1.0), vote(false, 0.0), vote(false, 0.2)][1..], None).unwrap();
        assert_eq!((d.passed, d.shown, d.reason.as_str()), (false, 1, "false 0"));
        assert!(!decide(3, &[vote(false, 0.0), vote(false, 0.0), error()], None).unwrap().passed);
        let undecided = decide(3, &[vote(true, 1.0), error(), vote(false, 0.0)], None).unwrap_err();
        assert!(matches!(undecided, GradeError::Undecided { asked: 3, errored: 1, .. }), "{undecided:?}");
        // An even split is not "more than half".
        assert!(!decide(2, &[vote(true, 1.0), vote(false, 0.0)], None).unwrap().passed);
    }
}
