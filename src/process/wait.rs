//! The one wait loop: everything runs on the calling thread, poll(2) over the
//! child's two pipes (non-blocking, read into bounded buffers) and, where the
//! kernel has them (Linux 5.3 and later), a pidfd of the child, which becomes
//! readable when it exits. Without a pidfd (an older kernel, a seccomp
//! filter, not Linux) the same loop polls with a short timeout and asks
//! `try_wait` after each round.
//!
//! A thread is started only to feed stdin bytes, to drain a pipe a
//! grandchild kept past the leak timeout, or to reap a child that did not
//! die of SIGKILL in time: three thread starts per command were most of a
//! tick's cost when every command had its own.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, ChildStdin, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;

use super::group::{self, Leader, GROUP_POLL};
use super::{ending_of, Ending, Output, Spec, LEAK_TIMEOUT, OUTPUT_LIMIT};
use crate::text;

/// How often a wait looks at its `stop` question. It bounds only how late a
/// signal is noticed; the child's exit wakes the wait at once.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Size of one read from a pipe.
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The read buffer of the last wait on this thread, kept for the next
    /// one: a fresh zeroed 64 KiB for every command was a sixth of a
    /// 1000-job tick's instructions.
    static SPARE_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A read buffer of [`READ_CHUNK`] bytes: this thread's spare one, or a new one.
fn read_buf() -> Vec<u8> {
    let buf = SPARE_BUF.take();
    if buf.len() == READ_CHUNK {
        buf
    } else {
        vec![0; READ_CHUNK]
    }
}

/// Stack of the helper threads: they only copy bytes (their buffer is on
/// the heap) or wait. The default 2 MiB costs mapping time on every command
/// and memory on a 1000-job tick.
const HELPER_STACK: usize = 64 * 1024;

/// Wait for a started `child` (the leader of its own process group) to end,
/// or stop it at the time limit or when `stop` says so, and collect what it
/// printed. `use_pidfd: false` waits as a kernel without pidfds would.
pub(super) fn collect(
    mut child: Child,
    spec: &Spec,
    stop: &dyn Fn() -> bool,
    started: Instant,
    use_pidfd: bool,
) -> Output {
    // process_group(0) made the child the leader of a new group: its pid is the group id.
    let pgid = i32::try_from(child.id()).unwrap_or(0);
    let program = spec.argv.first().map_or("", String::as_str);
    let output = |ending, (stdout, stdout_truncated), (stderr, stderr_truncated)| Output {
        ending,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        duration: started.elapsed(),
        limit: spec.timeout,
    };
    let stdin = spec.stdin.map(<[u8]>::to_vec).zip(child.stdin.take());
    if let Some((bytes, pipe)) = stdin {
        if let Err(err) = feed_stdin(bytes, pipe) {
            let _ = group::signal_group(pgid, rustix::process::Signal::KILL);
            let _ = child.wait();
            let why = format!("{program}: cannot start a thread: {err}");
            return output(Ending::FailedToStart(why), empty(), empty());
        }
    }
    let mut io = Waiter::new(child, use_pidfd);
    let deadline = started.checked_add(spec.timeout);
    let ending = match io.wait(deadline, stop) {
        Woke::Exited => match io.exit.as_ref() {
            Some(Ok(status)) => ending_of(*status),
            // Only if the child vanished (ECHILD): no ending is known, and
            // "could not run" is the closest.
            Some(Err(err)) => Ending::FailedToStart(format!("{program}: wait: {err}")),
            None => Ending::FailedToStart(format!("{program}: wait: no status")),
        },
        Woke::Expired => {
            group::stop(pgid, spec.grace, &mut io);
            Ending::TimedOut
        }
        Woke::Stopped => {
            group::stop(pgid, spec.grace, &mut io);
            Ending::Interrupted
        }
    };
    // The leak timeout: a grandchild holding a pipe must not hold us.
    io.pump_until(Instant::now() + LEAK_TIMEOUT, Waiter::pipes_closed);
    let (stdout, stderr) = io.finish();
    output(ending, stdout, stderr)
}

