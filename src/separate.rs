//! Separate: pulls gpt-oss reasoning apart from the answer, whatever dialect the
//! server speaks. The main type is [`Separator`], a streaming state machine.
//!
//! Reasoning arrives three ways: structured fields (Converse `reasoningContent`, chat
//! `reasoning` / `reasoning_content` / `reasoning_details`), fed through
//! [`Separator::push_reasoning`]; tagged spans inside the answer text
//! (`<reasoning>…</reasoning>`, `<think>…</think>`, anywhere, any number of times; Bedrock's
//! `/openai/v1` wraps every streamed delta in its own pair); and raw harmony channel
//! markers (`<|channel|>analysis<|message|>…<|end|>`). Text goes through
//! [`Separator::push_text`] in whatever pieces the wire delivered it: a marker cut across
//! pieces is held back until it can be decided, so the result never depends on chunking.
//!
//! Pure: no I/O, no clock. Structured reasoning comes first in the result, then the
//! spans found in the text, each group in arrival order.

use serde::{Deserialize, Serialize};

/// What the separation noticed about the response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    /// `<reasoning>` or `<think>` tags appeared in the answer text.
    pub(crate) tags: bool,
    /// Raw harmony channel markers appeared in the answer text.
    pub(crate) harmony: bool,
    /// The text ended inside a reasoning span.
    pub(crate) unclosed: bool,
    /// The text ended inside a reasoning span because the token budget ran out.
    pub(crate) truncated_reasoning: bool,
}

impl Flags {
    /// Reasoning leaked into the answer channel (the upstream gpt-oss bug).
    pub(crate) fn leaked(&self) -> bool {
        self.tags || self.harmony
    }

    /// The set flags by name, in a fixed order: `tags`, `unclosed`, `truncated_reasoning`, `harmony`.
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.tags, "tags"),
            (self.unclosed, "unclosed"),
            (self.truncated_reasoning, "truncated_reasoning"),
            (self.harmony, "harmony"),
        ];
        all.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect()
    }
}

/// The answer and the reasoning, apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Separated {
    /// The answer with every reasoning span and marker removed.
    pub final_text: String,
    /// All reasoning: structured first, then spans from the text.
    pub reasoning: String,
    /// The answer channel exactly as it arrived, before separation.
    pub(crate) raw_text: String,
    pub(crate) flags: Flags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Reasoning,
    Think,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain answer text.
    Answer,
    /// Inside `<reasoning>` or `<think>`, until its closing tag.
    Tagged(Tag),
    /// A harmony header (`<|start|>assistant<|channel|>analysis`), until `<|message|>`.
    HarmonyHeader,
    /// Harmony message content; `true` for the final channel.
    Harmony { is_final: bool },
}

/// Every marker starts with `<` and none is longer than this.
const LONGEST_MARKER: usize = "<|constrain|>".len();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Open(Tag),
    Close(Tag),
    Start,
    Channel,
    Message,
    Constrain,
    /// `<|end|>`, `<|return|>`, `<|call|>`: the message is over.
    EndMessage,
}

/// The streaming separator. Feed it pieces, then [`finish`](Separator::finish).
#[derive(Debug, Clone)]
pub struct Separator {
    mode: Mode,
    /// The undecided tail of the text: a possible marker cut by a chunk boundary.
    held: String,
    answer: String,
    spans: String,
    structured: String,
    header: String,
    /// The text as it arrived, once it differs from `answer`: until a `<` shows up no
    /// marker can have been taken out, and a long plain answer is not held twice.
    raw: Option<String>,
    flags: Flags,
}

impl Default for Separator {
    fn default() -> Self {
        Self::new()
    }
}

impl Separator {
    pub fn new() -> Self {
        Separator {
            mode: Mode::Answer,
            held: String::new(),
            answer: String::new(),
            spans: String::new(),
            structured: String::new(),
            header: String::new(),
            raw: None,
            flags: Flags::default(),
        }
    }

    /// Reasoning from a structured field.
    pub(crate) fn push_reasoning(&mut self, text: &str) {
        self.structured.push_str(text);
    }

