//! The outbox (SPEC §7): messages that could not be delivered yet, kept in
//! the state file and retried at the start of every later tick.
//!
//! One entry is one message for one channel, so channels retry on their own.
//! An entry carries everything needed to send it again — the channel's spec,
//! not just its position in the config — so it survives the config being
//! reordered or the channel being removed. This module is the pure part:
//! the entry, its schedule, and the size limit. Sending lives in `deliver`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Channel;
use crate::state::State;

/// Entries kept at most; beyond, the oldest is dropped.
pub const OUTBOX_KEEP: usize = 50;

/// The first retry waits this long; each further one doubles it.
pub const BACKOFF_FIRST_SECONDS: f64 = 60.0;

/// Retries never wait longer than this (a `429`'s `retry_after` excepted).
pub const BACKOFF_MAX_SECONDS: f64 = 3600.0;

/// An entry is due this much before its time, so a timer that fires a little
/// early (cron every minute, the first retry at +60 s) does not skip a tick.
pub const DUE_SLACK_SECONDS: f64 = 5.0;

/// The state key (beside `outboxDropped`) that says how many dropped entries
/// each channel has not been told about yet. `State` has no field for it, so
/// it lives in the state's unknown-keys map, which is saved as is.
const DROPPED_BY_CHANNEL_KEY: &str = "outboxDroppedByChannel";

/// A delivery channel as stored in an outbox entry: `config::Channel` in the
/// config's own JSON spelling (`{"type": "webhook", "url": …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelSpec {
    Telegram {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    Webhook {
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    File {
        path: PathBuf,
    },
    Command {
        argv: Vec<String>,
    },
}

impl Default for ChannelSpec {
    /// Telegram with the default target: what the Python version had.
    fn default() -> Self {
        ChannelSpec::Telegram {
            target: None,
            account: None,
        }
    }
}

impl From<&Channel> for ChannelSpec {
    fn from(c: &Channel) -> Self {
        match c {
            Channel::Telegram { target, account } => ChannelSpec::Telegram {
                target: target.clone(),
                account: account.clone(),
            },
            Channel::Webhook { url, headers } => ChannelSpec::Webhook {
                url: url.clone(),
                headers: headers.clone(),
            },
            Channel::File { path } => ChannelSpec::File { path: path.clone() },
            Channel::Command { argv } => ChannelSpec::Command { argv: argv.clone() },
        }
    }
}

impl ChannelSpec {
    /// What identifies the channel across runs and config edits: its type
    /// and where it goes (never a header, which may hold a secret).
    pub fn key(&self) -> String {
        match self {
            // The account is part of the destination: another bot posts
            // elsewhere. Without one, the key is what it always was.
            ChannelSpec::Telegram { target, account } => {
                let mut key = "telegram".to_string();
                if let Some(a) = account {
                    key.push('@');
                    key.push_str(a);
                }
                if let Some(t) = target {
                    key.push(':');
                    key.push_str(t);
                }
                key
            }
            ChannelSpec::Webhook { url, .. } => format!("webhook:{url}"),
            ChannelSpec::File { path } => format!("file:{}", path.display()),
            ChannelSpec::Command { argv } => format!("command:{}", argv.join(" ")),
        }
    }
}

/// One undelivered message for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    /// The report text (header and sections, as first built).
    pub text: String,
    /// The channel's key ([`ChannelSpec::key`]).
    #[serde(default)]
    pub channel: String,
    /// How to reach the channel, used when it is no longer configured.
    #[serde(default)]
    pub channel_spec: ChannelSpec,
    /// The Telegram chat it was meant for, if one was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The report's header line; empty for an entry that has only `text`.
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub sections: Vec<String>,
    /// When the report was made (Unix seconds); `time` in webhook/file payloads.
    #[serde(default)]
    pub time: f64,
    /// When it was put in the outbox.
    #[serde(default)]
    pub created_at: f64,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// The last failure, with any token redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Not retried before this time.
    #[serde(default)]
    pub next_attempt_at: f64,
    /// Telegram parts already delivered of a report split in several.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub parts_sent: usize,
    /// Keys this version does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl OutboxMessage {
    /// A new entry for a report that has not been tried on this channel yet.
    pub fn new(
        spec: ChannelSpec,
        header: &str,
        sections: &[String],
        time: f64,
        now: f64,
    ) -> OutboxMessage {
        let mut text = header.to_string();
        for s in sections {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(s);
        }
        OutboxMessage {
            text,
            channel: spec.key(),
            channel_spec: spec,
            target: None,
            header: header.to_string(),
            sections: sections.to_vec(),
            time,
            created_at: now,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            parts_sent: 0,
            extra: Map::new(),
        }
    }

    /// The header and sections to send. An entry with neither (written by
    /// something that only knew `text`) sends its text as the header.
    pub fn header_and_sections(&self) -> (String, Vec<String>) {
        if self.header.is_empty() && self.sections.is_empty() {
            (self.text.clone(), Vec::new())
        } else {
            (self.header.clone(), self.sections.clone())
        }
    }

    /// Whether the entry should be tried at `now`.
    pub fn is_due(&self, now: f64) -> bool {
        self.next_attempt_at <= now + DUE_SLACK_SECONDS
    }

    /// Record a failed attempt: the error (already redacted), and the next
    /// attempt after the backoff, or after `retry_after` when the channel
    /// asked for it (a `429`).
    pub fn failed(&mut self, error: String, retry_after: Option<f64>, now: f64) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_error = Some(error);
        let wait = match retry_after {
            Some(r) if r.is_finite() && r > 0.0 => r,
            _ => backoff_seconds(self.attempts),
        };
        self.next_attempt_at = now + wait;
    }
}

