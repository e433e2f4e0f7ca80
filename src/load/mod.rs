//! Load: find scenario files, parse them, validate them against the schema and the
//! semantic rules, and merge `defaults.yaml` files into each scenario.
//!
//! Every problem in every file is collected as a [`Diagnostic`]; one bad file never
//! stops the others from being checked. The main entry point is [`load`].

mod check;
pub(crate) mod dataset;
mod defaults;
mod utf8;
mod vars;
pub mod yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

pub use crate::diagnostic::Diagnostic;
use crate::diagnostic::explain;
pub(crate) use check::is_template;
pub(crate) use yaml::{Pos, SpanIndex};

use crate::scenario::Scenario;
use crate::schema::validators;

/// A scenario ready for planning: its own fields merged over the defaults that apply.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The scenario file, as the user named it (relative paths stay relative).
    pub(crate) file: PathBuf,
    /// The project the file belongs to (see [`folders_up_to_root`]): `snapshots/` and
    /// `cassettes/` live here.
    pub(crate) project_root: PathBuf,
    /// The file's path below `project_root`.
    pub(crate) source: PathBuf,
    /// Where the scenario is inside its file: `` or `/scenarios/<i>`.
    pub(crate) pointer: String,
    /// The merged scenario as JSON (matrix expansion works on this form).
    pub(crate) value: Value,
    /// The merged scenario, typed.
    pub(crate) spec: Scenario,
    /// Positions in the scenario's file.
    pub(crate) spans: Arc<SpanIndex>,
    /// The rows of a `dataset` or `rows` scenario.
    pub(crate) dataset: Option<Arc<dataset::Dataset>>,
}

impl LoadedScenario {
    /// The position of something inside this scenario, by pointer relative to it.
    pub(crate) fn pos(&self, pointer: &str) -> Pos {
        self.spans.value(&format!("{}{pointer}", self.pointer))
    }

    pub(crate) fn diagnostic(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        let full = format!("{}{pointer}", self.pointer);
        Diagnostic::at(&self.file, self.spans.value(&full), full, message)
    }
}

/// Everything found under the given paths.
#[derive(Debug, Default)]
pub struct Suite {
    pub scenarios: Vec<LoadedScenario>,
    pub diagnostics: Vec<Diagnostic>,
    /// How many scenario files were read.
    pub(crate) files: usize,
}

/// Loads every scenario file under `paths` (files, or folders searched recursively).
pub fn load(paths: &[PathBuf]) -> Suite {
    let mut suite = Suite::default();
    let mut defaults = defaults::DefaultsCache::default();
    for root in paths {
        let files = match discover(root) {
            Ok(files) => files,
            Err(d) => {
                suite.diagnostics.push(d);
                continue;
            }
        };
        for file in files {
            suite.files += 1;
            load_file(&file, &mut defaults, &mut suite);
        }
    }
    suite.diagnostics.extend(defaults.take_diagnostics());
    skip_data_files(&mut suite);
    check::duplicate_names(&mut suite);
    suite
}

/// A YAML dataset inside the suite's folders is found as a scenario file too: it is
/// data, not a scenario, so what reading it as one found is dropped.
fn skip_data_files(suite: &mut Suite) {
    let data: std::collections::HashSet<PathBuf> = suite
        .scenarios
        .iter()
        .filter_map(|s| s.dataset.as_ref().filter(|d| d.file != s.file))
        .map(|d| absolute(&d.file))
        .collect();
    if data.is_empty() {
        return;
    }
    let is_data = |file: &Path| data.contains(&absolute(file));
    let before: std::collections::HashSet<PathBuf> = suite
        .scenarios
        .iter()
        .map(|s| s.file.clone())
        .chain(suite.diagnostics.iter().map(|d| d.file.clone()))
        .filter(|f| is_data(f))
        .collect();
    suite.files -= before.len().min(suite.files);
    suite.scenarios.retain(|s| !is_data(&s.file));
    suite.diagnostics.retain(|d| !is_data(&d.file));
}

/// Folders that hold the tool's own output, never scenarios.
const SKIPPED_DIRS: [&str; 2] = ["snapshots", "cassettes"];

/// Whether a file name is a suite defaults file rather than a scenario.
pub(crate) fn is_defaults_file(name: &str) -> bool {
    name == "defaults.yaml" || name == "defaults.yml"
}

