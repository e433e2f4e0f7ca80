//! The one duration grammar of the tool, for scenario fields (`timeout`, a tool's
//! `timeout`) and flags (`--deadline`, `--latency`) alike: one or more `<number><unit>`
//! with units `ms`, `s`, `m`, `h` and `d`, such as `500ms`, `90s` or `1h30m`.
//! Durations are bounded so that adding one to a clock can never overflow.

use std::time::Duration;

/// The longest duration accepted: a year is more than any run or call should take.
pub(crate) const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a duration was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DurationError {
    #[error("`{0}` is not a duration such as 500ms, 90s or 1h30m")]
    Syntax(String),
    #[error("`{0}` is longer than a year")]
    TooLong(String),
    #[error("`{0}` is no time at all: every call would end before it started; give a positive duration")]
    Zero(String),
}

/// A time limit (a case's `timeout`, a tool's, `--deadline`): a duration, not zero.
pub(crate) fn parse_limit(text: &str) -> Result<Duration, DurationError> {
    match parse_duration(text)? {
        Duration::ZERO => Err(DurationError::Zero(text.to_owned())),
        d => Ok(d),
    }
}

/// Parses `text` in the grammar above.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let syntax = || DurationError::Syntax(text.to_owned());
    let too_long = || DurationError::TooLong(text.to_owned());
    let mut rest = text;
    let mut total_ms: u128 = 0;
    if rest.is_empty() {
        return Err(syntax());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(syntax)?;
        if digits == 0 {
            return Err(syntax());
        }
        // More digits than fit in a u128 are certainly longer than a year.
        let n: u128 = rest[..digits].parse().map_err(|_| too_long())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_ms: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(syntax()),
        };
        rest = &rest[unit_len..];
        total_ms = n.checked_mul(unit_ms).and_then(|ms| total_ms.checked_add(ms)).ok_or_else(too_long)?;
        if total_ms > MAX.as_millis() {
            return Err(too_long());
        }
    }
    Ok(Duration::from_millis(total_ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 25 (left from November): `timeout: 0s` was accepted.
    #[test]
    fn a_limit_of_no_time_is_refused() {
        for zero in ["0s", "0ms", "0m0s"] {
            assert_eq!(parse_limit(zero), Err(DurationError::Zero(zero.into())));
            assert_eq!(parse_duration(zero), Ok(Duration::ZERO), "a latency may be zero");
        }
        assert_eq!(parse_limit("1ms"), Ok(Duration::from_millis(1)));
    }

    /// The regex the JSON Schema gives duration fields (`scenario.rs`).
    const PATTERN: &str = r"^([0-9]+(ms|s|m|h|d))+$";

    #[test]
    fn units_and_sums() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn what_is_not_a_duration() {
        for bad in ["", "s", "90", "1.5s", "1 h", "-1s", "1w", "h1", "1hh"] {
            assert_eq!(parse_duration(bad), Err(DurationError::Syntax(bad.into())), "{bad}");
        }
    }

    #[test]
    fn durations_are_bounded_without_overflow() {
        assert_eq!(parse_duration("365d"), Ok(MAX));
        for long in ["366d", "18446744073709551616s", "500000000000d", &"9".repeat(60)] {
            let long = format!("{long}{}", if long.ends_with(|c: char| c.is_ascii_digit()) { "s" } else { "" });
            assert_eq!(parse_duration(&long), Err(DurationError::TooLong(long.clone())), "{long}");
        }
    }

    #[test]
    fn the_scenario_schema_uses_this_pattern() {
        let schema = crate::schema::json_schema(crate::schema::SchemaKind::Scenario).to_string();
        let quoted = serde_json::to_string(PATTERN).unwrap();
        assert_eq!(
            schema.matches(&format!("\"pattern\":{quoted}")).count(),
            3,
            "timeout, tool timeout, defaults timeout"
        );
    }

    #[test]
    fn the_schema_pattern_accepts_the_same_texts() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        for text in ["500ms", "1h30m", "2d", "0ms", "90", "1 h", "1w", ""] {
            assert_eq!(pattern.is_match(text), parse_duration(text).is_ok(), "{text}");
        }
    }
}
