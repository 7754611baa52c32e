//! The clock, read once per command and handed to the decision rules.
//!
//! `OPS_MONITOR_NOW` (Unix seconds) replaces the system time: tests and the
//! selftest move time forward instead of sleeping. The local time of day
//! (quiet hours, the report header) follows `TZ` as usual.

use chrono::{DateTime, Local, TimeZone, Timelike};

/// One reading of the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Unix seconds.
    pub now: f64,
    /// Local minutes after midnight (0..1440), for quiet hours.
    pub minute_of_day: u32,
    /// Local `HH:MM:SS`, for the report header.
    pub hms: (u32, u32, u32),
}

impl Clock {
    /// The clock at Unix time `now`, in the local time zone.
    pub fn at(now: f64) -> Clock {
        let secs = now.floor() as i64;
        let nanos = ((now - now.floor()) * 1e9) as u32;
        let local: DateTime<Local> = Local
            .timestamp_opt(secs, nanos.min(999_999_999))
            .single()
            .unwrap_or_else(Local::now);
        Clock::from_parts(now, local.hour(), local.minute(), local.second())
    }

    /// A clock with an explicit local time of day (for unit tests).
    pub fn from_parts(now: f64, hour: u32, minute: u32, second: u32) -> Clock {
        Clock {
            now,
            minute_of_day: hour * 60 + minute,
            hms: (hour, minute, second),
        }
    }

    /// The system clock, or `OPS_MONITOR_NOW` when set.
    pub fn read() -> Clock {
        Clock::at(now())
    }

    pub fn hms_text(&self) -> String {
        let (h, m, s) = self.hms;
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// A Unix time as local time in `format` (chrono's `strftime` spelling);
/// the number itself when it is out of range.
pub fn local_text(t: f64, format: &str) -> String {
    Local
        .timestamp_opt(t.floor() as i64, 0)
        .single()
        .map(|d| d.format(format).to_string())
        .unwrap_or_else(|| format!("{t}"))
}

/// Unix seconds now, or `OPS_MONITOR_NOW` when set to a number.
pub fn now() -> f64 {
    if let Ok(v) = std::env::var("OPS_MONITOR_NOW") {
        if let Ok(n) = v.trim().parse::<f64>() {
            if n.is_finite() {
                return n;
            }
        }
    }
    unix_now()
}

/// Seconds since the Unix epoch as the state stores them: to the
/// millisecond (a tick is timed to the millisecond; finer digits only made
/// every time stamp in the state four bytes longer).
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}
