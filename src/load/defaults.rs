//! `defaults.yaml`: finding the files that apply to a scenario, and merging them.
//!
//! A defaults file applies to every scenario in its folder and below. Files are
//! looked up from the scenario's folder upwards to its project root (the nearest
//! folder holding `.git`, else the working directory when the scenario is below it).
//! The closest file wins; the scenario's own fields win over all of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{DefaultsByDir, Diagnostic, check, explain, yaml};
use crate::schema::validators;

/// Reads each defaults file once and remembers its problems.
#[derive(Default)]
pub(crate) struct DefaultsCache {
    by_dir: DefaultsByDir,
    diagnostics: Vec<Diagnostic>,
}

impl DefaultsCache {
    /// The defaults that apply to `file`, farthest first.
    pub(crate) fn chain_for(&mut self, file: &Path) -> Vec<Arc<Value>> {
        let mut chain = Vec::new();
        for dir in super::folders_up_to_root(file) {
            if let Some(value) = self.get(&dir) {
                chain.push(value);
            }
        }
        chain.reverse();
        chain
    }

    pub(crate) fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    fn get(&mut self, dir: &Path) -> Option<Arc<Value>> {
        if let Some(cached) = self.by_dir.get(dir) {
            return cached.clone();
        }
        let loaded = ["defaults.yaml", "defaults.yml"]
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
            .and_then(|path| self.read(&display_path(&path)));
        self.by_dir.insert(dir.to_path_buf(), loaded.clone());
        loaded
    }

    fn read(&mut self, path: &Path) -> Option<Arc<Value>> {
        let bytes = match crate::fs::read_limited(path, super::yaml::MAX_FILE_BYTES, crate::fs::Links::Follow) {
            Ok(b) => b,
            Err(e) => {
                self.diagnostics.push(Diagnostic::file(path, format!("cannot read this file: {e}")));
                return None;
            }
        };
        let doc = match yaml::parse(&bytes) {
            Ok(doc) => doc,
            Err(e) => {
                self.diagnostics.push(Diagnostic::at(path, e.pos, "", e.message));
                return None;
            }
        };
        if doc.value.is_null() {
            return Some(Arc::new(Value::Object(Map::new())));
        }
        let v = validators();
        let before = self.diagnostics.len();
        for error in v.defaults.iter_errors(&doc.value) {
            for e in explain::explain(&error, &v.root) {
                let pos = if e.at_key { doc.spans.key(&e.pointer) } else { doc.spans.value(&e.pointer) };
                self.diagnostics.push(Diagnostic::at(path, pos, e.pointer, e.message));
            }
        }
        if self.diagnostics.len() == before {
            self.diagnostics.extend(check::defaults(&doc.value, path, &doc.spans));
        }
        let mut value = doc.value;
        if self.diagnostics.len() == before {
            self.diagnostics.extend(super::vars::resolve_files(&mut value, path, "", &doc.spans));
        }
        (self.diagnostics.len() == before).then(|| Arc::new(value))
    }
}

/// Paths in messages are shown relative to the working directory when possible.
fn display_path(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

/// Merges defaults (farthest first) and a scenario: mappings merge key by key,
/// `tags` and `expect` accumulate (defaults first), anything else is replaced.
pub(crate) fn merge(chain: &[Arc<Value>], scenario: &Value) -> Value {
    let mut merged = Value::Object(Map::new());
    for layer in chain.iter().map(Arc::as_ref).chain(std::iter::once(scenario)) {
        merge_top(&mut merged, layer);
    }
    merged
}

fn merge_top(into: &mut Value, layer: &Value) {
    let (Value::Object(into), Value::Object(layer)) = (into, layer) else { return };
    for (key, value) in layer {
        match (key.as_str(), into.get_mut(key)) {
            ("tags" | "expect", Some(Value::Array(existing))) => {
                for item in value.as_array().into_iter().flatten() {
                    if key == "expect" || !existing.contains(item) {
                        existing.push(item.clone());
                    }
                }
            }
            (_, Some(existing)) => merge_deep(existing, value),
            (_, None) => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

fn merge_deep(into: &mut Value, layer: &Value) {
    match (into, layer) {
        (Value::Object(into), Value::Object(layer)) => {
            for (key, value) in layer {
                match into.get_mut(key) {
                    Some(existing) => merge_deep(existing, value),
                    None => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (into, layer) => *into = layer.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn closest_wins_and_scenario_wins_over_all() {
        let far =
            Arc::new(json!({"model": "far", "params": {"temperature": 1.0, "top_p": 0.5}, "region": "eu-west-1"}));
        let near = Arc::new(json!({"model": "near", "params": {"top_p": 0.9}}));
        let scenario = json!({"name": "s", "params": {"temperature": 0.0}});
        let merged = merge(&[far, near], &scenario);
        assert_eq!(
            merged,
            json!({"model": "near", "params": {"temperature": 0.0, "top_p": 0.9}, "region": "eu-west-1", "name": "s"})
        );
    }

    #[test]
    fn tags_and_expectations_accumulate() {
        let d = Arc::new(json!({"tags": ["ja", "nightly"], "expect": [{"no_reasoning_leak": true}]}));
        let s = json!({"name": "s", "tags": ["ja", "basic"], "expect": [{"contains": "3.11"}]});
        let merged = merge(&[d], &s);
        assert_eq!(merged["tags"], json!(["ja", "nightly", "basic"]));
        assert_eq!(merged["expect"], json!([{"no_reasoning_leak": true}, {"contains": "3.11"}]));
    }

    #[test]
    fn lists_other_than_tags_and_expect_are_replaced() {
        let d = Arc::new(json!({"params": {"stop": ["a"]}}));
        let merged = merge(&[d], &json!({"params": {"stop": ["b"]}}));
        assert_eq!(merged["params"]["stop"], json!(["b"]));
    }
}
