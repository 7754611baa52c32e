//! The clock can go back (SPEC §5): NTP, a wrong RTC after a reboot, a VM
//! restored from a snapshot. One tick at a future time must not stall the
//! monitor for years, so before anything is decided, stored times that lie
//! more than [`SLACK`] in the future are brought back to now:
//!
//! - a time *at which something happened* (`last…At`, `createdAt`,
//!   `lastProgressAt`) becomes now, so every wait that counts from it
//!   (backoffs, reminders, schedules, cadences) starts over from real time;
//! - a grant or a silence given "in the future" is void: it ends at once (a
//!   grant must never outlast what was meant; a person can give it again);
//! - other deadlines (a queue item's `notBefore`, an outbox entry's next
//!   try) are capped at the corrected time plus the delay they were given.

use crate::state::State;

/// How far in the future a stored time may lie before it counts as wrong
/// (clocks of one host drift by seconds, not minutes).
pub const SLACK: f64 = 300.0;

/// What [`correct`] changed, for the one `CLOCK` warning of the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClockFix {
    /// How many stored times were brought back to now.
    pub times: usize,
    /// The latest future time found.
    pub latest: f64,
    /// Grants and silences voided (their job ids; `*` for all jobs).
    pub voided: Vec<String>,
}

/// Bring every stored time that lies in the future back to `now`; `None`
/// when nothing was wrong.
pub fn correct(st: &mut State, now: f64) -> Option<ClockFix> {
    let limit = now + SLACK;
    let mut fix = ClockFix::default();
    let mut at = |t: &mut f64| {
        if *t > limit {
            fix.latest = fix.latest.max(*t);
            fix.times += 1;
            *t = now;
        }
    };
    for js in st.jobs.values_mut() {
        for t in [
            &mut js.last_report_at,
            &mut js.last_anomaly_report_at,
            &mut js.last_progress_at,
            &mut js.last_auto_resume_at,
            &mut js.last_run_at,
            &mut js.last_manual_start_at,
            &mut js.last_stop_at,
        ]
        .into_iter()
        .flatten()
        {
            at(t);
        }
    }
    if let Some(t) = st.last_config_error_at.as_mut() {
        at(t);
    }
    if let Some(m) = st.monitor.as_mut() {
        at(&mut m.last_tick_at);
    }
    for item in &mut st.queue {
        // The delay it was given counts from when it was created.
        let delay = (item.not_before - item.created_at).max(0.0);
        let created = item.created_at;
        at(&mut item.created_at);
        if let Some(t) = item.last_run_at.as_mut() {
            at(t);
        }
        if item.created_at != created || item.not_before > limit {
            item.not_before = item.not_before.min(item.created_at + delay);
        }
    }
    for entry in &mut st.outbox.entries {
        let created = entry.created_at;
        at(&mut entry.created_at);
        let delay = (entry.next_attempt_at - created).max(0.0);
        if entry.next_attempt_at > limit {
            entry.next_attempt_at = entry.next_attempt_at.min(now + delay.min(3600.0));
        }
    }
    let mut voided = Vec::new();
    st.approvals.retain(|id, g| {
        let void = g.granted_at > limit;
        if void {
            voided.push(format!("approval of {id}"));
        }
        !void
    });
    st.silences.retain(|id, s| {
        let void = s.created_at > limit;
        if void {
            voided.push(format!(
                "silence of {}",
                if id == "*" { "all jobs" } else { id }
            ));
        }
        !void
    });
    fix.voided = voided;
    (fix.times > 0 || !fix.voided.is_empty()).then_some(fix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Grant, JobState, QueueItem, Silence};

    const NOW: f64 = 1_795_262_400.0;
    const FUTURE: f64 = 2_000_000_000.0;

    #[test]
    fn future_times_come_back_to_now_and_gates_given_in_the_future_end() {
        let mut st = State::default();
        st.jobs.insert(
            "j".into(),
            JobState {
                last_auto_resume_at: Some(FUTURE),
                last_report_at: Some(NOW - 10.0),
                last_progress_at: Some(NOW + 100.0),
                ..JobState::default()
            },
        );
        st.last_config_error_at = Some(FUTURE);
        let mut item = QueueItem::new("v", FUTURE, FUTURE + 120.0, "after w".into());
        item.id = "q".into();
        st.queue.push(item);
        st.approvals.insert(
            "w".into(),
            Grant {
                granted_at: FUTURE,
                expires_at: FUTURE + 3600.0,
                by: "ann".into(),
                note: None,
                fingerprint: None,
                extra: Default::default(),
            },
        );
        st.silences.insert(
            "*".into(),
            Silence {
                until: FUTURE + 600.0,
                created_at: FUTURE,
                reason: None,
                extra: Default::default(),
            },
        );
        st.silences.insert(
            "ok".into(),
            Silence {
                until: NOW + 600.0,
                created_at: NOW - 5.0,
                reason: None,
                extra: Default::default(),
            },
        );
        let fix = correct(&mut st, NOW).expect("something was wrong");
        assert_eq!(fix.times, 3);
        assert_eq!(fix.latest, FUTURE);
        assert_eq!(fix.voided, vec!["approval of w", "silence of all jobs"]);
        let js = &st.jobs["j"];
        assert_eq!(js.last_auto_resume_at, Some(NOW));
        assert_eq!(js.last_report_at, Some(NOW - 10.0), "past times stay");
        assert_eq!(js.last_progress_at, Some(NOW + 100.0), "within the slack");
        assert_eq!(st.last_config_error_at, Some(NOW));
        assert_eq!(st.queue[0].created_at, NOW);
        assert_eq!(st.queue[0].not_before, NOW + 120.0, "still waits its delay");
        assert!(st.approvals.is_empty());
        assert_eq!(st.silences.keys().collect::<Vec<_>>(), vec!["ok"]);
        assert_eq!(correct(&mut st, NOW), None, "a second pass finds nothing");
    }
}
