//! The values of the credential variables the tool reads, and [`redact`], which
//! removes them from any text. A server may echo a request header back in an error
//! body; a model may repeat what it was sent. Every response passes through here
//! before anything prints or stores it, so no route leads a key to a file or output.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::Value;

/// Every variable that carries a credential the tool or the AWS SDK reads.
pub(crate) const CREDENTIAL_VARS: [&str; 5] =
    ["AWS_BEARER_TOKEN_BEDROCK", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"];

/// Shorter values are not redacted: they would blank out ordinary words, and no real
/// key is that short.
const MIN_LEN: usize = 8;

static SECRETS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();

/// Reads the credential variables once (after `.env` is loaded); later calls keep
/// what the first one read.
pub(crate) fn init_from_env() {
    SECRETS.get_or_init(|| {
        CREDENTIAL_VARS
            .iter()
            .filter_map(|name| Some((*name, std::env::var(name).ok()?.trim().to_owned())))
            .filter(|(_, value)| value.len() >= MIN_LEN)
            .collect()
    });
}

/// `text` with every credential value replaced by `[redacted NAME]`.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    redact_with(SECRETS.get().map_or(&[][..], Vec::as_slice), text)
}

fn redact_with<'a>(secrets: &[(&str, String)], text: &'a str) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for (name, value) in secrets {
        if out.contains(value.as_str()) {
            out = Cow::Owned(out.replace(value.as_str(), &format!("[redacted {name}]")));
        }
    }
    out
}

/// Redacts every string in a JSON value, in place.
pub(crate) fn redact_json(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = redact(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

/// Redacts a string in place.
pub(crate) fn redact_in_place(text: &mut String) {
    if let Cow::Owned(clean) = redact(text) {
        *text = clean;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_value_is_replaced_wherever_it_stands() {
        let secrets =
            [("OPENAI_API_KEY", "sk-canary-1234".to_owned()), ("AWS_SESSION_TOKEN", "tok-5678-abcd".to_owned())];
        let text = "401: header Authorization: Bearer sk-canary-1234; session tok-5678-abcd, again sk-canary-1234";
        assert_eq!(
            redact_with(&secrets, text),
            "401: header Authorization: Bearer [redacted OPENAI_API_KEY]; session [redacted AWS_SESSION_TOKEN], again [redacted OPENAI_API_KEY]"
        );
        assert!(matches!(redact_with(&secrets, "nothing secret"), Cow::Borrowed(_)));
    }
}
