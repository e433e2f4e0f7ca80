//! Amazon Bedrock batch inference's files, as recordings. A case's samples become
//! records (`{"recordId", "modelInput"}` lines, the body the one encoder of its API
//! makes), and the output lines a job writes (`modelOutput`, or `error`) become the
//! interactions of the case's cassette: a batch job's answers are then judged by replay,
//! through the real clients, like any recording. What batch cannot carry runs live.
//!
//! A record id is the case's request hash (its first 24 hex digits) and the sample:
//! importing plans the same suite and finds each case again by hashing it, as replay
//! finds a cassette, so a case changed since the job matches nothing.

use serde_json::{Value, json};

use crate::plan::Case;
use crate::providers::{CallRequest, encode};
use crate::scenario::Api;
use crate::wire::WireResponse;

/// Bedrock refuses a job of fewer records.
pub(crate) const MIN_RECORDS: usize = 100;

/// The most records Bedrock takes in one job: a larger suite is split.
pub(crate) const MAX_RECORDS: usize = 50_000;

/// A job's invocation type: what its records' `modelInput` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Invocation {
    /// The InvokeModel body: chat completions, for gpt-oss.
    InvokeModel,
    /// A Converse request.
    Converse,
}

impl Invocation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Invocation::InvokeModel => "InvokeModel",
            Invocation::Converse => "Converse",
        }
    }

    fn api(self) -> Api {
        match self {
            Invocation::InvokeModel => Api::Invoke,
            Invocation::Converse => Api::Converse,
        }
    }
}

/// How `case` goes to a batch job, or why it cannot: single-turn answers that are not
/// streamed. A `chat` case's body is the InvokeModel body, so it goes as one.
pub(crate) fn invocation(case: &Case) -> Result<Invocation, &'static str> {
    match case.api {
        Api::Converse => Ok(Invocation::Converse),
        Api::Invoke | Api::Chat => Ok(Invocation::InvokeModel),
        Api::ConverseStream | Api::InvokeStream | Api::ChatStream | Api::ResponsesStream => {
            Err("streamed: streaming is what it tests")
        }
        Api::Responses => Err("the Responses API has no batch form"),
        Api::Agent => Err("an agent: each turn depends on the answer before"),
    }
}

/// The record id of sample `sample` (from 0) of `case`, rendered.
pub(crate) fn record_id(case: &Case, sample: u32) -> String {
    let hash = super::request_for(case).hash;
    format!("{}-{sample}", &hash[..hash.len().min(24)])
}

/// The case a record id names (its hash part), and the sample.
pub(crate) fn parse_record_id(id: &str) -> Option<(&str, u32)> {
    let (hash, sample) = id.rsplit_once('-')?;
    Some((hash, sample.parse().ok()?))
}

/// The JSONL line of sample `sample` of `case` (rendered), as `invocation` carries it.
pub(crate) fn record(case: &Case, invocation: Invocation, sample: u32) -> String {
    let request = CallRequest::new(&case.model, &case.region, &case.spec);
    let body = encode(invocation.api(), &request).body;
    json!({"recordId": record_id(case, sample), "modelInput": body}).to_string()
}

/// The hash part of `case`'s record ids, and the JSONL line of each of its samples: the
/// request is encoded and hashed once for all of them.
pub(crate) fn records(case: &Case, invocation: Invocation) -> (String, Vec<String>) {
    let hash = super::request_for(case).hash;
    let hash = hash[..hash.len().min(24)].to_owned();
    let request = CallRequest::new(&case.model, &case.region, &case.spec);
    let body = encode(invocation.api(), &request).body;
    let lines = (0..case.samples)
        .map(|sample| json!({"recordId": format!("{hash}-{sample}"), "modelInput": body}).to_string())
        .collect();
    (hash, lines)
}

/// What is wrong with an output line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LineError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no recordId")]
    NoId,
    #[error(
        "recordId `{0}` is no record of this suite's cases (they changed since the job, or the output is another suite's)"
    )]
    Unknown(String),
    #[error("neither modelOutput nor error")]
    Empty,
}

/// One output line: its record id, and the response it stands for, as the case's own
/// API (`api_of` the id) would have sent it.
pub(crate) fn read_output(
    line: &str,
    api_of: impl Fn(&str) -> Option<Api>,
) -> Result<(String, WireResponse), LineError> {
    // The echoed `modelInput` (a whole prompt, every line) is skipped, not parsed.
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "recordId")]
        id: Option<Value>,
        #[serde(rename = "modelOutput")]
        output: Option<Value>,
        error: Option<Value>,
    }
    let value: Line = serde_json::from_str(line).map_err(|e| LineError::NotJson(e.to_string()))?;
    let id = value.id.as_ref().and_then(Value::as_str).ok_or(LineError::NoId)?.to_owned();
    let api = api_of(&id).ok_or_else(|| LineError::Unknown(id.clone()))?;
    if let Some(output) = value.output.filter(Value::is_object) {
        return Ok((id, WireResponse::json(200, output)));
    }
    let error = value.error.filter(Value::is_object).ok_or(LineError::Empty)?;
    // The code is a number in AWS's examples and a string in some clients' files.
    let code = match &error["errorCode"] {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let status = code.filter(|c| (400..600).contains(c)).unwrap_or(500);
    let message = error["errorMessage"].as_str().unwrap_or("the batch job gave no message");
    Ok((id, error_response(api, status, message)))
}

