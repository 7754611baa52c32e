//! `explain JOB` (SPEC §9, §11 "What explain reads"): why the last tick did
//! or did not report a job, and what would make the next one report it.
//!
//! It reads the job's `lastDecision` (written by the rules themselves) and
//! asks the same pure functions `tick` decides with (`rules::why`) when each
//! rule stops holding — it never runs the job's commands.

use anyhow::Result;

use super::{files, find_job, load_watching};
use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{Job, Kind, QuietHours};
use crate::exit::Code;
use crate::out::outln;
use crate::report::{duration_text, time_of_day};
use crate::rules::why::{self, Rule};
use crate::rules::{self, safety};
use crate::state::{self, Decision, JobState, State};

/// A stored decision in words: `reported: …` or `not reported: …`.
pub fn decision_text(d: &Decision, now: f64) -> String {
    let until = |what: &str| match d.until {
        Some(t) => format!("{what} {}", time_of_day(t, now)),
        None => String::new(),
    };
    let Some(rule) = Rule::parse(&d.rule) else {
        let verdict = if d.reported {
            "reported"
        } else {
            "not reported"
        };
        return format!("{verdict} (rule {})", d.rule);
    };
    let why = match rule {
        Rule::Problem => "reported: a new problem".to_string(),
        Rule::Reminder => "reported: a reminder of the same problem".to_string(),
        Rule::Resolved => "reported: RESOLVED, the problem is over".to_string(),
        Rule::Autorun => "reported: an automatic start".to_string(),
        Rule::StateChange => "reported: its state changed".to_string(),
        Rule::Completed => "reported: it completed".to_string(),
        Rule::Progress => "reported: routine progress".to_string(),
        Rule::Check => "reported: the check's result".to_string(),
        Rule::Silence => format!("not reported: silenced {}", until("until")),
        Rule::QuietHours => format!(
            "not reported: quiet hours hold routine reports {}",
            until("until")
        ),
        Rule::ReminderNotDue => format!(
            "not reported: the same problem was already reported; reminder due {}",
            until("at")
        ),
        Rule::Backoff => format!(
            "not reported: paused, waiting for the next automatic start {}",
            until("after")
        ),
        Rule::Hold => "not reported: stopped by hand (held); paused is not a problem".to_string(),
        Rule::CadenceNotDue => format!(
            "not reported: the next routine report is due {}",
            until("at")
        ),
        Rule::OnlyOnChange => {
            "not reported: progress did not change since the last report (onlyOnChange)".to_string()
        }
        Rule::ReportWhileRunningOff => {
            "not reported: routine reports are off (reportWhileRunning: false)".to_string()
        }
        Rule::NothingNew => "not reported: nothing new".to_string(),
    };
    why.trim_end().to_string()
}

fn quiet_text(q: &QuietHours) -> String {
    let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    format!("{}–{}", hm(q.start_minute), hm(q.end_minute))
}

pub fn explain(g: &Global, id: &str) -> Result<Code> {
    let files = files(g)?;
    let config = load_watching(&files)?;
    let job = find_job(&config, id)?;
    let st = state::load(&files.state, false)?;
    let clock = Clock::read();
    for line in lines(job, &st, &clock) {
        outln!("{line}");
    }
    Ok(Code::Ok)
}

/// What `explain` prints for `job`.
fn lines(job: &Job, st: &State, clock: &Clock) -> Vec<String> {
    let now = clock.now;
    let at = |t: f64| time_of_day(t, now);
    let js = st.jobs.get(&job.id).cloned().unwrap_or_default();
    let mut out = vec![format!("{} ({}, {})", job.id, job.name, job.kind.as_str())];
    match &js.last_decision {
        Some(d) => out.push(format!(
            "last tick ({}): {}",
            at(d.at),
            decision_text(d, now)
        )),
        None => out.push("last tick: no decision recorded for this job yet".to_string()),
    }
    out.push("next tick:".to_string());
    let mut next = Vec::new();
    let watched = match job.kind {
        Kind::LongRunningRead => true,
        Kind::OneShotRead => job.policy.every_seconds.is_some(),
        Kind::OneShotWrite => false,
    };
    if watched && !job.enabled {
        next.push("disabled: tick does not watch it (\"enabled\": true in the config)".to_string());
    }
    if let Some(until) = rules::silence_until(&st.silences, &job.id, now) {
        next.push(format!(
            "silenced until {}: nothing about it is reported before then (ops-monitor unsilence {})",
            at(until),
            job.id
        ));
    }
    match job.kind {
        Kind::LongRunningRead => long_lines(job, &js, clock, &mut next),
        Kind::OneShotRead => check_lines(job, &js, now, &mut next),
        Kind::OneShotWrite => {
            let approved = safety::approval(job, st.approvals.get(&job.id), now);
            next.push(format!(
                "a write job: runs only by `ops-monitor run {}` while approved (now: {}); the verification it queues is always reported",
                job.id,
                if approved == safety::Approved::No { "not approved" } else { "approved" }
            ));
        }
    }
    out.extend(next.into_iter().map(|l| format!("- {l}")));
    out
}

