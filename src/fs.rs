//! Files the tool writes: [`write_atomic`] (a temp file in the same folder, then a
//! rename) so that an interrupted run never leaves a truncated snapshot, cassette or
//! report, and [`remove`] for files that may already be gone.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The name of a write in progress: `<prefix>XXXXXX.tmp`, beside its target. A process
/// killed mid-write leaves one behind; `snapshots --unreferenced --delete` removes them.
pub(crate) const TEMP_PREFIX: &str = ".gpt-oss-scenarios-";

/// A path as the user would type it: relative to the working directory when it is
/// below it, as cargo and nextest print paths.
pub(crate) fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// A relative path with `/` between its parts on every platform, as files that travel
/// between machines (cassettes, snapshots, workflows) hold it.
pub(crate) fn slashed(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// A failed write or removal, naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FsError {
    #[error("failed to write {}: {source}", shown(path))]
    Write { path: PathBuf, source: std::io::Error },
    #[error("failed to remove {}: {source}", shown(path))]
    Remove { path: PathBuf, source: std::io::Error },
}

/// Writes `contents` to `path` all at once or not at all, creating its folder.
pub(crate) fn write_atomic(path: &Path, contents: &str) -> Result<(), FsError> {
    let fail = |source| FsError::Write { path: path.to_owned(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut temp = tempfile::Builder::new().prefix(TEMP_PREFIX).suffix(".tmp").tempfile_in(dir).map_err(fail)?;
    temp.write_all(contents.as_bytes()).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Removes a file that may not exist.
pub(crate) fn remove(path: &Path) -> Result<(), FsError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FsError::Remove { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_create_folders_replace_whole_files_and_leave_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c.snap");
        write_atomic(&path, "one").unwrap();
        write_atomic(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().filter_map(Result::ok).collect();
        assert_eq!(entries.len(), 1, "no temp files left behind");
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let under_a_file = dir.path().join("file/report.xml");
        let e = write_atomic(&under_a_file, "x").unwrap_err().to_string();
        assert!(e.starts_with("failed to write ") && e.contains("report.xml"), "{e}");
    }
}
