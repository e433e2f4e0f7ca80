//! Judges: asks the graders of a case's `judge` checks about each answered sample, and
//! the equivalence grader about each reworded answer of a `semantic` snapshot. Every
//! question goes through the case's [`Session`], so it is live, recorded or replayed as
//! the case is; what the grader answers is read and decided by `grading`.

use super::session::Session;
use crate::grading::{Cost, Grade, GradeError, Rewording, SampleGrades, Vote, decide, parse, questions};
use crate::plan::Case;
use crate::response::{ErrorKind, ModelResponse};
use crate::scenario::Part;

/// Each sample's `judge` grades, in `expect` order; none for a sample that errored.
pub(crate) async fn grade_checks(
    session: &mut Session<'_>,
    case: &Case,
    responses: &[ModelResponse],
) -> Vec<SampleGrades> {
    let judges: Vec<_> = case
        .spec
        .expect
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.judge.as_ref().map(|j| (i, j, e.part.unwrap_or(Part::Final))))
        .collect();
    let mut all = Vec::with_capacity(responses.len());
    for response in responses {
        let mut grades = SampleGrades::default();
        if response.error.is_none() {
            for &(i, judge, part) in &judges {
                let answer = match part {
                    Part::Final => &response.final_text,
                    Part::Reasoning => &response.reasoning,
                    Part::RawText => &response.raw_text,
                };
                let grade = match questions::rubric(case, judge, answer) {
                    Ok(grader) => ask(session, &grader, judge.samples.unwrap_or(1), judge.min_score).await,
                    Err(e) => Grade::failed(GradeError::Setup(e), ""),
                };
                grades.checks.push((i, grade));
            }
        }
        all.push(grades);
    }
    all
}

/// Asks whether each rewording says the same as the stored answer, into its sample's grades.
pub(crate) async fn grade_rewordings(
    session: &mut Session<'_>,
    case: &Case,
    rewordings: Vec<Option<Rewording>>,
    grades: &mut [SampleGrades],
) {
    for (rewording, grades) in rewordings.into_iter().zip(grades) {
        let Some(Rewording { accepted, answer }) = rewording else { continue };
        grades.equivalence = Some(match questions::equivalence(case, &accepted, &answer) {
            Ok(grader) => ask(session, &grader, 1, None).await,
            Err(e) => Grade::failed(GradeError::Setup(e), ""),
        });
    }
}

/// Asks `grader` its question `asked` times and decides by majority.
async fn ask(session: &mut Session<'_>, grader: &Case, asked: u32, min_score: Option<f64>) -> Grade {
    let mut votes: Vec<Result<Vote, GradeError>> = Vec::with_capacity(asked as usize);
    let mut reasonings = Vec::with_capacity(asked as usize);
    let mut cost = Cost::default();
    for _ in 0..asked {
        let response = session.ask(grader).await;
        let throttled =
            response.attempts > 1 || response.error.as_ref().is_some_and(|e| e.kind == ErrorKind::Throttled);
        let usd = response.usage.and_then(|u| {
            let served = response.service_tier.as_deref();
            crate::pricing::answer(&grader.spec, &grader.model, served, u.input_tokens, u.output_tokens)
        });
        let live = response.source != crate::response::Source::Replayed;
        cost.add(Cost {
            calls: response.attempts.max(1),
            usage: response.usage,
            usd,
            live_usd: usd.filter(|_| live),
            latency_ms: response.latency_ms,
            throttled: u32::from(throttled),
        });
        votes.push(read(&response));
        reasonings.push(response.reasoning);
    }
    let outcome = decide(asked, &votes, min_score);
    // The reasoning behind the reason shown.
    let shown = match &outcome {
        Ok(d) => Some(d.shown),
        Err(_) => votes.iter().position(Result::is_err),
    };
    let reasoning = shown.and_then(|i| reasonings.get(i).cloned()).unwrap_or_default();
    Grade { outcome, reasoning, model: grader.model.clone(), cost }
}

/// One answer of the grader as a vote, or why it is none.
fn read(response: &ModelResponse) -> Result<Vote, GradeError> {
    match &response.error {
        Some(e) if e.kind == ErrorKind::Cassette => Err(GradeError::Cassette(e.message.clone())),
        Some(e) => {
            let status = e.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            let message = format!("{}{status}: {}", e.kind.as_str(), e.message);
            Err(GradeError::Call { message, retryable: e.retryable })
        }
        None => match parse::vote(&response.final_text) {
            // Reasoning that used up the budget is the likelier story than a bad grader.
            Err(GradeError::Unparseable { .. }) if response.stop_reason.as_deref() == Some("max_tokens") => {
                Err(GradeError::Truncated)
            }
            read => read,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::CallError;

    fn answered(text: &str, stop: &str) -> ModelResponse {
        ModelResponse { final_text: text.into(), stop_reason: Some(stop.into()), ..ModelResponse::default() }
    }

    #[test]
    fn each_grader_answer_reads_as_a_vote_or_as_why_not() {
        assert!(read(&answered(r#"{"pass": true}"#, "end_turn")).unwrap().pass);
        assert!(matches!(read(&answered("Let me think", "end_turn")), Err(GradeError::Unparseable { .. })));
        assert_eq!(read(&answered("", "max_tokens")), Err(GradeError::Truncated));
        let throttled = ModelResponse {
            error: Some(CallError::new(ErrorKind::Throttled, Some(429), "slow down")),
            ..ModelResponse::default()
        };
        let e = read(&throttled).unwrap_err();
        assert!(e.retryable() && e.to_string().contains("throttled (HTTP 429): slow down"), "{e}");
        let missing = ModelResponse {
            error: Some(CallError::new(ErrorKind::Cassette, None, "re-record")),
            ..ModelResponse::default()
        };
        assert_eq!(read(&missing), Err(GradeError::Cassette("re-record".into())));
    }
}