/// Scenario files under `root` in sorted order, or `root` itself when it is a file.
pub(crate) fn discover(root: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let meta = std::fs::metadata(root)
        .map_err(|e| Diagnostic::file(root, format!("cannot read this path: {}", crate::fs::reason(&e))))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut found = Vec::new();
    walk(root, &mut found)
        .map_err(|(path, e)| Diagnostic::file(path, format!("cannot list this folder: {}", crate::fs::reason(&e))))?;
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), (PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Symlinked folders are not followed: a link back up the tree would loop.
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(&path, found)?;
            }
        } else if (name.ends_with(".yaml") || name.ends_with(".yml")) && !is_defaults_file(&name) {
            found.push(path);
        }
    }
    Ok(())
}

fn load_file(file: &Path, defaults: &mut defaults::DefaultsCache, suite: &mut Suite) {
    let bytes = match crate::fs::read_limited(file, yaml::MAX_FILE_BYTES, crate::fs::Links::Follow) {
        Ok(bytes) => bytes,
        Err(crate::fs::ReadError::TooLarge { size, .. }) => {
            suite.diagnostics.push(Diagnostic::at(file, Pos { line: 1, col: 1 }, "", yaml::too_large(size)));
            return;
        }
        Err(e) => {
            suite.diagnostics.push(Diagnostic::file(file, format!("cannot read this file: {e}")));
            return;
        }
    };
    let doc = match yaml::parse(&bytes) {
        Ok(doc) => doc,
        Err(e) => {
            suite.diagnostics.push(Diagnostic::at(file, e.pos, "", e.message));
            return;
        }
    };
    let spans = Arc::new(doc.spans);
    if doc.value.is_null() {
        suite.diagnostics.push(Diagnostic::at(
            file,
            Pos { line: 1, col: 1 },
            "",
            "the file is empty; write a scenario (at least `name` and `prompt`) or delete the file",
        ));
        return;
    }
    let v = validators();
    let schema_errors: Vec<Diagnostic> = v
        .file
        .iter_errors(&doc.value)
        .flat_map(|e| explain::explain(&e, &v.root))
        .map(|e| {
            let pos = if e.at_key { spans.key(&e.pointer) } else { spans.value(&e.pointer) };
            Diagnostic::at(file, pos, e.pointer, e.message)
        })
        .collect();
    let root = project_root(file);
    let source = absolute(file).strip_prefix(&root).map(Path::to_path_buf).unwrap_or_else(|_| file.to_path_buf());
    let chain = defaults.chain_for(file);
    let entries: Vec<(String, &Value)> = match doc.value.get("scenarios").and_then(Value::as_array) {
        Some(list) => list.iter().enumerate().map(|(i, s)| (format!("/scenarios/{i}"), s)).collect(),
        None => vec![(String::new(), &doc.value)],
    };
    suite.diagnostics.extend(schema_errors.iter().cloned());
    for (pointer, raw) in entries {
        // The semantic rules run even where the schema found problems, so that one
        // `validate` shows every independent problem; a rule firing where the schema
        // already spoke would say the same thing twice.
        let problems: Vec<Diagnostic> = check::scenario(raw, file, &pointer, &spans)
            .into_iter()
            .filter(|p| !schema_errors.iter().any(|s| covers(&s.pointer, &p.pointer, &pointer)))
            .collect();
        let schema_invalid = schema_errors.iter().any(|s| related(&s.pointer, &pointer));
        let matrix_invalid = problems.iter().any(|p| inside(&format!("{pointer}/matrix"), &p.pointer));
        suite.diagnostics.extend(problems);
        // A scenario with semantic problems is still planned (a missing model or a bad
        // matrix value is its own problem), unless its shape or its matrix is wrong:
        // then planning would only repeat what was said. Nothing runs either way.
        if schema_invalid || matrix_invalid {
            continue;
        }
        let mut raw = raw.clone();
        let problems = vars::resolve_files(&mut raw, file, &pointer, &spans);
        let rows = rows_of(&raw, file, &pointer, &spans);
        if !problems.is_empty() || rows.is_err() {
            suite.diagnostics.extend(problems);
            suite.diagnostics.extend(rows.err().into_iter().flatten());
            continue;
        }
        let value = defaults::merge(&chain, &raw);
        match serde_json::from_value::<Scenario>(value.clone()) {
            Ok(spec) => suite.scenarios.push(LoadedScenario {
                file: file.to_path_buf(),
                project_root: root.clone(),
                source: source.clone(),
                pointer,
                value,
                spec,
                spans: spans.clone(),
                dataset: rows.ok().flatten().map(Arc::new),
            }),
            // The schema accepted it, so this means the schema and the types disagree:
            // still a clear message rather than a panic.
            Err(e) => suite.diagnostics.push(Diagnostic::at(file, spans.value(&pointer), pointer, e.to_string())),
        }
    }
}

