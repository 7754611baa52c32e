//! The decision rules of a tick (SPEC §5.1–§5.5) as pure functions: they
//! take the config, the previous state, what the commands did and the clock,
//! and return the new state and the report sections. No processes, files or
//! clock reads here — `tick` does those and asks these functions what to do.

use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::config::{Job, Kind, Risk};
use crate::process::{Ending, Output};
use crate::state::{JobState, LastSeen, QueueItem, QueueStatus};
use crate::status::{python_json, Level, Observation, Status};

/// Least time between two reports of the same anomaly.
pub const MIN_REMINDER_SECONDS: f64 = 900.0;
/// Characters of a command's output shown in a report or kept as a tail.
pub const TAIL_CHARS: usize = 800;

/// What automatic resume decides for a paused job (SPEC §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autorun {
    /// Run `start` now.
    Start,
    /// Would run `start`, but this is a dry run.
    WouldStart,
    /// Inside the backoff since the last automatic start.
    Suppressed,
    /// autoResume is on but the job's risk is not `read_only`.
    Blocked,
}

/// The AUTORUN line of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutorunNote {
    Started,
    StartFailed(i32),
    StartTimedOut,
    WouldStart,
    Suppressed,
    Blocked,
}

impl AutorunNote {
    /// What the start command did, as a note.
    pub fn from_start(out: &Output) -> AutorunNote {
        match out.ending {
            Ending::Exited(0) => AutorunNote::Started,
            Ending::TimedOut => AutorunNote::StartTimedOut,
            _ => AutorunNote::StartFailed(out.exit_code()),
        }
    }

    /// Notes that did something (or would have) are reported on their own;
    /// `suppressed` and `blocked` only ride along.
    fn is_action(self) -> bool {
        !matches!(self, AutorunNote::Suppressed | AutorunNote::Blocked)
    }

    fn attempted_start(self) -> bool {
        matches!(
            self,
            AutorunNote::Started | AutorunNote::StartFailed(_) | AutorunNote::StartTimedOut
        )
    }
}

/// The state line of a job section.
#[derive(Debug, Clone, PartialEq)]
pub enum StateLine {
    Completed,
    Running {
        pid: Option<i64>,
    },
    Paused {
        stop_reason: Option<String>,
    },
    /// The status could not be read.
    Unknown,
}

/// A long job's section, language-neutral (rendered by `report`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSection {
    pub name: String,
    pub id: String,
    pub kind: Kind,
    pub state: StateLine,
    /// `warn` / `alert` asked for by the status.
    pub level: Option<Level>,
    pub message: Option<String>,
    /// At most 6 scalar entries, sorted by key.
    pub progress: Vec<(String, Value)>,
    pub action_required: bool,
    pub autorun: Option<AutorunNote>,
}

/// How a scheduled read check or a queued job ended, for its section.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckResult {
    /// Exit 0 but the output asks for attention.
    Attention,
    /// Nagios: 1 warning, 2 critical, 3 unknown, other non-zero failed.
    Exit(i32),
    TimedOut(u64),
    FailedToStart(String),
    Signaled(i32),
    Recovered,
}

/// One section of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    Job(JobSection),
    /// A scheduled `one_shot_read` (SPEC §5.5).
    Check {
        name: String,
        id: String,
        result: CheckResult,
        output: String,
    },
    QueueMissing {
        job_id: String,
    },
    QueueBlocked {
        job_id: String,
        kind: Kind,
        risk: Risk,
    },
    /// A queued job that succeeded and printed `ACTION REQUIRED` / `ALERT`.
    QueueOutput {
        name: String,
        id: String,
        output: String,
    },
    QueueFailed {
        name: String,
        id: String,
        exit: i32,
        error: Option<String>,
    },
    /// Dry run: a queued or scheduled job that would run.
    WouldRun {
        name: String,
        id: String,
    },
    ConfigInvalid {
        path: String,
        error: String,
    },
    StateCorrupt {
        detail: String,
    },
}

/// The decision for one long job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub state: JobState,
    pub section: Option<JobSection>,
}

