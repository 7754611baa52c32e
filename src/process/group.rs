//! Process groups and the facts about other processes: stopping the group a
//! command leads (SIGTERM, a grace period, SIGKILL), telling whether any
//! member can still act (the `/proc` scan), [`terminate`] for `stop JOB`,
//! and what the safety rules ask about a pid ([`pgid_of`], [`same_user`],
//! [`lineage`]). Every system call goes through `rustix`; `/proc/PID/stat`
//! is read by `stat` alone.

use std::io;
use std::time::{Duration, Instant};

use rustix::process::{self as sys, Pid, Signal};

use super::stat::Stat;

/// How often the group is looked at when only grandchildren are left after
/// SIGTERM: they cannot be waited on, so this one path polls.
pub(super) const GROUP_POLL: Duration = Duration::from_millis(25);

/// How long to wait for the reaping of a child we SIGKILLed. SIGKILL cannot be
/// ignored, but a process in uninterruptible sleep dies only when it wakes.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// What [`stop`] needs from whoever waits for the group's leader: waiting
/// for it while doing the waiter's own work (reading its pipes, so output
/// printed while stopping is kept and nobody blocks on a full pipe).
pub(super) trait Leader {
    /// Wait until the leader has been reaped or `until`; whether it has.
    fn reaped_by(&mut self, until: Instant) -> bool;
    /// Carry on with the waiter's work until `until`.
    fn idle_until(&mut self, until: Instant);
}

/// SIGTERM the group, give it `grace` to end, then SIGKILL what is left.
/// Grandchildren count: one that ignores SIGTERM is killed after the grace
/// even when the direct child went at once.
pub(super) fn stop(pgid: i32, grace: Duration, leader: &mut impl Leader) {
    let until = Instant::now() + grace;
    let _ = signal_group(pgid, Signal::TERM);
    let child_gone = leader.reaped_by(until);
    if child_gone {
        while group_alive(pgid) && Instant::now() < until {
            leader.idle_until((Instant::now() + GROUP_POLL).min(until));
        }
    }
    if group_alive(pgid) {
        let _ = signal_group(pgid, Signal::KILL);
    }
    if !child_gone {
        // So that the caller sees a reaped child, not one about to die.
        leader.reaped_by(Instant::now() + KILL_WAIT);
    }
}

/// Signal every process of a group we created.
pub(super) fn signal_group(pgid: i32, sig: Signal) -> io::Result<()> {
    sys::kill_process_group(group_pid(pgid)?, sig).map_err(io::Error::from)
}

/// A group we may signal: killpg(0) and killpg(1) would mean our own
/// group and init's, never what is meant.
fn group_pid(pgid: i32) -> io::Result<Pid> {
    pid(pgid)
        .filter(|p| !p.is_init())
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Whether any process that can still act is left in the group. Zombies do
/// not count: grandchildren orphaned by the child's death are reaped by PID 1,
/// and in a container that can take seconds, which would cost every timeout
/// its whole grace period.
fn group_alive(pgid: i32) -> bool {
    let exists = group_pid(pgid).is_ok_and(|p| sys::test_kill_process_group(p).is_ok());
    exists && live_member_in_proc(pgid).unwrap_or(true)
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
        let Ok(line) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(stat) = Stat::parse(&line) {
            if stat.pgrp == pgid && stat.can_act() {
                return Some(true);
            }
        }
    }
    // An empty /proc is an unmounted one: it proves nothing.
    any.then_some(false)
}

/// Whether process `pid` exists and can still act: not a zombie waiting to
/// be reaped (in a container, PID 1 may never reap the grandchildren it
/// inherits). Without a readable `/proc`, existing is enough.
#[cfg(test)]
pub fn alive(pid: i32) -> bool {
    let Some(p) = self::pid(pid) else {
        return false;
    };
    if sys::test_kill_process(p).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(line) => Stat::parse(&line).is_none_or(Stat::can_act),
        // Gone between the two looks, or no /proc.
        Err(err) => err.kind() != io::ErrorKind::NotFound || !proc_mounted(),
    }
}

/// A process id that names one process: positive (0 and negative numbers
/// name groups in kill(2)).
fn pid(raw: i32) -> Option<Pid> {
    if raw > 0 {
        Pid::from_raw(raw)
    } else {
        None
    }
}

#[cfg(test)]
fn proc_mounted() -> bool {
    std::path::Path::new("/proc/self/stat").exists()
}

/// The process group of `pid` (0: of this process).
pub fn pgid_of(pid: i32) -> io::Result<i32> {
    let target = match pid {
        0 => None,
        _ => Some(self::pid(pid).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?),
    };
    Ok(sys::getpgid(target)?.as_raw_pid())
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

/// This process and its ancestors up to PID 1, as far as `/proc` shows
/// them; without `/proc`, this process and its parent.
pub fn lineage() -> Vec<i64> {
    let me = i64::from(std::process::id());
    let mut out = vec![me, i64::from(std::os::unix::process::parent_id())];
    let mut pid = out[1];
    while pid > 1 && out.len() < 4096 {
        let Some(stat) = Stat::of(pid) else {
            break;
        };
        pid = i64::from(stat.ppid);
        out.push(pid);
    }
    out
}

/// Send SIGTERM to `pid` (`stop JOB` without a stop command). Refuses, with
/// an error of kind `PermissionDenied`, PID 1 and below, ops-monitor itself,
/// and anything in ops-monitor's own process group (SPEC §9): a status
/// command reporting the wrong pid must not make the monitor stop itself or
/// the shell or timer that started it.
pub fn terminate(pid: i32) -> io::Result<()> {
    let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    let Some(target) = self::pid(pid).filter(|p| !p.is_init()) else {
        return refuse(format!(
            "refusing to signal pid {pid}: not a single ordinary process"
        ));
    };
    if u32::try_from(pid).ok() == Some(std::process::id()) {
        return refuse(format!(
            "refusing to signal pid {pid}: it is ops-monitor itself"
        ));
    }
    let with_pid = |err: rustix::io::Errno| {
        let err = io::Error::from(err);
        io::Error::new(err.kind(), format!("pid {pid}: {err}"))
    };
    let theirs = sys::getpgid(Some(target)).map_err(with_pid)?;
    let ours = sys::getpgid(None)?;
    if theirs == ours {
        return refuse(format!(
            "refusing to signal pid {pid}: it is in ops-monitor's own process group ({})",
            ours.as_raw_pid()
        ));
    }
    sys::kill_process(target, Signal::TERM).map_err(with_pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;

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
        assert_eq!(other.wait().unwrap().signal(), Some(Signal::TERM.as_raw()));
    }

    #[test]
    fn a_missing_process_is_not_alive() {
        assert!(alive(i32::try_from(std::process::id()).unwrap()));
        assert!(!alive(0) && !alive(-5));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        child.wait().unwrap();
        assert!(!alive(pid));
    }

    #[test]
    fn our_group_and_lineage_are_known() {
        let ours = pgid_of(0).unwrap();
        let me = i32::try_from(std::process::id()).unwrap();
        assert_eq!(pgid_of(me).unwrap(), ours);
        assert_eq!(pgid_of(-3).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let lineage = lineage();
        assert_eq!(lineage[0], i64::from(me));
        assert_eq!(lineage[1], i64::from(std::os::unix::process::parent_id()));
        assert!(same_user(i64::from(me)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_lineage_reaches_init_through_proc() {
        let lineage = lineage();
        assert!(lineage.last().is_some_and(|p| *p <= 1), "{lineage:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        // Not reaped yet: a zombie once it has exited.
        let until = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(pid));
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        child.wait().unwrap();
    }
}
