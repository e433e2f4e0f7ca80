//! Snapshot files on disk: reading a stored body, and writing atomically (a temp
//! file in the same folder, then a rename) so an interrupted run never leaves a
//! truncated `.snap`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::snapshot::stored_body;

/// A failed snapshot read or write, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to read snapshot {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("failed to write snapshot {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// `<snapshot>.new`, where pending snapshots go.
pub fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// The stored body, or `None` when there is no snapshot yet.
pub fn read_body(path: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(stored_body(&String::from_utf8_lossy(&bytes)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Read { path: path.to_owned(), source }),
    }
}

/// Writes `contents` to `path` all at once or not at all.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), StoreError> {
    let fail = |source| StoreError::Write { path: path.to_owned(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut temp = tempfile::Builder::new().prefix(".snap-").suffix(".tmp").tempfile_in(dir).map_err(fail)?;
    temp.write_all(contents.as_bytes()).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Removes a file that may not exist.
pub fn remove(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Write { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_folders_and_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c.snap");
        write_atomic(&path, "---\nsource: x\n---\nfinal: one\n").unwrap();
        write_atomic(&path, "---\nsource: x\n---\nfinal: two\n").unwrap();
        assert_eq!(read_body(&path).unwrap().as_deref(), Some("final: two"));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().filter_map(Result::ok).collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
        assert_eq!(pending_path(&path), dir.path().join("a/b/c.snap.new"));
        assert_eq!(read_body(&dir.path().join("missing.snap")).unwrap(), None);
        remove(&path).unwrap();
        remove(&path).unwrap();
    }
}
