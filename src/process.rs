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
//! On Linux the whole wait runs on the calling thread: poll(2) over the two
//! pipes (non-blocking) and a pidfd of the child, which becomes readable when
//! it exits. A thread is started only to feed stdin bytes or to drain a pipe
//! a grandchild kept. Where pidfds are missing (not Linux, a kernel before
//! 5.3) each pipe gets a reader thread and a third thread blocks in wait(2).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::signals;

/// Most bytes kept of each of stdout and stderr.
pub const OUTPUT_LIMIT: usize = 1024 * 1024;

/// Time between SIGTERM and SIGKILL when a command is stopped (SPEC §8).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How long the pipes may stay open once the direct child has exited, before
/// what was read so far is taken (nextest's "leak timeout").
pub const LEAK_TIMEOUT: Duration = Duration::from_millis(150);

/// How often a wait looks at [`signals::received`]. It bounds only how late a
/// signal is noticed; the child's exit wakes the wait at once.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// How often the group is looked at when only grandchildren are left after
/// SIGTERM: they cannot be waited on, so this one path polls.
const GROUP_POLL: Duration = Duration::from_millis(25);

/// How long to wait for the reaping of a child we SIGKILLed. SIGKILL cannot be
/// ignored, but a process in uninterruptible sleep dies only when it wakes.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// Size of one read from a pipe.
const READ_CHUNK: usize = 64 * 1024;

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
        }
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

    /// The output of a command that never ran.
    fn not_run(ending: Ending, started: Instant) -> Output {
        Output {
            ending,
            stdout: String::new(),
            stderr: String::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            duration: started.elapsed(),
        }
    }
}

/// Run a command to its end (or its time limit) and collect what it printed.
/// A SIGINT/SIGTERM caught by [`signals`] stops it ([`Ending::Interrupted`]).
pub fn run(spec: &Spec) -> Output {
    run_until(spec, &|| signals::received().is_some())
}

/// [`run`], stopping the command as soon as `stop` returns true. `stop` is
/// asked every [`SIGNAL_CHECK`] while the command runs; the seam lets tests
/// exercise the interrupt path without raising signals in the test process.
pub fn run_until(spec: &Spec, stop: &dyn Fn() -> bool) -> Output {
    run_with(spec, stop, true)
}

/// [`run_until`]; `try_poll: false` forces the portable fallback, a thread
/// per pipe and one blocked in wait(2), which is otherwise used only when
/// the kernel has no pidfds. The default waits on the calling thread with
/// poll(2): three thread starts per command were most of a tick's cost.
fn run_with(spec: &Spec, stop: &dyn Fn() -> bool, try_poll: bool) -> Output {
    let started = Instant::now();
    let Some((program, args)) = spec.argv.split_first() else {
        return Output::not_run(Ending::FailedToStart("empty command".into()), started);
    };
    if stop() {
        // Starting a command only to stop it at once could leave half its work done.
        return Output::not_run(Ending::Interrupted, started);
    }
    let mut command = Command::new(program);
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
            return Output::not_run(
                Ending::FailedToStart(spawn_error(program, spec.cwd, &err)),
                started,
            )
        }
    };
    let run = Run {
        program,
        spec,
        stop,
        started,
        // process_group(0) made the child the leader of a new group: its pid is the group id.
        pgid: i32::try_from(child.id()).unwrap_or(0),
    };
    if !try_poll {
        return run.threaded(child);
    }
    match Polled::new(child) {
        Ok(polled) => run.polled(polled),
        Err(child) => run.threaded(child),
    }
}

/// A started command, whichever way it is waited for.
struct Run<'s, 'a> {
    program: &'s str,
    spec: &'s Spec<'a>,
    stop: &'s dyn Fn() -> bool,
    started: Instant,
    pgid: i32,
}

impl Run<'_, '_> {
    fn cannot_start_thread(&self, err: &io::Error) -> Output {
        let reason = format!("{}: cannot start a thread: {err}", self.program);
        Output::not_run(Ending::FailedToStart(reason), self.started)
    }

    fn output(&self, ending: Ending, stdout: (String, bool), stderr: (String, bool)) -> Output {
        Output {
            ending,
            stdout: stdout.0,
            stderr: stderr.0,
            stdout_truncated: stdout.1,
            stderr_truncated: stderr.1,
            duration: self.started.elapsed(),
        }
    }

    /// The wait on the calling thread: no thread at all unless there are
    /// stdin bytes to feed or a grandchild keeps a pipe open.
    fn polled(&self, mut io: Polled) -> Output {
        let stdin = self
            .spec
            .stdin
            .map(<[u8]>::to_vec)
            .zip(io.child.stdin.take());
        if let Some((bytes, pipe)) = stdin {
            if let Err(err) = feed_stdin(bytes, pipe) {
                let _ = kill_group(self.pgid, libc::SIGKILL);
                let _ = io.child.wait();
                return self.cannot_start_thread(&err);
            }
        }
        let deadline = self.started.checked_add(self.spec.timeout);
        let ending = match io.wait(deadline, self.stop) {
            Woke::Exited => match io.exit.as_ref() {
                Some(Ok(status)) => ending_of(*status),
                Some(Err(err)) => Ending::FailedToStart(format!("{}: wait: {err}", self.program)),
                None => Ending::FailedToStart(format!("{}: wait: no status", self.program)),
            },
            Woke::Expired => {
                io.stop_group(self.pgid, self.spec.grace);
                Ending::TimedOut
            }
            Woke::Stopped => {
                io.stop_group(self.pgid, self.spec.grace);
                Ending::Interrupted
            }
        };
        // Same leak timeout as the threads: a grandchild holding a pipe must
        // not hold us.
        io.pump_until(Instant::now() + LEAK_TIMEOUT, Polled::pipes_closed);
        let (stdout, stderr) = io.finish();
        self.output(ending, stdout, stderr)
    }

