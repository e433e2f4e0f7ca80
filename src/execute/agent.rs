//! Agent: a Strands-style tool loop. Call the model; when it stops for tool use, run
//! the calls (concurrently, inputs validated), feed the results back, and call again,
//! until the model ends its turn or `max_turns` is reached. Every turn goes through
//! the same transport and reasoning separation as a single call, so reasoning that
//! leaks into a later turn's text is separated too.
//!
//! History rules for gpt-oss: reasoning is never sent back (so no signature is, which
//! Bedrock rejects); an assistant turn is sent back as its text and tool calls only.

use std::time::Instant;

use futures_util::future::join_all;

use super::tools::Toolbox;
use super::{Caller, failed};
use crate::plan::Case;
use crate::providers::{CallRequest, Content, Message};
use crate::recordings::recorded_request;
use crate::response::{CallError, ErrorKind, ModelResponse, ToolCall, ToolRun, Turn, Usage};
use crate::scenario::Role;
use crate::separate::Flags;

/// The most model turns when a scenario does not say.
pub(crate) const DEFAULT_MAX_TURNS: u32 = 8;

/// Runs the loop. The response's `final` is the last turn's answer, its `reasoning` all
/// turns' reasoning, its `tool_calls` every call made, its `turns` the trajectory.
pub(crate) async fn run(caller: &Caller<'_>, case: &Case, deadline: Instant) -> ModelResponse {
    let started = Instant::now();
    let toolbox = match Toolbox::new(&case.spec.tools, &case.tool_timeouts, &case.scenario_dir()) {
        Ok(t) => t,
        Err(e) => return failed(CallError::new(ErrorKind::InvalidRequest, None, e.to_string())),
    };
    let api = case.wire_api();
    let max_turns = case.spec.max_turns.unwrap_or(DEFAULT_MAX_TURNS);
    let mut request = CallRequest::new(&case.model, &case.region, &case.spec);
    let mut turns: Vec<Turn> = Vec::new();
    let mut attempts = 0;
    let mut usage: Option<Usage> = None;
    let mut seen = Seen::default();
    loop {
        let sent = caller.capture.then(|| recorded_request(api, &request));
        let mut response = caller.ask(case, api, &request, deadline).await;
        attempts += response.attempts;
        seen.add(&response);
        usage = Usage::sum(usage.into_iter().chain(response.usage));
        let mut turn = Turn {
            reasoning: response.reasoning.clone(),
            text: response.final_text.clone(),
            stop_reason: response.stop_reason.clone(),
            tool_calls: Vec::new(),
            recorded: sent.zip(response.wire.take()),
        };
        let done = response.error.is_some() || response.tool_calls.is_empty();
        if !done && response.stop_reason.as_deref() == Some("max_tokens") {
            // A call cut mid-arguments cannot be run, and running a guess would hide it.
            response.error = Some(CallError::new(
                ErrorKind::Agent,
                None,
                "max_tokens cut a tool call short: raise params.max_tokens",
            ));
        }
        if done || response.error.is_some() {
            turns.push(turn);
            return finish(response, turns, seen, usage, attempts, started);
        }
        if turns.len() + 1 >= max_turns as usize {
            turns.push(turn);
            response.error = Some(CallError::new(
                ErrorKind::Agent,
                None,
                format!("the agent reached max_turns ({max_turns}) without a final answer"),
            ));
            return finish(response, turns, seen, usage, attempts, started);
        }
        // The model may ask for several tools at once: they run side by side.
        let outcomes = join_all(response.tool_calls.iter().map(|c| toolbox.call(&c.name, &c.input))).await;
        let mut said = Vec::new();
        if !response.final_text.trim().is_empty() {
            said.push(Content::Text(response.final_text.clone()));
        }
        let mut results = Vec::new();
        for (call, mut outcome) in response.tool_calls.iter().zip(outcomes) {
            // A command tool may print what its environment holds.
            crate::secrets::redact_in_place(&mut outcome.text);
            said.push(Content::ToolUse { id: call.id.clone(), name: call.name.clone(), input: call.input.clone() });
            results.push(Content::ToolResult {
                id: call.id.clone(),
                text: outcome.text.clone(),
                is_error: outcome.is_error,
            });
            turn.tool_calls.push(ToolRun {
                id: call.id.clone(),
                name: call.name.clone(),
                input: call.input.clone(),
                result: outcome.text,
                is_error: outcome.is_error,
            });
        }
        request.messages.push(Message { role: Role::Assistant, content: said });
        request.messages.push(Message { role: Role::User, content: results });
        turns.push(turn);
    }
}

/// What the turns had, added up.
#[derive(Default)]
struct Seen {
    raw_text: Vec<String>,
    flags: Flags,
}

impl Seen {
    fn add(&mut self, r: &ModelResponse) {
        self.raw_text.push(r.raw_text.clone());
        let f = &mut self.flags;
        f.tags |= r.flags.tags;
        f.harmony |= r.flags.harmony;
        f.unclosed |= r.flags.unclosed;
        f.truncated_reasoning |= r.flags.truncated_reasoning;
    }
}

fn finish(
    last: ModelResponse,
    turns: Vec<Turn>,
    seen: Seen,
    usage: Option<Usage>,
    attempts: u32,
    started: Instant,
) -> ModelResponse {
    let reasoning: Vec<&str> = turns.iter().map(|t| t.reasoning.as_str()).filter(|r| !r.is_empty()).collect();
    let tool_calls = turns
        .iter()
        .flat_map(|t| &t.tool_calls)
        .map(|r| ToolCall { id: r.id.clone(), name: r.name.clone(), input: r.input.clone() })
        .chain(last.tool_calls.iter().filter(|_| last.error.is_some()).cloned())
        .collect();
    ModelResponse {
        reasoning: reasoning.join("\n"),
        raw_text: seen.raw_text.join("\n"),
        flags: seen.flags,
        tool_calls,
        usage,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        attempts,
        turns,
        wire: None,
        ..last
    }
}
