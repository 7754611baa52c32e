//! The delivery policy (SPEC §7, §11 "The outbox in detail"): how long an
//! undelivered message waits before its next try, and which `429` is
//! waited out in place. `deliver` asks these; the outbox only records the
//! answer.

/// The first retry waits this long (the next tick); each further one
/// doubles it.
pub const BACKOFF_FIRST_SECONDS: f64 = 60.0;

/// Retries never wait longer than this, a `429`'s `retry_after` included.
pub const BACKOFF_MAX_SECONDS: f64 = 3600.0;

/// Delivery within one tick gets this many request deadlines in all (1.5 ×
/// 20 s = SPEC §11's 30 s); what is not tried by then waits for the next
/// tick, so a dead network never holds the lock for minutes.
pub const BUDGET_IN_DEADLINES: f64 = 1.5;

/// A `429` asking to wait at most this long is waited out once, in place.
pub const SHORT_RETRY_AFTER_SECONDS: f64 = 10.0;

/// The wait after the `attempts`-th failure: 60 s, 120 s, 240 s, … capped at
/// an hour.
pub fn backoff_seconds(attempts: u32) -> f64 {
    let doublings = attempts.saturating_sub(1).min(16) as i32;
    (BACKOFF_FIRST_SECONDS * 2f64.powi(doublings)).min(BACKOFF_MAX_SECONDS)
}

/// The wait before the next try after the `attempts`-th failure: the
/// channel's `retry_after` when it gave one, honoured up to an hour (a
/// `retry_after` of 1e9 must not park a message for good), else the backoff.
pub fn retry_wait(attempts: u32, retry_after: Option<f64>) -> f64 {
    match retry_after {
        Some(r) if r.is_finite() && r > 0.0 => r.min(BACKOFF_MAX_SECONDS),
        _ => backoff_seconds(attempts),
    }
}

/// Whether a `429`'s `retry_after` is short enough to wait out in place
/// (once per message), rather than keeping the message for a later tick.
pub fn wait_in_place(retry_after: f64) -> bool {
    (0.0..=SHORT_RETRY_AFTER_SECONDS).contains(&retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_seconds(1), 60.0);
        assert_eq!(backoff_seconds(2), 120.0);
        assert_eq!(backoff_seconds(3), 240.0);
        assert_eq!(backoff_seconds(7), 3600.0);
        assert_eq!(backoff_seconds(u32::MAX), 3600.0);
    }

    #[test]
    fn retry_after_wins_over_backoff_up_to_an_hour() {
        assert_eq!(retry_wait(1, Some(1e9)), 3600.0);
        assert_eq!(retry_wait(1, Some(300.0)), 300.0);
        assert_eq!(retry_wait(2, None), 120.0);
        assert_eq!(retry_wait(2, Some(f64::NAN)), 120.0);
        assert!(wait_in_place(10.0) && !wait_in_place(10.5) && !wait_in_place(-1.0));
    }
}