    /// The wait with three helper threads (two readers and a waiter).
    fn threaded(&self, mut child: Child) -> Output {
        let pgid = self.pgid;
        let stdin = self.spec.stdin.map(<[u8]>::to_vec).zip(child.stdin.take());
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (done_tx, done_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel();
        let threads = start_io(stdin, stdout, stderr, done_tx);
        let (out, err) = match threads {
            Ok(captures) => captures,
            Err(err) => {
                let _ = kill_group(pgid, libc::SIGKILL);
                let _ = child.wait();
                return self.cannot_start_thread(&err);
            }
        };
        let waiter = spawn("ops-monitor wait", move || {
            let _ = exit_tx.send(child.wait());
        });
        if let Err(err) = waiter {
            // The child moved into the closure that never ran; all we can do is
            // stop its group (the runtime reaps nothing, but we exit soon anyway).
            let _ = kill_group(pgid, libc::SIGKILL);
            return self.cannot_start_thread(&err);
        }

        let deadline = self.started.checked_add(self.spec.timeout);
        let ending = match wait(&exit_rx, deadline, self.stop) {
            Waited::Exited(Ok(status)) => ending_of(status),
            // Only if the waiter thread died or the child vanished (ECHILD): no
            // ending is known, and "could not run" is the closest.
            Waited::Exited(Err(err)) => {
                Ending::FailedToStart(format!("{}: wait: {err}", self.program))
            }
            Waited::Expired => {
                stop_group(pgid, self.spec.grace, &exit_rx);
                Ending::TimedOut
            }
            Waited::Stopped => {
                stop_group(pgid, self.spec.grace, &exit_rx);
                Ending::Interrupted
            }
        };

        // Done: each reader reports end of file. A grandchild still holding a
        // pipe must not hold us too, so wait no longer than the leak timeout.
        let leak_deadline = Instant::now() + LEAK_TIMEOUT;
        for _ in 0..2 {
            let left = leak_deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        self.output(ending, out.take(), err.take())
    }
}

/// Write `bytes` to the child's stdin on a thread of its own, then close it:
/// rare (the command channel), and a child may read its stdin only at the end.
fn feed_stdin(bytes: Vec<u8>, mut pipe: ChildStdin) -> io::Result<()> {
    // An error here is the child not reading all of its stdin (EPIPE),
    // which is its business; dropping the pipe closes it.
    spawn("ops-monitor stdin", move || {
        let _ = pipe.write_all(&bytes);
    })
}

/// Start the threads that feed stdin and drain stdout and stderr; `done`
/// hears once from each of the two readers at its end of file.
fn start_io(
    stdin: Option<(Vec<u8>, ChildStdin)>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    done: Sender<()>,
) -> io::Result<(Capture, Capture)> {
    if let Some((bytes, pipe)) = stdin {
        feed_stdin(bytes, pipe)?;
    }
    let out = Capture::start("ops-monitor stdout", stdout, done.clone())?;
    let err = Capture::start("ops-monitor stderr", stderr, done)?;
    Ok((out, err))
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

enum Waited {
    Exited(io::Result<ExitStatus>),
    Expired,
    Stopped,
}

/// Wait for the direct child's exit, the deadline (`None`: none), or `stop`.
fn wait(
    exit_rx: &Receiver<io::Result<ExitStatus>>,
    deadline: Option<Instant>,
    stop: &dyn Fn() -> bool,
) -> Waited {
    loop {
        if stop() {
            return Waited::Stopped;
        }
        let slice = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Waited::Expired;
                }
                left.min(SIGNAL_CHECK)
            }
            None => SIGNAL_CHECK,
        };
        match exit_rx.recv_timeout(slice) {
            Ok(result) => return Waited::Exited(result),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Waited::Exited(Err(io::Error::other("the waiting thread ended")));
            }
        }
    }
}

/// SIGTERM the group, give it `grace` to end, then SIGKILL what is left.
/// Grandchildren count: one that ignores SIGTERM is killed after the grace
/// even when the direct child went at once.
fn stop_group(pgid: i32, grace: Duration, exit_rx: &Receiver<io::Result<ExitStatus>>) {
    let until = Instant::now() + grace;
    let _ = kill_group(pgid, libc::SIGTERM);
    let child_gone = exit_rx.recv_timeout(grace).is_ok();
    if child_gone {
        while group_alive(pgid) && Instant::now() < until {
            thread::sleep(GROUP_POLL);
        }
    }
    if group_alive(pgid) {
        let _ = kill_group(pgid, libc::SIGKILL);
    }
    if !child_gone {
        // So that the caller sees a reaped child, not one about to die.
        let _ = exit_rx.recv_timeout(KILL_WAIT);
    }
}

/// Stack of the helper threads: they only copy bytes (their buffer is on
/// the heap) or wait. The default 2 MiB costs mapping time on every command
/// and memory on a 1000-job tick.
const HELPER_STACK: usize = 64 * 1024;

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name(name.into())
        .stack_size(HELPER_STACK)
        .spawn(f)
        .map(drop)
}

/// What a reader thread has kept of one pipe.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
    /// The run took its result: read on (so writers never block) but keep nothing.
    abandoned: bool,
}

/// One pipe drained on its own thread, at most [`OUTPUT_LIMIT`] bytes kept.
struct Capture(Arc<Mutex<Captured>>);

