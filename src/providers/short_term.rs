//! Short-term Bedrock API keys, as AWS's token generators make them
//! (`aws-bedrock-token-generator` for Python, `@aws/bedrock-token-generator` for JS):
//! a SigV4 query-presigned `POST https://bedrock.amazonaws.com/?Action=CallWithBearerToken`
//! for service `bedrock` in a region, its `https://` dropped, `&Version=1` appended,
//! base64-encoded (standard alphabet, padded) and prefixed with `bedrock-api-key-`.
//!
//! Pure: the credentials and the signing time are given. The signature is the SDK's own
//! (`aws-sigv4`); the session token is part of the signed query, as botocore's
//! `SigV4QueryAuth` puts it. [`read`] takes such a key apart again, for `doctor`'s
//! check of a stale one.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;

/// What every short-term key starts with.
pub(crate) const PREFIX: &str = "bedrock-api-key-";

/// The longest life AWS gives a short-term key (and what the generators ask for).
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

const HOST: &str = "bedrock.amazonaws.com";

/// A short-term key could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign a short-term Bedrock API key: {0}")]
pub(crate) struct SignError(String);

/// The short-term key that `credentials` make for `region`, signed at `at` and valid
/// for `lifetime` (at most [`LIFETIME`]; AWS refuses more).
pub(crate) fn derive(
    credentials: &Credentials,
    region: &str,
    at: SystemTime,
    lifetime: Duration,
) -> Result<String, SignError> {
    let url = presign(credentials, region, at, lifetime.min(LIFETIME))?;
    let unsigned = url.strip_prefix("https://").unwrap_or(&url);
    let token = format!("{unsigned}&Version=1");
    Ok(format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(token)))
}

/// The presigned URL itself, `https://bedrock.amazonaws.com/?Action=...&X-Amz-Signature=...`.
fn presign(credentials: &Credentials, region: &str, at: SystemTime, lifetime: Duration) -> Result<String, SignError> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
    settings.expires_in = Some(lifetime);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let url = format!("https://{HOST}/?Action=CallWithBearerToken");
    let headers = [("host", HOST)];
    let request = SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _) = sign(request, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    let mut http = http::Request::builder().method("POST").uri(&url).body(()).map_err(|e| SignError(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut http);
    // The signature last, as botocore writes it: the same key, byte for byte, as AWS's
    // generators make (the order of a query does not change what it signs).
    let uri = http.uri().to_string();
    let (pairs, signature): (Vec<&str>, Vec<&str>) = uri.split('&').partition(|p| !p.starts_with("X-Amz-Signature="));
    Ok(pairs.into_iter().chain(signature).collect::<Vec<_>>().join("&"))
}

/// What a short-term key says of itself: who signed it, for which region, when, and
/// for how long. Nothing secret: the signature and session token stay inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyInfo {
    pub(crate) access_key_id: String,
    pub(crate) region: String,
    pub(crate) signed_at: SystemTime,
    pub(crate) lifetime: Duration,
}

impl KeyInfo {
    pub(crate) fn expires_at(&self) -> SystemTime {
        self.signed_at + self.lifetime
    }
}

/// Reads a short-term key; `None` when `key` is not one (a long-term key, say).
pub(crate) fn read(key: &str) -> Option<KeyInfo> {
    let encoded = key.strip_prefix(PREFIX)?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let url = url::Url::parse(&format!("https://{}", String::from_utf8(decoded).ok()?)).ok()?;
    let query = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    query("Action").filter(|a| a == "CallWithBearerToken")?;
    // `AKID/20261203/us-west-2/bedrock/aws4_request`
    let credential = query("X-Amz-Credential")?;
    let mut scope = credential.split('/');
    let access_key_id = scope.next()?.to_owned();
    let region = scope.nth(1)?.to_owned();
    let signed_at = parse_amz_date(&query("X-Amz-Date")?)?;
    // AWS gives at most 12 hours; a longer one is no key of AWS's making (and its end
    // could overflow the clock).
    let lifetime = Duration::from_secs(query("X-Amz-Expires")?.parse().ok()?);
    (lifetime <= LIFETIME).then_some(KeyInfo { access_key_id, region, signed_at, lifetime })
}

