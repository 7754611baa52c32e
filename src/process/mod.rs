//! Running one command of a job (SPEC §8): an argv, never a shell string, in
//! its own process group, with a time limit, bounded output captured, and no
//! waiting for grandchildren that keep the pipes open.
//!
//! The shape follows cargo-nextest: the child leads a new process group so a
//! timeout can stop everything it started (SIGTERM, a grace period, then
//! SIGKILL); stdout and stderr are drained as they fill so a chatty child
//! never blocks on a full pipe; and once the direct child has exited its
//! pipes get a short "leak timeout", after which whatever was read is taken
//! and the pipes still open are left to a thread that drains them. A `start`
//! script that leaves a daemon holding its stdout therefore returns at once,
//! and the daemon is not killed.
//!
//! The parts: this file holds what a caller sees ([`Spec`], [`Ending`],
//! [`Output`], [`run`]); `wait` the one wait loop (poll(2) over the pipes and,
//! where the kernel has them, a pidfd); `group` the process-group signals,
//! the `/proc` scan, [`terminate`] and the facts the safety rules ask about
//! a pid; `stat` the one `/proc/PID/stat` reader. Text helpers live in
//! `crate::text`.

mod group;
mod stat;
mod wait;

use std::fmt;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::signals;

#[cfg(test)]
use group::alive;
pub use group::{lineage, pgid_of, same_user, terminate};

/// Most bytes kept of each of stdout and stderr.
pub const OUTPUT_LIMIT: usize = 1024 * 1024;

/// Time between SIGTERM and SIGKILL when a command is stopped (SPEC §8).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How long the pipes may stay open once the direct child has exited, before
/// what was read so far is taken (nextest's "leak timeout").
pub const LEAK_TIMEOUT: Duration = Duration::from_millis(150);

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    pub argv: &'a [String],
    pub cwd: &'a Path,
    pub timeout: Duration,
    /// Bytes written to the child's stdin (then closed); `None`: stdin is /dev/null.
    pub stdin: Option<&'a [u8]>,
    /// Time between SIGTERM and SIGKILL when the command is stopped.
    pub grace: Duration,
    /// Environment variables the command does not inherit: by default the
    /// secrets of [`crate::secrets::WITHHELD_ENV`] (SPEC §7).
    pub env_remove: &'a [&'a str],
}

impl<'a> Spec<'a> {
    /// A spec with stdin from /dev/null and the [`DEFAULT_GRACE`].
    pub fn new(argv: &'a [String], cwd: &'a Path, timeout: Duration) -> Self {
        Spec {
            argv,
            cwd,
            timeout,
            stdin: None,
            grace: DEFAULT_GRACE,
            env_remove: crate::secrets::WITHHELD_ENV,
        }
    }

    /// Let the command inherit the whole environment, secrets included:
    /// only for `openclaw message send`, which is OpenClaw itself and reads
    /// `$TELEGRAM_BOT_TOKEN` as its own last source.
    pub fn inheriting_secrets(mut self) -> Self {
        self.env_remove = &[];
        self
    }

    /// Write these bytes to the child's stdin, then close it.
    pub fn with_stdin(mut self, bytes: &'a [u8]) -> Self {
        self.stdin = Some(bytes);
        self
    }

    #[cfg(test)]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
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
    /// The time limit it ran under ([`Spec::timeout`]), for [`Output::describe`].
    pub limit: Duration,
}

impl Output {
    /// The exit code as the SPEC prints it (`exit=N`): the code, or -1 when
    /// there is none (timed out, signalled, not started).
    /// The exit code as the state records it: a command killed by a
    /// signal has `-N` (SPEC §5.4, as Python's `returncode`); one that did
    /// not exit (not started, timed out, interrupted) `-1`.
    pub fn exit_code(&self) -> i32 {
        match self.ending {
            Ending::Exited(c) => c,
            Ending::Signaled(s) => -s,
            _ => -1,
        }
    }

    pub fn success(&self) -> bool {
        self.ending == Ending::Exited(0)
    }