impl Capture {
    /// Start draining `pipe`; `done` gets a message at its end of file. No
    /// pipe (which `spawn` never gives for a piped stream) counts as empty.
    fn start(
        name: &str,
        pipe: Option<impl Read + Send + 'static>,
        done: Sender<()>,
    ) -> io::Result<Capture> {
        let shared = Arc::new(Mutex::new(Captured::default()));
        let Some(mut pipe) = pipe else {
            let _ = done.send(());
            return Ok(Capture(shared));
        };
        let kept = Arc::clone(&shared);
        spawn(name, move || {
            let mut buf = vec![0; READ_CHUNK];
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let mut kept = lock(&kept);
                if kept.abandoned {
                    continue;
                }
                let kept = &mut *kept;
                keep(&mut kept.bytes, &mut kept.truncated, &buf[..n]);
            }
            // The run may have stopped listening (leak timeout): nothing to do then.
            let _ = done.send(());
        })?;
        Ok(Capture(shared))
    }

    /// What was read so far, decoded, and whether more was printed than kept.
    /// The reader thread, if still running, keeps draining but stores nothing.
    fn take(self) -> (String, bool) {
        let mut kept = lock(&self.0);
        kept.abandoned = true;
        let bytes = std::mem::take(&mut kept.bytes);
        (decode(&bytes, kept.truncated), kept.truncated)
    }
}

fn lock(m: &Mutex<Captured>) -> MutexGuard<'_, Captured> {
    // A reader cannot panic while holding the lock, but a poisoned buffer is
    // still the best output there is.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keep what fits of `chunk` under [`OUTPUT_LIMIT`]; flag the rest as cut.
fn keep(bytes: &mut Vec<u8>, truncated: &mut bool, chunk: &[u8]) {
    let room = OUTPUT_LIMIT.saturating_sub(bytes.len());
    let kept = chunk.len().min(room);
    bytes.extend_from_slice(&chunk[..kept]);
    *truncated |= kept < chunk.len();
}

/// What a wait on the calling thread woke for.
enum Woke {
    Exited,
    Expired,
    Stopped,
}

/// A child waited for on the calling thread: poll(2) over a pidfd, which
/// becomes readable when the child exits, and its two pipes, read without
/// blocking into bounded buffers. No thread is started for the common case.
struct Polled {
    child: Child,
    /// `None` if the kernel reported it broken: the child is then looked at
    /// after each (shortened) poll instead.
    pidfd: Option<OwnedFd>,
    /// The direct child's status, once reaped.
    exit: Option<io::Result<ExitStatus>>,
    out: PolledPipe,
    err: PolledPipe,
    buf: Vec<u8>,
}

impl Polled {
    /// Get ready to wait for `child`, or give it back when this kernel has no
    /// pidfds (before Linux 5.3, a seccomp filter, not Linux) or its pipes
    /// cannot be made non-blocking.
    fn new(mut child: Child) -> Result<Polled, Child> {
        let Ok(pidfd) = pidfd_open(child.id()) else {
            return Err(child);
        };
        let fds = [
            child.stdout.as_ref().map(AsRawFd::as_raw_fd),
            child.stderr.as_ref().map(AsRawFd::as_raw_fd),
        ];
        for fd in fds.into_iter().flatten() {
            if set_nonblocking(fd, true).is_err() {
                // The reader threads need the blocking reads back.
                for fd in fds.into_iter().flatten() {
                    let _ = set_nonblocking(fd, false);
                }
                return Err(child);
            }
        }
        let out = PolledPipe::new(child.stdout.take().map(OwnedFd::from));
        let err = PolledPipe::new(child.stderr.take().map(OwnedFd::from));
        Ok(Polled {
            child,
            pidfd: Some(pidfd),
            exit: None,
            out,
            err,
            buf: vec![0; READ_CHUNK],
        })
    }

    fn exited(&self) -> bool {
        self.exit.is_some()
    }

    fn pipes_closed(&self) -> bool {
        self.out.file.is_none() && self.err.file.is_none()
    }

