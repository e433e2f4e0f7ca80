//! Judges: asks the graders of a case's `judge` checks about each answered sample, and
//! the equivalence grader about each reworded answer of a `semantic` snapshot. Every
//! question goes through the case's [`Session`], so it is live, recorded or replayed as
//! the case is; what the grader answers is read and decided by `grading`.

use super::modes::Session;
use crate::grading::{Cost, Grade, GradeError, Rewording, SampleGrades, Vote, decide, parse, prompt};
use crate::plan::Case;
use crate::plan::grader::{self, GraderPlan};
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
                let grade = match grader::resolve(case, judge.grader.as_ref()) {
                    Ok(plan) => {
                        let conversation = prompt::conversation(&case.spec);
                        let user = prompt::rubric_user(&judge.rubric, &conversation, answer.trim());
                        ask(
                            session,
                            case,
                            &plan,
                            prompt::rubric_system(),
                            user,
                            judge.samples.unwrap_or(1),
                            judge.min_score,
                        )
                        .await
                    }
                    Err(e) => Grade::failed(GradeError::Setup(e.to_string()), ""),
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
    let policy = case.spec.snapshot.as_ref().and_then(|s| s.semantic.as_ref());
    let criterion = policy.and_then(|p| p.rubric.as_deref()).unwrap_or(prompt::DEFAULT_EQUIVALENCE);
    for (rewording, grades) in rewordings.into_iter().zip(grades) {
        let Some(Rewording { accepted, answer }) = rewording else { continue };
        let grade = match grader::resolve(case, policy.and_then(|p| p.grader.as_ref())) {
            Ok(plan) => {
                let conversation = prompt::conversation(&case.spec);
                let user = prompt::equivalence_user(criterion, &conversation, &accepted, &answer);
                ask(session, case, &plan, prompt::equivalence_system(), user, 1, None).await
            }
            Err(e) => Grade::failed(GradeError::Setup(e.to_string()), ""),
        };
        grades.equivalence = Some(grade);
    }
}

/// Asks `plan`'s grader the same question `asked` times and decides by majority.
async fn ask(
    session: &mut Session<'_>,
    case: &Case,
    plan: &GraderPlan,
    system: String,
    user: String,
    asked: u32,
    min_score: Option<f64>,
) -> Grade {
    let grader = plan.case_for(case, system, user);
    let mut votes: Vec<Result<Vote, GradeError>> = Vec::with_capacity(asked as usize);
    let mut reasonings = Vec::with_capacity(asked as usize);
    let mut cost = Cost::default();
    for _ in 0..asked {
        let response = session.ask(&grader).await;
        cost.add(Cost { calls: response.attempts.max(1), usage: response.usage, latency_ms: response.latency_ms });
        votes.push(match &response.error {
            Some(e) if e.kind == ErrorKind::Cassette => Err(GradeError::Cassette(e.message.clone())),
            Some(e) => {
                let status = e.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
                Err(GradeError::Call(format!("{}{status}: {}", e.kind.as_str(), e.message)))
            }
            None => parse::vote(&response.final_text),
        });
        reasonings.push(response.reasoning);
    }
    let outcome = decide(asked, &votes, min_score);
    // The reasoning behind the reason shown: the first grade that agrees.
    let shown = match &outcome {
        Ok(d) => Some(d.shown),
        Err(_) => votes.iter().position(Result::is_err),
    };
    let reasoning = shown.and_then(|i| reasonings.get(i).cloned()).unwrap_or_default();
    Grade { outcome, reasoning, model: plan.model.clone(), cost }
}
