//! The state word of a long job (SPEC §11 "`status` state words"): held,
//! unknown, completed, stalled, running, paused — first match wins. One
//! pure function that `status`, the metrics file, the Alertmanager alerts
//! and the heartbeat summary all use, so they never disagree.

use crate::config::Job;
use crate::state::JobState;
use crate::status::Observation;

/// A long job's state, in the words `status --json` and
/// `ops_monitor_job_state{state=…}` share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobStateWord {
    /// Stopped by hand (`stop JOB`) and not started again.
    Held,
    /// The status command gave no valid status.
    Unknown,
    Completed,
    /// Running, progress unchanged for `stallSeconds` or more.
    Stalled,
    Running,
    /// Neither running nor completed.
    Paused,
}

impl JobStateWord {
    /// Every word, in the order of precedence.
    pub const ALL: [JobStateWord; 6] = [
        JobStateWord::Held,
        JobStateWord::Unknown,
        JobStateWord::Completed,
        JobStateWord::Stalled,
        JobStateWord::Running,
        JobStateWord::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStateWord::Held => "held",
            JobStateWord::Unknown => "unknown",
            JobStateWord::Completed => "completed",
            JobStateWord::Stalled => "stalled",
            JobStateWord::Running => "running",
            JobStateWord::Paused => "paused",
        }
    }
}

/// Whether `stop JOB` holds the job: the `hold` record (who, when) that SPEC
/// §5.2 keeps in the job's state.
pub fn held(js: &JobState) -> bool {
    js.hold.is_some()
}

/// The job's state word at `now`, from `obs` — this run's status, when there
/// is one — else from what the state last saw. `js` is the job's state
/// (before or after this tick's decision: both give the same word, since a
/// changed progress key is never stalled).
pub fn job_state(job: &Job, obs: Option<&Observation>, js: &JobState, now: f64) -> JobStateWord {
    if held(js) {
        return JobStateWord::Held;
    }
    let (running, completed, key) = match obs {
        Some(Observation::Unknown(_)) => return JobStateWord::Unknown,
        Some(Observation::Known(s)) => (s.running, s.completed, s.progress_key.as_deref()),
        None => match &js.last_seen {
            Some(seen) if !seen.unknown => {
                (seen.running, seen.completed, seen.progress_key.as_deref())
            }
            // Never seen, or not readable the last time.
            _ => return JobStateWord::Unknown,
        },
    };
    if completed {
        JobStateWord::Completed
    } else if running && stalled_since(job, key, js, now).is_some() {
        JobStateWord::Stalled
    } else if running {
        JobStateWord::Running
    } else {
        JobStateWord::Paused
    }
}

/// SPEC §5.1: since when a running job with progress key `key` has made no
/// progress, when that is `stallSeconds` or more. Time while the job was
/// not running is not time without progress: a job last seen paused is not
/// stalled (its next tick starts the clock again).
pub fn stalled_since(job: &Job, key: Option<&str>, js: &JobState, now: f64) -> Option<f64> {
    let stall = job.policy.stall_seconds;
    if stall <= 0.0 || key.is_none() || js.last_progress_key.as_deref() != key {
        return None;
    }
    if js.last_seen.as_ref().is_some_and(|l| !l.running) {
        return None;
    }
    let since = js.last_progress_at?;
    (now - since >= stall).then_some(since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Kind, Policy, Risk};
    use crate::state::LastSeen;
    use crate::status::parse;

    fn job(stall: f64) -> Job {
        Job {
            id: "j".into(),
            name: "j".into(),
            kind: Kind::LongRunningRead,
            risk: Risk::ReadOnly,
            enabled: true,
            cwd: "/".into(),
            commands: Default::default(),
            policy: Policy {
                stall_seconds: stall,
                ..Policy::default()
            },
            approval: None,
            after: Vec::new(),
        }
    }

    fn word(obs: &str, js: &JobState, now: f64) -> &'static str {
        job_state(&job(60.0), Some(&parse(obs)), js, now).as_str()
    }

    const RUNNING_K: &str = r#"{"running":true,"completed":false,"progressKey":"k"}"#;

    #[test]
    fn first_match_wins_in_the_spec_order() {
        let mut js = JobState {
            last_progress_key: Some("k".into()),
            last_progress_at: Some(0.0),
            ..JobState::default()
        };
        assert_eq!(word(RUNNING_K, &js, 59.0), "running");
        assert_eq!(word(RUNNING_K, &js, 60.0), "stalled");
        // Another key is progress, never a stall.
        assert_eq!(
            word(
                r#"{"running":true,"completed":false,"progressKey":"k2"}"#,
                &js,
                600.0
            ),
            "running"
        );
        assert_eq!(
            word(
                r#"{"running":true,"completed":true,"progressKey":"k"}"#,
                &js,
                600.0
            ),
            "completed"
        );
        assert_eq!(
            word(r#"{"running":false,"completed":false}"#, &js, 600.0),
            "paused"
        );
        assert_eq!(word("not json", &js, 600.0), "unknown");
        js.hold = Some(crate::state::Hold {
            at: 1.0,
            by: "me".into(),
            extra: Default::default(),
        });
        assert_eq!(word("not json", &js, 600.0), "held");
    }

    #[test]
    fn without_a_run_the_last_seen_state_counts() {
        let j = job(0.0);
        let mut js = JobState::default();
        assert_eq!(job_state(&j, None, &js, 1.0), JobStateWord::Unknown);
        js.last_seen = Some(LastSeen {
            running: false,
            completed: false,
            ..LastSeen::default()
        });
        assert_eq!(job_state(&j, None, &js, 1.0), JobStateWord::Paused);
        js.last_seen.as_mut().unwrap().unknown = true;
        assert_eq!(job_state(&j, None, &js, 1.0), JobStateWord::Unknown);
    }

    #[test]
    fn stall_seconds_zero_never_stalls() {
        let js = JobState {
            last_progress_key: Some("k".into()),
            last_progress_at: Some(0.0),
            ..JobState::default()
        };
        assert_eq!(
            job_state(&job(0.0), Some(&parse(RUNNING_K)), &js, 1e9),
            JobStateWord::Running
        );
    }
}
