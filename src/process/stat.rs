//! The one reader of `/proc/PID/stat` lines: `PID (COMM) S PPID PGRP ...`.
//!
//! Self-contained on purpose (no `crate::` paths, std only): the
//! integration tests include this very file (`#[path]`) to tell a live
//! process from a zombie, since the crate's modules are private.

/// What is read of a `/proc/PID/stat` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z`, …
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
}

impl Stat {
    /// Parse one line. COMM may hold spaces and parentheses, so fields are
    /// counted after the last `)`.
    pub fn parse(line: &str) -> Option<Stat> {
        let (_, rest) = line.rsplit_once(')')?;
        let mut fields = rest.split_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgrp = fields.next()?.parse().ok()?;
        Some(Stat { state, ppid, pgrp })
    }

    /// The line of process `pid`; `None` if it is gone, `/proc` is not
    /// mounted, or the line cannot be read.
    pub fn of(pid: i64) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Not a zombie (`Z`) nor dead (`X`, `x`): a process that can still act.
    pub fn can_act(self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines_are_parsed_after_the_command_name() {
        let stat = |state, ppid, pgrp| Some(Stat { state, ppid, pgrp });
        assert_eq!(Stat::parse("42 (sleep) S 1 40 40 0 -1"), stat('S', 1, 40));
        assert_eq!(Stat::parse("7 (a ) b) (c) Z 1 9 9"), stat('Z', 1, 9));
        assert_eq!(Stat::parse("garbage"), None);
        assert_eq!(Stat::parse("7 (x) S notanumber 9"), None);
        assert!(Stat::parse("42 (sleep) S 1 40").unwrap().can_act());
        assert!(!Stat::parse("7 (a ) b) (c) Z 1 9 9").unwrap().can_act());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn our_own_line_is_read() {
        let me = Stat::of(i64::from(std::process::id())).unwrap();
        assert!(me.can_act());
        assert_eq!(
            i64::from(me.ppid),
            i64::from(std::os::unix::process::parent_id())
        );
    }
}
