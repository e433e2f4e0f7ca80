//! What a case may cost before anything is sent: for `--dry-run`'s estimate and for
//! `--max-cost`, which stops starting cases before the budget would be passed.
//!
//! Input tokens are counted in the request texts with gpt-oss's own tokenizer
//! (`pricing::input_tokens`); output tokens are bounded by `params.max_tokens`, else by
//! what the case's recording used, else by the most gpt-oss can write. Graders' questions
//! count too: their prompt holds the answer, so the answer's bound is their input.

use crate::grading::questions;
use crate::plan::Case;
use crate::pricing::{self, Tier};
use crate::providers::{CallRequest, Content};

/// The most tokens gpt-oss writes in one answer when nothing bounds it: its whole
/// context window. An estimate that counts it is an upper bound, never a guess.
pub(crate) const UNBOUNDED_OUTPUT: u64 = 131_072;

/// What an agent's tool result is taken to add to the conversation, at most: a tool's
/// output has no bound of its own, so an agent's estimate assumes this one.
pub(crate) const TOOL_RESULT_TOKENS: u64 = 4_096;

/// What bounds an estimate's output tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    MaxTokens,
    Recorded,
    Unbounded,
}

/// One case's estimate: all its samples, and its graders' questions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    /// The case's own output bound (its graders' may differ).
    pub(crate) bound: Bound,
    /// `None` when a model has no price.
    pub(crate) usd: Option<f64>,
    /// Of `usd`, the graders' questions.
    pub(crate) graders_usd: Option<f64>,
}

/// The estimate of `case` (rendered), whose recording, when there is one, answered
/// with at most `recorded` output tokens.
pub(crate) fn case(case: &Case, recorded: Option<u64>) -> Estimate {
    let samples = u64::from(case.samples.max(1));
    let (output, bound) = output_bound(case, recorded);
    let first = request_tokens(case);
    // An agent asks its model once per turn, each turn resending the conversation grown
    // by the last answer and its tool results: turn k sends the first request plus k - 1
    // answers and results, so T turns send T first requests and T(T - 1)/2 of those.
    // Saturating: the counts come from files, and a bound past u64 is no bound anyway.
    let turns = match case.api {
        crate::scenario::Api::Agent => u64::from(case.spec.max_turns.unwrap_or(super::agent::DEFAULT_MAX_TURNS)),
        _ => 1,
    };
    let grown =
        (turns.saturating_mul(turns.saturating_sub(1)) / 2).saturating_mul(output.saturating_add(TOOL_RESULT_TOKENS));
    let input = first.saturating_mul(turns).saturating_add(grown).saturating_mul(samples);
    let answers = output.saturating_mul(turns).saturating_mul(samples);
    let mut estimate = Estimate {
        input_tokens: input,
        output_tokens: answers,
        bound,
        usd: priced(case, input, answers),
        graders_usd: None,
    };
    for Question { case: grader, asked, .. } in graders(case) {
        let asked = u64::from(asked);
        // The answer goes into the grader's prompt, in place of the placeholder.
        let input = request_tokens(&grader).saturating_add(output).saturating_mul(asked);
        let (grader_output, _) = output_bound(&grader, None);
        let out = grader_output.saturating_mul(asked);
        estimate.input_tokens = estimate.input_tokens.saturating_add(input);
        estimate.output_tokens = estimate.output_tokens.saturating_add(out);
        let usd = priced(&grader, input, out);
        estimate.usd = pricing::add(estimate.usd, usd);
        estimate.graders_usd = pricing::add(estimate.graders_usd, usd);
    }
    estimate
}

/// A grader's question about a case, with placeholders for the answers it judges.
pub(crate) struct Question {
    pub(crate) case: Case,
    /// How many times it is asked: per the case's samples, times a `judge` check's own
    /// `samples`. A semantic snapshot's is asked only for an answer worded differently
    /// from the stored one: counted once per sample, as at most.
    pub(crate) asked: u32,
    /// What it is, for `--dry-run`: `expect 2: x3`.
    pub(crate) what: String,
}

/// The graders' questions about `case`.
pub(crate) fn graders(case: &Case) -> Vec<Question> {
    let mut out = Vec::new();
    for (i, e) in case.spec.expect.iter().enumerate() {
        let Some(judge) = &e.judge else { continue };
        // The planner refused a judge without a grader: there is none here.
        if let Ok(grader) = questions::rubric(case, judge, "[the answer]") {
            let asked = judge.samples.unwrap_or(1) * case.samples;
            out.push(Question { case: grader, asked, what: format!("expect {i}: x{asked}") });
        }
    }
    if questions::is_semantic(case)
        && let Ok(grader) = questions::equivalence(case, "[the stored answer]", "[the answer]")
    {
        let what = "semantic snapshot: only for an answer worded differently from the stored one".to_owned();
        out.push(Question { case: grader, asked: case.samples, what });
    }
    out
}

