//! [`Checked`]: a reader that checks its bytes are UTF-8 as they pass, so that a data
//! file can be read a line or a record at a time (never held whole) and still say
//! exactly where it stops being text: the byte, its offset and its line.

use std::io::Read;

/// Where a file stops being UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8 {
    pub(crate) byte: u8,
    pub(crate) offset: u64,
    pub(crate) line: u64,
}

/// Passes `inner`'s bytes through, failing with [`std::io::ErrorKind::InvalidData`]
/// at the first byte that is not UTF-8 (see [`Checked::error`]).
pub(crate) struct Checked<R> {
    inner: R,
    /// Bytes passed so far, and the newlines among them.
    offset: u64,
    lines: u64,
    /// The start of a character the last read cut off, to check with what follows.
    tail: Vec<u8>,
    error: Option<NotUtf8>,
}

impl<R: Read> Checked<R> {
    pub(crate) fn new(inner: R) -> Checked<R> {
        Checked { inner, offset: 0, lines: 0, tail: Vec::new(), error: None }
    }

    /// The first byte that was not UTF-8, once one was met.
    pub(crate) fn error(&self) -> Option<NotUtf8> {
        self.error
    }

    /// Checks `chunk`, read after `self.tail`; `at_end` says no byte follows.
    fn check(&mut self, chunk: &[u8], at_end: bool) -> Result<(), NotUtf8> {
        let mut joined = std::mem::take(&mut self.tail);
        let start = self.offset - joined.len() as u64;
        joined.extend_from_slice(chunk);
        match std::str::from_utf8(&joined) {
            Ok(_) => Ok(()),
            // A character cut by the end of this read: checked with the next one.
            Err(e) if e.error_len().is_none() && !at_end => {
                self.tail = joined[e.valid_up_to()..].to_vec();
                Ok(())
            }
            Err(e) => {
                // The tail holds no newline: it is the start of a multi-byte character.
                let newlines = joined[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count();
                Err(NotUtf8 {
                    byte: joined[e.valid_up_to()],
                    offset: start + e.valid_up_to() as u64,
                    line: self.lines + newlines as u64 + 1,
                })
            }
        }
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.error.is_some() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"));
        }
        let n = self.inner.read(buf)?;
        // An empty `buf` reads nothing, and says nothing of the end.
        let checked = self.check(&buf[..n], n == 0 && !buf.is_empty());
        self.offset += n as u64;
        self.lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        match checked {
            Ok(()) => Ok(n),
            Err(e) => {
                self.error = Some(e);
                Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives its bytes a few at a time, so that characters are cut between reads.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn read_all(bytes: &[u8], step: usize) -> Result<String, NotUtf8> {
        let mut reader = Checked::new(Trickle(bytes, step));
        let mut out = String::new();
        match reader.read_to_string(&mut out) {
            Ok(_) => Ok(out),
            Err(_) => Err(reader.error().expect("the error is kept")),
        }
    }

    #[test]
    fn text_cut_anywhere_passes_and_the_first_bad_byte_is_found() {
        let text = "héllo\nwörld 日本\n";
        for step in 1..8 {
            assert_eq!(read_all(text.as_bytes(), step).as_deref(), Ok(text), "step {step}");
        }
        let bad = b"ok\nst\xc3ill\n\xff\n";
        for step in 1..8 {
            assert_eq!(read_all(bad, step), Err(NotUtf8 { byte: 0xc3, offset: 5, line: 2 }), "step {step}");
        }
        assert_eq!(read_all(b"end \xe6\x97", 3), Err(NotUtf8 { byte: 0xe6, offset: 4, line: 1 }));
    }
}
