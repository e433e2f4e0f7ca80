//! Snapshot files on disk: where pending snapshots go and reading a stored body.
//! Writes go through [`crate::fs::write_atomic`], so an interrupted run never leaves a
//! truncated `.snap`.

use std::path::{Path, PathBuf};

use super::snapshot::stored_body;

/// A snapshot that could not be read, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("failed to read snapshot {path}: {source}")]
pub(crate) struct StoreError {
    path: PathBuf,
    source: std::io::Error,
}

/// `<snapshot>.new`, where pending snapshots go.
pub(crate) fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// The stored body, or `None` when there is no snapshot yet.
pub(crate) fn read_body(path: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(stored_body(&String::from_utf8_lossy(&bytes)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_without_the_header_and_pending_files_sit_beside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/c.snap");
        crate::fs::write_atomic(&path, "---\nsource: x\n---\nfinal: two\n").unwrap();
        assert_eq!(read_body(&path).unwrap().as_deref(), Some("final: two"));
        assert_eq!(pending_path(&path), dir.path().join("a/c.snap.new"));
        assert_eq!(read_body(&dir.path().join("missing.snap")).unwrap(), None);
        let e = read_body(dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("failed to read snapshot "), "{e}");
    }
}
