//! `vars:` entries written `{file: PATH}` become the file's text, read relative to the
//! file that declares them (a scenario or a `defaults.yaml`), before defaults are merged
//! and the declaring file is forgotten.

use std::path::Path;

use serde_json::Value;

use super::yaml::SpanIndex;
use super::{Diagnostic, FileError};

/// A variable file larger than this is a mistake (a dataset belongs in `dataset:`).
const MAX_VAR_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Replaces every `{file: PATH}` under `/vars` of the document at `base` in `file` with
/// that file's text, and returns the problems (each at the `file` value).
pub(crate) fn resolve_files(value: &mut Value, file: &Path, base: &str, spans: &SpanIndex) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let Some(vars) = value.get_mut("vars").and_then(Value::as_object_mut) else { return problems };
    let dir = file.parent().unwrap_or(Path::new(""));
    for (name, var) in vars.iter_mut() {
        let Some(relative) = var.get("file").and_then(Value::as_str) else { continue };
        let at = format!("{base}/vars/{}/file", super::yaml::escape_token(name));
        let path = dir.join(relative);
        match super::readable_from(file, &path).and_then(|()| read_text(&path)) {
            Ok(text) => *var = Value::String(text),
            Err(e) => problems.push(Diagnostic::at(file, spans.value(&at), at, e.to_string())),
        }
    }
    problems
}

fn read_text(path: &Path) -> Result<String, FileError> {
    let shown = crate::fs::shown(path);
    crate::fs::read_text_limited(path, MAX_VAR_FILE_BYTES, crate::fs::Links::Follow).map_err(|e| match e {
        crate::fs::ReadError::TooLarge { size, .. } => FileError::TooLarge { shown, mib: size >> 20 },
        crate::fs::ReadError::NotUtf8 { line } => FileError::NotUtf8 { shown, line },
        source => FileError::Read { shown, source },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_vars_become_text_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("policy.md"), "No spam.\n").unwrap();
        std::fs::write(dir.path().join("bad.md"), b"ok\n\xfe").unwrap();
        let file = dir.path().join("s.yaml");
        let mut v = json!({"vars": {"policy": {"file": "policy.md"}, "n": 3, "gone": {"file": "nope.md"}, "bad": {"file": "bad.md"}}});
        let problems = resolve_files(&mut v, &file, "", &SpanIndex::default());
        assert_eq!(v["vars"]["policy"], json!("No spam.\n"));
        assert_eq!(v["vars"]["n"], json!(3));
        assert_eq!(problems.len(), 2);
        assert!(problems[0].to_string().contains("/vars/gone/file: cannot read "), "{}", problems[0]);
        assert!(problems[0].to_string().ends_with("nope.md: no such file or folder"), "{}", problems[0]);
        assert!(
            problems[1].to_string().ends_with("bad.md is not valid UTF-8 (line 2); save it as UTF-8"),
            "{}",
            problems[1]
        );
    }
}
