//! Each grader question as a [`Case`] of its own (see `plan::grader`): built here once,
//! for the run (`execute::judges`) and for `--dry-run` alike.

use super::prompt;
use crate::plan::Case;
use crate::plan::grader::{self, NoGrader};
use crate::scenario::{JudgeCheck, PartPolicy, SemanticPolicy};

/// The question of a `judge` check about `answer`.
pub(crate) fn rubric(case: &Case, judge: &JudgeCheck, answer: &str) -> Result<Case, NoGrader> {
    let plan = grader::resolve(case, judge.grader.as_ref())?;
    let user = prompt::rubric_user(&judge.rubric, &prompt::conversation(&case.spec), answer);
    Ok(plan.case_for(case, prompt::rubric_system(), user))
}

/// The question of a `semantic` snapshot: does `answer` say what `accepted` said?
pub(crate) fn equivalence(case: &Case, accepted: &str, answer: &str) -> Result<Case, NoGrader> {
    let policy = semantic_policy(case);
    let plan = grader::resolve(case, policy.and_then(|p| p.grader.as_ref()))?;
    let criterion = policy.and_then(|p| p.rubric.as_deref()).unwrap_or(prompt::DEFAULT_EQUIVALENCE);
    let user = prompt::equivalence_user(criterion, &prompt::conversation(&case.spec), accepted, answer);
    Ok(plan.case_for(case, prompt::equivalence_system(), user))
}

/// Whether the case's final answer is snapshotted `semantic`.
pub(crate) fn is_semantic(case: &Case) -> bool {
    case.spec.snapshot.as_ref().is_some_and(|p| p.final_answer == Some(PartPolicy::Semantic))
}

fn semantic_policy(case: &Case) -> Option<&SemanticPolicy> {
    case.spec.snapshot.as_ref().and_then(|s| s.semantic.as_ref())
}