    /// A piece of the answer channel, as the wire delivered it.
    pub fn push_text(&mut self, text: &str) {
        match &mut self.raw {
            Some(raw) => raw.push_str(text),
            None if text.contains('<') => self.raw = Some(format!("{}{text}", self.answer)),
            None => {}
        }
        if self.held.is_empty() {
            self.scan(text);
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.push_str(text);
            self.scan(&joined);
        }
    }

    /// Ends the stream. `hit_token_limit` says the model stopped at max_tokens, which
    /// turns an unclosed reasoning span into truncated reasoning.
    pub fn finish(self, hit_token_limit: bool) -> Separated {
        self.finish_keeping(hit_token_limit, usize::MAX)
    }

    /// [`finish`](Separator::finish), keeping at most the first `keep` bytes of each
    /// text (see [`keep_prefix`]), cut before any copy is made.
    pub(crate) fn finish_keeping(mut self, hit_token_limit: bool, keep: usize) -> Separated {
        for text in [&mut self.answer, &mut self.structured, &mut self.spans].into_iter().chain(self.raw.as_mut()) {
            keep_prefix(text, keep);
        }
        // A marker cut off by the end of the stream never completes: it was neither
        // answer nor reasoning, so it is dropped rather than shown as text.
        self.held.clear();
        let open_reasoning = matches!(self.mode, Mode::Tagged(_) | Mode::Harmony { is_final: false });
        if open_reasoning {
            self.flags.unclosed = true;
            self.flags.truncated_reasoning = hit_token_limit;
        }
        let reasoning = match (self.structured.is_empty(), self.spans.is_empty()) {
            (_, true) => self.structured,
            (true, false) => self.spans,
            (false, false) => {
                let mut all = self.structured;
                all.push('\n');
                all.push_str(&self.spans);
                all
            }
        };
        let raw_text = self.raw.unwrap_or_else(|| self.answer.clone());
        Separated { final_text: self.answer, reasoning, raw_text, flags: self.flags }
    }

    fn sink(&mut self) -> &mut String {
        match self.mode {
            Mode::Answer | Mode::Harmony { is_final: true } => &mut self.answer,
            Mode::Tagged(_) | Mode::Harmony { is_final: false } => &mut self.spans,
            Mode::HarmonyHeader => &mut self.header,
        }
    }

    fn scan(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(offset) = memchr::memchr(b'<', &bytes[from..]) {
            let at = from + offset;
            self.sink().push_str(&text[from..at]);
            match recognize(&bytes[at..]) {
                Recognized::Marker(marker, len) => {
                    self.apply(marker);
                    from = at + len;
                }
                Recognized::Undecided => {
                    self.held.push_str(&text[at..]);
                    return;
                }
                Recognized::Text => {
                    self.sink().push('<');
                    from = at + 1;
                }
            }
        }
        self.sink().push_str(&text[from..]);
    }

    fn apply(&mut self, marker: Marker) {
        match (self.mode, marker) {
            // Inside a tagged span only its own closing tag matters; the same opening
            // tag again (a server that nests its per-delta wrapping) is dropped.
            (Mode::Tagged(open), Marker::Close(close)) if open == close => self.mode = Mode::Answer,
            (Mode::Tagged(open), Marker::Open(again)) if open == again => {}
            (Mode::Tagged(_), other) => {
                let text = marker_text(other);
                self.spans.push_str(text);
            }
            (_, Marker::Open(tag)) => {
                self.flags.tags = true;
                self.mode = Mode::Tagged(tag);
            }
            // A closing tag with nothing open: the opening one was lost; drop it.
            (_, Marker::Close(_)) => self.flags.tags = true,
            (_, Marker::Start | Marker::Channel) => {
                self.flags.harmony = true;
                if self.mode != Mode::HarmonyHeader {
                    self.header.clear();
                }
                self.mode = Mode::HarmonyHeader;
            }
            (Mode::HarmonyHeader, Marker::Constrain) => {}
            (_, Marker::Constrain) => self.flags.harmony = true,
            (Mode::HarmonyHeader, Marker::Message) => {
                // No channel named means the final answer; analysis and commentary
                // (tool preambles) are reasoning.
                let is_final = !(self.header.contains("analysis") || self.header.contains("commentary"));
                self.header.clear();
                self.mode = Mode::Harmony { is_final };
            }
            (_, Marker::Message) => {
                self.flags.harmony = true;
                self.mode = Mode::Harmony { is_final: true };
            }
            (_, Marker::EndMessage) => {
                self.flags.harmony = true;
                self.header.clear();
                self.mode = Mode::Answer;
            }
        }
    }
}

