//! Long jobs (SPEC §5.1–§5.3): stall detection, problems (anomalies),
//! automatic resume, held jobs, RESOLVED, and when a job's section is
//! reported — each decision with the rule that made it ([`super::why`]).

use serde_json::{Map, Value};

use super::section::{
    Action, Autorun, AutorunNote, JobOutcome, JobSection, Problem, Resolved, Stall, StateLine,
};
use super::why::{self, Rule};
use super::{anomaly_due, anomaly_key, safety, same_anomaly, seconds_text};
use crate::clock::Clock;
use crate::config::Job;
use crate::pyjson::PyValue;
use crate::state::{JobState, LastSeen, ProblemRecord};
use crate::status::{Level, Observation, Progress, Status};

/// SPEC §5.2: should `tick` start this paused job? `None` when nothing is to
/// be said (not paused, autoResume off, status unknown).
pub fn plan_autorun(job: &Job, obs: &Observation, prev: &JobState, now: f64) -> Option<Autorun> {
    // An unknown status never starts anything: the job may well be running.
    let Observation::Known(s) = obs else {
        return None;
    };
    // A job stopped by hand stays stopped until `start JOB`; a start by hand
    // under way is not doubled (SPEC §5.2).
    if s.running
        || s.completed
        || !job.policy.auto_resume
        || prev.hold.is_some()
        || start_under_way(prev, now)
    {
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

/// Whether a `start` by a person was recorded less than its time limit (plus
/// the 5 s stop grace) ago and has no recorded end.
fn start_under_way(prev: &JobState, now: f64) -> bool {
    prev.start_in_progress
        .as_ref()
        .is_some_and(|p| now < p.at + p.limit + 5.0)
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

/// The progress key the last routine report showed: `lastReportedProgressKey`
/// (`""`: none) — unless the Python version wrote the state, or reported
/// since this port's last decision (it keeps the key but does not update
/// it); then the key it last saw, as it reports every progress change it
/// sees.
fn reported_progress_key(prev: &JobState) -> Option<&str> {
    let python_reported_since = match (prev.last_report_at, &prev.last_decision) {
        (Some(report), Some(d)) => report > d.at,
        _ => false,
    };
    match prev.last_reported_progress_key.as_deref() {
        Some(_) if python_reported_since => prev
            .last_seen
            .as_ref()
            .and_then(|l| l.progress_key.as_deref()),
        Some("") => None,
        Some(k) => Some(k),
        None => prev
            .last_seen
            .as_ref()
            .and_then(|l| l.progress_key.as_deref()),
    }
}

/// SPEC §5.1: the stall a status shows against the stored progress — the
/// same progress key for `stallSeconds` or longer while running — if any.
pub fn stall_of(job: &Job, prev: &JobState, s: &Status, now: f64) -> Option<Stall> {
    if !s.running {
        return None;
    }
    let since = super::stalled_since(job, s.progress_key.as_deref(), prev, now)?;
    Some(Stall {
        since,
        for_seconds: now - since,
        threshold: job.policy.stall_seconds,
    })
}

/// The problem recorded in `st`, or — for a state written before problems
/// were recorded (the Python version's) — read from its anomaly key.
pub fn problem_of(st: &JobState) -> Option<Problem> {
    if let Some(p) = st.problem.as_ref().and_then(|p| Problem::parse(&p.kind)) {
        return Some(p);
    }
    let key: Value = serde_json::from_str(st.last_anomaly_key.as_deref()?).ok()?;
    let message = key.get("message").and_then(Value::as_str).unwrap_or("");
    Some(
        if key.get("stopReason").and_then(Value::as_str) == Some("unknown")
            && key.get("running").is_some_and(Value::is_null)
        {
            Problem::Unknown
        } else if key.get("running") == Some(&Value::Bool(false))
            && key.get("completed") == Some(&Value::Bool(false))
        {
            Problem::Paused
        } else if message.starts_with("stalled >= ") {
            Problem::Stalled
        } else {
            Problem::LevelAlert
        },
    )
}

/// The problem record for this tick: kept while the kind stays the same,
/// else started at `since`. A state written before problems were recorded
/// (the Python version's) that holds a reported anomaly has lasted at least
/// since that report.
fn record_problem(st: &mut JobState, prev: &JobState, problem: Problem, since: f64) {
    let since = match (&prev.problem, &prev.last_anomaly_key) {
        (None, Some(_)) => prev.last_anomaly_report_at.map_or(since, |t| t.min(since)),
        _ => since,
    };
    st.problem = match &prev.problem {
        Some(p) if p.kind == problem.as_str() => Some(p.clone()),
        _ => Some(ProblemRecord {
            kind: problem.as_str().to_string(),
            since,
            alerted: false,
            extra: Map::new(),
        }),
    };
}

/// How long the problem recorded in `st` has lasted at `now`.
fn problem_age(st: &JobState, now: f64) -> Option<f64> {
    st.problem.as_ref().map(|p| (now - p.since).max(0.0))
}

/// How long the problem of `prev` has lasted at `now` — for a state the
/// Python version wrote (no problem recorded), a stall since the last
/// progress change, anything else since it was reported.
fn problem_age_of(prev: &JobState, problem: Problem, now: f64) -> Option<f64> {
    problem_age(prev, now).or_else(|| {
        let since = match problem {
            Problem::Stalled => prev.last_progress_at.or(prev.last_anomaly_report_at),
            _ => prev.last_anomaly_report_at,
        }?;
        Some((now - since).max(0.0))
    })
}

/// SPEC §5.1–§5.3 for one enabled long job: new state and, if it is to be
/// reported, its section. `note` is what automatic resume did this tick;
/// `silence` is when a silence of the job ends, if one holds now. The new
/// state's `lastDecision` says why.
pub fn decide_job(
    job: &Job,
    obs: &Observation,
    prev: &JobState,
    clock: &Clock,
    note: Option<AutorunNote>,
    silence: Option<f64>,
) -> JobOutcome {
    match obs {
        Observation::Known(s) => decide_known(job, s, prev, clock, note, silence),
        Observation::Unknown(msg) => decide_unknown(job, msg, prev, clock, silence),
    }
}

fn decide_unknown(
    job: &Job,
    msg: &str,
    prev: &JobState,
    clock: &Clock,
    silence: Option<f64>,
) -> JobOutcome {
    let now = clock.now;
    let mut st = prev.clone();
    // lastSeen keeps the last known state; only the flag says we lost sight.
    // (Never seen: nothing is known, nothing is made up.)
    if let Some(seen) = &mut st.last_seen {
        seen.unknown = true;
    }
    record_problem(&mut st, prev, Problem::Unknown, now);
    // The key the Python version writes for a status it could not read (it
    // takes the job for paused, with `level: alert` and the reason as its
    // message), so a switch in either direction is not a new anomaly.
    let key = anomaly_key(
        Value::Bool(false),
        Value::Bool(false),
        None,
        Some("alert"),
        Some(msg),
        None,
    );
    let repeat = same_anomaly(prev, &key);
    let (reported, rule, until) = if silence.is_some() {
        (false, Rule::Silence, silence)
    } else if anomaly_due(job, prev, &key, now) {
        (
            true,
            if repeat {
                Rule::Reminder
            } else {
                Rule::Problem
            },
            None,
        )
    } else {
        (false, Rule::ReminderNotDue, why::reminder_due_at(job, prev))
    };
    st.last_decision = Some(why::decision(now, reported, rule, until));
    if !reported {
        return JobOutcome {
            state: st,
            section: None,
        };
    }
    st.last_report_at = Some(now);
    st.last_anomaly_key = Some(key);
    st.last_anomaly_report_at = Some(now);
    st.change_held_at = None;
    let last_known = prev.last_seen.as_ref().map(|s| {
        if s.completed {
            "completed"
        } else if s.running {
            "running"
        } else {
            "paused"
        }
    });
    if let Some(p) = &mut st.problem {
        p.alerted = true;
    }
    let section = JobSection {
        name: job.name.clone(),
        id: job.id.clone(),
        kind: job.kind,
        state: StateLine::Unknown { last_known },
        stall: None,
        level: None,
        message: Some(msg.to_string()),
        progress: Vec::new(),
        anomaly: false,
        actions: vec![Action::Unknown {
            reason: msg.to_string(),
        }],
        reminder: repeat.then(|| problem_age(&st, now)).flatten(),
        autorun: None,
        resolved: None,
    };
    JobOutcome {
        state: st,
        section: Some(section),
    }
}

/// The reason an automatic start failed, for its ALERT line: the last three
/// non-empty lines of its stderr, else of its stdout.
fn start_failure_reason(st: &JobState, note: AutorunNote) -> String {
    let last_lines = |text: &str| {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        lines[lines.len().saturating_sub(3)..].join(" / ")
    };
    let rec = st.last_start.as_ref();
    let from = |f: fn(&crate::state::RunRecord) -> &String| {
        rec.map(|r| last_lines(f(r))).filter(|t| !t.is_empty())
    };
    from(|r| &r.stderr_tail)
        .or_else(|| from(|r| &r.stdout_tail))
        .unwrap_or_else(|| match note {
            AutorunNote::StartTimedOut => "timed out, no output".to_string(),
            AutorunNote::StartError => "the command could not be started".to_string(),
            AutorunNote::StartFailed(code) => format!("exit={code}, no output"),
            _ => "no output".to_string(),
        })
}

fn decide_known(
    job: &Job,
    s: &Status,
    prev: &JobState,
    clock: &Clock,
    note: Option<AutorunNote>,
    silence: Option<f64>,
) -> JobOutcome {
    let now = clock.now;
    let policy = &job.policy;
    let mut st = prev.clone();
    let hold = prev.hold.as_ref().map(|h| h.at);

    // §5.1 stall detection.
    let stall = stall_of(job, prev, s, now);
    let stalled = stall.is_some();
    let was_running = prev.last_seen.as_ref().is_none_or(|l| l.running);
    if s.running && !stalled {
        if let Some(key) = &s.progress_key {
            if st.last_progress_key.as_ref() != Some(key)
                || st.last_progress_at.is_none()
                || !was_running
            {
                st.last_progress_key = Some(key.clone());
                st.last_progress_at = Some(now);
            }
        }
    }

    let paused = !s.running && !s.completed;
    let level_alert = s.level == Some(Level::Alert);
    // A job stopped by hand is meant to be paused: not a problem.
    let problem = if stalled {
        Some(Problem::Stalled)
    } else if paused && hold.is_none() {
        Some(Problem::Paused)
    } else if level_alert {
        Some(Problem::LevelAlert)
    } else {
        None
    };
    let anomaly = problem.is_some();
    let (eff_level, eff_message) =
        if stalled {
            (
                Some("alert"),
                Some(s.message.clone().unwrap_or_else(|| {
                    format!("stalled >= {}", seconds_text(policy.stall_seconds))
                })),
            )
        } else {
            // The level as the status wrote it: the Python version's key.
            (s.level_text.as_deref(), s.message.clone())
        };
    // Only an anomaly has a key (and only then is it written or compared).
    let key = if anomaly {
        anomaly_key(
            Value::Bool(s.running),
            Value::Bool(s.completed),
            s.stop_reason.as_deref(),
            eff_level,
            eff_message.as_deref(),
            s.progress_key.as_deref(),
        )
    } else {
        String::new()
    };

    // What changed since the last tick.
    let level_now = s.level.unwrap_or(Level::Ok);
    let state_changed = match &prev.last_seen {
        None => true,
        Some(seen) => {
            seen.running != s.running
                || seen.completed != s.completed
                || seen.unknown
                // A lastSeen without `level` was written by the Python
                // version, which does not track it: no change to report.
                || seen
                    .level
                    .as_deref()
                    .is_some_and(|l| Level::read(l) != level_now)
        }
    } || prev.change_held_at.is_some();
    // A `reportedCompleted` left from an earlier completion (the Python
    // version never clears it; this port does once the job runs again)
    // does not swallow a new one.
    let completion_reported = prev.reported_completed == Some(true)
        && prev.last_seen.as_ref().is_none_or(|l| l.completed);
    let completed_due = s.completed && !completion_reported;
    let progress_changed = reported_progress_key(prev) != s.progress_key.as_deref();
    let cadence_due = now >= why::cadence_due_at(job, prev);
    // SPEC §5.3: every reportEverySeconds, when progress changed since the
    // last report, or the status carries none (the periodic "still
    // running"), or onlyOnChange is off; reportEverySeconds 0: no periodic
    // report — every progress change with onlyOnChange, nothing without.
    let routine_due = s.running
        && policy.report_while_running
        && if policy.report_every_seconds == 0.0 {
            policy.only_on_change && s.progress_key.is_some() && progress_changed
        } else {
            cadence_due && (progress_changed || s.progress_key.is_none() || !policy.only_on_change)
        };
    let is_anomaly_due = anomaly && anomaly_due(job, prev, &key, now);
    let repeat = anomaly && same_anomaly(prev, &key);
    let autorun_due = note.is_some_and(AutorunNote::is_action);
    let quiet_until = why::quiet_until(&policy.quiet_hours, clock);
    // A reported problem that is over — unless a hold is what ended it.
    // A state without a problem record (the Python version's) said
    // ACTION REQUIRED with every anomaly.
    let alerted = prev.problem.as_ref().is_none_or(|p| p.alerted);
    let resolved =
        if anomaly || !alerted || prev.last_anomaly_key.is_none() || (paused && hold.is_some()) {
            None
        } else {
            problem_of(prev).map(|problem| Resolved {
                problem,
                after: problem_age_of(prev, problem, now),
            })
        };
    let change_due = state_changed || completed_due;

    let (reported, rule, until) = if silence.is_some() {
        (false, Rule::Silence, silence)
    } else if is_anomaly_due {
        let rule = if repeat {
            Rule::Reminder
        } else {
            Rule::Problem
        };
        (true, rule, None)
    } else if resolved.is_some() {
        (true, Rule::Resolved, None)
    } else if autorun_due {
        (true, Rule::Autorun, None)
    } else if (change_due || routine_due) && quiet_until.is_some() {
        (false, Rule::QuietHours, quiet_until)
    } else if state_changed {
        (true, Rule::StateChange, None)
    } else if completed_due {
        (true, Rule::Completed, None)
    } else if routine_due {
        (true, Rule::Progress, None)
    } else if anomaly && note == Some(AutorunNote::Suppressed) {
        (false, Rule::Backoff, why::backoff_until(job, prev))
    } else if anomaly {
        (false, Rule::ReminderNotDue, why::reminder_due_at(job, prev))
    } else if paused && hold.is_some() {
        (false, Rule::Hold, None)
    } else if quiet_until.is_some() {
        // Whatever routine comes next waits for the end of the window.
        (false, Rule::QuietHours, quiet_until)
    } else if s.running && !policy.report_while_running {
        (false, Rule::ReportWhileRunningOff, None)
    } else if s.running && !cadence_due {
        (
            false,
            Rule::CadenceNotDue,
            Some(why::cadence_due_at(job, prev)),
        )
    } else if s.running && policy.only_on_change && !progress_changed {
        (false, Rule::OnlyOnChange, None)
    } else {
        (false, Rule::NothingNew, None)
    };

    if note.is_some_and(AutorunNote::attempted_start) {
        st.last_auto_resume_at = Some(now);
    }
    if !s.completed || !completion_reported {
        st.reported_completed = None;
    }
    match problem {
        Some(p) => {
            let since = if p == Problem::Stalled {
                st.last_progress_at.unwrap_or(now)
            } else {
                now
            };
            record_problem(&mut st, prev, p, since);
        }
        // A RESOLVED held back by a silence is kept to be said later.
        None if resolved.is_some() && !reported => {}
        None => {
            st.problem = None;
            st.last_anomaly_key = None;
            st.last_anomaly_report_at = None;
        }
    }
    // A routine change held back is said when the window or silence ends.
    if change_due && !reported && matches!(rule, Rule::QuietHours | Rule::Silence) {
        st.change_held_at.get_or_insert(now);
    }
    st.last_seen = Some(LastSeen {
        running: s.running,
        completed: s.completed,
        progress_key: s.progress_key.clone(),
        stop_reason: s.stop_reason.clone(),
        // Always written, so a lastSeen without it is known to be the
        // Python version's.
        level: Some(level_now.as_str().to_string()),
        unknown: false,
        extra: prev
            .last_seen
            .as_ref()
            .map(|l| l.extra.clone())
            .unwrap_or_default(),
    });
    st.last_decision = Some(why::decision(now, reported, rule, until));
    // Kept as this port reads it, so later ticks no longer guess.
    st.last_reported_progress_key =
        Some(reported_progress_key(prev).unwrap_or_default().to_string());

    if !reported {
        return JobOutcome {
            state: st,
            section: None,
        };
    }
    st.last_report_at = Some(now);
    // "" = reported without progress; absent = a state the Python version
    // wrote (see `reported_progress_key`).
    st.last_reported_progress_key = Some(s.progress_key.clone().unwrap_or_default());
    st.change_held_at = None;
    if s.completed {
        st.reported_completed = Some(true);
    }
    if anomaly {
        st.last_anomaly_key = Some(key);
        st.last_anomaly_report_at = Some(now);
    }
    let state_line = match hold {
        Some(since) if paused => StateLine::Held { since },
        _ if s.completed => StateLine::Completed,
        _ if s.running => StateLine::Running { pid: s.pid },
        _ => StateLine::Paused {
            stop_reason: s.stop_reason.clone(),
        },
    };
    let mut actions = Vec::new();
    if level_alert {
        actions.push(Action::Alert {
            message: s.message.clone(),
        });
    }
    if let Some(stall) = stall {
        actions.push(Action::Stalled {
            for_seconds: stall.for_seconds,
        });
    }
    if problem == Some(Problem::Paused) {
        match note {
            None if job.policy.auto_resume => actions.push(Action::NotStartedThisTick),
            None => actions.push(Action::StartIt),
            Some(n) if n.start_failed() => actions.push(Action::StartFailed {
                reason: start_failure_reason(&st, n),
            }),
            Some(AutorunNote::Suppressed) => actions.push(Action::Backoff {
                next_at: why::backoff_until(job, &st).unwrap_or(now),
            }),
            Some(AutorunNote::Blocked) => actions.push(Action::StartByHand),
            Some(_) => {}
        }
    }
    if let Some(p) = st.problem.as_mut().filter(|_| !actions.is_empty()) {
        p.alerted = true;
    }
    let section = JobSection {
        name: job.name.clone(),
        id: job.id.clone(),
        kind: job.kind,
        state: state_line,
        stall,
        level: s.level.filter(|l| *l != Level::Ok),
        message: s.message.clone(),
        progress: progress_entries(s.progress.as_ref()),
        anomaly: anomaly && !s.completed,
        actions,
        reminder: repeat.then(|| problem_age(&st, now)).flatten(),
        autorun: note,
        resolved,
    };
    JobOutcome {
        state: st,
        section: Some(section),
    }
}