/// The scenario's rows: its `dataset` file (relative to the scenario file), or its
/// inline `rows`.
fn rows_of(
    raw: &Value,
    file: &Path,
    pointer: &str,
    spans: &SpanIndex,
) -> Result<Option<dataset::Dataset>, Vec<Diagnostic>> {
    if let Some(relative) = raw.get("dataset").and_then(Value::as_str) {
        let path = file.parent().unwrap_or(Path::new("")).join(relative);
        // A file that cannot be read at all is pointed at where the scenario names it.
        let at = format!("{pointer}/dataset");
        if let Err(e) = readable_from(file, &path) {
            return Err(vec![Diagnostic::at(file, spans.value(&at), at, e.to_string())]);
        }
        return dataset::read(&path).map(Some).map_err(|problems| {
            problems
                .into_iter()
                .map(|d| match d.pos {
                    // Named from the data file's side too: several scenarios may share it.
                    Some(_) => Diagnostic {
                        message: format!("{} (the dataset of {})", d.message, crate::fs::shown(file)),
                        ..d
                    },
                    None => Diagnostic::at(
                        file,
                        spans.value(&at),
                        at.clone(),
                        format!("{}: {}", crate::fs::shown(&d.file), d.message),
                    ),
                })
                .collect()
        });
    }
    match raw.get("rows").and_then(Value::as_array) {
        Some(rows) => dataset::inline(file, pointer, rows, spans).map(Some),
        None => Ok(None),
    }
}

/// `path` made absolute against the working directory, with `.` and `..` resolved
/// lexically, so that `suite/../other/x.yaml` finds the project root of
/// `other/x.yaml` and its snapshots stay inside it.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in std::env::current_dir().unwrap_or_default().join(path).components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether JSON pointer `inner` is `outer` or inside it, token by token: `/a/10` is
/// not inside `/a/1`.
pub(crate) fn inside(outer: &str, inner: &str) -> bool {
    inner == outer || inner.starts_with(&format!("{outer}/"))
}

/// Whether one pointer is the other or inside it.
fn related(a: &str, b: &str) -> bool {
    inside(a, b) || inside(b, a)
}

/// Whether a schema error at `schema` already says what a rule found at `rule`: inside
/// a value the schema rejected, or a rule about the whole scenario (no prompt) when the
/// schema found its shape wrong (a misspelt `promt`). An error about the scenario as a
/// whole (a missing field) does not hide rules about its parts.
fn covers(schema: &str, rule: &str, scenario: &str) -> bool {
    if rule == scenario { inside(scenario, schema) } else { schema != scenario && inside(schema, rule) }
}

/// Whether `dir` is a suite's folder: it holds `scenarios/`, with `snapshots/` and
/// `cassettes/` beside it.
fn holds_suite(dir: &Path) -> bool {
    dir.join("scenarios").is_dir()
}

/// The folders from `file`'s own up to its project root, closest first. The project
/// root is the nearest folder that holds `scenarios/` or `.git`, so that a suite in a
/// subfolder of a repository keeps its snapshots and cassettes beside it; failing that,
/// the working directory when the file is below it; failing that, the file's own folder.
pub(crate) fn folders_up_to_root(file: &Path) -> Vec<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let absolute = absolute(file);
    let Some(start) = absolute.parent() else { return Vec::new() };
    let mut dirs = Vec::new();
    for dir in start.ancestors() {
        dirs.push(dir.to_path_buf());
        if holds_suite(dir) || dir.join(".git").exists() {
            return dirs;
        }
    }
    match dirs.iter().position(|d| *d == cwd) {
        Some(i) => dirs.truncate(i + 1),
        None => dirs.truncate(1),
    }
    dirs
}

