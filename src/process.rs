//! Running one command of a job (SPEC §8): an argv, never a shell string, in
//! its own process group, with a time limit, bounded output captured on its
//! own threads, and no waiting for grandchildren that keep the pipes open.

use std::path::Path;
use std::time::Duration;

/// Most bytes kept of each of stdout and stderr.
pub const OUTPUT_LIMIT: usize = 1024 * 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    pub argv: &'a [String],
    pub cwd: &'a Path,
    pub timeout: Duration,
    /// Bytes written to the child's stdin (then closed); `None`: stdin is /dev/null.
    pub stdin: Option<&'a [u8]>,
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Exited on its own with this code.
    Exited(i32),
    /// Killed by this signal (not by us).
    Signaled(i32),
    /// We stopped it at the time limit.
    TimedOut,
    /// It could not be started (missing program, no permission): the reason.
    FailedToStart(String),
    /// We stopped it because the monitor was asked to stop (SIGINT/SIGTERM).
    Interrupted,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Output {
    pub ending: Ending,
    /// Decoded as UTF-8 with invalid bytes replaced; at most [`OUTPUT_LIMIT`] bytes read.
    pub stdout: String,
    pub stderr: String,
    /// More than [`OUTPUT_LIMIT`] bytes were printed on stdout.
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub duration: Duration,
}

impl Output {
    /// The exit code as the SPEC prints it (`exit=N`): the code, or -1 when
    /// there is none (timed out, signalled, not started).
    pub fn exit_code(&self) -> i32 {
        match self.ending {
            Ending::Exited(c) => c,
            _ => -1,
        }
    }

    pub fn success(&self) -> bool {
        self.ending == Ending::Exited(0)
    }
}

/// Run a command to its end (or its time limit) and collect what it printed.
pub fn run(spec: &Spec) -> Output {
    let _ = spec;
    todo!("process::run")
}

pub fn tail(text: &str, max_chars: usize) -> String {
    let _ = (text, max_chars);
    todo!()
}

pub fn terminate(pid: i32) -> std::io::Result<()> {
    let _ = pid;
    todo!()
}
