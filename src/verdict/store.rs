//! Snapshot files on disk: where pending snapshots go and reading a stored body.
//! Writes go through [`crate::fs::write_atomic`], so an interrupted run never leaves a
//! truncated `.snap`.

use std::path::{Path, PathBuf};

use super::snapshot::stored_body;

/// A snapshot that could not be read, naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("failed to read snapshot {}: {source}", crate::fs::shown(path))]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "snapshot {} is a link that leads outside the project {}: not read",
        crate::fs::shown(path),
        crate::fs::shown(root)
    )]
    Outside { path: PathBuf, root: PathBuf },
}

/// `<snapshot>.new`, where pending snapshots go.
pub(crate) fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// The stored body, or `None` when there is no snapshot yet. A snapshot that is a
/// link is read only when it resolves inside `root`, the project.
pub(crate) fn read_body(path: &Path, root: &Path) -> Result<Option<String>, StoreError> {
    if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        let inside = match (path.canonicalize(), root.canonicalize()) {
            (Ok(target), Ok(root)) => target.starts_with(root),
            // A dangling link reads as no snapshot, below.
            (Err(_), _) => true,
            (Ok(_), Err(_)) => false,
        };
        if !inside {
            return Err(StoreError::Outside { path: path.to_owned(), root: root.to_owned() });
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(stored_body(&String::from_utf8_lossy(&bytes)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
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
        assert_eq!(read_body(&path, dir.path()).unwrap().as_deref(), Some("final: two"));
        assert_eq!(pending_path(&path), dir.path().join("a/c.snap.new"));
        assert_eq!(read_body(&dir.path().join("missing.snap"), dir.path()).unwrap(), None);
        let e = read_body(dir.path(), dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("failed to read snapshot "), "{e}");
    }

    /// Issue 13: a symlinked `.snap` was read wherever it pointed.
    #[cfg(unix)]
    #[test]
    fn a_linked_snapshot_is_read_only_inside_the_project() {
        let outside = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "---\n---\nsecret\n").unwrap();
        std::fs::write(project.path().join("real.snap"), "---\n---\nmine\n").unwrap();
        let away = project.path().join("away.snap");
        let near = project.path().join("near.snap");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), &away).unwrap();
        std::os::unix::fs::symlink(project.path().join("real.snap"), &near).unwrap();
        let e = read_body(&away, project.path()).unwrap_err().to_string();
        assert!(e.contains("leads outside the project"), "{e}");
        assert_eq!(read_body(&near, project.path()).unwrap().as_deref(), Some("mine"));
    }
}