/// The error a live call would have met, so that replay classifies it as it would:
/// Bedrock's error type header and message on its own APIs, an OpenAI error on chat.
fn error_response(api: Api, status: u16, message: &str) -> WireResponse {
    if api == Api::Chat {
        return WireResponse::json(status, json!({"error": {"message": message, "code": status.to_string()}}));
    }
    let kind = match status {
        429 => "ThrottlingException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        400..=499 => "ValidationException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    };
    let mut response = WireResponse::json(status, json!({"message": message}));
    response.headers.insert("x-amzn-ErrorType".into(), kind.into());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(api: &str) -> Case {
        Case::for_tests(json!({"name": "n", "api": api, "model": "openai.gpt-oss-120b-1:0", "prompt": "hi",
            "params": {"max_tokens": 64}}))
    }

    #[test]
    fn single_turn_answers_go_to_batch_and_the_rest_say_why_not() {
        assert_eq!(invocation(&case("converse")), Ok(Invocation::Converse));
        assert_eq!(invocation(&case("invoke")), Ok(Invocation::InvokeModel));
        assert_eq!(invocation(&case("chat")), Ok(Invocation::InvokeModel));
        assert_eq!(invocation(&case("chat-stream")), Err("streamed: streaming is what it tests"));
        assert_eq!(invocation(&case("responses")), Err("the Responses API has no batch form"));
    }

    #[test]
    fn a_record_is_what_the_api_sends_under_an_id_that_finds_its_case_again() {
        let c = case("chat");
        let line: Value = serde_json::from_str(&record(&c, Invocation::InvokeModel, 2)).unwrap();
        let id = line["recordId"].as_str().unwrap();
        let (hash, sample) = parse_record_id(id).unwrap();
        assert_eq!(sample, 2);
        assert!(super::super::request_for(&c).hash.starts_with(hash));
        assert_eq!(hash.len(), 24);
        let invoke_body = encode(Api::Invoke, &CallRequest::new(&c.model, &c.region, &c.spec)).body;
        assert_eq!(line["modelInput"], invoke_body, "the InvokeModel body, no stream field");
        let converse: Value = serde_json::from_str(&record(&case("converse"), Invocation::Converse, 0)).unwrap();
        assert_eq!(converse["modelInput"]["inferenceConfig"]["maxTokens"], 64);
        assert_ne!(record_id(&case("converse"), 0), record_id(&c, 0), "each API its own request");
    }

    #[test]
    fn output_lines_become_the_responses_a_live_call_would_have_met() {
        let api = |_: &str| Some(Api::Converse);
        let (id, ok) = read_output(r#"{"recordId":"ab-0","modelInput":{},"modelOutput":{"output":{}}}"#, api).unwrap();
        assert_eq!((id.as_str(), ok.status), ("ab-0", 200));
        let (_, throttled) =
            read_output(r#"{"recordId":"ab-1","error":{"errorCode":429,"errorMessage":"slow down"}}"#, api).unwrap();
        assert_eq!(throttled.status, 429);
        assert_eq!(throttled.headers["x-amzn-ErrorType"], "ThrottlingException");
        let (_, odd) =
            read_output(r#"{"recordId":"ab-2","error":{"errorCode":"abc","errorMessage":"?"}}"#, api).unwrap();
        assert_eq!(odd.status, 500);
        let chat = |_: &str| Some(Api::Chat);
        let (_, refused) =
            read_output(r#"{"recordId":"ab-3","error":{"errorCode":"400","errorMessage":"bad"}}"#, chat).unwrap();
        assert_eq!(refused.json.unwrap()["error"]["message"], "bad");
        assert!(read_output("{not json", api).unwrap_err().to_string().starts_with("not JSON"));
        assert_eq!(read_output(r#"{"recordId":"ab-4"}"#, api).unwrap_err(), LineError::Empty);
        let none = |_: &str| None;
        let unknown = read_output(r#"{"recordId":"zz-0","modelOutput":{}}"#, none).unwrap_err();
        assert_eq!(unknown, LineError::Unknown("zz-0".into()));
    }
}