fn empty() -> (String, bool) {
    (String::new(), false)
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

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name(name.into())
        .stack_size(HELPER_STACK)
        .spawn(f)
        .map(drop)
}

/// What a wait woke for.
enum Woke {
    Exited,
    Expired,
    Stopped,
}

/// A child waited for on the calling thread.
struct Waiter {
    child: Child,
    /// `None` without pidfds, or once the kernel reported it broken: the
    /// child is then looked at after each (shortened) poll instead.
    pidfd: Option<OwnedFd>,
    /// The direct child's status, once reaped.
    exit: Option<io::Result<ExitStatus>>,
    out: Pipe,
    err: Pipe,
    buf: Vec<u8>,
}

impl Waiter {
    fn new(mut child: Child, use_pidfd: bool) -> Waiter {
        let pidfd = if use_pidfd { pidfd_open(&child) } else { None };
        let out = Pipe::new(child.stdout.take().map(OwnedFd::from));
        let err = Pipe::new(child.stderr.take().map(OwnedFd::from));
        Waiter {
            child,
            pidfd,
            exit: None,
            out,
            err,
            buf: read_buf(),
        }
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

    /// [`Waiter::pump`] until `done` or `until`.
    fn pump_until(&mut self, until: Instant, done: fn(&Waiter) -> bool) {
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
        let pidfd = self.pidfd.as_ref().filter(|_| watch_child);
        let timeout = if watch_child && pidfd.is_none() {
            timeout.min(GROUP_POLL)
        } else {
            timeout
        };
        // The descriptors still open; `slot[i]` is where descriptor i went.
        let wanted = [
            pidfd.map(AsFd::as_fd),
            self.out.file.as_ref().map(AsFd::as_fd),
            self.err.file.as_ref().map(AsFd::as_fd),
        ];
        let mut fds = Vec::with_capacity(3);
        let mut slot = [None; 3];
        for (i, fd) in wanted.iter().enumerate() {
            if let Some(fd) = fd {
                slot[i] = Some(fds.len());
                fds.push(PollFd::from_borrowed_fd(*fd, PollFlags::IN));
            }
        }
        let revents = match poll(&mut fds, Some(&timespec(timeout))) {
            Ok(_) => slot.map(|s| s.map_or(PollFlags::empty(), |s| fds[s].revents())),
            Err(err) => {
                if err != Errno::INTR {
                    // Out of kernel memory, say: wait a little rather than spin.
                    thread::sleep(timeout.min(GROUP_POLL));
                }
                // The reads cannot block, and the child is looked at below:
                // trying everything is harmless.
                [PollFlags::IN; 3]
            }
        };
        drop(fds);
        let ready = revents.map(|r| !r.is_empty());
        self.out.read_some(ready[1], &mut self.buf);
        self.err.read_some(ready[2], &mut self.buf);
        if watch_child && (ready[0] || self.pidfd.is_none()) {
            match self.child.try_wait() {
                Ok(Some(status)) => self.exit = Some(Ok(status)),
                Ok(None) => {
                    if revents[0].intersects(PollFlags::ERR | PollFlags::NVAL) {
                        self.pidfd = None;
                    }
                }
                Err(err) => self.exit = Some(Err(err)),
            }
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
        SPARE_BUF.set(std::mem::take(&mut self.buf));
        if self.exit.is_none() {
            let mut child = self.child;
            let _ = spawn("ops-monitor reap", move || {
                let _ = child.wait();
            });
        }
        (stdout, stderr)
    }
}

impl Leader for Waiter {
    fn reaped_by(&mut self, until: Instant) -> bool {
        self.pump_until(until, Waiter::exited);
        self.exited()
    }

    fn idle_until(&mut self, until: Instant) {
        self.pump_until(until, |_| false);
    }
}

/// One pipe read on the calling thread, at most [`OUTPUT_LIMIT`] bytes kept.
struct Pipe {
    /// `None` at end of file (or when there was no pipe).
    file: Option<File>,
    bytes: Vec<u8>,
    truncated: bool,
}

impl Pipe {
    fn new(fd: Option<OwnedFd>) -> Pipe {
        if let Some(fd) = &fd {
            // Belt and braces: poll said the pipe is readable before each
            // read, and a pipe read returns what is there without waiting
            // for more, so a pipe left blocking (should fcntl fail) still
            // works.
            let _ = set_nonblocking(fd);
        }
        Pipe {
            file: fd.map(File::from),
            bytes: Vec::new(),
            truncated: false,
        }
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
            // An unreadable pipe counts as ended.
            Err(_) => self.file = None,
        }
    }

    /// What was read, decoded, and whether more was printed than kept.
    fn take(&mut self) -> (String, bool) {
        let bytes = std::mem::take(&mut self.bytes);
        (text::decode(&bytes, self.truncated), self.truncated)
    }
}

/// Keep what fits of `chunk` under [`OUTPUT_LIMIT`]; flag the rest as cut.
fn keep(bytes: &mut Vec<u8>, truncated: &mut bool, chunk: &[u8]) {
    let room = OUTPUT_LIMIT.saturating_sub(bytes.len());
    let kept = chunk.len().min(room);
    bytes.extend_from_slice(&chunk[..kept]);
    *truncated |= kept < chunk.len();
}

/// Read `pipes` to their ends, keeping nothing (the detached drain thread).
fn drain(mut pipes: Vec<File>, mut buf: Vec<u8>) {
    while !pipes.is_empty() {
        let mut fds: Vec<PollFd> = pipes
            .iter()
            .map(|pipe| PollFd::new(pipe, PollFlags::IN))
            .collect();
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            // Nothing better to do than to close them.
            Err(_) => return,
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        let mut ready = ready.into_iter();
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

/// A pidfd for the child: it becomes readable once the process exits. It is
/// opened close-on-exec. `None` where the kernel has none.
#[cfg(target_os = "linux")]
fn pidfd_open(child: &Child) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_child: &Child) -> Option<OwnedFd> {
    None
}

/// Turn O_NONBLOCK on for `fd`.
fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(fd)?;
    fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// A poll timeout, rounded up to whole milliseconds so that a short rest
/// does not become a busy loop (poll(2) sleeps in milliseconds), and at
/// most what every poll(2) accepts.
fn timespec(timeout: Duration) -> Timespec {
    let most = u64::from(i32::MAX.unsigned_abs());
    let ms = u64::try_from(timeout.as_micros().div_ceil(1000)).map_or(most, |ms| ms.min(most));
    Timespec::try_from(Duration::from_millis(ms)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::process::{Command, Stdio};

    #[test]
    fn one_loop_waits_with_a_pidfd_where_the_kernel_has_them_and_without() {
        let own = std::process::Command::new("/bin/true")
            .spawn()
            .map(|mut c| {
                let has = pidfd_open(&c).is_some();
                c.wait().unwrap();
                has
            })
            .unwrap();
        for use_pidfd in [true, false] {
            let child = Command::new("/bin/true")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut waiter = Waiter::new(child, use_pidfd);
            assert_eq!(waiter.pidfd.is_some(), use_pidfd && own);
            assert!(matches!(waiter.wait(None, &|| false), Woke::Exited));
            assert!(matches!(waiter.exit, Some(Ok(status)) if status.success()));
        }
    }

    #[test]
    fn poll_timeouts_round_up_to_milliseconds() {
        let t = timespec(Duration::from_micros(1));
        assert_eq!((t.tv_sec, t.tv_nsec), (0, 1_000_000));
        let t = timespec(Duration::from_millis(2500));
        assert_eq!((t.tv_sec, t.tv_nsec), (2, 500_000_000));
        let t = timespec(Duration::ZERO);
        assert_eq!((t.tv_sec, t.tv_nsec), (0, 0));
    }
}