    /// How the command ended, in the one wording every report, log and
    /// error uses: `exit=1`, `timed out after 30s`, `killed by signal 9`,
    /// `failed to start: <reason>`, `interrupted`. See [`Described`].
    pub fn describe(&self) -> Described<'_> {
        Described(self)
    }

    /// The output of a command that never ran (nothing printed, no time
    /// spent) and would have had the time limit `limit`.
    pub fn not_run(ending: Ending, limit: Duration) -> Output {
        Output {
            ending,
            stdout: String::new(),
            stderr: String::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            duration: Duration::ZERO,
            limit,
        }
    }

    /// [`Output::not_run`] for `spec`, having taken the time since `started`.
    fn unstarted(ending: Ending, spec: &Spec, started: Instant) -> Output {
        Output {
            duration: started.elapsed(),
            ..Output::not_run(ending, spec.timeout)
        }
    }
}

/// [`Output::describe`]: how a command ended, as text. The time limit is
/// shown in whole seconds when it is whole (`30s`), else as it was given
/// (`0.5s`).
pub struct Described<'o>(&'o Output);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.ending {
            Ending::Exited(code) => write!(f, "exit={code}"),
            Ending::Signaled(sig) => write!(f, "killed by signal {sig}"),
            Ending::TimedOut => {
                let secs = self.0.limit.as_secs_f64();
                if secs.fract() == 0.0 {
                    write!(f, "timed out after {}s", self.0.limit.as_secs())
                } else {
                    write!(f, "timed out after {secs}s")
                }
            }
            Ending::FailedToStart(why) => write!(f, "failed to start: {why}"),
            Ending::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// Run a command to its end (or its time limit) and collect what it printed.
/// A SIGINT/SIGTERM caught by [`signals`] stops it ([`Ending::Interrupted`]).
pub fn run(spec: &Spec) -> Output {
    run_until(spec, &|| signals::received().is_some())
}

/// [`run`], stopping the command as soon as `stop` returns true. `stop` is
/// asked every 50 ms while the command runs; the seam lets tests exercise
/// the interrupt path without raising signals in the test process.
pub fn run_until(spec: &Spec, stop: &dyn Fn() -> bool) -> Output {
    run_with(spec, stop, true)
}

/// [`run_until`]; `use_pidfd: false` waits as on a kernel without pidfds
/// (before Linux 5.3, a seccomp filter, not Linux), so tests cover both
/// ways the one wait loop learns of the child's exit.
fn run_with(spec: &Spec, stop: &dyn Fn() -> bool, use_pidfd: bool) -> Output {
    let started = Instant::now();
    let Some((program, args)) = spec.argv.split_first() else {
        return Output::unstarted(Ending::FailedToStart("empty command".into()), spec, started);
    };
    if stop() {
        // Starting a command only to stop it at once could leave half its work done.
        return Output::unstarted(Ending::Interrupted, spec, started);
    }
    let mut command = Command::new(program);
    // Only a variable that is set is removed: any change to the environment
    // makes the spawn copy the whole of it, for every command.
    for name in spec.env_remove {
        if std::env::var_os(name).is_some() {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .current_dir(spec.cwd)
        .process_group(0)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Output::unstarted(
                Ending::FailedToStart(spawn_error(program, spec.cwd, &err)),
                spec,
                started,
            )
        }
    };
    wait::collect(child, spec, stop, started, use_pidfd)
}

/// The reason a spawn failed, naming what was missing: the program, or the
/// working directory (the OS reports both as the same error number).
fn spawn_error(program: &str, cwd: &Path, err: &io::Error) -> String {
    if cwd.is_dir() {
        format!("{program}: {err}")
    } else {
        format!("cwd {}: {err}", cwd.display())
    }
}

fn ending_of(status: ExitStatus) -> Ending {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(sig)) => Ending::Signaled(sig),
        // wait() reports only ended processes, which have one or the other.
        (None, None) => Ending::Exited(-1),
    }
}

#[cfg(test)]
mod tests;