/// The wait after the `attempts`-th failure: 60 s, 120 s, 240 s, … capped at
/// an hour.
pub fn backoff_seconds(attempts: u32) -> f64 {
    let doublings = attempts.saturating_sub(1).min(16) as i32;
    (BACKOFF_FIRST_SECONDS * 2f64.powi(doublings)).min(BACKOFF_MAX_SECONDS)
}

/// Order the outbox oldest first (stable, so entries made at the same time
/// keep their order).
pub fn sort_oldest_first(outbox: &mut [OutboxMessage]) {
    outbox.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
}

/// Keep at most [`OUTBOX_KEEP`] entries: drop the oldest, count them in
/// `outbox_dropped` and per channel, and return what was dropped.
pub fn trim(state: &mut State) -> Vec<OutboxMessage> {
    let mut dropped = Vec::new();
    if state.outbox.len() <= OUTBOX_KEEP {
        return dropped;
    }
    sort_oldest_first(&mut state.outbox);
    let excess = state.outbox.len() - OUTBOX_KEEP;
    dropped.extend(state.outbox.drain(..excess));
    let mut by_channel = dropped_by_channel(state);
    for d in &dropped {
        *by_channel.entry(d.channel.clone()).or_insert(0) += 1;
    }
    state.outbox_dropped += dropped.len() as u64;
    set_dropped_by_channel(state, &by_channel);
    dropped
}

/// How many dropped entries of `channel` nobody was told about yet. Drops
/// counted in `outboxDropped` without a channel (a state written by another
/// version) are told on whichever channel delivers first.
pub fn dropped_untold(state: &State, channel: &str) -> u64 {
    let by_channel = dropped_by_channel(state);
    let attributed: u64 = by_channel.values().sum();
    let unattributed = state.outbox_dropped.saturating_sub(attributed);
    by_channel.get(channel).copied().unwrap_or(0) + unattributed
}

/// A message on `channel` told about `told` dropped entries: forget them.
pub fn dropped_told(state: &mut State, channel: &str, told: u64) {
    let mut by_channel = dropped_by_channel(state);
    let own = by_channel.remove(channel).unwrap_or(0).min(told);
    let attributed: u64 = by_channel.values().sum::<u64>() + own;
    let unattributed = state.outbox_dropped.saturating_sub(attributed);
    let from_unattributed = (told - own).min(unattributed);
    state.outbox_dropped = state.outbox_dropped.saturating_sub(own + from_unattributed);
    set_dropped_by_channel(state, &by_channel);
}

fn dropped_by_channel(state: &State) -> BTreeMap<String, u64> {
    state
        .extra
        .get(DROPPED_BY_CHANNEL_KEY)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default()
}

