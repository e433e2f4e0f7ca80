//! One test per file in `tests/malformed/`: each must be rejected with clear,
//! located errors, and the exact text is kept as an insta snapshot.

use std::path::Path;

use gpt_oss_scenarios::{load, plan};

fn rejects_with_located_errors(path: &Path) -> datatest_stable::Result<()> {
    // Paths are shown relative to the crate root, as a user running from there sees them.
    let relative = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path);
    let suite = load::load(&[relative.to_path_buf()]);
    let planned = plan::plan(&suite.scenarios);
    let problems: Vec<String> = suite.diagnostics.iter().chain(&planned.diagnostics).map(ToString::to_string).collect();
    if problems.is_empty() {
        return Err(format!("{} was accepted, but it is malformed", relative.display()).into());
    }
    // Each names its file and line: the scenario, or a data file it reads beside it.
    let located = regex::Regex::new(r"^tests/malformed/[^:]+:[0-9]+:[0-9]+: ").expect("a valid regex");
    for p in &problems {
        if !located.is_match(p) {
            return Err(format!("error does not start with a file, line and column: {p}").into());
        }
    }
    let name = relative.file_stem().and_then(|s| s.to_str()).unwrap_or("case").to_owned();
    insta::with_settings!({ snapshot_path => "malformed/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, problems.join("\n"));
    });
    Ok(())
}

datatest_stable::harness! {
    { test = rejects_with_located_errors, root = "tests/malformed", pattern = r"^[^/]+\.yaml$" },
}
