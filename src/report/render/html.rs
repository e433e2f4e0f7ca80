//! `--html FILE`: one self-contained HTML file a person opens from a CI artifact. The
//! run's record is embedded as JSON and drawn by a small script of our own: filters,
//! the cases page by page, and each case's prompt, answer, reasoning, assertions, diff,
//! trajectory and grades on demand; charts are SVG drawn by the same script. A Content
//! Security Policy forbids every network request, so nothing is fetched from anywhere.
//!
//! Hand-made SVG rather than a charting library: two simple charts (a bar per scenario,
//! a latency histogram) are a few dozen lines, where a library would be hundreds of
//! kilobytes in every report, and a dependency to vet and keep up.

use std::collections::HashMap;

use crate::report::ReportError;
use crate::report::case::CaseRecord;
use crate::report::record::RunRecord;

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// A text longer than this is cut in the HTML (the JSON report keeps it whole): ten
/// thousand cases must stay a file a browser opens at once.
const MAX_TEXT: usize = 8 * 1024;

/// What the page's script reads: the run, with each distinct block of the prompts
/// (`role: text`, as `conversation` joins them with a blank line) stored once, and each
/// case's prompt as the indices of its blocks: a dataset's ten thousand rows share their
/// policy, and differ in a line.
#[derive(serde::Serialize)]
struct PageData {
    run: RunRecord,
    blocks: Vec<String>,
    prompt_of: Vec<Option<Vec<usize>>>,
}

/// The whole page for `run`.
pub(crate) fn render(run: &RunRecord) -> Result<String, ReportError> {
    let title = format!("gpt-oss-scenarios: {} cases, {}", run.summary.cases, run.started_at);
    let mut run = run.clone();
    let mut blocks: Vec<String> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut prompt_of = Vec::with_capacity(run.cases.len());
    for case in &mut run.cases {
        cut_texts(case);
        prompt_of.push(case.prompt.take().map(|prompt| {
            prompt
                .split("\n\n")
                .map(|block| {
                    let mut block = block.to_owned();
                    cut(&mut block);
                    *seen.entry(block).or_insert_with_key(|block| {
                        blocks.push(block.clone());
                        blocks.len() - 1
                    })
                })
                .collect()
        }));
    }
    let data = PageData { run, blocks, prompt_of };
    // Inside <script>, only `</` (and `<!--`) could end or bend the element: JSON lets
    // both be written with escapes.
    let data = serde_json::to_string(&data)?.replace("</", "<\\/").replace("<!--", "<\\u0021--");
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n\
         <body>\n<div id=\"app\">Loading the report…</div>\n<script type=\"application/json\" id=\"run\">{data}</script>\n<script>\n{JS}</script>\n</body>\n</html>\n",
        escape(&title)
    ))
}

/// Every free text of a case that can be long: answers, reasoning, tool results,
/// diffs, messages, the graders' reasoning.
fn cut_texts(case: &mut CaseRecord) {
    // The page shows the sample the record shows; each sample's answer stays in the
    // JSON report, where a page of ten thousand cases would not carry it.
    case.answers.clear();
    if let Some(body) = case.snapshot.as_mut().and_then(|s| s.body.as_mut()) {
        cut(body);
    }
    for text in [&mut case.final_text, &mut case.reasoning].into_iter().flatten() {
        cut(text);
    }
    for turn in &mut case.turns {
        cut(&mut turn.reasoning);
        cut(&mut turn.text);
        turn.tool_calls.iter_mut().for_each(|t| cut(&mut t.result));
    }
    for a in &mut case.assertions {
        cut(&mut a.message);
        if let Some(j) = &mut a.judge {
            cut(&mut j.reasoning);
        }
    }
    if let Some(e) = &mut case.error {
        cut(&mut e.message);
    }
    if let Some(diff) = case.snapshot.as_mut().and_then(|s| s.diff.as_mut()) {
        cut(diff);
    }
}

fn cut(text: &mut String) {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n… (cut here; the JSON report holds the whole text)");
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_embeds_the_run_so_that_no_text_can_end_its_script() {
        let run: RunRecord = serde_json::from_value(serde_json::json!({
            "format": 1, "version": "0", "started_at": "2026-12-02T00:00:00Z", "duration_ms": 5, "filters": [],
            "summary": {"cases": 1, "passed": 1, "failed": 0, "errored": 0, "skipped": 0, "pending_snapshots": 0,
                "input_tokens": 0, "output_tokens": 0, "interrupted": false},
            "cases": [{"id": "c", "scenario": "s.yaml", "api": "chat", "model": "m", "params": {}, "status": "passed",
                "final": "</script><script>alert(1)</script><!-- x", "reasoning": "r", "stop_reason": null,
                "tool_calls": [], "usage": null, "latency_ms": 1, "flags": [], "error": null, "assertions": [],
                "snapshot": null, "samples": {"n": 1, "passed": 1, "rate": 1.0}, "skip_reason": null, "duration_ms": 1}]
        }))
        .unwrap();
        let page = render(&run).unwrap();
        assert_eq!(page.matches("</script>").count(), 2, "only the page's own scripts end");
        assert!(!page.contains("<!-- x"));
        assert!(page.contains("default-src 'none'"), "no request leaves the page");
        let start = page.find("id=\"run\">").unwrap() + "id=\"run\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let back: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(back["run"]["cases"][0]["final"], "</script><script>alert(1)</script><!-- x");
    }

    #[test]
    fn rows_share_the_blocks_of_their_prompts() {
        let case = |id: &str, prompt: &str| {
            serde_json::json!({"id": id, "scenario": "s.yaml", "api": "chat", "model": "m", "params": {}, "status": "passed",
                "final": "", "reasoning": "", "stop_reason": null, "tool_calls": [], "usage": null, "latency_ms": 1,
                "flags": [], "error": null, "assertions": [], "snapshot": null,
                "samples": {"n": 1, "passed": 1, "rate": 1.0}, "skip_reason": null, "duration_ms": 1, "prompt": prompt})
        };
        let run: RunRecord = serde_json::from_value(serde_json::json!({
            "format": 1, "version": "0", "started_at": "", "duration_ms": 5, "filters": [],
            "summary": {"cases": 2, "passed": 2, "failed": 0, "errored": 0, "skipped": 0, "pending_snapshots": 0,
                "input_tokens": 0, "output_tokens": 0, "interrupted": false},
            "cases": [case("a", "system: POLICY\n\nuser: one"), case("b", "system: POLICY\n\nuser: two")]
        }))
        .unwrap();
        let page = render(&run).unwrap();
        assert_eq!(page.matches("system: POLICY").count(), 1, "the policy is stored once");
        assert!(page.contains(r#""prompt_of":[[0,1],[0,2]]"#), "{page}");
    }

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        let mut text = "é".repeat(MAX_TEXT);
        cut(&mut text);
        assert!(text.len() < MAX_TEXT + 100 && text.ends_with("whole text)"));
    }
}
