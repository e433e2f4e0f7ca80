//! The run history: every `run` keeps its JSON report in `.gpt-oss-scenarios/runs/`
//! (written as the run goes, as `--report-json` is), named by when it started, so that
//! a run without report flags still leaves something to look at, compare with
//! (`--baseline last`) and list (`runs`). The oldest are removed past a count or an age.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::record::RunRecord;

/// Where a project's runs are kept, below the folder the run works from.
pub(crate) fn dir() -> PathBuf {
    Path::new(".gpt-oss-scenarios").join("runs")
}

/// The file of a run starting `now`: `20261203t195930.123-1a2b3c.json`, so that names
/// sort by time, to the millisecond.
pub(crate) fn new_path(now: SystemTime) -> PathBuf {
    let stamp = humantime::format_rfc3339_millis(now).to_string();
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let (day, rest) = digits.split_at(digits.len().min(8));
    let (time, millis) = rest.split_at(rest.len().min(6));
    dir().join(format!("{day}t{time}.{millis}-{:06x}.json", fastrand::u32(..0x0100_0000)))
}

/// A kept run, or why its file could not be read.
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) path: PathBuf,
    pub(crate) run: Result<RunRecord, super::ReportError>,
}

/// The finished runs kept in `dir`, newest first (a run still going, or killed, has
/// only its `.partial`).
pub(crate) fn list(dir: &Path) -> Vec<Kept> {
    let mut paths = files(dir);
    paths.reverse();
    paths.into_iter().map(|path| Kept { run: super::read::read(&path), path }).collect()
}

/// The report files in `dir`, oldest first.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    paths.sort();
    paths
}

/// The kept run `name` names: a report file, a kept run's name (or the start of it),
/// or, without a name, the newest.
pub(crate) fn find(dir: &Path, name: Option<&str>) -> Option<PathBuf> {
    let Some(name) = name else { return files(dir).pop() };
    let given = Path::new(name);
    if given.is_file() {
        return Some(given.to_owned());
    }
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    files(dir).into_iter().rev().find(|p| stem(p).starts_with(name))
}

/// The newest kept run of the same plan and selection as `plan` and `filters`, but for
/// `except` (the run in progress). Unreadable files are passed over, each said in `skipped`.
pub(crate) fn last_of(
    dir: &Path,
    plan: &str,
    filters: &[String],
    except: Option<&Path>,
    skipped: &mut Vec<String>,
) -> Option<PathBuf> {
    for kept in list(dir) {
        if Some(kept.path.as_path()) == except {
            continue;
        }
        match kept.run {
            Ok(run) if run.plan.as_deref() == Some(plan) && run.filters == filters && run.shard.is_none() => {
                return Some(kept.path);
            }
            Ok(_) => {}
            Err(e) => skipped.push(e.to_string()),
        }
    }
    None
}

/// Removes the oldest runs past the newest `keep`, and any older than `max_age`; the
/// partial file of a run still going is never touched. Returns what could not be removed.
pub(crate) fn prune(dir: &Path, keep: usize, max_age: Option<Duration>, now: SystemTime) -> Vec<String> {
    let paths = files(dir);
    let surplus = paths.len().saturating_sub(keep);
    let old = |p: &Path| {
        let modified = p.metadata().and_then(|m| m.modified()).ok();
        max_age.zip(modified).is_some_and(|(age, at)| now.duration_since(at).is_ok_and(|d| d > age))
    };
    let mut failed = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        if i < surplus || old(path) {
            // With the HTML page `view` wrote beside it, if any.
            for file in [path.clone(), path.with_extension("html")] {
                if let Err(e) = crate::fs::remove(&file) {
                    failed.push(e.to_string());
                }
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(plan: &str, filters: &[&str], passed: usize) -> String {
        serde_json::json!({
            "format": 1, "version": "0", "started_at": "2026-12-03T10:00:00Z", "duration_ms": 5,
            "filters": filters, "plan": plan,
            "summary": {"cases": passed, "passed": passed, "failed": 0, "errored": 0, "skipped": 0,
                "pending_snapshots": 0, "input_tokens": 0, "output_tokens": 0, "interrupted": false},
            "cases": []
        })
        .to_string()
    }

    #[test]
    fn names_sort_by_time() {
        let at = |ms| new_path(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        let (a, b) = (at(1_796_311_441_998), at(1_796_311_441_999));
        assert!(a < b, "{a:?} {b:?}");
        assert!(a.file_name().unwrap().to_str().unwrap().starts_with("20261203t152401.998-"), "{a:?}");
    }

    #[test]
    fn the_last_run_of_the_same_plan_and_selection_is_found_and_a_corrupt_file_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        put("20261201t000000-aaaaaa.json", &report("p", &[], 1));
        put("20261202t000000-bbbbbb.json", &report("p", &["--tag=x"], 2));
        put("20261203t000000-cccccc.json", "{ not a report");
        put("20261204t000000-dddddd.json.partial", "{}");
        let mut skipped = Vec::new();
        let found = last_of(dir.path(), "p", &[], None, &mut skipped).unwrap();
        assert!(found.ends_with("20261201t000000-aaaaaa.json"), "{found:?}");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].contains("20261203t000000-cccccc.json"), "{skipped:?}");
        let tagged = last_of(dir.path(), "p", &["--tag=x".into()], None, &mut Vec::new()).unwrap();
        assert!(tagged.ends_with("20261202t000000-bbbbbb.json"));
        assert!(last_of(dir.path(), "other", &[], None, &mut Vec::new()).is_none());
    }

    #[test]
    fn a_run_is_found_by_its_name_its_start_or_as_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["20261201t000000.000-aaaaaa.json", "20261202t000000.000-bbbbbb.json"] {
            std::fs::write(dir.path().join(name), report("p", &[], 1)).unwrap();
        }
        let found = |name| find(dir.path(), name).map(|p| p.file_name().unwrap().to_string_lossy().into_owned());
        assert_eq!(found(None).as_deref(), Some("20261202t000000.000-bbbbbb.json"));
        assert_eq!(found(Some("20261201")).as_deref(), Some("20261201t000000.000-aaaaaa.json"));
        assert_eq!(found(Some("2027")), None);
    }

    #[test]
    fn pruning_keeps_the_newest_and_leaves_a_run_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=5 {
            std::fs::write(dir.path().join(format!("2026120{day}t000000-aaaaaa.json")), report("p", &[], 1)).unwrap();
        }
        std::fs::write(dir.path().join("20261206t000000-bbbbbb.json.partial"), "{}").unwrap();
        assert!(prune(dir.path(), 2, None, SystemTime::now()).is_empty());
        let left: Vec<String> =
            list(dir.path()).iter().map(|k| k.path.file_name().unwrap().to_string_lossy().into()).collect();
        assert_eq!(left, ["20261205t000000-aaaaaa.json", "20261204t000000-aaaaaa.json"]);
        assert!(dir.path().join("20261206t000000-bbbbbb.json.partial").exists());
        let later = SystemTime::now() + Duration::from_secs(3600);
        prune(dir.path(), 10, Some(Duration::from_secs(60)), later);
        assert!(list(dir.path()).is_empty(), "older than the age kept");
    }
}
