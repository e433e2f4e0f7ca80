//! Semantic snapshots (`final: semantic`): which answers differ from the stored
//! snapshot in the wording of their final answer alone, and so are put to the
//! equivalence grader. An answer equal to the snapshot asks nothing; one whose other
//! parts (stop reason, tool calls, reasoning policy) changed is a change, judged by no one.

use serde_json::Value;

use super::snapshot::{SnapshotRules, contents_match};
use super::store;
use crate::grading::Rewording;
use crate::plan::Case;
use crate::response::ModelResponse;

/// For each response, the rewording to judge, if it is one. Empty when the case's
/// snapshot is not semantic, when nothing is stored yet, or for a dataset row.
pub(crate) fn rewordings(case: &Case, responses: &[ModelResponse]) -> Vec<Option<Rewording>> {
    if case.row.is_some() {
        return Vec::new();
    }
    let Ok(rules) = SnapshotRules::new(case.spec.snapshot.as_ref()) else { return Vec::new() };
    if !rules.semantic() {
        return Vec::new();
    }
    // A snapshot that cannot be read is reported by `judge`, which reads it again.
    let Ok(Some(stored)) = store::read_body(&case.snapshot_path()) else { return Vec::new() };
    responses
        .iter()
        .map(|r| if r.error.is_some() { None } else { rules.body(r).and_then(|new| rewording(&stored, &new)) })
        .collect()
}

/// The two final answers when `stored` and `new` differ in their `final` text alone.
pub(crate) fn rewording(stored: &str, new: &str) -> Option<Rewording> {
    if contents_match(stored, new) {
        return None;
    }
    let parse = |text: &str| match serde_saphyr::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    let (mut old, mut new) = (parse(stored)?, parse(new)?);
    let (Some(Value::String(accepted)), Some(Value::String(answer))) = (old.remove("final"), new.remove("final"))
    else {
        return None;
    };
    (old == new && accepted != answer).then_some(Rewording { accepted, answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_different_final_text_is_a_rewording() {
        let stored = "final: Paris is the capital.\nreasoning: \"[present]\"\nstop_reason: end_turn";
        let reworded = "final: \"The capital is Paris.\"\nreasoning: \"[present]\"\nstop_reason: end_turn";
        assert_eq!(
            rewording(stored, reworded),
            Some(Rewording { accepted: "Paris is the capital.".into(), answer: "The capital is Paris.".into() })
        );
        assert_eq!(rewording(stored, stored), None);
        let cut = "final: The capital is\nreasoning: \"[present]\"\nstop_reason: max_tokens";
        assert_eq!(rewording(stored, cut), None, "a different stop reason is a change, not a rewording");
        let multiline = "final: |-\n  Paris.\n  It is.\nreasoning: \"[present]\"\nstop_reason: end_turn";
        assert_eq!(rewording(stored, multiline).unwrap().answer, "Paris.\nIt is.");
        assert_eq!(rewording("not: [yaml", reworded), None);
    }
}