fn set_dropped_by_channel(state: &mut State, by_channel: &BTreeMap<String, u64>) {
    if by_channel.is_empty() {
        state.extra.remove(DROPPED_BY_CHANNEL_KEY);
    } else {
        let map: Map<String, Value> = by_channel
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(*v)))
            .collect();
        state
            .extra
            .insert(DROPPED_BY_CHANNEL_KEY.to_string(), Value::Object(map));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(channel: &str, created: f64) -> OutboxMessage {
        let spec = ChannelSpec::File {
            path: PathBuf::from(channel),
        };
        OutboxMessage::new(spec, "h", &["s".to_string()], created, created)
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_seconds(1), 60.0);
        assert_eq!(backoff_seconds(2), 120.0);
        assert_eq!(backoff_seconds(3), 240.0);
        assert_eq!(backoff_seconds(7), 3600.0);
        assert_eq!(backoff_seconds(u32::MAX), 3600.0);
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let mut e = entry("a", 0.0);
        e.failed("429".into(), Some(300.0), 1000.0);
        assert_eq!(e.next_attempt_at, 1300.0);
        assert_eq!(e.attempts, 1);
        e.failed("down".into(), None, 2000.0);
        assert_eq!(e.next_attempt_at, 2120.0);
        assert!(!e.is_due(2100.0));
        assert!(e.is_due(2116.0));
    }

    #[test]
    fn round_trip_keeps_unknown_keys_and_reads_bare_entries() {
        let text = r#"{"text":"hello","future":1}"#;
        let e: OutboxMessage = serde_json::from_str(text).unwrap();
        assert_eq!(e.channel_spec, ChannelSpec::default());
        assert_eq!(e.header_and_sections(), ("hello".to_string(), vec![]));
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["future"], 1);
        assert_eq!(back["channelSpec"]["type"], "telegram");

        let spec = ChannelSpec::Webhook {
            url: "http://x".into(),
            headers: [("A".to_string(), "b".to_string())].into(),
        };
        let e = OutboxMessage::new(spec.clone(), "h", &["a".into(), "b".into()], 1.0, 2.0);
        assert_eq!(e.text, "h\n\na\n\nb");
        let back: OutboxMessage =
            serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.channel, "webhook:http://x");
    }

    #[test]
    fn trim_drops_the_oldest_and_counts_per_channel() {
        let mut state = State::default();
        for i in 0..OUTBOX_KEEP + 3 {
            let ch = if i % 2 == 0 { "even" } else { "odd" };
            // Pushed out of order: trimming must still drop by age.
            state.outbox.push(entry(ch, (OUTBOX_KEEP + 3 - i) as f64));
        }
        let dropped = trim(&mut state);
        assert_eq!(dropped.len(), 3);
        assert_eq!(state.outbox.len(), OUTBOX_KEEP);
        assert!(dropped.iter().all(|d| d.created_at <= 3.0));
        assert_eq!(state.outbox[0].created_at, 4.0);
        assert_eq!(state.outbox_dropped, 3);
        // created 1, 2, 3 → i = 52 (even), 51 (odd), 50 (even)
        assert_eq!(dropped_untold(&state, "file:even"), 2);
        assert_eq!(dropped_untold(&state, "file:odd"), 1);

        dropped_told(&mut state, "file:even", 2);
        assert_eq!(state.outbox_dropped, 1);
        assert_eq!(dropped_untold(&state, "file:even"), 0);
        dropped_told(&mut state, "file:odd", 1);
        assert_eq!(state.outbox_dropped, 0);
        assert!(!state.extra.contains_key(DROPPED_BY_CHANNEL_KEY));
    }

    #[test]
    fn unattributed_drops_go_to_the_first_channel_that_delivers() {
        let mut state = State {
            outbox_dropped: 4,
            ..State::default()
        };
        assert_eq!(dropped_untold(&state, "telegram"), 4);
        dropped_told(&mut state, "telegram", 4);
        assert_eq!(state.outbox_dropped, 0);
        assert_eq!(dropped_untold(&state, "webhook:x"), 0);
    }
}
