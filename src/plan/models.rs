//! Model ids checked against the ones gpt-oss is known by on each Bedrock endpoint,
//! with "did you mean" where a near one exists. A warning, never an error: Bedrock
//! adds models, and an id this list lacks may be the newest.

use crate::scenario::Api;

/// gpt-oss on Bedrock Runtime (Converse, InvokeModel, `/openai/v1`): versioned ids.
const RUNTIME: &[&str] = &[
    "openai.gpt-oss-20b-1:0",
    "openai.gpt-oss-120b-1:0",
    "openai.gpt-oss-safeguard-20b",
    "openai.gpt-oss-safeguard-120b",
];

/// gpt-oss on Bedrock Mantle (the Responses API, its chat completions): no `-1:0`.
const MANTLE: &[&str] =
    &["openai.gpt-oss-20b", "openai.gpt-oss-120b", "openai.gpt-oss-safeguard-20b", "openai.gpt-oss-safeguard-120b"];

/// Cross-region inference profile prefixes, which name the same model.
const PROFILES: &[&str] = &["us.", "eu.", "apac.", "jp.", "au.", "ca.", "global."];

/// The regions gpt-oss answers in on Bedrock (Runtime and Mantle alike), as AWS lists
/// them (the model support and service tier pages, December 2026).
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "sa-east-1",
];

/// A sentence when `model`, a Bedrock gpt-oss id, is called in a region AWS does not
/// list it in. A cross-region profile (`us.`, `eu.`) is the region's own to route.
pub(crate) fn region_lint(model: &str, region: &str) -> Option<String> {
    let bedrock = model.to_ascii_lowercase().starts_with("openai.gpt-oss");
    (bedrock && !REGIONS.contains(&region)).then(|| {
        format!(
            "`{model}` is not offered in {region} as AWS lists it (gpt-oss is in {}): the calls will fail with a not-found or access error",
            REGIONS.join(", ")
        )
    })
}

/// A sentence about `model` on `api` (the wire API: an agent's transport), when it
/// looks like a Bedrock gpt-oss id this list does not know. Ids outside Bedrock's
/// `openai.gpt-oss` namespace (a local server's `gpt-oss:20b`) are not judged.
pub(crate) fn lint(api: Api, model: &str) -> Option<String> {
    let bare = PROFILES.iter().find_map(|p| model.strip_prefix(p)).unwrap_or(model);
    if !bare.to_ascii_lowercase().starts_with("openai.gpt-oss") {
        return None;
    }
    let (known, other, endpoint): (Vec<&str>, &[&str], &str) = match api {
        Api::Responses | Api::ResponsesStream => (MANTLE.to_vec(), RUNTIME, "Bedrock Mantle"),
        Api::Chat | Api::ChatStream => ([RUNTIME, MANTLE].concat(), &[], "chat completions"),
        _ => (RUNTIME.to_vec(), MANTLE, "Bedrock Runtime"),
    };
    if known.contains(&bare) {
        return None;
    }
    let close = known
        .iter()
        .map(|k| (strsim::normalized_levenshtein(&bare.to_ascii_lowercase(), k), *k))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k);
    let prefix = &model[..model.len() - bare.len()];
    let what = if other.contains(&bare) { "gpt-oss's id" } else { "a gpt-oss model id known" };
    let mut message =
        format!("`{model}` is not {what} on {endpoint} ({api}), though it still runs (Bedrock adds models)");
    if let Some(close) = close {
        message.push_str(&format!("; did you mean `{prefix}{close}`?"));
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_without_gpt_oss_are_named() {
        assert_eq!(region_lint("openai.gpt-oss-120b-1:0", "us-west-2"), None);
        assert_eq!(region_lint("us.openai.gpt-oss-120b-1:0", "us-west-1"), None, "a profile routes itself");
        assert_eq!(region_lint("gpt-oss:20b", "ca-central-1"), None, "not Bedrock's");
        let m = region_lint("openai.gpt-oss-20b-1:0", "ca-central-1").unwrap();
        assert!(m.starts_with("`openai.gpt-oss-20b-1:0` is not offered in ca-central-1"), "{m}");
    }

    #[test]
    fn known_ids_pass_on_their_endpoints() {
        assert_eq!(lint(Api::Converse, "openai.gpt-oss-120b-1:0"), None);
        assert_eq!(lint(Api::Invoke, "us.openai.gpt-oss-20b-1:0"), None);
        assert_eq!(lint(Api::Responses, "openai.gpt-oss-safeguard-20b"), None);
        assert_eq!(lint(Api::Chat, "openai.gpt-oss-120b"), None, "Mantle's chat completions");
        assert_eq!(lint(Api::Chat, "gpt-oss:20b"), None, "not Bedrock's namespace");
        assert_eq!(lint(Api::Converse, "anthropic.claude-3"), None);
    }

    #[test]
    fn each_endpoint_suggests_its_own_form_of_the_id() {
        let m = lint(Api::Responses, "openai.gpt-oss-20b-1:0").unwrap();
        assert!(
            m.contains("not gpt-oss's id on Bedrock Mantle") && m.contains("did you mean `openai.gpt-oss-20b`?"),
            "{m}"
        );
        let m = lint(Api::Converse, "openai.gpt-oss-120b").unwrap();
        assert!(m.contains("did you mean `openai.gpt-oss-120b-1:0`?"), "{m}");
        let m = lint(Api::InvokeStream, "us.openai.gpt-oss-safegaurd-20b").unwrap();
        assert!(m.contains("did you mean `us.openai.gpt-oss-safeguard-20b`?"), "{m}");
        let m = lint(Api::Converse, "openai.gpt-oss-999b-9:9").unwrap();
        assert!(m.contains(", though it still runs (Bedrock adds models)"), "{m}");
    }
}