fn long_lines(job: &Job, js: &JobState, clock: &Clock, next: &mut Vec<String>) {
    let now = clock.now;
    let at = |t: f64| time_of_day(t, now);
    let policy = &job.policy;
    if let Some(h) = &js.hold {
        next.push(format!(
            "stopped by hand since {}{}: never started automatically, and paused is not a problem (ops-monitor start {} releases it)",
            at(h.at),
            if h.by.is_empty() { String::new() } else { format!(" by {}", h.by) },
            job.id
        ));
    }
    let quiet = why::quiet_until(&policy.quiet_hours, clock);
    match quiet {
        Some(until) => next.push(format!(
            "quiet hours {} (now, until {}): only problems, RESOLVED and automatic starts are reported",
            quiet_text(&policy.quiet_hours),
            at(until)
        )),
        None if policy.quiet_hours.start_minute != policy.quiet_hours.end_minute => next.push(
            format!(
                "quiet hours {}: not now",
                quiet_text(&policy.quiet_hours)
            ),
        ),
        None => {}
    }
    if let Some(problem) = rules::problem_of(js) {
        let since = js
            .problem
            .as_ref()
            .map(|p| format!(" since {} ({})", at(p.since), duration_text(now - p.since)))
            .unwrap_or_default();
        let reported = js.last_anomaly_key.is_some();
        let reminder = why::reminder_due_at(job, js)
            .filter(|_| reported)
            .map(|t| format!("; the same problem is reminded from {}", at(t)))
            .unwrap_or_default();
        next.push(format!(
            "problem: {}{since}{}{reminder}; a different problem, or its end (RESOLVED), is reported at once",
            problem.as_str(),
            if reported { ", reported" } else { ", not reported yet" },
        ));
    }
    if policy.auto_resume {
        match why::backoff_until(job, js) {
            _ if !safety::tick_may_start(job) => next.push(
                "automatic start: blocked — autoResume only starts read_only jobs".to_string(),
            ),
            Some(until) if until > now => next.push(format!(
                "automatic start: when paused, backoff until {} (every {})",
                at(until),
                duration_text(policy.auto_resume_backoff_seconds)
            )),
            _ => next.push("automatic start: when the job is paused".to_string()),
        }
    } else {
        next.push("automatic start: off (autoResume: false)".to_string());
    }
    if !policy.report_while_running {
        next.push("routine progress: off (reportWhileRunning: false)".to_string());
    } else {
        let due = why::cadence_due_at(job, js);
        let when = if due > now {
            format!("next due at {}", at(due))
        } else {
            "due now".to_string()
        };
        let change = if policy.only_on_change {
            ", when progress changed since the last report (onlyOnChange)"
        } else {
            ""
        };
        next.push(format!(
            "routine progress: every {}, {when}{change}{}",
            duration_text(policy.report_every_seconds),
            if quiet.is_some() {
                ", after quiet hours"
            } else {
                ""
            }
        ));
    }
    next.push(format!(
        "a change of running, completed or level is reported {}",
        if quiet.is_some() {
            "after quiet hours"
        } else {
            "at once"
        }
    ));
}

fn check_lines(job: &Job, js: &JobState, now: f64, next: &mut Vec<String>) {
    let at = |t: f64| time_of_day(t, now);
    let Some(every) = job.policy.every_seconds else {
        next.push(format!(
            "not scheduled: runs by `ops-monitor run {}` or from the queue",
            job.id
        ));
        return;
    };
    let due = why::check_due_at(job, js).unwrap_or(now);
    next.push(format!(
        "runs every {}: next {}",
        duration_text(every),
        if due > now {
            format!("at {}", at(due))
        } else {
            "on the next tick".to_string()
        }
    ));
    if js.last_anomaly_key.is_some() {
        let reminder = why::reminder_due_at(job, js)
            .map(|t| format!("; the same failure is reminded from {}", at(t)))
            .unwrap_or_default();
        next.push(format!(
            "failing{}{reminder}; its recovery is reported once",
            js.problem
                .as_ref()
                .map(|p| format!(" since {}", at(p.since)))
                .unwrap_or_default()
        ));
    }
    next.push("a failure or an ALERT in its output is reported at once".to_string());
}