/// `20261203T093000Z` as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    if text.len() != 16 || !text.is_ascii() {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    humantime::parse_rfc3339(&rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> SystemTime {
        humantime::parse_rfc3339("2026-12-03T09:30:00Z").unwrap()
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// The keys AWS's own Python generator (aws-bedrock-token-generator 1.1.0, botocore's
    /// SigV4QueryAuth) made from these credentials at this time: the same bytes, so a
    /// key derived here verifies wherever AWS's verifies.
    #[test]
    fn keys_are_byte_for_byte_what_aws_generator_makes() {
        let with_token =
            Credentials::new("AKIDEXAMPLE", SECRET, Some("FwoGZXIvYXdzEXAMPLE/session+token==".into()), None, "test");
        let key = derive(&with_token, "us-west-2", at(), LIFETIME).unwrap();
        assert_eq!(
            key,
            "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbiZYLUFtei1BbGdvcml0aG09QVdTNC1ITUFDLVNIQTI1NiZYLUFtei1DcmVkZW50aWFsPUFLSURFWEFNUExFJTJGMjAyNjEyMDMlMkZ1cy13ZXN0LTIlMkZiZWRyb2NrJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNjEyMDNUMDkzMDAwWiZYLUFtei1FeHBpcmVzPTQzMjAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TZWN1cml0eS1Ub2tlbj1Gd29HWlhJdllYZHpFWEFNUExFJTJGc2Vzc2lvbiUyQnRva2VuJTNEJTNEJlgtQW16LVNpZ25hdHVyZT05ZGRjMjg0ZmEzMjI3NTA2NGEyYjI1YTNmZjczY2RmZWNiNGVjMmQ5YjVkNjZiZTQ1MTQxNWIyNjJhZTZmMjBkJlZlcnNpb249MQ=="
        );
        let plain = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test");
        let key = derive(&plain, "us-west-2", at(), LIFETIME).unwrap();
        assert_eq!(
            key,
            "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbiZYLUFtei1BbGdvcml0aG09QVdTNC1ITUFDLVNIQTI1NiZYLUFtei1DcmVkZW50aWFsPUFLSURFWEFNUExFJTJGMjAyNjEyMDMlMkZ1cy13ZXN0LTIlMkZiZWRyb2NrJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNjEyMDNUMDkzMDAwWiZYLUFtei1FeHBpcmVzPTQzMjAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TaWduYXR1cmU9MGVkNzQwYjkxOTVhMDg2MDAzNzA3OGU1ZWQwYTZiNTY2OTk5MjdjMDg1MGEwYzc2NDFiMzQzYmQ4ZmU4NzY0ZiZWZXJzaW9uPTE="
        );
    }

    #[test]
    fn a_key_tells_who_signed_it_where_when_and_for_how_long() {
        let credentials = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test");
        let key = derive(&credentials, "eu-north-1", at(), Duration::from_secs(900)).unwrap();
        let info = read(&key).unwrap();
        assert_eq!(info.access_key_id, "AKIDEXAMPLE");
        assert_eq!(info.region, "eu-north-1");
        assert_eq!(info.signed_at, at());
        assert_eq!(info.expires_at(), at() + Duration::from_secs(900));
        // Never more than AWS accepts.
        let long = derive(&credentials, "eu-north-1", at(), Duration::from_secs(86_400)).unwrap();
        assert_eq!(read(&long).unwrap().lifetime, LIFETIME);
        let forever = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode("bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Credential=A%2F20261203%2Fus-west-2%2Fbedrock%2Faws4_request&X-Amz-Date=20261203T093000Z&X-Amz-Expires=18446744073709551615&Version=1")
        );
        for not_one in ["ABSKlongtermkey", "bedrock-api-key-not base64!", "bedrock-api-key-aGVsbG8=", "", &forever] {
            assert_eq!(read(not_one), None, "{not_one}");
        }
    }
}
