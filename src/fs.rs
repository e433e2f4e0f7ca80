//! Files the tool reads and writes. [`write_atomic`] writes a temp file in the same
//! folder, then renames it, so that an interrupted run never leaves a truncated
//! snapshot, cassette or report; new files get the mode the umask gives, replaced ones
//! keep theirs. [`read_limited`] and [`open_regular`] read only regular files, and a
//! bounded number of bytes: a FIFO would block a run forever, and `/dev/zero` (whose
//! size reads 0) would fill memory. [`remove`] takes files that may already be gone.

use std::io::{Read, Write};
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
    #[error("failed to read {}: {source}", shown(path))]
    Read { path: PathBuf, source: ReadError },
    #[error("failed to remove {}: {source}", shown(path))]
    Remove { path: PathBuf, source: std::io::Error },
}

/// Writes `contents` to `path` all at once or not at all, creating its folder. A new
/// file gets `0666` less the umask, as any other tool's; a replaced one keeps its mode.
pub(crate) fn write_atomic(path: &Path, contents: &str) -> Result<(), FsError> {
    write_atomic_with(path, |out| out.write_all(contents.as_bytes()))
}

/// [`write_atomic`], with the contents written by `fill` as they are made, never held
/// whole.
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), FsError> {
    let fail = |source| FsError::Write { path: path.to_owned(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let temp = builder.tempfile_in(dir).map_err(fail)?;
    if let Ok(existing) = std::fs::metadata(path) {
        temp.as_file().set_permissions(existing.permissions()).map_err(fail)?;
    }
    let mut out = std::io::BufWriter::new(temp.as_file());
    fill(&mut out).map_err(fail)?;
    out.flush().map_err(fail)?;
    drop(out);
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Whether a file may be reached through a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Files the user names (scenarios, datasets, variables): a link is theirs to make.
    Follow,
    /// Files the tool owns (snapshots, cassettes): a committed link could lead a
    /// review or a replay to print whatever it points at.
    Refuse,
}

/// A file the tool would not, or could not, read. Says what is wrong, not which file:
/// the caller names it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("no such file or folder")]
    Missing,
    #[error("it is a symbolic link, which the tool does not follow here")]
    Link,
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is {}; the limit is {}", mib(*size), mib(*limit))]
    TooLarge { size: u64, limit: u64 },
    #[error("it is not valid UTF-8 (line {line})")]
    NotUtf8 { line: usize },
    #[error("{}", reason(.0))]
    Io(std::io::Error),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::Missing,
            _ => ReadError::Io(e),
        }
    }
}

/// An I/O error as a lowercase phrase.
pub(crate) fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string().to_lowercase(),
    }
}

/// Opens `path` for reading if it is a regular file (after following links, unless
/// `links` refuses them). The open itself never blocks: a FIFO is opened non-blocking
/// and refused by its type.
pub(crate) fn open_regular(path: &Path, links: Links) -> Result<std::fs::File, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if links == Links::Refuse { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    #[cfg(not(unix))]
    if links == Links::Refuse && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(ReadError::Link);
    }
    let file = options.open(path).map_err(|e| {
        // O_NOFOLLOW refuses a link with ELOOP; followed, ELOOP is a loop of links.
        #[cfg(unix)]
        if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) {
            return ReadError::Link;
        }
        ReadError::from(e)
    })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular(kind_name(kind)));
    }
    Ok(file)
}

fn kind_name(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() { "a folder" } else { "not a plain file" }
}

/// The whole of a regular file, if it holds at most `limit` bytes, found without
/// reading past the limit (the size a file reports is not trusted: it may grow while
/// read).
pub(crate) fn read_limited(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path, links)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(ReadError::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

/// [`read_limited`], as UTF-8 text.
pub(crate) fn read_text_limited(path: &Path, limit: u64, links: Links) -> Result<String, ReadError> {
    String::from_utf8(read_limited(path, limit, links)?).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        ReadError::NotUtf8 { line: good.iter().filter(|b| **b == b'\n').count() + 1 }
    })
}

/// A size for messages: `8 MiB`, `50.0 MiB`, `512 bytes`.
pub(crate) fn mib(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{bytes} bytes")
    } else if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
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

    #[cfg(unix)]
    #[test]
    fn new_files_follow_the_umask_and_replaced_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // The test process's umask is whatever the shell gave it; read it back from a
        // file created the ordinary way.
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        let fresh = dir.path().join("fresh");
        write_atomic(&fresh, "x").unwrap();
        assert_eq!(mode(&fresh), mode(&plain), "as std::fs::write would create it");
        let kept = dir.path().join(".gitignore");
        std::fs::write(&kept, "x").unwrap();
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&kept, "y").unwrap();
        assert_eq!(mode(&kept), 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_read_and_never_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let e = read_limited(&fifo, 10, Links::Follow).unwrap_err().to_string();
        assert_eq!(e, "it is a FIFO, not a regular file");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = read_limited(&zero, 10, Links::Follow).unwrap_err().to_string();
        assert_eq!(e, "it is a character device, not a regular file");
        let file = dir.path().join("file");
        std::fs::write(&file, "0123456789A").unwrap();
        let e = read_limited(&file, 10, Links::Follow).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { size: 11, limit: 10 }), "{e}");
        assert_eq!(read_limited(&file, 11, Links::Follow).unwrap(), b"0123456789A");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_limited(&link, 11, Links::Follow).unwrap(), b"0123456789A");
        let e = read_limited(&link, 11, Links::Refuse).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(mib(8 << 20), "8 MiB");
        assert_eq!(mib(50 * (1 << 20) + (1 << 19)), "50.5 MiB");
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