fn output_bound(case: &Case, recorded: Option<u64>) -> (u64, Bound) {
    match (case.spec.params.as_ref().and_then(|p| p.max_tokens), recorded) {
        (Some(max), _) => (u64::from(max), Bound::MaxTokens),
        (None, Some(recorded)) => (recorded.min(UNBOUNDED_OUTPUT), Bound::Recorded),
        (None, None) => (UNBOUNDED_OUTPUT, Bound::Unbounded),
    }
}

/// The input tokens of one request of `case`: its system prompt, messages and tools.
fn request_tokens(case: &Case) -> u64 {
    let request = CallRequest::new(&case.model, &case.region, &case.spec);
    // Tools, and whatever `params.extra` adds (tools passed through as raw JSON, say),
    // as the JSON text they are sent as.
    let mut tools: Vec<String> =
        request.tools.iter().map(|t| format!("{} {} {}", t.name, t.description, t.input_schema)).collect();
    tools.extend(request.params.extra.iter().map(|extra| serde_json::Value::Object(extra.clone()).to_string()));
    let texts = request.system.iter().map(String::as_str).chain(tools.iter().map(String::as_str)).chain(
        request.messages.iter().flat_map(|m| m.content.iter()).map(|c| match c {
            Content::Text(t) => t.as_str(),
            Content::ToolUse { name, .. } => name.as_str(),
            Content::ToolResult { text, .. } => text.as_str(),
        }),
    );
    pricing::input_tokens(texts)
}

fn priced(case: &Case, input: u64, output: u64) -> Option<f64> {
    let tier = Tier::of(case.spec.params.as_ref().and_then(|p| p.service_tier));
    pricing::price(case.spec.pricing.as_ref(), &case.model, tier).map(|p| pricing::cost(p, input, output))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(spec: serde_json::Value) -> Case {
        Case::for_tests(spec)
    }

    #[test]
    fn output_is_bounded_by_max_tokens_then_the_recording_then_the_context() {
        let spec = |params: serde_json::Value| serde_json::json!({"name": "n", "api": "chat", "model": "openai.gpt-oss-120b-1:0", "prompt": "Hello, world!", "samples": 2, "params": params});
        let bounded = super::case(&case(spec(serde_json::json!({"max_tokens": 1000}))), Some(50));
        assert_eq!((bounded.output_tokens, bounded.bound), (2000, Bound::MaxTokens));
        assert_eq!(bounded.input_tokens, 2 * pricing::input_tokens(["Hello, world!"]));
        let usd = (bounded.input_tokens as f64 * 0.15 + 2000.0 * 0.6) / 1e6;
        assert!((bounded.usd.unwrap() - usd).abs() < 1e-15);
        let recorded = super::case(&case(spec(serde_json::json!({}))), Some(50));
        assert_eq!((recorded.output_tokens, recorded.bound), (100, Bound::Recorded));
        let unbounded = super::case(&case(spec(serde_json::json!({}))), None);
        assert_eq!((unbounded.output_tokens, unbounded.bound), (2 * UNBOUNDED_OUTPUT, Bound::Unbounded));
        let local = super::case(&case(serde_json::json!({"name": "n", "model": "llama", "prompt": "hi"})), None);
        assert_eq!(local.usd, None, "no price, no guess");
    }

    #[test]
    fn an_agents_turns_each_resend_the_conversation_grown_so_far() {
        let agent = super::case(
            &case(serde_json::json!({"name": "n", "api": "agent", "model": "openai.gpt-oss-20b-1:0", "prompt": "hi",
                "max_turns": 3, "params": {"max_tokens": 100}})),
            None,
        );
        let first = pricing::input_tokens(["hi"]);
        assert_eq!(agent.output_tokens, 300);
        assert_eq!(
            agent.input_tokens,
            3 * first + 3 * (100 + TOOL_RESULT_TOKENS),
            "turns 2 and 3 resend 1 and 2 answers"
        );
    }

    #[test]
    fn a_graders_question_counts_with_the_answer_it_judges() {
        let judged = serde_json::json!({"name": "n", "api": "chat", "model": "openai.gpt-oss-20b-1:0", "prompt": "hi",
            "params": {"max_tokens": 300},
            "expect": [{"judge": {"rubric": "Says hello.", "samples": 3, "grader": {"model": "openai.gpt-oss-120b-1:0", "params": {"max_tokens": 500}}}}]});
        let alone = super::case(
            &case(
                serde_json::json!({"name": "n", "api": "chat", "model": "openai.gpt-oss-20b-1:0", "prompt": "hi", "params": {"max_tokens": 300}}),
            ),
            None,
        );
        let with_judge = super::case(&case(judged.clone()), None);
        let questions = graders(&case(judged));
        assert_eq!(questions.len(), 1);
        assert_eq!(questions[0].asked, 3);
        assert_eq!(with_judge.output_tokens, alone.output_tokens + 3 * 500);
        assert!(with_judge.input_tokens > alone.input_tokens + 3 * 300, "the answer is in each question");
    }
}
