//! `accept`, `reject`, `review` and `snapshots --unreferenced`: managing snapshot
//! files without cargo-insta, for suites that do not live in a Cargo package.

use crate::stdio::{errln, outln};
use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::commands::load_and_plan;
use crate::exit;
use crate::report::{diff, use_color};
use crate::verdict::store::read_body;

/// The default place to look: `snapshots/` at the working directory's project root.
fn default_roots() -> Vec<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    vec![crate::load::project_root(&cwd.join("_")).join("snapshots")]
}

/// Every file under `roots` whose name ends with `suffix`, sorted.
fn find(roots: &[PathBuf], suffix: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, suffix: &str, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, suffix, found);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    for root in roots {
        if root.is_file() {
            let pending = if root.to_string_lossy().ends_with(".snap") {
                crate::verdict::store::pending_path(root)
            } else {
                root.clone()
            };
            if pending.to_string_lossy().ends_with(suffix) && pending.is_file() {
                found.push(pending);
            }
        } else {
            walk(root, suffix, &mut found);
        }
    }
    found.sort();
    found.dedup();
    found
}

fn roots_or_default(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() { default_roots() } else { paths.to_vec() }
}

/// `foo.snap.new` -> `foo.snap`.
fn target_of(pending: &Path) -> PathBuf {
    let text = pending.to_string_lossy();
    PathBuf::from(text.strip_suffix(".new").unwrap_or(&text))
}

fn accept_one(pending: &Path) -> std::io::Result<()> {
    // A rename is atomic: the snapshot is either the old file or the new one.
    std::fs::rename(pending, target_of(pending))
}

pub(crate) fn accept(paths: &[PathBuf]) -> u8 {
    decide_all(paths, "accepted", accept_one)
}

pub(crate) fn reject(paths: &[PathBuf]) -> u8 {
    decide_all(paths, "rejected", |p| std::fs::remove_file(p))
}

fn decide_all(paths: &[PathBuf], done: &str, act: impl Fn(&Path) -> std::io::Result<()>) -> u8 {
    let pending = find(&roots_or_default(paths), ".snap.new");
    if pending.is_empty() {
        outln!("no pending snapshots");
        return exit::SUCCESS;
    }
    let mut failed = false;
    for p in &pending {
        match act(p) {
            Ok(()) => outln!("{done} {}", crate::fs::shown(&target_of(p))),
            Err(e) => {
                errln!("error: failed to update {}: {e}", p.display());
                failed = true;
            }
        }
    }
    if failed { exit::FAILURES } else { exit::SUCCESS }
}

/// Interactive review: the diff of each pending snapshot, then accept, reject or skip.
/// Answers are read line by line from standard input, so it can also be scripted.
pub(crate) fn review(paths: &[PathBuf]) -> u8 {
    let pending = find(&roots_or_default(paths), ".snap.new");
    if pending.is_empty() {
        outln!("no pending snapshots");
        return exit::SUCCESS;
    }
    let color = use_color(std::io::stdout().is_terminal());
    let stdin = std::io::stdin();
    let mut answers = stdin.lock().lines();
    let (mut accepted, mut rejected, mut skipped) = (0, 0, 0);
    for (i, p) in pending.iter().enumerate() {
        let target = target_of(p);
        // Both through the one reader of snapshots: links and FIFOs are refused.
        let (new, old) = match (read_body(p), read_body(&target)) {
            (Ok(new), Ok(old)) => (new.unwrap_or_default(), old),
            (Err(e), _) | (_, Err(e)) => {
                errln!("error: {e}; skipped");
                skipped += 1;
                continue;
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n[{}/{}] {}", i + 1, pending.len(), crate::fs::shown(&target));
        match &old {
            Some(old) => {
                let _ = write!(out, "{}", diff::unified(old, &new, color));
            }
            None => {
                let _ = writeln!(out, "new snapshot:");
                for line in new.lines() {
                    let _ = writeln!(out, "+ {line}");
                }
            }
        }
        let _ = write!(out, "[a]ccept, [r]eject, [s]kip, [q]uit? ");
        let _ = out.flush();
        drop(out);
        let answer = answers.next().and_then(Result::ok).unwrap_or_else(|| "q".into());
        let result = match answer.trim().chars().next() {
            Some('a' | 'A') => accept_one(p).map(|()| accepted += 1),
            Some('r' | 'R') => std::fs::remove_file(p).map(|()| rejected += 1),
            Some('q' | 'Q') | None => {
                skipped += pending.len() - i;
                break;
            }
            _ => {
                skipped += 1;
                Ok(())
            }
        };
        if let Err(e) = result {
            errln!("error: failed to update {}: {e}", p.display());
            return exit::FAILURES;
        }
    }
    outln!("\nreview finished: {accepted} accepted, {rejected} rejected, {skipped} skipped");
    exit::SUCCESS
}

/// Snapshot files that no case of the suite produces any more.
pub(crate) fn unreferenced(paths: &[PathBuf], delete: bool) -> u8 {
    let plan = match load_and_plan(paths) {
        Ok((plan, _)) => plan,
        Err(code) => return code,
    };
    let mut wanted: HashSet<PathBuf> = HashSet::new();
    let mut roots: Vec<PathBuf> = default_roots();
    for case in plan.cases() {
        let path = case.snapshot_path();
        wanted.insert(crate::verdict::store::pending_path(&path));
        wanted.insert(path);
        roots.push(case.project_root.join("snapshots"));
    }
    roots.sort();
    roots.dedup();
    // Leftovers of writes a killed process never finished count too.
    let interrupted = find(&roots, ".tmp")
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(crate::fs::TEMP_PREFIX)));
    let mut stale: Vec<PathBuf> =
        find(&roots, ".snap").into_iter().chain(find(&roots, ".snap.new")).chain(interrupted).collect();
    stale.retain(|p| !wanted.contains(p));
    stale.sort();
    for p in &stale {
        if delete {
            if let Err(e) = std::fs::remove_file(p) {
                errln!("error: failed to delete {}: {e}", p.display());
                return exit::FAILURES;
            }
            outln!("deleted {}", crate::fs::shown(p));
        } else {
            outln!("{}", crate::fs::shown(p));
        }
    }
    if stale.is_empty() {
        outln!("no unreferenced snapshots");
    }
    exit::SUCCESS
}
