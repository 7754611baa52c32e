//! `ops-monitor check …` (SPEC §9): built-in read-only checks of this host
//! — disk, memory, load, a file's age, an HTTP endpoint — in the Nagios
//! plugin convention, so a `one_shot_read` job with `everySeconds` can run
//! one and inherit scheduling, reminders, RESOLVED, the quiet-hour rule of a
//! WARNING, metrics and alerts (SPEC §5.5).
//!
//! One line on stdout, `LABEL STATUS - text | perfdata`
//! (`DISK OK - / 42% used | used_pct=42;80;95`), and the exit code 0 OK,
//! 1 WARNING, 2 CRITICAL, 3 UNKNOWN — 3 also for the check's own usage
//! errors (SPEC §11), so a typo in a job's `run` is never read as "critical".
//!
//! This module grades and formats (pure, unit-tested below); [`measure`]
//! reads the system and [`http`] makes the request. A check never reads the
//! config or the state, and never writes anything.

mod http;
mod measure;

use std::time::Duration;

use crate::cli::CheckWhat;
use crate::out::outln;

/// A Nagios plugin's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// The Nagios exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }
}

/// One check's result: the first line a Nagios plugin prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// `DISK`, `MEMORY`, `LOAD`, `FILE_AGE`, `HTTP`.
    pub label: &'static str,
    pub status: Status,
    /// What was measured, for a person (`/ 42% used`).
    pub text: String,
    /// Performance data (`used_pct=42;80;95`), empty when nothing was measured.
    pub perf: String,
}

impl Reading {
    fn unknown(label: &'static str, text: impl Into<String>) -> Reading {
        Reading {
            label,
            status: Status::Unknown,
            text: text.into(),
            perf: String::new(),
        }
    }

    /// `LABEL STATUS - text | perf`.
    pub fn line(&self) -> String {
        let mut line = format!("{} {} - {}", self.label, self.status.word(), self.text);
        if !self.perf.is_empty() {
            line.push_str(" | ");
            line.push_str(&self.perf);
        }
        line
    }
}

/// Warning and critical thresholds in one unit; a value at or above a
/// threshold reaches it (so `--warn 0` always warns, `--crit 100` on a
/// percentage is reached only by a full disk).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub warn: f64,
    pub crit: f64,
}

impl Thresholds {
    /// An error when the warning threshold lies above the critical one.
    fn check(self, unit: &str) -> Result<Self, String> {
        if self.warn > self.crit {
            return Err(format!(
                "--warn {}{unit} is above --crit {}{unit}",
                num(self.warn),
                num(self.crit)
            ));
        }
        Ok(self)
    }

