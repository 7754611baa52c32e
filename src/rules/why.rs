//! Why a tick did or did not report a job (SPEC §9 `explain`, §11 "What
//! explain reads"): the rule that decided, beside each decision, and the
//! times at which each rule stops holding a report back.
//!
//! The decisions in [`super::long`] and [`super::check`] call these same
//! functions to decide, and `explain` calls them to say what would make the
//! next tick report — one copy of every rule.

use super::MIN_REMINDER_SECONDS;
use crate::clock::Clock;
use crate::config::{Job, QuietHours};
use crate::state::{Decision, JobState};

/// The rule that made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    // Reported because of…
    /// A new problem.
    Problem,
    /// The same problem again, after the reminder interval.
    Reminder,
    /// A reported problem is over.
    Resolved,
    /// An automatic start was made (or failed).
    Autorun,
    /// `running`, `completed` or `level` changed (or a change held back
    /// earlier by quiet hours or a silence).
    StateChange,
    /// The job completed.
    Completed,
    /// Routine progress, by the job's cadence.
    Progress,
    /// A scheduled check failed, asked for attention or recovered.
    Check,
    // Held back by…
    Silence,
    QuietHours,
    /// The same problem was reported less than the reminder interval ago.
    ReminderNotDue,
    /// A paused job waits for the next automatic start.
    Backoff,
    /// Stopped by hand: paused is not a problem.
    Hold,
    /// Less than `reportEverySeconds` since the last report.
    CadenceNotDue,
    /// Progress did not change since the last report.
    OnlyOnChange,
    /// `reportWhileRunning` is off.
    ReportWhileRunningOff,
    /// Nothing happened that is reported.
    NothingNew,
}

impl Rule {
    /// The name stored in `lastDecision.rule`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Problem => "problem",
            Rule::Reminder => "reminder",
            Rule::Resolved => "resolved",
            Rule::Autorun => "autorun",
            Rule::StateChange => "stateChange",
            Rule::Completed => "completed",
            Rule::Progress => "progress",
            Rule::Check => "check",
            Rule::Silence => "silence",
            Rule::QuietHours => "quietHours",
            Rule::ReminderNotDue => "reminderNotDue",
            Rule::Backoff => "backoff",
            Rule::Hold => "hold",
            Rule::CadenceNotDue => "cadenceNotDue",
            Rule::OnlyOnChange => "onlyOnChange",
            Rule::ReportWhileRunningOff => "reportWhileRunningOff",
            Rule::NothingNew => "nothingNew",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        ALL.into_iter().find(|r| r.as_str() == s)
    }
}

const ALL: [Rule; 17] = [
    Rule::Problem,
    Rule::Reminder,
    Rule::Resolved,
    Rule::Autorun,
    Rule::StateChange,
    Rule::Completed,
    Rule::Progress,
    Rule::Check,
    Rule::Silence,
    Rule::QuietHours,
    Rule::ReminderNotDue,
    Rule::Backoff,
    Rule::Hold,
    Rule::CadenceNotDue,
    Rule::OnlyOnChange,
    Rule::ReportWhileRunningOff,
    Rule::NothingNew,
];

/// A decision as the state stores it (`lastDecision`).
pub fn decision(now: f64, reported: bool, rule: Rule, until: Option<f64>) -> Decision {
    // The state file leaves `reported` out where the rule says it.
    debug_assert_eq!(
        reported,
        crate::state::REPORTING_RULES.contains(&rule.as_str()),
        "{rule:?}"
    );
    Decision {
        at: now,
        reported,
        rule: rule.as_str().to_string(),
        until,
        extra: Default::default(),
    }
}

/// When the quiet window that holds at `clock` ends (Unix seconds), or
/// `None` outside it. Computed from the local time of day, so a change of
/// UTC offset inside the window moves it by that much.
pub fn quiet_until(q: &QuietHours, clock: &Clock) -> Option<f64> {
    if !q.contains(clock.minute_of_day) {
        return None;
    }
    let minutes = (q.end_minute + 1440 - clock.minute_of_day) % 1440;
    let minutes = if minutes == 0 { 1440 } else { minutes };
    Some(clock.now - f64::from(clock.hms.2) + f64::from(minutes) * 60.0)
}

/// Least time between two reports of the same problem.
pub fn reminder_every(job: &Job) -> f64 {
    MIN_REMINDER_SECONDS.max(job.policy.report_every_seconds)
}

/// When the same problem is reported again, if one was reported.
pub fn reminder_due_at(job: &Job, prev: &JobState) -> Option<f64> {
    prev.last_anomaly_key.as_ref()?;
    Some(prev.last_anomaly_report_at.unwrap_or(0.0) + reminder_every(job))
}

/// When routine progress may be reported again (`reportEverySeconds` after
/// the last report).
pub fn cadence_due_at(job: &Job, prev: &JobState) -> f64 {
    prev.last_report_at.unwrap_or(0.0) + job.policy.report_every_seconds
}

/// When the backoff since the last automatic start ends, if one was made.
pub fn backoff_until(job: &Job, prev: &JobState) -> Option<f64> {
    prev.last_auto_resume_at
        .map(|t| t + job.policy.auto_resume_backoff_seconds)
}

/// When a scheduled check runs next.
pub fn check_due_at(job: &Job, prev: &JobState) -> Option<f64> {
    let every = job.policy.every_seconds?;
    Some(prev.last_run_at.map_or(0.0, |t| t + every))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_until_is_the_end_of_the_window() {
        let q = QuietHours {
            start_minute: 23 * 60,
            end_minute: 8 * 60,
        };
        // 03:00:30 → 08:00:00 is 4 h 59 m 30 s later.
        let c = Clock::from_parts(1000.0, 3, 0, 30);
        assert_eq!(quiet_until(&q, &c), Some(1000.0 - 30.0 + 5.0 * 3600.0));
        let c = Clock::from_parts(1000.0, 23, 0, 0);
        assert_eq!(quiet_until(&q, &c), Some(1000.0 + 9.0 * 3600.0));
        assert_eq!(quiet_until(&q, &Clock::from_parts(1000.0, 8, 0, 0)), None);
    }

    #[test]
    fn rule_names_round_trip() {
        for r in ALL {
            assert_eq!(Rule::parse(r.as_str()), Some(r));
        }
    }
}
