//! Reading the Responses API (pure): a whole response's output items, or typed stream
//! events in order, into an [`Assembler`]. Reasoning is its own output item, its text
//! in `reasoning_text` parts (OpenAI's schema) or `output_text` parts (seen through a
//! proxy); a `summary` stands in when there is no text.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::providers::completion::{error_in, error_object};
use crate::response::{Assembler, CallError, ErrorKind};

/// A whole (non-streamed) response.
pub(super) fn read_response(value: &Value, assembler: &mut Assembler) -> Option<CallError> {
    read_output(&value["output"], assembler);
    read_ending(value, assembler, has_function_call(&value["output"]), ErrorKind::Server)
}

fn has_function_call(output: &Value) -> bool {
    output.as_array().into_iter().flatten().any(|item| item["type"] == "function_call")
}

/// The output items: reasoning, message text, function calls, in order.
fn read_output(output: &Value, assembler: &mut Assembler) {
    for (index, item) in output.as_array().into_iter().flatten().enumerate() {
        match item["type"].as_str() {
            Some("reasoning") => {
                let text = texts(&item["content"]);
                let text = if text.is_empty() { texts(&item["summary"]) } else { text };
                if !text.is_empty() {
                    assembler.reasoning(&text);
                }
            }
            Some("message") => {
                for part in item["content"].as_array().into_iter().flatten() {
                    if let Some(text) = part["text"].as_str().or(part["refusal"].as_str()) {
                        assembler.text(text);
                    }
                }
            }
            Some("function_call") => {
                let index = index as u64;
                assembler.tool_start(index, item["call_id"].as_str(), item["name"].as_str());
                assembler.tool_arguments(index, item["arguments"].as_str().unwrap_or_default());
            }
            _ => {}
        }
    }
}

/// The `text` of every part, joined.
fn texts(parts: &Value) -> String {
    parts.as_array().into_iter().flatten().filter_map(|p| p["text"].as_str()).collect()
}

/// How a response ended: its usage; its error when it `failed` (of kind `failed`,
/// unless it says throttling); else its stop reason in Bedrock's vocabulary
/// (`incomplete` for max_output_tokens is max_tokens). A status other than these
/// (`cancelled`, `queued`) is the stop reason as it is: not a finished answer.
fn read_ending(
    response: &Value,
    assembler: &mut Assembler,
    called_tools: bool,
    failed: ErrorKind,
) -> Option<CallError> {
    if let Some(tier) = response["service_tier"].as_str() {
        assembler.service_tier(tier);
    }
    let usage = &response["usage"];
    if let (Some(input), Some(output)) = (usage["input_tokens"].as_u64(), usage["output_tokens"].as_u64()) {
        assembler.usage(input, output);
    }
    let status = response["status"].as_str();
    if status == Some("failed") || error_in(response).is_some() {
        return Some(error_object(&response["error"], failed));
    }
    let stop = match status {
        Some("incomplete") => match response["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") => "max_tokens".to_owned(),
            Some("content_filter") => "content_filtered".to_owned(),
            Some(other) => other.to_owned(),
            None => "incomplete".to_owned(),
        },
        Some("completed") | None if called_tools => "tool_use".to_owned(),
        Some("completed") | None => "end_turn".to_owned(),
        Some(other) => other.to_owned(),
    };
    assembler.stop_reason(stop);
    None
}

/// Reads typed stream events in order. Items and deltas are the answer; the closing
/// `response.completed` (or `incomplete`, `failed`) says how it ended, and its output
/// is read only when nothing was streamed before it (a server that sends the whole
/// answer at the end).
#[derive(Default)]
pub(super) struct StreamReader {
    /// The type of each output item, by `output_index`, from `response.output_item.added`.
    kinds: HashMap<u64, String>,
    /// Function calls started, by `output_index`: a call's name is given once.
    started: HashSet<u64>,
    /// Function calls whose arguments arrived as deltas.
    streamed_arguments: HashSet<u64>,
    /// An item or a delta arrived.
    streamed: bool,
    reasoning_seen: bool,
    /// Reasoning summaries, used only when no reasoning text came.
    summary: String,
    ended: bool,
}