/// The nearest folder holding `.git` at or above `dir`.
pub(crate) fn repository_root(dir: &Path) -> Option<PathBuf> {
    absolute(dir).ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

/// The suite a command run from `cwd` means, the way cargo finds `Cargo.toml`: the
/// nearest folder above `cwd` holding `scenarios/`, not above the repository root.
pub(crate) fn suite_above(cwd: &Path) -> Option<PathBuf> {
    for dir in cwd.ancestors() {
        if dir != cwd && holds_suite(dir) {
            return Some(dir.to_path_buf());
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

/// Where a scenario file may read other files from (`dataset:`, `{file:}`
/// variables): its repository, or its project when it is in none, and the folders
/// listed in `GPT_OSS_SCENARIOS_ALLOW_READ` (a path list). A scenario is code a pull
/// request can change; without this, one line could send `/proc/self/environ` or
/// `~/.aws/credentials` to a model and into the reports. Links are followed first, so
/// a link inside the project that leads out is refused too.
pub(crate) fn readable_from(scenario: &Path, target: &Path) -> Result<(), FileError> {
    let dir = scenario.parent().unwrap_or(Path::new(""));
    let Ok(resolved) = target.canonicalize() else {
        // Missing: the read itself says so.
        return Ok(());
    };
    let home = repository_root(dir).unwrap_or_else(|| project_root(scenario));
    let allowed = std::env::var_os("GPT_OSS_SCENARIOS_ALLOW_READ")
        .map(|list| std::env::split_paths(&list).collect::<Vec<_>>())
        .unwrap_or_default();
    let inside = std::iter::once(&home)
        .chain(&allowed)
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| resolved.starts_with(root));
    if inside {
        return Ok(());
    }
    let shown = crate::fs::shown(target);
    Err(if resolved == absolute(target) {
        FileError::Outside { shown, home }
    } else {
        FileError::LeadsOutside { shown, resolved, home }
    })
}

/// A file a scenario names that cannot be read: where it is, or what it is.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error(
        "{shown} is outside {}: scenario files read only inside their project (a folder listed in GPT_OSS_SCENARIOS_ALLOW_READ is allowed too)",
        home.display()
    )]
    Outside { shown: String, home: PathBuf },
    #[error(
        "{shown} leads to {}, outside {}: scenario files read only inside their project (a folder listed in GPT_OSS_SCENARIOS_ALLOW_READ is allowed too)",
        resolved.display(),
        home.display()
    )]
    LeadsOutside { shown: String, resolved: PathBuf, home: PathBuf },
    #[error("{shown} is {mib} MiB; a variable's file is limited to 8 MiB")]
    TooLarge { shown: String, mib: u64 },
    #[error("cannot read {shown}: {source}")]
    Read { shown: String, source: crate::fs::ReadError },
    #[error("{shown} is not valid UTF-8 (line {line}); save it as UTF-8")]
    NotUtf8 { shown: String, line: usize },
}

/// The project root of a scenario file (see [`folders_up_to_root`]).
pub(crate) fn project_root(file: &Path) -> PathBuf {
    folders_up_to_root(file).pop().unwrap_or_default()
}

/// The suite's defaults files, read once each, keyed by folder.
pub(crate) type DefaultsByDir = HashMap<PathBuf, Option<Arc<Value>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_error_covers_rules_inside_what_it_rejected_only() {
        // A value the schema rejected hides rules about it and inside it.
        assert!(covers("/expect/0", "/expect/0/regex", ""));
        assert!(covers("/expect/0/regex", "/expect/0/regex", ""));
        assert!(!covers("/expect/0", "/expect/1/regex", ""));
        assert!(!covers("/expect/1", "/expect/10", ""), "pointer parts are whole tokens");
        // A problem with the scenario as a whole (a missing field) hides no part...
        assert!(!covers("", "/matrix/params.temprature", ""));
        assert!(!covers("/scenarios/0", "/scenarios/0/expect/0/regex", "/scenarios/0"));
        // ...and a rule about the whole scenario (no prompt) yields to any schema error
        // in it (a misspelt `promt`), but not to one in another scenario of the file.
        assert!(covers("/promt", "", ""));
        assert!(covers("/scenarios/1/promt", "/scenarios/1", "/scenarios/1"));
        assert!(!covers("/scenarios/0/promt", "/scenarios/1", "/scenarios/1"));
    }

    #[test]
    fn related_pointers_are_one_inside_the_other() {
        assert!(related("/a", "/a/b") && related("/a/b", "/a") && related("/a", "/a"));
        assert!(!related("/a", "/ab") && !related("/a/b", "/a/c"));
    }
}