    /// Wait for the child's exit, the deadline (`None`: none), or `stop`,
    /// reading the pipes meanwhile.
    fn wait(&mut self, deadline: Option<Instant>, stop: &dyn Fn() -> bool) -> Woke {
        loop {
            if self.exited() {
                return Woke::Exited;
            }
            if stop() {
                return Woke::Stopped;
            }
            let slice = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Woke::Expired;
                    }
                    left.min(SIGNAL_CHECK)
                }
                None => SIGNAL_CHECK,
            };
            self.pump(slice);
        }
    }

    /// [`Polled::pump`] until `done` or `until`.
    fn pump_until(&mut self, until: Instant, done: fn(&Polled) -> bool) {
        while !done(self) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            self.pump(left);
        }
    }

    /// One poll(2) of at most `timeout`: read a chunk from each pipe that is
    /// ready, and reap the child if it exited. With nothing left to watch it
    /// only sleeps.
    fn pump(&mut self, timeout: Duration) {
        let watch_child = self.exit.is_none();
        let pidfd = match (&self.pidfd, watch_child) {
            (Some(fd), true) => fd.as_raw_fd(),
            // poll(2) skips negative descriptors.
            _ => -1,
        };
        let timeout = if watch_child && self.pidfd.is_none() {
            timeout.min(GROUP_POLL)
        } else {
            timeout
        };
        let mut fds = [pidfd, self.out.raw_fd(), self.err.raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        if let Err(err) = poll(&mut fds, Some(timeout)) {
            if err.kind() != io::ErrorKind::Interrupted {
                // Out of kernel memory, say: wait a little rather than spin.
                thread::sleep(timeout.min(GROUP_POLL));
            }
            // The reads cannot block, and the child is looked at below:
            // trying everything is harmless.
            for fd in &mut fds {
                fd.revents = libc::POLLIN;
            }
        }
        self.out.read_some(fds[1].revents != 0, &mut self.buf);
        self.err.read_some(fds[2].revents != 0, &mut self.buf);
        if watch_child && (fds[0].revents != 0 || self.pidfd.is_none()) {
            match self.child.try_wait() {
                Ok(Some(status)) => self.exit = Some(Ok(status)),
                Ok(None) => {
                    if fds[0].revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
                        self.pidfd = None;
                    }
                }
                Err(err) => self.exit = Some(Err(err)),
            }
        }
    }

    /// As [`stop_group`]: SIGTERM the group, give it `grace`, SIGKILL what
    /// is left. The pipes are read meanwhile, so output printed while
    /// stopping is kept and nobody blocks on a full pipe.
    fn stop_group(&mut self, pgid: i32, grace: Duration) {
        let until = Instant::now() + grace;
        let _ = kill_group(pgid, libc::SIGTERM);
        self.pump_until(until, Polled::exited);
        if self.exited() {
            while group_alive(pgid) && Instant::now() < until {
                self.pump_until((Instant::now() + GROUP_POLL).min(until), |_| false);
            }
        }
        if group_alive(pgid) {
            let _ = kill_group(pgid, libc::SIGKILL);
        }
        if !self.exited() {
            // So that the caller sees a reaped child, not one about to die.
            self.pump_until(Instant::now() + KILL_WAIT, Polled::exited);
        }
    }

    /// What was read of stdout and stderr. Pipes a grandchild still holds go
    /// to one detached thread that reads them to their end and keeps nothing,
    /// so a daemon that prints is not killed by SIGPIPE; a child that has
    /// not died of SIGKILL yet goes to one that reaps it.
    fn finish(mut self) -> ((String, bool), (String, bool)) {
        let stdout = self.out.take();
        let stderr = self.err.take();
        let open: Vec<File> = [self.out.file.take(), self.err.file.take()]
            .into_iter()
            .flatten()
            .collect();
        if !open.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            // Without the thread the pipes close here and a grandchild that
            // writes gets SIGPIPE: a pity, but no reason to fail the run.
            let _ = spawn("ops-monitor drain", move || drain(open, buf));
        }
        if self.exit.is_none() {
            let mut child = self.child;
            let _ = spawn("ops-monitor reap", move || {
                let _ = child.wait();
            });
        }
        (stdout, stderr)
    }
}

/// One pipe read on the calling thread, at most [`OUTPUT_LIMIT`] bytes kept.
struct PolledPipe {
    /// `None` at end of file (or when there was no pipe).
    file: Option<File>,
    bytes: Vec<u8>,
    truncated: bool,
}

impl PolledPipe {
    fn new(fd: Option<OwnedFd>) -> PolledPipe {
        PolledPipe {
            file: fd.map(File::from),
            bytes: Vec::new(),
            truncated: false,
        }
    }

    /// The descriptor to poll; -1 (skipped by poll) once at its end.
    fn raw_fd(&self) -> RawFd {
        self.file.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Read once if poll found the pipe `ready`: one chunk only, so that a
    /// child printing without pause cannot keep the wait from its deadline.
    fn read_some(&mut self, ready: bool, buf: &mut [u8]) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if !ready {
            return;
        }
        match file.read(buf) {
            Ok(0) => self.file = None,
            Ok(n) => keep(&mut self.bytes, &mut self.truncated, &buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            // As the reader threads do: an unreadable pipe counts as ended.
            Err(_) => self.file = None,
        }
    }

    /// What was read, decoded, and whether more was printed than kept.
    fn take(&mut self) -> (String, bool) {
        let bytes = std::mem::take(&mut self.bytes);
        (decode(&bytes, self.truncated), self.truncated)
    }
}

/// Read `pipes` to their ends, keeping nothing (the detached drain thread).
fn drain(mut pipes: Vec<File>, mut buf: Vec<u8>) {
    while !pipes.is_empty() {
        let mut fds: Vec<libc::pollfd> = pipes
            .iter()
            .map(|pipe| libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        match poll(&mut fds, None) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            // Nothing better to do than to close them.
            Err(_) => return,
        }
        let mut ready = fds.iter().map(|fd| fd.revents != 0);
        pipes.retain_mut(|pipe| {
            if ready.next() != Some(true) {
                return true;
            }
            match pipe.read(&mut buf) {
                Ok(0) => false,
                Ok(_) => true,
                Err(err) => matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ),
            }
        });
    }
}

/// A pidfd for `pid`: it becomes readable once the process exits (Linux
/// 5.3 and later). It is opened close-on-exec.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pidfd_open takes two integers and touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: the kernel has just opened this descriptor for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn pidfd_open(_pid: u32) -> io::Result<OwnedFd> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Turn O_NONBLOCK on or off for `fd`.
#[allow(unsafe_code)]
fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL takes and returns integers and touches no memory of ours.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL takes integers and touches no memory of ours.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) }).map(drop)
}

/// poll(2) for at most `timeout` (`None`: no limit), rounded up to whole
/// milliseconds so that a short rest does not become a busy loop.
#[allow(unsafe_code)]
fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<()> {
    let ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX)
    });
    let n = libc::nfds_t::try_from(fds.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the pointer and length describe `fds`, a live slice borrowed
    // mutably for the call; the kernel writes only the revents inside it.
    check(unsafe { libc::poll(fds.as_mut_ptr(), n, ms) }).map(drop)
}