impl StreamReader {
    pub(super) fn event(&mut self, event: &Value, assembler: &mut Assembler) -> Option<CallError> {
        let index = event["output_index"].as_u64().unwrap_or(0);
        let delta = event["delta"].as_str().unwrap_or_default();
        let kind = event["type"].as_str().unwrap_or_default();
        if kind.starts_with("response.output_item.") || kind.ends_with(".delta") {
            self.streamed = true;
        }
        match kind {
            "response.output_item.added" => {
                let item = &event["item"];
                if item["type"] == "function_call" {
                    self.start_tool(index, item, assembler);
                }
                self.kinds.insert(index, item["type"].as_str().unwrap_or_default().to_owned());
            }
            "response.reasoning_text.delta" => self.reasoning(delta, assembler),
            "response.reasoning_summary_text.delta" => self.summary.push_str(delta),
            // Text parts of a reasoning item are reasoning (the proxy shape).
            "response.output_text.delta" if self.kinds.get(&index).is_some_and(|k| k == "reasoning") => {
                self.reasoning(delta, assembler)
            }
            "response.output_text.delta" | "response.refusal.delta" => assembler.text(delta),
            "response.function_call_arguments.delta" => {
                self.streamed_arguments.insert(index);
                assembler.tool_arguments(index, delta);
            }
            // A call announced whole, or whose arguments were not streamed.
            "response.output_item.done" if event["item"]["type"] == "function_call" => {
                let item = &event["item"];
                self.start_tool(index, item, assembler);
                if !self.streamed_arguments.contains(&index) {
                    assembler.tool_arguments(index, item["arguments"].as_str().unwrap_or_default());
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.ended = true;
                let response = &event["response"];
                if !self.streamed {
                    read_output(&response["output"], assembler);
                }
                let called = !self.started.is_empty() || has_function_call(&response["output"]);
                return read_ending(response, assembler, called, ErrorKind::StreamError);
            }
            "error" => return Some(error_object(event, ErrorKind::StreamError)),
            _ => {}
        }
        None
    }

    fn start_tool(&mut self, index: u64, item: &Value, assembler: &mut Assembler) {
        if self.started.insert(index) {
            assembler.tool_start(index, item["call_id"].as_str(), item["name"].as_str());
        }
    }

    fn reasoning(&mut self, delta: &str, assembler: &mut Assembler) {
        self.reasoning_seen = true;
        assembler.reasoning(delta);
    }

    /// The stream closed: without a closing event, the answer was cut off.
    pub(super) fn end(self, assembler: &mut Assembler) -> Option<CallError> {
        if !self.reasoning_seen && !self.summary.is_empty() {
            assembler.reasoning(&self.summary);
        }
        if !self.ended {
            return Some(CallError::new(
                ErrorKind::Truncated,
                None,
                "the stream ended before the response did (no response.completed)",
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ModelResponse;
    use serde_json::json;

    fn read_events(events: &[Value]) -> ModelResponse {
        let mut a = Assembler::new();
        let mut reader = StreamReader::default();
        let error = events.iter().find_map(|e| reader.event(e, &mut a)).or_else(|| reader.end(&mut a));
        a.finish(error, std::time::Duration::ZERO)
    }

    #[test]
    fn both_reasoning_shapes_are_read() {
        for content in
            [json!([{"type": "reasoning_text", "text": "think"}]), json!([{"type": "output_text", "text": "think"}])]
        {
            let mut a = Assembler::new();
            let value = json!({"status": "completed", "output": [
                {"type": "reasoning", "content": content},
                {"type": "message", "content": [{"type": "output_text", "text": "pong"}]}
            ]});
            assert!(read_response(&value, &mut a).is_none());
            let r = a.finish(None, std::time::Duration::ZERO);
            assert_eq!((r.reasoning.as_str(), r.final_text.as_str()), ("think", "pong"));
        }
    }

    #[test]
    fn a_summary_stands_in_for_missing_reasoning_text() {
        let value = json!({"status": "completed", "output": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "brief"}]}]});
        let mut a = Assembler::new();
        assert!(read_response(&value, &mut a).is_none());
        assert_eq!(a.finish(None, std::time::Duration::ZERO).reasoning, "brief");
    }

    #[test]
    fn output_text_of_a_reasoning_item_streams_as_reasoning() {
        let r = read_events(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning"}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "delta": "hmm"}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message"}}),
            json!({"type": "response.output_text.delta", "output_index": 1, "delta": "pong"}),
            json!({"type": "response.completed", "response": {"status": "completed", "output": []}}),
        ]);
        assert_eq!(
            (r.reasoning.as_str(), r.final_text.as_str(), r.stop_reason.as_deref()),
            ("hmm", "pong", Some("end_turn"))
        );
    }

    #[test]
    fn streamed_function_calls_are_assembled_once() {
        let r = read_events(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "call_id": "c1", "name": "w"}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"city\":"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "\"Oslo\"}"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{\"city\":\"Oslo\"}"}}),
            json!({"type": "response.completed", "response": {"status": "completed", "output": []}}),
        ]);
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!((r.tool_calls[0].name.as_str(), &r.tool_calls[0].input), ("w", &json!({"city": "Oslo"})));
        assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
    }

    #[test]
    fn incomplete_and_error_events_and_cut_streams() {
        let r = read_events(&[
            json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}}),
        ]);
        assert_eq!(r.stop_reason.as_deref(), Some("max_tokens"));
        let r = read_events(&[json!({"type": "error", "code": "server_error", "message": "boom"})]);
        assert_eq!(r.error.map(|e| (e.kind, e.message)), Some((ErrorKind::StreamError, "boom".to_owned())));
        let r = read_events(&[json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"})]);
        assert_eq!(r.error.map(|e| e.kind), Some(ErrorKind::Throttled));
        let r = read_events(&[json!({"type": "response.output_text.delta", "output_index": 0, "delta": "to"})]);
        assert_eq!(r.error.map(|e| e.kind), Some(ErrorKind::Truncated));
    }

    #[test]
    fn a_call_announced_whole_keeps_its_name_once() {
        let call = json!({"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{\"city\":\"Oslo\"}"});
        let r = read_events(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": call}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": call}),
            json!({"type": "response.completed", "response": {"status": "completed", "output": [call]}}),
        ]);
        assert_eq!(r.tool_calls.len(), 1, "{r:?}");
        assert_eq!((r.tool_calls[0].name.as_str(), &r.tool_calls[0].input), ("w", &json!({"city": "Oslo"})));
        assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
    }

    #[test]
    fn a_stream_of_no_deltas_is_read_from_its_closing_response() {
        let r = read_events(&[json!({"type": "response.completed", "response": {"status": "completed", "output": [
            {"type": "reasoning", "content": [{"type": "reasoning_text", "text": "hmm"}]},
            {"type": "message", "content": [{"type": "output_text", "text": "pong"}]}
        ]}})]);
        assert_eq!((r.reasoning.as_str(), r.final_text.as_str()), ("hmm", "pong"));
    }

    #[test]
    fn statuses_other_than_completed_are_not_a_finished_answer() {
        let mut a = Assembler::new();
        assert!(read_response(&json!({"status": "cancelled", "output": []}), &mut a).is_none());
        assert_eq!(a.finish(None, std::time::Duration::ZERO).stop_reason.as_deref(), Some("cancelled"));
        let mut a = Assembler::new();
        let failed = json!({"status": "failed", "error": {"code": "server_error", "message": "boom"}});
        assert_eq!(read_response(&failed, &mut a).map(|e| e.kind), Some(ErrorKind::Server));
        let mut a = Assembler::new();
        assert!(read_response(&json!({"status": "completed", "error": null, "output": []}), &mut a).is_none());
    }
}