enum Recognized {
    Marker(Marker, usize),
    /// Could still become a marker once more text arrives.
    Undecided,
    /// A plain `<`.
    Text,
}

/// Decides what the text at a `<` is. Dispatches on the second byte so that plain
/// `<` in answers (`3 < 4`, HTML) costs one comparison.
fn recognize(rest: &[u8]) -> Recognized {
    let candidates: &[(&[u8], Marker)] = match rest.get(1) {
        None => return Recognized::Undecided,
        Some(b'r') => &[(b"<reasoning>", Marker::Open(Tag::Reasoning))],
        Some(b't') => &[(b"<think>", Marker::Open(Tag::Think))],
        Some(b'/') => &[(b"</reasoning>", Marker::Close(Tag::Reasoning)), (b"</think>", Marker::Close(Tag::Think))],
        Some(b'|') => &[
            (b"<|start|>", Marker::Start),
            (b"<|channel|>", Marker::Channel),
            (b"<|message|>", Marker::Message),
            (b"<|constrain|>", Marker::Constrain),
            (b"<|end|>", Marker::EndMessage),
            (b"<|return|>", Marker::EndMessage),
            (b"<|call|>", Marker::EndMessage),
        ],
        Some(_) => return Recognized::Text,
    };
    let mut undecided = false;
    for &(pattern, marker) in candidates {
        if rest.starts_with(pattern) {
            return Recognized::Marker(marker, pattern.len());
        }
        if rest.len() < pattern.len() && pattern.starts_with(rest) {
            undecided = true;
        }
    }
    debug_assert!(!undecided || rest.len() < LONGEST_MARKER);
    if undecided { Recognized::Undecided } else { Recognized::Text }
}

fn marker_text(marker: Marker) -> &'static str {
    match marker {
        Marker::Open(Tag::Reasoning) => "<reasoning>",
        Marker::Open(Tag::Think) => "<think>",
        Marker::Close(Tag::Reasoning) => "</reasoning>",
        Marker::Close(Tag::Think) => "</think>",
        Marker::Start => "<|start|>",
        Marker::Channel => "<|channel|>",
        Marker::Message => "<|message|>",
        Marker::Constrain => "<|constrain|>",
        Marker::EndMessage => "<|end|>",
    }
}