    pub fn grade(self, value: f64) -> Status {
        if value >= self.crit {
            Status::Critical
        } else if value >= self.warn {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    /// `name=value;warn;crit` (Nagios performance data).
    fn perf(self, name: &str, value: &str) -> String {
        format!("{name}={value};{};{}", num(self.warn), num(self.crit))
    }
}

/// A number as a person writes it: `80`, `0.7`, `0.75` (at most 2 decimals).
fn num(n: f64) -> String {
    let s = format!("{n:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A used percentage shown as a whole number, rounded down: a value shown
/// as `80` is at least 80, so what is shown agrees with the grade.
fn percent(used: f64) -> u64 {
    used.clamp(0.0, 100.0).floor() as u64
}

/// A duration for a person: `45s`, `2m 5s`, `3h 2m`, `2d 3h`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).floor() as u64;
    let (d, h, m, s) = (s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// Run one check, print its line, return its exit code.
pub fn run(what: &CheckWhat) -> u8 {
    let reading = reading(what);
    outln!("{}", reading.line());
    reading.status.code()
}

fn reading(what: &CheckWhat) -> Reading {
    match what {
        CheckWhat::Disk { path, warn, crit } => {
            let t = match (Thresholds {
                warn: *warn,
                crit: *crit,
            })
            .check("%")
            {
                Ok(t) => t,
                Err(e) => return Reading::unknown("DISK", e),
            };
            match measure::disk_used(path) {
                Ok(used) => used_reading("DISK", path, used, t),
                Err(e) => Reading::unknown("DISK", format!("{path}: {e}")),
            }
        }
        CheckWhat::Memory { warn, crit } => {
            let t = match (Thresholds {
                warn: *warn,
                crit: *crit,
            })
            .check("%")
            {
                Ok(t) => t,
                Err(e) => return Reading::unknown("MEMORY", e),
            };
            match measure::memory() {
                Ok(m) => memory_reading(m, t),
                Err(e) => Reading::unknown("MEMORY", e),
            }
        }
        CheckWhat::Load { warn, crit } => {
            let t = match (Thresholds {
                warn: *warn,
                crit: *crit,
            })
            .check("")
            {
                Ok(t) => t,
                Err(e) => return Reading::unknown("LOAD", e),
            };
            match measure::load() {
                Ok(l) => load_reading(l, t),
                Err(e) => Reading::unknown("LOAD", e),
            }
        }
        CheckWhat::FileAge { path, warn, crit } => {
            let t = Thresholds {
                warn: warn.as_secs_f64(),
                crit: crit.as_secs_f64(),
            };
            let t = match t.check("s") {
                Ok(t) => t,
                Err(e) => return Reading::unknown("FILE_AGE", e),
            };
            let age = measure::file_age(path, crate::clock::now());
            file_age_reading(path, age, t)
        }
        CheckWhat::Http {
            url,
            expect_status,
            warn,
            crit,
        } => {
            let t = match (Thresholds {
                warn: *warn,
                crit: *crit,
            })
            .check("ms")
            {
                Ok(t) => t,
                Err(e) => return Reading::unknown("HTTP", e),
            };
            // No answer within the critical threshold is critical anyway;
            // a second more lets a slow answer be measured and shown. At
            // most 55 s: under a scheduled check's own 60 s limit.
            let limit = Duration::from_secs_f64((t.crit / 1000.0 + 1.0).min(55.0));
            http_reading(url, *expect_status, http::get(url, limit), t)
        }
    }
}

/// `DISK OK - / 42% used | used_pct=42;80;95`.
fn used_reading(label: &'static str, what: &str, used: f64, t: Thresholds) -> Reading {
    let pct = percent(used);
    Reading {
        label,
        status: t.grade(used),
        text: format!("{what} {pct}% used"),
        perf: t.perf("used_pct", &pct.to_string()),
    }
}

fn memory_reading(m: measure::Memory, t: Thresholds) -> Reading {
    let used = m.total.saturating_sub(m.available);
    let pct = used as f64 * 100.0 / m.total as f64;
    Reading {
        label: "MEMORY",
        status: t.grade(pct),
        text: format!("{}% used ({} of {})", percent(pct), gib(used), gib(m.total)),
        perf: t.perf("used_pct", &percent(pct).to_string()),
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn load_reading(l: measure::Load, t: Thresholds) -> Reading {
    let per_core = l.one / l.cores as f64;
    let cores = if l.cores == 1 { "core" } else { "cores" };
    Reading {
        label: "LOAD",
        status: t.grade(per_core),
        text: format!(
            "{per_core:.2} per core (1-minute load {:.2} on {} {cores})",
            l.one, l.cores
        ),
        perf: format!(
            "{} load1={:.2}",
            t.perf("load1_per_core", &format!("{per_core:.2}")),
            l.one
        ),
    }
}

fn file_age_reading(path: &str, age: measure::Age, t: Thresholds) -> Reading {
    let label = "FILE_AGE";
    match age {
        measure::Age::Missing => Reading {
            label,
            status: Status::Critical,
            text: format!("{path} does not exist"),
            perf: String::new(),
        },
        measure::Age::Unreadable(e) => Reading::unknown(label, format!("{path}: {e}")),
        measure::Age::Seconds(secs) => {
            // A time in the future (a clock that was set back) is age 0.
            let secs = secs.max(0.0);
            Reading {
                label,
                status: t.grade(secs),
                text: format!("{path} modified {} ago", human_duration(secs)),
                perf: t.perf("age_s", &format!("{}", secs.floor() as u64)),
            }
        }
    }
}

fn http_reading(
    url: &str,
    expect: u16,
    got: Result<http::Answer, String>,
    t: Thresholds,
) -> Reading {
    let label = "HTTP";
    let shown = crate::deliver::probe::shown_url(url);
    match got {
        Err(e) if e.starts_with(http::BAD_URL) => Reading::unknown(label, e),
        Err(e) => Reading {
            label,
            status: Status::Critical,
            text: format!("{shown}: no answer: {e}"),
            perf: String::new(),
        },
        Ok(a) => {
            let ms = a.elapsed.as_secs_f64() * 1000.0;
            let ms_text = format!("{}", ms.round() as u64);
            let perf = t.perf("time_ms", &ms_text);
            if a.status != expect {
                let redirect = a
                    .location
                    .map(|l| format!(", a redirect to {l} (not followed)"))
                    .unwrap_or_default();
                return Reading {
                    label,
                    status: Status::Critical,
                    text: format!(
                        "{shown} answered {} (expected {expect}{redirect}) in {ms_text} ms",
                        a.status
                    ),
                    perf,
                };
            }
            Reading {
                label,
                status: t.grade(ms),
                text: format!("{shown} answered {} in {ms_text} ms", a.status),
                perf,
            }
        }
    }
}

/// Whether the command line's subcommand is `check`: its usage errors exit
/// 3 (UNKNOWN), not 2 (SPEC §11). The global options that take a value
/// are skipped with it.
pub fn is_check_command(args: &[std::ffi::OsString]) -> bool {
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = it.next() {
        match arg.as_ref() {
            "--config-file" | "--state-file" | "--lock-timeout" => {
                it.next();
            }
            a if a.starts_with('-') => {}
            a => return a == "check",
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use measure::{Age, Load, Memory};

    const DISK: Thresholds = Thresholds {
        warn: 80.0,
        crit: 95.0,
    };

    #[test]
    fn thresholds_are_reached_at_or_above() {
        assert_eq!(DISK.grade(79.99), Status::Ok);
        assert_eq!(DISK.grade(80.0), Status::Warning);
        assert_eq!(DISK.grade(94.9), Status::Warning);
        assert_eq!(DISK.grade(95.0), Status::Critical);
        let zero = Thresholds {
            warn: 0.0,
            crit: 0.0,
        };
        assert_eq!(
            zero.grade(0.0),
            Status::Critical,
            "0 % is reached by anything"
        );
        let full = Thresholds {
            warn: 100.0,
            crit: 100.0,
        };
        assert_eq!(full.grade(99.9), Status::Ok, "100 % only by a full disk");
        assert!(Thresholds {
            warn: 90.0,
            crit: 80.0
        }
        .check("%")
        .is_err_and(|e| e == "--warn 90% is above --crit 80%"));
    }

    #[test]
    fn the_spec_example_line() {
        let r = used_reading("DISK", "/", 85.4, DISK);
        assert_eq!(r.line(), "DISK WARNING - / 85% used | used_pct=85;80;95");
        assert_eq!(r.status.code(), 1);
        let r = used_reading("DISK", "/", 42.0, DISK);
        assert_eq!(r.line(), "DISK OK - / 42% used | used_pct=42;80;95");
        assert_eq!(r.status.code(), 0);
    }

    #[test]
    fn shown_percent_agrees_with_the_grade() {
        // 79.6 % is not yet 80: shown as 79, graded OK.
        let r = used_reading("DISK", "/srv", 79.6, DISK);
        assert_eq!(r.line(), "DISK OK - /srv 79% used | used_pct=79;80;95");
    }

    #[test]
    fn memory_is_total_minus_available() {
        let gib = 1u64 << 30;
        let m = Memory {
            total: 16 * gib,
            available: 4 * gib,
        };
        let t = Thresholds {
            warn: 75.0,
            crit: 90.0,
        };
        assert_eq!(
            memory_reading(m, t).line(),
            "MEMORY WARNING - 75% used (12.0 GiB of 16.0 GiB) | used_pct=75;75;90"
        );
    }

    #[test]
    fn load_is_per_core() {
        let t = Thresholds {
            warn: 0.7,
            crit: 0.9,
        };
        let r = load_reading(Load { one: 3.0, cores: 4 }, t);
        assert_eq!(
            r.line(),
            "LOAD WARNING - 0.75 per core (1-minute load 3.00 on 4 cores) | load1_per_core=0.75;0.7;0.9 load1=3.00"
        );
    }

    #[test]
    fn file_age() {
        let t = Thresholds {
            warn: 120.0,
            crit: 300.0,
        };
        assert_eq!(
            file_age_reading("/hb", Age::Seconds(45.5), t).line(),
            "FILE_AGE OK - /hb modified 45s ago | age_s=45;120;300"
        );
        assert_eq!(
            file_age_reading("/hb", Age::Seconds(301.0), t).line(),
            "FILE_AGE CRITICAL - /hb modified 5m 1s ago | age_s=301;120;300"
        );
        assert_eq!(
            file_age_reading("/hb", Age::Seconds(-30.0), t).status,
            Status::Ok,
            "a time in the future is age 0"
        );
        assert_eq!(
            file_age_reading("/hb", Age::Missing, t).line(),
            "FILE_AGE CRITICAL - /hb does not exist"
        );
    }

    #[test]
    fn http_wrong_status_and_no_answer_are_critical() {
        let t = Thresholds {
            warn: 5000.0,
            crit: 15000.0,
        };
        let answer = |status, ms| {
            Ok(http::Answer {
                status,
                elapsed: Duration::from_millis(ms),
                location: None,
            })
        };
        assert_eq!(
            http_reading("http://h/x?token=1", 200, answer(200, 12), t).line(),
            "HTTP OK - http://h/x?<redacted> answered 200 in 12 ms | time_ms=12;5000;15000"
        );
        let r = http_reading("http://h/", 200, answer(503, 12), t);
        assert_eq!(r.status, Status::Critical);
        assert_eq!(
            http_reading("http://h/", 200, Err("connection refused".into()), t).line(),
            "HTTP CRITICAL - http://h: no answer: connection refused"
        );
        assert_eq!(
            http_reading("http://h/", 200, answer(200, 6000), t).status,
            Status::Warning
        );
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(0.4), "0s");
        assert_eq!(human_duration(125.0), "2m 5s");
        assert_eq!(human_duration(120.0), "2m");
        assert_eq!(human_duration(3600.0 * 3.0 + 120.0), "3h 2m");
        assert_eq!(human_duration(86400.0 * 2.0 + 3600.0 * 3.0), "2d 3h");
    }

    #[test]
    fn the_check_subcommand_is_found_past_global_options() {
        let args = |a: &[&str]| a.iter().map(Into::into).collect::<Vec<_>>();
        assert!(is_check_command(&args(&["om", "check", "disk"])));
        assert!(is_check_command(&args(&[
            "om",
            "--config-file",
            "check",
            "-q",
            "check"
        ])));
        assert!(!is_check_command(&args(&[
            "om",
            "--config-file",
            "check",
            "tick"
        ])));
        assert!(!is_check_command(&args(&["om"])));
    }
}
