//! Snapshot files on disk: where pending snapshots go and reading a stored body.
//! Writes go through [`crate::fs::write_atomic`], so an interrupted run never leaves a
//! truncated `.snap`.

use std::path::{Path, PathBuf};

use super::snapshot::stored_body;

/// A snapshot that could not be read, naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("failed to read snapshot {}: {source}", crate::fs::shown(path))]
    Read { path: PathBuf, source: crate::fs::ReadError },
}

/// A snapshot larger than this is not one the tool wrote.
pub(crate) const MAX_SNAPSHOT_BYTES: u64 = 256 << 20;

/// `<snapshot>.new`, where pending snapshots go.
pub(crate) fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// The stored body, or `None` when there is no snapshot yet. Snapshots are the tool's
/// own files: one that is a link (a committed link to `.env` would print it in a diff)
/// or not a regular file is refused, not read.
pub(crate) fn read_body(path: &Path) -> Result<Option<String>, StoreError> {
    match crate::fs::read_limited(path, MAX_SNAPSHOT_BYTES, crate::fs::Links::Refuse) {
        Ok(bytes) => Ok(Some(stored_body(&String::from_utf8_lossy(&bytes)))),
        Err(crate::fs::ReadError::Missing) => Ok(None),
        Err(source) => Err(StoreError::Read { path: path.to_owned(), source }),
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

    /// Issues 13 and 25: a symlinked `.snap` was read wherever it pointed, and then
    /// wherever inside the project it pointed (`.env` is inside).
    #[cfg(unix)]
    #[test]
    fn a_linked_snapshot_is_never_read() {
        let outside = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "---\n---\nsecret\n").unwrap();
        std::fs::write(project.path().join("real.snap"), "---\n---\nmine\n").unwrap();
        let away = project.path().join("away.snap");
        let near = project.path().join("near.snap");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), &away).unwrap();
        std::os::unix::fs::symlink(project.path().join("real.snap"), &near).unwrap();
        for link in [away, near] {
            let e = read_body(&link).unwrap_err().to_string();
            assert!(e.contains("is a symbolic link"), "{e}");
            assert!(!e.contains("secret") && !e.contains("mine"), "{e}");
        }
    }
}