/// Cuts `text` to its first `keep` bytes (at a character boundary) and says how much
/// was dropped.
pub(crate) fn keep_prefix(text: &mut String, keep: usize) {
    if text.len() <= keep {
        return;
    }
    let cut = (0..=keep).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.push_str(&format!("\n[{dropped} more bytes not kept: the response passed the size limit]"));
    text.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Separates a complete text in one go.
    fn separate(structured_reasoning: &str, text: &str, hit_token_limit: bool) -> Separated {
        let mut s = Separator::new();
        s.push_reasoning(structured_reasoning);
        s.push_text(text);
        s.finish(hit_token_limit)
    }

    fn chunks(pieces: &[&str]) -> Separated {
        let mut s = Separator::new();
        for p in pieces {
            s.push_text(p);
        }
        s.finish(false)
    }

    #[test]
    fn plain_text_passes_through() {
        let r = separate("", "3 < 4 and <b>bold</b> stay text", false);
        assert_eq!(r.final_text, "3 < 4 and <b>bold</b> stay text");
        assert_eq!(r.reasoning, "");
        assert_eq!(r.flags, Flags::default());
    }

    #[test]
    fn leading_reasoning_tag() {
        let r = separate("", "<reasoning>Greet back.</reasoning>Hello! 👋", false);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("Hello! 👋", "Greet back."));
        assert!(r.flags.tags && !r.flags.unclosed);
        assert_eq!(r.raw_text, "<reasoning>Greet back.</reasoning>Hello! 👋");
    }

    #[test]
    fn per_delta_tag_pairs_cut_mid_word_join_seamlessly() {
        let r =
            chunks(&["<reasoning>The</reasoning>", "<reasoning> us</reasoning>", "<reasoning>er</reasoning>", "Sol"]);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("Sol", "The user"));
    }

    #[test]
    fn tags_after_answer_text_and_several_times() {
        let r = separate("", "A<think>x</think>B<reasoning>y</reasoning>C", false);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("ABC", "xy"));
    }

    #[test]
    fn a_tag_cut_across_deltas_is_never_emitted_as_text() {
        let r = chunks(&["<reas", "oning>Compare the", " decimals.</reason", "ing>", "3.9"]);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("3.9", "Compare the decimals."));
        let r = chunks(&["<", "|chan", "nel|>analysis<|mess", "age|>x<|e", "nd|>y"]);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("y", "x"));
    }

    #[test]
    fn unclosed_span_is_reasoning_and_flagged() {
        let r = separate("", "<reasoning>Pad 3.9 to 3.90, then compare", true);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("", "Pad 3.9 to 3.90, then compare"));
        assert!(r.flags.unclosed && r.flags.truncated_reasoning);
        let r = separate("", "<think>still going", false);
        assert!(r.flags.unclosed && !r.flags.truncated_reasoning);
    }

    #[test]
    fn harmony_channels() {
        let text = "<|channel|>analysis<|message|>Need to compare.<|end|><|start|>assistant<|channel|>final<|message|>3.9 です。<|return|>";
        let r = separate("", text, false);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("3.9 です。", "Need to compare."));
        assert_eq!(r.flags.names(), ["harmony"]);
    }

    #[test]
    fn harmony_constrain_and_commentary() {
        let text =
            "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Tokyo\"}<|call|>";
        let r = separate("", text, false);
        assert_eq!(r.final_text, "");
        assert_eq!(r.reasoning, "{\"city\":\"Tokyo\"}");
    }

    #[test]
    fn structured_reasoning_comes_first() {
        let r = separate("First pass.", "<reasoning>Second pass.</reasoning>3.9", false);
        assert_eq!(r.reasoning, "First pass.\nSecond pass.");
        assert_eq!(r.final_text, "3.9");
    }

    #[test]
    fn stray_closing_tag_is_dropped() {
        let r = separate("", "thinking done</think>Answer", false);
        assert_eq!(r.final_text, "thinking doneAnswer");
        assert!(r.flags.tags);
    }

    #[test]
    fn partial_marker_at_the_end_is_dropped() {
        assert_eq!(chunks(&["Answer<reas"]).final_text, "Answer");
        assert_eq!(chunks(&["Answer <"]).final_text, "Answer ");
    }

    #[test]
    fn a_marker_inside_a_tagged_span_is_reasoning_text() {
        let r = separate("", "<reasoning>a <|end|> b</reasoning>c", false);
        assert_eq!((r.final_text.as_str(), r.reasoning.as_str()), ("c", "a <|end|> b"));
    }

    fn reference(text: &str) -> Separated {
        separate("", text, false)
    }

    /// Text built from fragments that are dense in markers and near-markers.
    fn marker_soup() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "<reasoning>",
            "</reasoning>",
            "<think>",
            "</think>",
            "<|channel|>",
            "analysis",
            "final",
            "<|message|>",
            "<|end|>",
            "<|start|>",
            "assistant",
            "<|return|>",
            "<|constrain|>",
            "<reas",
            "<|",
            "<",
            "<t",
            "</",
            "3.9",
            " ",
            "é",
            "日本",
            "👋",
            "x",
            ">",
            "|",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn result_does_not_depend_on_chunking(text in marker_soup(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12)) {
            let whole = reference(&text);
            // Cut at char boundaries only: the transports hand over decoded text.
            let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let mut points: Vec<usize> = cuts.iter().map(|c| boundaries[c.index(boundaries.len())]).collect();
            points.sort_unstable();
            points.dedup();
            let mut s = Separator::new();
            let mut last = 0;
            for p in points {
                s.push_text(&text[last..p]);
                last = p;
            }
            s.push_text(&text[last..]);
            prop_assert_eq!(s.finish(false), whole);
        }

        #[test]
        fn every_byte_of_plain_text_survives(text in "[^<]{0,200}") {
            let r = reference(&text);
            prop_assert_eq!(r.final_text, text);
        }
    }
}
