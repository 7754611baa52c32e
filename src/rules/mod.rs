//! The decision rules of a tick (SPEC §5.1–§5.5) as pure functions: they
//! take the config, the previous state, what the commands did and the clock,
//! and return the new state and the report sections. No processes, files or
//! clock reads here — `tick` and the commands do those and ask these
//! functions what to do.
//!
//! Split by what they decide: long jobs ([`long`]), scheduled checks
//! ([`check`]), the queue ([`queue`]), what holds a report back and how a
//! tick ends ([`holds`]), a long job's state word ([`job_state`]), the
//! safety policy of SPEC §6 ([`safety`]), and why a report was or was not
//! sent ([`why`], which `explain` reads). The sections they return are in
//! [`section`].

use serde_json::{Map, Value};

use crate::config::Job;
use crate::process::Output;
use crate::state::JobState;
use crate::status::python_json;

mod check;
pub mod clock;
pub mod delivery;
mod holds;
mod job_state;
mod long;
mod queue;
pub mod safety;
mod section;
pub mod why;

pub use check::{check_due, decide_check};
pub use holds::{config_alert_due, silence_until, silenced, tick_exit, TickEnd};
pub use job_state::{job_state, stalled_since, JobStateWord};
pub use long::{decide_job, plan_autorun, problem_of, progress_entries, stall_of};
pub use queue::{
    queue_due, queue_finish, queue_refuse, queue_verdict, verification_of, verification_report,
    QueueVerdict,
};
pub use section::{
    asks_attention, Action, Autorun, AutorunNote, CheckResult, JobSection, Problem, RunOutput,
    Section, StateLine,
};
#[cfg(test)]
pub use section::{Resolved, Stall};

/// Least time between two reports of the same anomaly.
pub const MIN_REMINDER_SECONDS: f64 = 900.0;
/// Characters of a command's output shown in a report or kept as a tail.
pub const TAIL_CHARS: usize = 800;

/// Seconds as the Python version prints them: `1s`, `1.5s`.
pub fn seconds_text(s: f64) -> String {
    if s.fract() == 0.0 && s.abs() < 1e15 {
        format!("{}s", s as i64)
    } else {
        format!("{s}s")
    }
}

/// The anomaly key (SPEC §5.2): JSON with sorted keys, as Python stores it.
fn anomaly_key(
    running: Value,
    completed: Value,
    stop_reason: Option<&str>,
    level: Option<&str>,
    message: Option<&str>,
    progress_key: Option<&str>,
) -> String {
    let mut m = Map::new();
    m.insert("completed".into(), completed);
    m.insert("level".into(), opt(level));
    m.insert("message".into(), opt(message));
    m.insert("progressKey".into(), opt(progress_key));
    m.insert("running".into(), running);
    m.insert("stopReason".into(), opt(stop_reason));
    python_json(&Value::Object(m))
}

fn opt(s: Option<&str>) -> Value {
    s.map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

/// Whether `key` is the anomaly reported last (a repeat, not a new one),
/// compared normalised (SPEC §11 "Identity of a repeated problem").
fn same_anomaly(prev: &JobState, key: &str) -> bool {
    prev.last_anomaly_key
        .as_deref()
        .is_some_and(|old| normalised_key(old) == normalised_key(key))
}

/// Whether an anomaly with `key` is due: new, or a reminder after
/// `max(900 s, reportEverySeconds)`.
/// Keys are compared normalised (SPEC §11 "Identity of a repeated
/// problem"), so a status error that carries a timestamp or a counter is one
/// anomaly, not a new one every minute — and a key the Python version wrote
/// matches this port's.
fn anomaly_due(job: &Job, prev: &JobState, key: &str, now: f64) -> bool {
    if !same_anomaly(prev, key) {
        return true;
    }
    why::reminder_due_at(job, prev).is_none_or(|due| now >= due)
}

/// An anomaly key as it is compared: runs of digits in `message` (and in
/// `output`, a check's first line) replaced by `#`, `level` read as SPEC §3
/// reads it. Text that is not a JSON object is compared with its digits
/// replaced.
fn normalised_key(key: &str) -> String {
    match serde_json::from_str::<Value>(key) {
        Ok(Value::Object(mut m)) => {
            for field in ["message", "output"] {
                if let Some(Value::String(s)) = m.get_mut(field) {
                    *s = digits_as_hash(s);
                }
            }
            let level = m.get("level").and_then(Value::as_str).map(level_word);
            m.insert("level".into(), Value::from(level.unwrap_or("ok")));
            python_json(&Value::Object(m))
        }
        _ => digits_as_hash(key),
    }
}

/// Every run of ASCII digits replaced by one `#`.
fn digits_as_hash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// SPEC §3's reading of a `level` (see [`Level::read`]).
fn level_word(level: &str) -> &'static str {
    crate::status::Level::read(level).as_str()
}

/// Store a run's `lastRunAt` and `lastRun` tails.
pub fn record_run(st: &mut JobState, out: &Output, now: f64) {
    st.last_run_at = Some(now);
    st.last_run = Some(Box::new(run_record(out)));
}

/// `{exitCode, durationMs, stdoutTail, stderrTail}` of a finished command.
pub fn run_record(out: &Output) -> crate::state::RunRecord {
    crate::state::RunRecord {
        exit_code: Some(out.exit_code() as i64),
        duration_ms: Some(out.duration.as_millis() as u64),
        stdout_tail: crate::text::tail(&out.stdout, TAIL_CHARS),
        stderr_tail: crate::text::tail(&out.stderr, TAIL_CHARS),
        at: None,
        by: None,
        approval: None,
        extra: Map::new(),
    }
}

#[cfg(test)]
use section::JobOutcome;
#[cfg(test)]
mod tests;
