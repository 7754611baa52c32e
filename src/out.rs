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
//!
//! `tick` runs from timers whose stderr goes to a log file (cron, launchd):
//! after [`stamp_stderr_when_logged`], every stderr line starts with the
//! time, unless stderr is a terminal or systemd's journal (which stamps
//! lines itself).

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether stderr lines start with the time (set once, by `tick`).
static STAMP: AtomicBool = AtomicBool::new(false);

/// From now on, start every line written to stderr with the local time
/// (`2026-11-21T13:45:00+01:00 `) — when stderr is neither a terminal nor
/// the journal: a log file then says when each line was written.
pub fn stamp_stderr_when_logged() {
    let stderr = io::stderr();
    if !stderr.is_terminal() && !is_journal(&stderr) {
        STAMP.store(true, Ordering::Relaxed);
    }
}

/// systemd sets `$JOURNAL_STREAM` to the `DEVICE:INODE` of the stream it
/// connected to the journal; stderr is the journal when they match.
fn is_journal(stderr: &io::Stderr) -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(st) = rustix::fs::fstat(stderr) else {
        return false;
    };
    value == format!("{}:{}", st.st_dev, st.st_ino)
}

/// `text` with every line started by `stamp` and a space.
fn stamped(stamp: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + stamp.len() + 1);
    for line in text.split_inclusive('\n') {
        out.push_str(stamp);
        out.push(' ');
        out.push_str(line);
    }
    out
}

/// Write one line to stdout; a failed write is ignored.
pub fn stdout_line(args: fmt::Arguments<'_>) {
    line(&mut io::stdout().lock(), args);
}

/// Write one line to stderr; a failed write is ignored.
pub fn stderr_line(args: fmt::Arguments<'_>) {
    if STAMP.load(Ordering::Relaxed) {
        let now = crate::clock::now();
        let stamp = crate::clock::local_text(now, "%Y-%m-%dT%H:%M:%S%:z");
        let text = stamped(&stamp, &fmt::format(args));
        line(&mut io::stderr().lock(), format_args!("{text}"));
        return;
    }
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
    fn every_line_of_a_message_is_stamped() {
        assert_eq!(stamped("T", "one"), "T one");
        assert_eq!(stamped("T", "one\ntwo"), "T one\nT two");
        assert_eq!(stamped("T", ""), "", "an empty message stays empty");
    }

    #[test]
    fn a_closed_stream_is_ignored() {
        line(&mut Closed, format_args!("never seen {}", 1));
        let mut buf = Vec::new();
        line(&mut buf, format_args!("a {}", 2));
        assert_eq!(buf, b"a 2\n");
    }
}