/// SPEC §5.2: should `tick` start this paused job? `None` when nothing is to
/// be said (not paused, autoResume off, status unknown).
pub fn plan_autorun(
    job: &Job,
    obs: &Observation,
    prev: &JobState,
    now: f64,
    dry_run: bool,
) -> Option<Autorun> {
    // An unknown status never starts anything: the job may well be running.
    let Observation::Known(s) = obs else {
        return None;
    };
    if s.running || s.completed || !job.policy.auto_resume || job.kind != Kind::LongRunningRead {
        return None;
    }
    if job.risk != Risk::ReadOnly {
        return Some(Autorun::Blocked);
    }
    if let Some(last) = prev.last_auto_resume_at {
        if now - last < job.policy.auto_resume_backoff_seconds {
            return Some(Autorun::Suppressed);
        }
    }
    Some(if dry_run {
        Autorun::WouldStart
    } else {
        Autorun::Start
    })
}

/// Seconds as the Python version prints them: `1s`, `1.5s`.
fn seconds_text(s: f64) -> String {
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

/// Whether an anomaly with `key` is due: new, or a reminder after
/// `max(900 s, reportEverySeconds)`.
fn anomaly_due(job: &Job, prev: &JobState, key: &str, now: f64) -> bool {
    if prev.last_anomaly_key.as_deref() != Some(key) {
        return true;
    }
    let every = MIN_REMINDER_SECONDS.max(job.policy.report_every_seconds);
    match prev.last_anomaly_report_at {
        Some(at) => now - at >= every,
        None => true,
    }
}

/// At most six scalar progress entries, sorted by key.
pub fn progress_entries(progress: Option<&Map<String, Value>>) -> Vec<(String, Value)> {
    let Some(p) = progress else {
        return Vec::new();
    };
    p.iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .take(6)
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
            } else if policy.stall_seconds > 0.0 {
                let since = now - st.last_progress_at.unwrap_or(now);
                stalled = since >= policy.stall_seconds;
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

/// Whether output asks a person for attention.
pub fn asks_attention(out: &Output) -> bool {
    let has = |t: &str| t.contains("ACTION REQUIRED") || t.contains("ALERT");
    has(&out.stdout) || has(&out.stderr)
}

/// The output to show in a section: stdout, else stderr, trimmed, first 800 characters.
pub fn shown_output(out: &Output) -> String {
    let text = if out.stdout.trim().is_empty() {
        out.stderr.trim()
    } else {
        out.stdout.trim()
    };
    text.chars().take(TAIL_CHARS).collect()
}

fn check_result(out: &Output) -> Option<CheckResult> {
    match &out.ending {
        Ending::Exited(0) if asks_attention(out) => Some(CheckResult::Attention),
        Ending::Exited(0) => None,
        Ending::Exited(c) => Some(CheckResult::Exit(*c)),
        Ending::TimedOut => Some(CheckResult::TimedOut(
            out.duration.as_secs_f64().round() as u64
        )),
        Ending::FailedToStart(why) => Some(CheckResult::FailedToStart(why.clone())),
        Ending::Signaled(s) => Some(CheckResult::Signaled(*s)),
        Ending::Interrupted => None,
    }
}

/// SPEC §5.5: is this enabled `one_shot_read` due to run by its schedule?
pub fn check_due(job: &Job, prev: &JobState, now: f64) -> bool {
    let Some(every) = job.policy.every_seconds else {
        return false;
    };
    job.enabled
        && job.kind == Kind::OneShotRead
        && job.risk == Risk::ReadOnly
        && prev.last_run_at.is_none_or(|at| now - at >= every)
}

/// SPEC §5.5: what a scheduled read check's run means. Reported on failure
/// or attention (a repeat only after the reminder interval), and once on
/// recovery. Quiet hours never hold these back.
pub fn decide_check(
    job: &Job,
    prev: &JobState,
    out: &Output,
    now: f64,
    silenced: bool,
) -> (JobState, Option<Section>) {
    let mut st = prev.clone();
    record_run(&mut st, out, now);
    let output = shown_output(out);
    let result = match check_result(out) {
        Some(r) => r,
        None => {
            let was_failing = prev.last_anomaly_key.is_some();
            st.last_anomaly_key = None;
            st.last_anomaly_report_at = None;
            if was_failing && !silenced {
                st.last_report_at = Some(now);
                let section = Section::Check {
                    name: job.name.clone(),
                    id: job.id.clone(),
                    result: CheckResult::Recovered,
                    output,
                };
                return (st, Some(section));
            }
            return (st, None);
        }
    };
    let mut m = Map::new();
    m.insert("check".into(), Value::String(format!("{result:?}")));
    m.insert("output".into(), Value::String(output.clone()));
    let key = python_json(&Value::Object(m));
    if silenced || !anomaly_due(job, prev, &key, now) {
        return (st, None);
    }
    st.last_report_at = Some(now);
    st.last_anomaly_key = Some(key);
    st.last_anomaly_report_at = Some(now);
    let section = Section::Check {
        name: job.name.clone(),
        id: job.id.clone(),
        result,
        output,
    };
    (st, Some(section))
}

/// Store a run's `lastRunAt` and `lastRun` tails.
pub fn record_run(st: &mut JobState, out: &Output, now: f64) {
    st.last_run_at = Some(now);
    st.last_run = Some(run_record(out));
}

/// `{exitCode, durationMs, stdoutTail, stderrTail}` of a finished command.
pub fn run_record(out: &Output) -> crate::state::RunRecord {
    crate::state::RunRecord {
        exit_code: Some(out.exit_code() as i64),
        duration_ms: Some(out.duration.as_millis() as u64),
        stdout_tail: crate::text::tail(&out.stdout, TAIL_CHARS),
        stderr_tail: crate::text::tail(&out.stderr, TAIL_CHARS),
        extra: Map::new(),
    }
}

/// What to do with a due queue item (SPEC §5.4).
#[derive(Debug, Clone, PartialEq)]
pub enum QueueVerdict<'a> {
    Missing,
    Blocked(&'a Job),
    Run(&'a Job),
}

/// Items with status pending or running whose `notBefore` has passed.
pub fn queue_due(item: &QueueItem, now: f64) -> bool {
    matches!(item.status, QueueStatus::Pending | QueueStatus::Running) && item.not_before <= now
}

/// Only `one_shot_read` jobs with `read_only` risk ever run from the queue.
pub fn queue_verdict<'a>(item: &QueueItem, jobs: &'a [Job]) -> QueueVerdict<'a> {
    match jobs.iter().find(|j| j.id == item.job_id) {
        None => QueueVerdict::Missing,
        Some(j) if j.kind == Kind::OneShotRead && j.risk == Risk::ReadOnly => QueueVerdict::Run(j),
        Some(j) => QueueVerdict::Blocked(j),
    }
}

/// Apply a verdict that needs no run (missing, blocked) to the item.
pub fn queue_refuse(item: &mut QueueItem, verdict: &QueueVerdict, now: f64) -> Section {
    item.status = QueueStatus::Blocked;
    item.last_run_at = Some(now);
    match verdict {
        QueueVerdict::Blocked(job) => {
            item.last_error = Some(format!(
                "blocked: {} with risk {} never runs from the queue",
                job.kind.as_str(),
                job.risk.as_str()
            ));
            Section::QueueBlocked {
                job_id: job.id.clone(),
                kind: job.kind,
                risk: job.risk,
            }
        }
        _ => {
            item.last_error = Some("job not in config".into());
            Section::QueueMissing {
                job_id: item.job_id.clone(),
            }
        }
    }
}

/// Record a queue run on the item; the section to report, if any.
pub fn queue_finish(item: &mut QueueItem, job: &Job, out: &Output, now: f64) -> Option<Section> {
    item.attempt += 1;
    item.last_run_at = Some(now);
    item.exit_code = Some(out.exit_code() as i64);
    item.stdout_tail = Some(crate::text::tail(&out.stdout, TAIL_CHARS));
    item.stderr_tail = Some(crate::text::tail(&out.stderr, TAIL_CHARS));
    let error = (!out.success()).then(|| out.describe().to_string());
    item.last_error = error.clone();
    if out.success() {
        item.status = QueueStatus::Done;
        asks_attention(out).then(|| Section::QueueOutput {
            name: job.name.clone(),
            id: job.id.clone(),
            output: shown_output(out),
        })
    } else if out.ending == Ending::Interrupted {
        // Left pending: the next tick runs it again.
        item.status = QueueStatus::Pending;
        None
    } else {
        item.status = QueueStatus::Failed;
        Some(Section::QueueFailed {
            name: job.name.clone(),
            id: job.id.clone(),
            exit: out.exit_code(),
            error: error.filter(|_| !matches!(out.ending, Ending::Exited(_))),
        })
    }
}

#[cfg(test)]
mod tests;
