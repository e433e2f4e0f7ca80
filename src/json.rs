//! JSON helpers every stage shares: [`canonical_json`] (cassette hashes, snapshots)
//! and [`contains_value`] (assertions, agent tool results).

use serde_json::Value;

/// JSON with object keys sorted, compact: stable whatever order the model used.
pub(crate) fn canonical_json(value: &Value) -> String {
    sort_keys(value.clone()).to_string()
}

/// `value` with object keys sorted at every depth.
pub(crate) fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sort_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// `want` is contained in `have`: objects by key (recursively), everything else equal.
pub(crate) fn contains_value(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => {
            w.iter().all(|(k, wv)| h.get(k).is_some_and(|hv| contains_value(hv, wv)))
        }
        _ => have == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": [{"f": 1, "e": 2}], "c": null}})),
            r#"{"a":{"c":null,"d":[{"e":2,"f":1}]},"b":1}"#
        );
    }

    #[test]
    fn containment_is_by_key_for_objects_and_equality_otherwise() {
        let have = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]});
        assert!(contains_value(&have, &json!({"b": {"c": 2}})));
        assert!(!contains_value(&have, &json!({"b": {"c": 3}})));
        assert!(!contains_value(&have, &json!({"e": [1]})), "arrays compare whole");
        assert!(!contains_value(&have, &json!({"z": 1})));
    }
}