/// UTF-8 with invalid bytes replaced. When the output was cut at the limit, a
/// character split by the cut is dropped rather than shown as U+FFFD.
fn decode(bytes: &[u8], truncated: bool) -> String {
    let bytes = if truncated {
        &bytes[..bytes.len() - split_char_len(bytes)]
    } else {
        bytes
    };
    String::from_utf8_lossy(bytes).into_owned()
}

/// How many bytes at the end of `bytes` are the start of a multi-byte UTF-8
/// character whose remaining bytes are missing.
fn split_char_len(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: the leading byte is further back
        }
        let needed = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needed > back { back } else { 0 };
    }
    0
}

/// The last `max_chars` characters (not bytes) of `text`, trimmed: the
/// `stdoutTail`/`stderrTail` of the state. Trailing whitespace is dropped
/// before counting so it does not use up the budget.
pub fn tail(text: &str, max_chars: usize) -> String {
    let text = text.trim_end();
    let start = text
        .char_indices()
        .rev()
        .nth(max_chars.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    let tail = if max_chars == 0 { "" } else { &text[start..] };
    tail.trim().to_string()
}

/// Send SIGTERM to `pid` (`stop JOB` without a stop command). Refuses, with
/// an error of kind `PermissionDenied`, PID 1 and below, ops-monitor itself,
/// and anything in ops-monitor's own process group (SPEC §9): a status
/// command reporting the wrong pid must not make the monitor stop itself or
/// the shell or timer that started it.
pub fn terminate(pid: i32) -> io::Result<()> {
    let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    if pid <= 1 {
        return refuse(format!(
            "refusing to signal pid {pid}: not a single ordinary process"
        ));
    }
    if u32::try_from(pid).ok() == Some(std::process::id()) {
        return refuse(format!(
            "refusing to signal pid {pid}: it is ops-monitor itself"
        ));
    }
    let theirs =
        pgid_of(pid).map_err(|err| io::Error::new(err.kind(), format!("pid {pid}: {err}")))?;
    let ours = pgid_of(0)?;
    if theirs == ours {
        return refuse(format!(
            "refusing to signal pid {pid}: it is in ops-monitor's own process group ({ours})"
        ));
    }
    kill_pid(pid, libc::SIGTERM)
        .map_err(|err| io::Error::new(err.kind(), format!("pid {pid}: {err}")))
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Signal every process of a group we created.
#[allow(unsafe_code)]
fn kill_group(pgid: i32, sig: i32) -> io::Result<()> {
    // killpg(0) and killpg(1) would mean our own group and init's: never.
    if pgid <= 1 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: killpg takes plain integers and touches no memory of ours.
    check(unsafe { libc::killpg(pgid, sig) }).map(drop)
}

/// Whether any process that can still act is left in the group. Zombies do
/// not count: grandchildren orphaned by the child's death are reaped by PID 1,
/// and in a container that can take seconds, which would cost every timeout
/// its whole grace period.
fn group_alive(pgid: i32) -> bool {
    kill_group(pgid, 0).is_ok() && live_member_in_proc(pgid).unwrap_or(true)
}

/// Whether /proc lists a process of group `pgid` that is not a zombie;
/// `None` when /proc cannot be read (not Linux, or not mounted).
fn live_member_in_proc(pgid: i32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut any = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        any = true;
        // A process may end between listing and reading: then it is not alive.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, group)) = parse_stat(&stat) {
            if group == pgid && !matches!(state, 'Z' | 'X' | 'x') {
                return Some(true);
            }
        }
    }
    // An empty /proc is an unmounted one: it proves nothing.
    any.then_some(false)
}

/// The state and process group in a `/proc/PID/stat` line: `PID (COMM) S PPID PGRP ...`.
/// COMM may hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    stat_fields(stat).map(|(state, _, pgrp)| (state, pgrp))
}

/// State, parent pid and process group from `/proc/PID/stat` (the command
/// name in parentheses may itself hold spaces and parentheses).
fn stat_fields(stat: &str) -> Option<(char, i32, i32)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// This process and its ancestors up to PID 1, as far as `/proc` shows
/// them; without `/proc`, this process and its parent.
pub fn lineage() -> Vec<i64> {
    let me = std::process::id() as i64;
    let mut out = vec![me, std::os::unix::process::parent_id() as i64];
    let mut pid = out[1];
    while pid > 1 && out.len() < 4096 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            break;
        };
        let Some((_, ppid, _)) = stat_fields(&stat) else {
            break;
        };
        pid = i64::from(ppid);
        out.push(pid);
    }
    out
}

/// Whether a process belongs to the user running ops-monitor (by the owner
/// of its `/proc` entry; without `/proc`, the kernel's own permission check
/// on `kill` is what refuses another user's process).
pub fn same_user(pid: i64) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata(format!("/proc/{pid}")),
        std::fs::metadata("/proc/self"),
    ) {
        (Ok(them), Ok(me)) => them.uid() == me.uid(),
        _ => true,
    }
}

