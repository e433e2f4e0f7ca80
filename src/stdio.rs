//! Standard output and error for a tool whose readers may leave early. The process
//! ignores SIGPIPE (Rust's default), so a write to a closed pipe is an error, not a
//! death: `run | head -1` must still finish the run and write its reports, and an
//! agent's tool that never reads its input must not end the run. [`out`] and [`err`]
//! turn `BrokenPipe` into "stop printing to that stream", and never panic as
//! `println!` does.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout, unless its reader has gone.
pub(crate) fn out(text: &str) {
    write_to(&mut std::io::stdout().lock(), &STDOUT_CLOSED, text.as_bytes());
}

/// Writes `text` to stderr, unless its reader has gone.
pub(crate) fn err(text: &str) {
    write_to(&mut std::io::stderr().lock(), &STDERR_CLOSED, text.as_bytes());
}

/// Whether stdout's reader has gone: a listing of a million cases stops there
/// (`list | head -1`) rather than building the rest for nobody.
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

fn write_to(stream: &mut impl Write, closed: &AtomicBool, bytes: &[u8]) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    // Any other failure (a full disk behind a redirect) is not worth ending a run
    // over either: the reports the user asked for are files of their own.
    if let Err(e) = stream.write_all(bytes).and_then(|()| stream.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        closed.store(true, Ordering::Relaxed);
    }
}

/// `println!` that survives a closed stdout.
macro_rules! outln {
    () => { $crate::stdio::out("\n") };
    ($($arg:tt)*) => { $crate::stdio::out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that survives a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::stdio::err(&format!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed(usize);

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stream_is_written_once_then_left_alone() {
        let closed = AtomicBool::new(false);
        let mut stream = Closed(0);
        write_to(&mut stream, &closed, b"one");
        write_to(&mut stream, &closed, b"two");
        assert!(closed.load(Ordering::Relaxed));
        assert_eq!(stream.0, 1, "no write after the pipe closed");
    }
}
