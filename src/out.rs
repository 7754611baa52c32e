//! Printing that can never end a run (SPEC §5 step 6, §6): `outln!` and
//! `errln!` take the place of `println!` and `eprintln!`, which panic when
//! the stream is closed (`ops-monitor run w | true`, a cron job whose mail
//! pipe broke). A panic there skipped the save that came after it, so a
//! grant stayed valid and an automatic start was repeated. Here a write
//! that fails (EPIPE, a full disk behind a redirect) is dropped: what the
//! program prints is a courtesy, the state file is the record.
//!
//! `clippy.toml` disallows `println!`/`eprintln!` so a new call cannot creep
//! back in.

use std::fmt;
use std::io::{self, Write};

/// Write one line to stdout; a failed write is ignored.
pub fn stdout_line(args: fmt::Arguments<'_>) {
    line(&mut io::stdout().lock(), args);
}

/// Write one line to stderr; a failed write is ignored.
pub fn stderr_line(args: fmt::Arguments<'_>) {
    line(&mut io::stderr().lock(), args);
}

/// Write raw bytes to stdout (a completion script); a failed write is ignored.
pub fn stdout_bytes(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

fn line(w: &mut dyn Write, args: fmt::Arguments<'_>) {
    // One buffer, one write: lines of concurrent writers do not interleave,
    // and a closed stream fails once instead of once per piece.
    let mut text = fmt::format(args);
    text.push('\n');
    let _ = w.write_all(text.as_bytes()).and_then(|()| w.flush());
}

/// `println!` that never panics: a closed or failing stdout is ignored.
macro_rules! outln {
    () => { $crate::out::stdout_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::stdout_line(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics: a closed or failing stderr is ignored.
macro_rules! errln {
    () => { $crate::out::stderr_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::stderr_line(format_args!($($arg)*)) };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that always fails as a closed pipe does.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn a_closed_stream_is_ignored() {
        line(&mut Closed, format_args!("never seen {}", 1));
        let mut buf = Vec::new();
        line(&mut buf, format_args!("a {}", 2));
        assert_eq!(buf, b"a 2\n");
    }
}