#[allow(unsafe_code)]
fn kill_pid(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    check(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// The process group of `pid` (0: of this process).
#[allow(unsafe_code)]
pub fn pgid_of(pid: i32) -> io::Result<i32> {
    // SAFETY: getpgid takes a plain integer and touches no memory of ours.
    check(unsafe { libc::getpgid(pid) })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    fn run_sh(script: &str) -> Output {
        let argv = sh(script);
        run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20)))
    }

    /// Alive and not a zombie waiting to be reaped (in a container, PID 1 may
    /// never reap the grandchildren it inherits).
    fn alive(pid: i32) -> bool {
        if kill_pid(pid, 0).is_err() {
            return false;
        }
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the command name in parentheses.
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    fn dies_soon(pid: i32) -> bool {
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if !alive(pid) {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn read_pid(path: &Path) -> i32 {
        fs::read_to_string(path).unwrap().trim().parse().unwrap()
    }

    #[test]
    fn exit_codes() {
        let ok = run_sh("exit 0");
        assert_eq!(ok.ending, Ending::Exited(0));
        assert!(ok.success());
        let three = run_sh("exit 3");
        assert_eq!(three.ending, Ending::Exited(3));
        assert_eq!(three.exit_code(), 3);
        assert!(!three.success());
    }

    #[test]
    fn stdout_and_stderr_are_captured_apart() {
        let out = run_sh("echo out; echo err >&2; echo more");
        assert_eq!(out.stdout, "out\nmore\n");
        assert_eq!(out.stderr, "err\n");
        assert!(!out.stdout_truncated && !out.stderr_truncated);
    }

    #[test]
    fn argv_is_not_a_shell_string() {
        let argv: Vec<String> = vec!["/bin/echo".into(), "a  b; $HOME".into()];
        let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20)));
        assert_eq!(out.stdout, "a  b; $HOME\n");
    }

    #[test]
    fn cwd_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let argv = sh("pwd");
        let out = run(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
        let want = dir.path().canonicalize().unwrap();
        assert_eq!(Path::new(out.stdout.trim()).canonicalize().unwrap(), want);
    }

    #[test]
    fn stdin_is_delivered_or_empty() {
        let argv = sh("cat; echo end");
        let spec = Spec::new(&argv, Path::new("/"), Duration::from_secs(20));
        let with = run(&spec.clone().with_stdin(b"hello\nworld\n"));
        assert_eq!(with.stdout, "hello\nworld\nend\n");
        let without = run(&spec);
        assert_eq!(without.stdout, "end\n");
    }

    #[test]
    fn stdin_not_read_by_the_child_is_no_error() {
        let argv = sh("exit 0");
        let big = vec![b'x'; 4 * 1024 * 1024];
        let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20)).with_stdin(&big));
        assert_eq!(out.ending, Ending::Exited(0));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let out = run_sh(r"printf 'a\377b\n'; printf '\303\251\n' >&2");
        assert_eq!(out.stdout, "a\u{FFFD}b\n");
        assert_eq!(out.stderr, "é\n");
    }

    #[test]
    fn output_beyond_the_limit_is_cut_and_flagged() {
        let out = run_sh("head -c 3000000 /dev/zero | tr '\\0' a; echo done >&2");
        assert_eq!(out.ending, Ending::Exited(0));
        assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
        assert!(out.stdout.bytes().all(|b| b == b'a'));
        assert!(out.stdout_truncated);
        assert_eq!(out.stderr, "done\n");
        assert!(!out.stderr_truncated);
    }

    #[test]
    fn exactly_the_limit_is_not_truncated() {
        let out = run_sh(&format!("head -c {OUTPUT_LIMIT} /dev/zero | tr '\\0' a"));
        assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
        assert!(!out.stdout_truncated);
    }

    /// Peak resident memory of this process, in KiB (Linux).
    fn peak_rss_kib() -> Option<u64> {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    #[test]
    fn fifty_megabytes_finish_quickly_in_bounded_memory() {
        let before = peak_rss_kib();
        let t0 = Instant::now();
        let out = run_sh("yes | head -c 50000000; yes err | head -c 50000000 >&2");
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "took {:?}",
            t0.elapsed()
        );
        assert_eq!(out.ending, Ending::Exited(0));
        assert!(out.stdout_truncated && out.stderr_truncated);
        assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
        assert_eq!(out.stderr.len(), OUTPUT_LIMIT);
        if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
            // Other tests run alongside, so only a generous bound: 100 MB read
            // must not mean 100 MB held.
            assert!(
                after - before < 40 * 1024,
                "peak RSS grew by {} KiB",
                after - before
            );
        }
    }

    #[test]
    fn a_cut_inside_a_character_drops_it() {
        assert_eq!(decode(&[b'a', 0xE4, 0xBD], true), "a");
        assert_eq!(decode(&[b'a', 0xE4, 0xBD], false), "a\u{FFFD}");
        assert_eq!(decode("a你".as_bytes(), true), "a你");
        assert_eq!(decode(&[b'a', 0xF0, 0x9F, 0x98], true), "a");
        assert_eq!(decode(&[b'a', 0xC3], true), "a");
        assert_eq!(decode(b"abc", true), "abc");
        assert_eq!(split_char_len(&[]), 0);
    }

    #[test]
    fn empty_argv_fails_to_start() {
        let out = run(&Spec::new(&[], Path::new("/"), Duration::from_secs(1)));
        assert_eq!(out.ending, Ending::FailedToStart("empty command".into()));
        assert_eq!(out.exit_code(), -1);
    }

    #[test]
    fn missing_program_fails_to_start() {
        let argv: Vec<String> = vec!["/nonexistent/ops-monitor-x".into()];
        let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(1)));
        let Ending::FailedToStart(why) = out.ending else {
            panic!("{:?}", out.ending)
        };
        assert!(
            why.starts_with("/nonexistent/ops-monitor-x: No such file or directory"),
            "{why}"
        );

        let argv: Vec<String> = vec!["ops-monitor-no-such-program-on-path".into()];
        let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(1)));
        assert!(
            matches!(out.ending, Ending::FailedToStart(_)),
            "{:?}",
            out.ending
        );
    }

    #[test]
    fn non_executable_file_fails_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("job.sh");
        fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
        let argv = vec![script.display().to_string()];
        let out = run(&Spec::new(&argv, dir.path(), Duration::from_secs(1)));
        let Ending::FailedToStart(why) = out.ending else {
            panic!("{:?}", out.ending)
        };
        assert!(why.starts_with(&argv[0]), "{why}");
        assert!(why.contains("Permission denied"), "{why}");
    }

    #[test]
    fn missing_cwd_fails_to_start_naming_it() {
        let argv = sh("true");
        let cwd = Path::new("/nonexistent/ops-monitor-cwd");
        let out = run(&Spec::new(&argv, cwd, Duration::from_secs(1)));
        let Ending::FailedToStart(why) = out.ending else {
            panic!("{:?}", out.ending)
        };
        assert!(
            why.starts_with("cwd /nonexistent/ops-monitor-cwd: "),
            "{why}"
        );
    }

    #[test]
    fn killed_by_its_own_signal() {
        let out = run_sh("echo before; kill -9 $$");
        assert_eq!(out.ending, Ending::Signaled(9));
        assert_eq!(out.exit_code(), -1);
        assert_eq!(out.stdout, "before\n");
    }

    #[test]
    fn timeout_stops_the_command() {
        let argv = sh("echo begun; sleep 30");
        let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(1)));
        assert_eq!(out.ending, Ending::TimedOut);
        assert_eq!(out.exit_code(), -1);
        assert_eq!(out.stdout, "begun\n");
        assert!(out.duration >= Duration::from_secs(1));
        assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
    }

    #[test]
    fn a_child_ignoring_sigterm_is_killed_after_the_grace() {
        let argv = sh("trap '' TERM; sleep 30");
        let spec = Spec::new(&argv, Path::new("/"), Duration::from_millis(300))
            .with_grace(Duration::from_millis(300));
        let out = run(&spec);
        assert_eq!(out.ending, Ending::TimedOut);
        assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
    }

    #[test]
    fn a_grandchild_of_a_timed_out_command_does_not_survive() {
        let dir = tempfile::tempdir().unwrap();
        let argv = sh("sleep 30 & echo $! > pid; wait");
        let spec = Spec::new(&argv, dir.path(), Duration::from_millis(500));
        assert_eq!(run(&spec).ending, Ending::TimedOut);
        let pid = read_pid(&dir.path().join("pid"));
        assert!(dies_soon(pid), "grandchild {pid} survived");
    }

    #[test]
    fn a_grandchild_ignoring_sigterm_is_killed_although_the_child_went() {
        let dir = tempfile::tempdir().unwrap();
        // The shell dies on SIGTERM; its background sleep ignores it.
        let argv = sh("(trap '' TERM; exec sleep 30) & echo $! > pid; wait");
        let spec = Spec::new(&argv, dir.path(), Duration::from_millis(500))
            .with_grace(Duration::from_millis(300));
        let out = run(&spec);
        assert_eq!(out.ending, Ending::TimedOut);
        assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
        let pid = read_pid(&dir.path().join("pid"));
        assert!(dies_soon(pid), "grandchild {pid} survived");
    }

    #[test]
    fn a_background_process_holding_stdout_is_not_waited_for_nor_killed() {
        // Both ways of waiting: poll (where pidfds exist) and the threads.
        for poll in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let argv = sh("sleep 30 & echo $! > pid; echo started");
            let spec = Spec::new(&argv, dir.path(), Duration::from_secs(20));
            let out = run_with(&spec, &|| false, poll);
            let pid = read_pid(&dir.path().join("pid"));
            let still_there = alive(pid);
            let _ = kill_pid(pid, libc::SIGKILL);
            assert_eq!(out.ending, Ending::Exited(0));
            assert_eq!(out.stdout, "started\n");
            assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
            assert!(still_there, "the daemon was killed");
        }
    }

    #[test]
    fn stop_interrupts_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let argv = sh("sleep 30 & echo $! > pid; wait");
        let t0 = Instant::now();
        let stop = || t0.elapsed() > Duration::from_millis(300);
        let out = run_until(
            &Spec::new(&argv, dir.path(), Duration::from_secs(20)),
            &stop,
        );
        assert_eq!(out.ending, Ending::Interrupted);
        assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
        let pid = read_pid(&dir.path().join("pid"));
        assert!(dies_soon(pid), "grandchild {pid} survived");
    }

    #[test]
    fn proc_stat_lines_are_parsed_after_the_command_name() {
        assert_eq!(parse_stat("42 (sleep) S 1 40 40 0 -1"), Some(('S', 40)));
        assert_eq!(parse_stat("7 (a ) b) (c) Z 1 9 9"), Some(('Z', 9)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn nothing_is_started_once_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let argv = sh("touch started");
        let out = run_until(
            &Spec::new(&argv, dir.path(), Duration::from_secs(20)),
            &|| true,
        );
        assert_eq!(out.ending, Ending::Interrupted);
        assert!(!dir.path().join("started").exists());
    }

    #[test]
    fn a_relative_program_is_found_from_the_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("job.sh");
        fs::write(&script, "#!/bin/sh\necho from job\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let argv: Vec<String> = vec!["./job.sh".into()];
        let out = run(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
        assert_eq!(out.stdout, "from job\n", "{:?}", out.ending);
    }

    #[test]
    fn tail_counts_characters_and_trims() {
        assert_eq!(tail("  héllo wörld 你好\n\n", 4), "d 你好");
        assert_eq!(tail("ab cd", 3), "cd");
        assert_eq!(tail("  short  ", 800), "short");
        assert_eq!(tail("你好世界", 2), "世界");
        assert_eq!(tail("abc", 0), "");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn terminate_refuses_init_and_ourselves() {
        for pid in [1, 0, -1, -42] {
            let err = terminate(pid).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "pid {pid}");
            assert!(err.to_string().contains(&pid.to_string()), "{err}");
        }
        let own = i32::try_from(std::process::id()).unwrap();
        let err = terminate(own).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("itself"), "{err}");
    }

    #[test]
    fn terminate_refuses_our_process_group_and_stops_others() {
        let mut ours = Command::new("sleep").arg("30").spawn().unwrap();
        let err = terminate(i32::try_from(ours.id()).unwrap()).unwrap_err();
        ours.kill().unwrap();
        ours.wait().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("process group"), "{err}");

        let mut other = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        terminate(i32::try_from(other.id()).unwrap()).unwrap();
        assert_eq!(other.wait().unwrap().signal(), Some(libc::SIGTERM));
    }

    /// Both ways of waiting, the default first, then the thread fallback.
    fn both_ways(spec: &Spec) -> [Output; 2] {
        [run(spec), run_with(spec, &|| false, false)]
    }

    #[test]
    fn the_poll_path_is_taken_where_the_kernel_has_pidfds() {
        let own = pidfd_open(std::process::id());
        let child = Command::new("/bin/true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        match Polled::new(child) {
            Ok(mut polled) => {
                assert!(own.is_ok());
                assert!(matches!(polled.wait(None, &|| false), Woke::Exited));
                assert!(matches!(polled.exit, Some(Ok(status)) if status.success()));
            }
            Err(mut child) => {
                // No pidfds here: the fallback serves every run.
                assert!(own.is_err());
                child.wait().unwrap();
            }
        }
    }

    #[test]
    fn the_thread_fallback_still_works() {
        let threads = |spec: &Spec| run_with(spec, &|| false, false);
        let dir = tempfile::tempdir().unwrap();

        let argv = sh(r"echo out; printf 'a\377b\n' >&2; exit 3");
        let out = threads(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
        assert_eq!(out.ending, Ending::Exited(3));
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str()),
            ("out\n", "a\u{FFFD}b\n")
        );

        let argv = sh("cat; head -c 3000000 /dev/zero | tr '\\0' a >&2");
        let out =
            threads(&Spec::new(&argv, dir.path(), Duration::from_secs(20)).with_stdin(b"in\n"));
        assert_eq!(out.stdout, "in\n");
        assert_eq!(out.stderr.len(), OUTPUT_LIMIT);
        assert!(out.stderr_truncated && !out.stdout_truncated);

        let argv = sh("kill -9 $$");
        let out = threads(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
        assert_eq!(out.ending, Ending::Signaled(9));

        let argv = sh("sleep 30 & echo $! > pid; echo begun; wait");
        let out = threads(&Spec::new(&argv, dir.path(), Duration::from_millis(500)));
        assert_eq!(out.ending, Ending::TimedOut);
        assert_eq!(out.stdout, "begun\n");
        let pid = read_pid(&dir.path().join("pid"));
        assert!(dies_soon(pid), "grandchild {pid} survived");

        let t0 = Instant::now();
        let stop = || t0.elapsed() > Duration::from_millis(300);
        let out = run_with(
            &Spec::new(&argv, dir.path(), Duration::from_secs(20)),
            &stop,
            false,
        );
        assert_eq!(out.ending, Ending::Interrupted);
        let pid = read_pid(&dir.path().join("pid"));
        assert!(dies_soon(pid), "grandchild {pid} survived");
        // The daemon case for this path: a_background_process_holding_stdout_….
    }

    #[test]
    fn a_grandchild_holding_only_stderr_is_not_waited_for_and_may_print() {
        for threads in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            // The subshell outlives the run, holding only stderr, then writes
            // to it: with nobody reading, SIGPIPE would kill it before `alive`.
            let argv = sh("(sleep 0.5; echo late >&2; echo yes > alive) >/dev/null & echo started");
            let spec = Spec::new(&argv, dir.path(), Duration::from_secs(20));
            let out = run_with(&spec, &|| false, !threads);
            assert_eq!(out.ending, Ending::Exited(0), "threads: {threads}");
            assert_eq!(out.stdout, "started\n");
            assert_eq!(out.stderr, "");
            assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
            let marker = dir.path().join("alive");
            let until = Instant::now() + Duration::from_secs(5);
            while !marker.exists() && Instant::now() < until {
                thread::sleep(Duration::from_millis(20));
            }
            assert!(
                marker.exists(),
                "the grandchild died writing (threads: {threads})"
            );
        }
    }

    #[test]
    fn output_split_across_many_small_writes_with_sleeps() {
        let argv = sh("i=0; while [ $i -lt 15 ]; do printf o$i,; printf e$i, >&2; sleep 0.02; i=$((i+1)); done");
        let want = |c: char| (0..15).map(|i| format!("{c}{i},")).collect::<String>();
        for out in both_ways(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20))) {
            assert_eq!(out.ending, Ending::Exited(0));
            assert_eq!(out.stdout, want('o'));
            assert_eq!(out.stderr, want('e'));
        }
    }

    #[test]
    fn a_child_printing_without_pause_still_times_out() {
        let argv: Vec<String> = vec!["yes".into()];
        let spec = Spec::new(&argv, Path::new("/"), Duration::from_millis(500))
            .with_grace(Duration::from_millis(500));
        for out in both_ways(&spec) {
            assert_eq!(out.ending, Ending::TimedOut);
            assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
            assert!(out.stdout_truncated);
            assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
        }
    }
}
