//! Long jobs (SPEC §5.1–§5.3): stall detection, anomalies, automatic resume
//! and when a job's section is reported.

use serde_json::Value;

use super::section::{Autorun, AutorunNote, JobOutcome, JobSection, StateLine};
use super::{anomaly_due, anomaly_key, safety, seconds_text};
use crate::clock::Clock;
use crate::config::Job;
use crate::pyjson::PyValue;
use crate::state::{JobState, LastSeen};
use crate::status::{Level, Observation, Progress, Status};

/// SPEC §5.2: should `tick` start this paused job? `None` when nothing is to
/// be said (not paused, autoResume off, status unknown).
pub fn plan_autorun(job: &Job, obs: &Observation, prev: &JobState, now: f64) -> Option<Autorun> {
    // An unknown status never starts anything: the job may well be running.
    let Observation::Known(s) = obs else {
        return None;
    };
    if s.running || s.completed || !job.policy.auto_resume {
        return None;
    }
    if !safety::tick_may_start(job) {
        return Some(Autorun::Blocked);
    }
    if let Some(last) = prev.last_auto_resume_at {
        if now - last < job.policy.auto_resume_backoff_seconds {
            return Some(Autorun::Suppressed);
        }
    }
    Some(Autorun::Start)
}

/// The progress a report shows, the Python way: the first 6 keys in sorted
/// order, then the values among them that are not a list or an object.
pub fn progress_entries(progress: Option<&Progress>) -> Vec<(String, PyValue)> {
    let Some(p) = progress else {
        return Vec::new();
    };
    p.iter()
        .take(6)
        .filter(|(_, v)| v.is_scalar())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// SPEC §5.1–§5.3 for one enabled long job: new state and, if it is to be
/// reported, its section. `note` is what automatic resume did this tick.
pub fn decide_job(
    job: &Job,
    obs: &Observation,
    prev: &JobState,
    clock: &Clock,
    note: Option<AutorunNote>,
    silenced: bool,
) -> JobOutcome {
    match obs {
        Observation::Known(s) => decide_known(job, s, prev, clock, note, silenced),
        Observation::Unknown(msg) => decide_unknown(job, msg, prev, clock, silenced),
    }
}

fn decide_unknown(
    job: &Job,
    msg: &str,
    prev: &JobState,
    clock: &Clock,
    silenced: bool,
) -> JobOutcome {
    let now = clock.now;
    let mut st = prev.clone();
    // lastSeen keeps the last known state; only the flag says we lost sight.
    let mut seen = prev.last_seen.clone().unwrap_or_default();
    seen.unknown = true;
    st.last_seen = Some(seen);
    let key = anomaly_key(
        Value::Null,
        Value::Null,
        Some("unknown"),
        Some("alert"),
        Some(msg),
        None,
    );
    let report = !silenced && anomaly_due(job, prev, &key, now);
    if !report {
        return JobOutcome {
            state: st,
            section: None,
        };
    }
    st.last_report_at = Some(now);
    st.last_anomaly_key = Some(key);
    st.last_anomaly_report_at = Some(now);
    let section = JobSection {
        name: job.name.clone(),
        id: job.id.clone(),
        kind: job.kind,
        state: StateLine::Unknown,
        level: None,
        message: Some(msg.to_string()),
        progress: Vec::new(),
        action_required: true,
        autorun: None,
    };
    JobOutcome {
        state: st,
        section: Some(section),
    }
}

fn decide_known(
    job: &Job,
    s: &Status,
    prev: &JobState,
    clock: &Clock,
    note: Option<AutorunNote>,
    silenced: bool,
) -> JobOutcome {
    let now = clock.now;
    let policy = &job.policy;
    let mut st = prev.clone();

    // §5.1 stall detection.
    let mut stalled = false;
    if s.running {
        if let Some(key) = &s.progress_key {
            if st.last_progress_key.as_ref() != Some(key) || st.last_progress_at.is_none() {
                st.last_progress_key = Some(key.clone());
                st.last_progress_at = Some(now);
            } else {
                stalled = super::stalled_since(job, Some(key), &st, now).is_some();
            }
        }
    }

    let paused = !s.running && !s.completed;
    let level_alert = s.level == Some(Level::Alert);
    let anomaly = paused || stalled || level_alert;
    let (eff_level, eff_message) =
        if stalled {
            (
                Some("alert"),
                Some(s.message.clone().unwrap_or_else(|| {
                    format!("stalled >= {}", seconds_text(policy.stall_seconds))
                })),
            )
        } else {
            (s.level.map(Level::as_str), s.message.clone())
        };
    let key = anomaly_key(
        Value::Bool(s.running),
        Value::Bool(s.completed),
        s.stop_reason.as_deref(),
        eff_level,
        eff_message.as_deref(),
        s.progress_key.as_deref(),
    );

    // What changed since the last tick.
    let level_now = s
        .level
        .filter(|l| *l != Level::Ok)
        .map(|l| l.as_str().to_string());
    let state_changed = match &prev.last_seen {
        None => true,
        Some(seen) => {
            seen.running != s.running
                || seen.completed != s.completed
                || seen.unknown
                || seen.level != level_now
        }
    };
    let completed_due = s.completed && prev.reported_completed != Some(true);
    let progress_changed = prev.last_reported_progress_key != s.progress_key;
    let routine_due = s.running
        && policy.report_while_running
        && now - prev.last_report_at.unwrap_or(0.0) >= policy.report_every_seconds
        && (progress_changed || !policy.only_on_change);
    let is_anomaly_due = anomaly && anomaly_due(job, prev, &key, now);
    let autorun_due = note.is_some_and(AutorunNote::is_action);
    let quiet = policy.quiet_hours.contains(clock.minute_of_day);

    let report = !silenced
        && (is_anomaly_due
            || autorun_due
            || (!quiet && (state_changed || completed_due || routine_due)));

    if note.is_some_and(AutorunNote::attempted_start) {
        st.last_auto_resume_at = Some(now);
    }
    if !s.completed {
        st.reported_completed = None;
    }
    if !anomaly {
        st.last_anomaly_key = None;
        st.last_anomaly_report_at = None;
    }
    st.last_seen = Some(LastSeen {
        running: s.running,
        completed: s.completed,
        progress_key: s.progress_key.clone(),
        stop_reason: s.stop_reason.clone(),
        level: level_now,
        unknown: false,
        extra: prev
            .last_seen
            .as_ref()
            .map(|l| l.extra.clone())
            .unwrap_or_default(),
    });

    if !report {
        return JobOutcome {
            state: st,
            section: None,
        };
    }
    st.last_report_at = Some(now);
    st.last_reported_progress_key = s.progress_key.clone();
    if s.completed {
        st.reported_completed = Some(true);
    }
    if anomaly {
        st.last_anomaly_key = Some(key);
        st.last_anomaly_report_at = Some(now);
    }
    let state_line = if s.completed {
        StateLine::Completed
    } else if s.running {
        StateLine::Running { pid: s.pid }
    } else {
        StateLine::Paused {
            stop_reason: s.stop_reason.clone(),
        }
    };
    let section = JobSection {
        name: job.name.clone(),
        id: job.id.clone(),
        kind: job.kind,
        state: state_line,
        level: s.level.filter(|l| *l != Level::Ok),
        message: eff_message,
        progress: progress_entries(s.progress.as_ref()),
        action_required: anomaly && !s.completed,
        autorun: note,
    };
    JobOutcome {
        state: st,
        section: Some(section),
    }
}
