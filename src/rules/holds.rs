//! What holds a report back, and how a tick ends (SPEC §5 step 2, §11):
//! silences, the config-error cadence, and the precedence of `tick`'s exit
//! codes. Quiet hours themselves are a property of the policy
//! (`QuietHours::contains`); the rules that apply them live with the
//! decisions they hold back.

use std::collections::BTreeMap;

use crate::exit::Code;
use crate::state::Silence;

/// Least time between two config-error alerts (SPEC §5 step 2).
pub const CONFIG_ERROR_EVERY: f64 = 3600.0;

/// Whether a silence of this job (or of all jobs, key `*`) holds back its
/// reports now.
pub fn silenced(silences: &BTreeMap<String, Silence>, job_id: &str, now: f64) -> bool {
    silence_until(silences, job_id, now).is_some()
}

/// When the silences of this job (and of all jobs) that hold now end: the
/// latest of them.
pub fn silence_until(silences: &BTreeMap<String, Silence>, job_id: &str, now: f64) -> Option<f64> {
    [job_id, "*"]
        .iter()
        .filter_map(|k| silences.get(*k))
        .map(|s| s.until)
        .filter(|until| *until > now)
        .reduce(f64::max)
}

/// Whether the "config invalid" alert is due: at most once an hour.
pub fn config_alert_due(last_alert_at: Option<f64>, now: f64) -> bool {
    last_alert_at.is_none_or(|t| now - t >= CONFIG_ERROR_EVERY)
}

/// The facts that decide `tick`'s exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickEnd {
    /// The signal that interrupted the tick, if any.
    pub signal: Option<i32>,
    /// The config was invalid.
    pub config_invalid: bool,
    /// The state could not be saved.
    pub save_failed: bool,
    /// Something that will be retried is still undelivered.
    pub undelivered: bool,
}

/// SPEC §11 "Exit codes": a signal wins (129/130/143); then 2 (config), 1
/// (state not saved), 3 (undelivered), 0. A failed status, check or queued
/// job is a fact in the report, never the exit code. (75, the lock, ends the
/// tick before any of these is known.)
pub fn tick_exit(end: TickEnd) -> Code {
    match end.signal {
        Some(sig) => Code::for_signal(sig),
        None if end.config_invalid => Code::Usage,
        None if end.save_failed => Code::Failed,
        None if end.undelivered => Code::Undelivered,
        None => Code::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_of_the_job_or_of_all_jobs_until_it_ends() {
        let mut s = BTreeMap::new();
        let until = |t| Silence {
            until: t,
            created_at: 0.0,
            reason: None,
            extra: Default::default(),
        };
        s.insert("a".to_string(), until(100.0));
        assert!(silenced(&s, "a", 99.0));
        assert!(!silenced(&s, "a", 100.0));
        assert!(!silenced(&s, "b", 99.0));
        s.insert("*".to_string(), until(50.0));
        assert!(silenced(&s, "b", 49.0));
        assert!(!silenced(&s, "b", 50.0));
        s.insert("*".to_string(), until(200.0));
        assert_eq!(silence_until(&s, "a", 50.0), Some(200.0), "the latest");
        assert_eq!(silence_until(&s, "b", 200.0), None);
    }

    #[test]
    fn config_alert_once_an_hour() {
        assert!(config_alert_due(None, 10.0));
        assert!(!config_alert_due(Some(10.0), 10.0 + 3599.0));
        assert!(config_alert_due(Some(10.0), 10.0 + 3600.0));
    }

    #[test]
    fn exit_code_precedence() {
        let all = TickEnd {
            signal: None,
            config_invalid: true,
            save_failed: true,
            undelivered: true,
        };
        assert_eq!(
            tick_exit(TickEnd {
                signal: Some(15),
                ..all
            }),
            Code::Terminated
        );
        assert_eq!(
            tick_exit(TickEnd {
                signal: Some(2),
                ..all
            }),
            Code::Interrupted
        );
        assert_eq!(
            tick_exit(TickEnd {
                signal: Some(1),
                ..all
            }),
            Code::HungUp
        );
        assert_eq!(tick_exit(all), Code::Usage);
        let no_config = TickEnd {
            config_invalid: false,
            ..all
        };
        assert_eq!(tick_exit(no_config), Code::Failed);
        let saved = TickEnd {
            save_failed: false,
            ..no_config
        };
        assert_eq!(tick_exit(saved), Code::Undelivered);
        assert_eq!(tick_exit(TickEnd::default()), Code::Ok);
    }
}
