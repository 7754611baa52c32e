//! What the host checks measure, read from the system; the grading is in
//! the parent module.
//!
//! - Disk: `statvfs` (through `rustix`, Linux and macOS alike), used % as
//!   `df` computes it: used / (used + available to unprivileged users), so
//!   the blocks reserved for root count as full.
//! - Memory and load: the `sysinfo` crate, so Linux (`/proc/meminfo`,
//!   `/proc/loadavg`) and macOS (`host_statistics64`, `getloadavg`) run the
//!   same code here. Memory used is total − available (SPEC §11): the page
//!   cache a kernel gives back on demand is not "used".
//! - A file's age: its modification time against the clock (`OPS_MONITOR_NOW`
//!   moves it in tests).

use std::io::ErrorKind;
use std::time::UNIX_EPOCH;

use crate::paths::expand_tilde;

/// The used % of the file system that holds `path`.
pub fn disk_used(path: &str) -> Result<f64, String> {
    let st = rustix::fs::statvfs(expand_tilde(path)).map_err(|e| e.to_string())?;
    let used = st.f_blocks.saturating_sub(st.f_bfree);
    let usable = used + st.f_bavail;
    if usable == 0 {
        return Err("the file system reports no size".into());
    }
    Ok(used as f64 * 100.0 / usable as f64)
}

/// Memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    pub total: u64,
    pub available: u64,
}

pub fn memory() -> Result<Memory, String> {
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    let m = Memory {
        total: sys.total_memory(),
        available: sys.available_memory(),
    };
    if m.total == 0 {
        return Err("this system reports no memory size".into());
    }
    Ok(m)
}

/// The 1-minute load average and the number of logical CPUs it spreads over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub one: f64,
    pub cores: usize,
}

pub fn load() -> Result<Load, String> {
    let mut sys = sysinfo::System::new();
    sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
    // The host's CPUs, not this process's share (a cgroup or an affinity
    // mask): the load average counts the whole host's runnable tasks.
    let cores = match sys.cpus().len() {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let one = sysinfo::System::load_average().one;
    if !one.is_finite() || one < 0.0 {
        return Err("this system reports no load average".into());
    }
    Ok(Load { one, cores })
}

/// A file's age.
#[derive(Debug, Clone, PartialEq)]
pub enum Age {
    /// Seconds since its last modification (negative: in the future).
    Seconds(f64),
    Missing,
    /// It may exist, but its time cannot be read (a folder on the way is
    /// not searchable).
    Unreadable(String),
}

pub fn file_age(path: &str, now: f64) -> Age {
    let meta = match std::fs::metadata(expand_tilde(path)) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Age::Missing,
        Err(e) => return Age::Unreadable(e.to_string()),
    };
    let mtime = match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        },
        Err(e) => return Age::Unreadable(e.to_string()),
    };
    Age::Seconds(now - mtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_has_a_disk_memory_and_a_load() {
        let used = disk_used("/").expect("statvfs of /");
        assert!((0.0..=100.0).contains(&used), "{used}");
        let m = memory().expect("memory");
        assert!(m.available <= m.total && m.total > 0, "{m:?}");
        let l = load().expect("load");
        assert!(l.cores >= 1 && l.one >= 0.0, "{l:?}");
        assert!(disk_used("/no/such/folder").is_err());
    }

    #[test]
    fn a_file_age_against_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hb");
        let path = p.to_str().unwrap();
        assert_eq!(file_age(path, 0.0), Age::Missing);
        let f = std::fs::File::create(&p).unwrap();
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        f.set_modified(t).unwrap();
        assert_eq!(file_age(path, 1_000_090.0), Age::Seconds(90.0));
    }
}
