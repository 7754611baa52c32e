//! The outbox (SPEC §7): messages that could not be delivered yet, kept in
//! the state file and retried at the start of every later tick.
//!
//! One entry is one message for one channel, so channels retry on their own.
//! An entry names its channel by [`identity`] — the type and a hash of the
//! destination (SPEC §11 "The outbox in detail") — and a redacted [`label`]
//! for people; never an argv, a URL path, a header or a token. It is sent
//! only through the configured channel with the same identity: the state
//! file never decides what is run or where anything is posted (SPEC §7). An
//! entry whose channel left the config is kept, marked `channelGone`, listed
//! by `outbox` and `status`, and never sent until the channel is back.
//!
//! This module is the pure part: the [`Outbox`] the state holds (entries and
//! drop counts), an entry's schedule, and the size limit. Sending lives in
//! `deliver`; the state file in `state`, which holds an [`Outbox`] and knows
//! nothing else of it.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::config::Channel;

/// Entries kept at most per channel; beyond, that channel's oldest is dropped.
pub const OUTBOX_KEEP: usize = 50;

/// An entry is due this much before its time, so a timer that fires a little
/// early (cron every minute, the first retry at +60 s) does not skip a tick.
pub const DUE_SLACK_SECONDS: f64 = 5.0;

/// The outbox as the state file holds it: three top-level keys of the state
/// (`State` flattens this struct), each left out while empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    /// `outbox`: the undelivered messages.
    #[serde(
        rename = "outbox",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "upgraded"
    )]
    pub entries: Vec<OutboxMessage>,
    /// `outboxDropped`: messages dropped from a full outbox that no delivered
    /// message has told about yet.
    #[serde(rename = "outboxDropped", default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    /// `outboxDroppedByChannel`: of those, how many each channel (by
    /// [`Channel::key`]) has not been told about. Drops in `dropped` beyond
    /// their sum (a state written by another version) belong to no channel.
    #[serde(
        rename = "outboxDroppedByChannel",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "positive_counts"
    )]
    pub dropped_by_channel: BTreeMap<String, u64>,
}

/// What identifies a channel in the outbox: its type and a hash of its
/// destination ([`Channel::key`]: Telegram account and chat, webhook URL,
/// file path, command argv — not headers), as `webhook#0123456789abcdef`.
/// The hash keeps a secret in a webhook's path or a command's argv out of
/// the state file. It is not keyed: any key would live in the same file as
/// the hashes; what it protects is high-entropy secrets, which a 64-bit
/// hash does not give away.
pub fn identity(channel: &Channel) -> String {
    identity_of_key(&channel.key())
}

/// [`identity`] from a channel key; also upgrades the plain keys older
/// versions stored (`webhook:https://…`), which were [`Channel::key`] itself.
fn identity_of_key(key: &str) -> String {
    // FNV-1a: stable across Rust releases and platforms.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}#{hash:016x}", key_type(key))
}

/// The channel type a key starts with (`telegram@acct:1` → `telegram`).
fn key_type(key: &str) -> &str {
    let end = key.find([':', '@', '#']).unwrap_or(key.len());
    match &key[..end] {
        t @ ("telegram" | "webhook" | "file" | "command") => t,
        _ => "unknown",
    }
}

/// Whether `text` is an [`identity`] (`type#` and 16 hex digits).
fn is_identity(text: &str) -> bool {
    match text.split_once('#') {
        Some((t, hash)) => {
            key_type(t) == t && hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// A channel as people see it in `outbox`, `status`, metrics and alert
/// labels: its type and where it goes, never a secret — a webhook shows its
/// scheme, host and port only (its path may hold a token), a command only
/// that it is one (SPEC §11 "Other secrets").
pub fn label(channel: &Channel) -> String {
    label_of_key(&channel.key())
}

fn label_of_key(key: &str) -> String {
    match key_type(key) {
        // A chat id, an account name and a path are not secrets.
        "telegram" | "file" => key.to_string(),
        "webhook" => match reqwest::Url::parse(key.trim_start_matches("webhook:")) {
            Ok(u) => format!(
                "webhook:{}://{}{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "webhook".to_string(),
        },
        t => t.to_string(),
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The per-channel counts, read leniently as before they had a field: any
/// value that is not a positive integer counts as no drops.
/// Counts kept under a plain channel key by older versions move to its
/// [`identity`].
fn positive_counts<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u64>, D::Error> {
    let mut counts = BTreeMap::new();
    if let Value::Object(m) = Value::deserialize(d)? {
        for (k, v) in m {
            if let Some(n) = v.as_u64().filter(|n| *n > 0) {
                let k = if is_identity(&k) {
                    k
                } else {
                    identity_of_key(&k)
                };
                *counts.entry(k).or_insert(0) += n;
            }
        }
    }
    Ok(counts)
}

/// The entries, each read as [`OutboxMessage::upgrade`] leaves it.
fn upgraded<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OutboxMessage>, D::Error> {
    let mut entries = Vec::<OutboxMessage>::deserialize(d)?;
    for e in &mut entries {
        e.upgrade();
    }
    Ok(entries)
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries that later ticks will try again: all but those whose channel
    /// left the config (SPEC §11: only these set `tick`'s exit 3).
    pub fn retried(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| !e.channel_gone && e.refused.is_none())
            .count()
    }

    /// Refusals no report has said yet — one (label, error) per channel —
    /// now marked as said (SPEC §7: reported once).
    pub fn untold_refusals(&mut self) -> Vec<(String, String)> {
        let mut told: Vec<(String, String)> = Vec::new();
        let mut channels: Vec<String> = Vec::new();
        for e in &mut self.entries {
            let Some(r) = e.refused.as_mut() else {
                continue;
            };
            if !r.told {
                r.told = true;
                if !channels.contains(&e.channel) {
                    channels.push(e.channel.clone());
                    told.push((e.label.clone(), e.last_error.clone().unwrap_or_default()));
                }
            }
        }
        told
    }

    /// Order the entries oldest first (stable, so entries made at the same
    /// time keep their order).
    pub fn sort_oldest_first(&mut self) {
        self.entries
            .sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
    }

    /// Keep at most [`OUTBOX_KEEP`] entries per channel (SPEC §11: the cap
    /// is per channel, so a failing command channel never pushes Telegram's
    /// messages out): drop each channel's oldest beyond it, count them in
    /// `dropped` and per channel, and return what was dropped.
    pub fn trim(&mut self) -> Vec<OutboxMessage> {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &self.entries {
            *count.entry(e.channel.as_str()).or_insert(0) += 1;
        }
        let mut excess: BTreeMap<String, usize> = count
            .into_iter()
            .filter(|(_, n)| *n > OUTBOX_KEEP)
            .map(|(c, n)| (c.to_string(), n - OUTBOX_KEEP))
            .collect();
        if excess.is_empty() {
            return Vec::new();
        }
        self.sort_oldest_first();
        let (mut kept, mut dropped) = (Vec::new(), Vec::new());
        for e in std::mem::take(&mut self.entries) {
            match excess.get_mut(&e.channel).filter(|n| **n > 0) {
                Some(n) => {
                    *n -= 1;
                    dropped.push(e);
                }
                None => kept.push(e),
            }
        }
        self.entries = kept;
        for d in &dropped {
            *self
                .dropped_by_channel
                .entry(d.channel.clone())
                .or_insert(0) += 1;
        }
        self.dropped += dropped.len() as u64;
        dropped
    }

    /// How many dropped entries of `channel` nobody was told about yet. Drops
    /// counted in `dropped` without a channel are told on whichever channel
    /// delivers first.
    pub fn dropped_untold(&self, channel: &str) -> u64 {
        let attributed: u64 = self.dropped_by_channel.values().sum();
        let unattributed = self.dropped.saturating_sub(attributed);
        self.dropped_by_channel.get(channel).copied().unwrap_or(0) + unattributed
    }

    /// A message on `channel` told about `told` dropped entries: forget them.
    pub fn dropped_told(&mut self, channel: &str, told: u64) {
        let own = self
            .dropped_by_channel
            .remove(channel)
            .unwrap_or(0)
            .min(told);
        let attributed: u64 = self.dropped_by_channel.values().sum::<u64>() + own;
        let unattributed = self.dropped.saturating_sub(attributed);
        let from_unattributed = (told - own).min(unattributed);
        self.dropped = self.dropped.saturating_sub(own + from_unattributed);
    }
}

/// One undelivered message for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    /// Names the entry for `outbox drop ID` (a UUID; made when missing).
    #[serde(default = "new_id")]
    pub id: String,
    /// The report text (header and sections, as first built).
    pub text: String,
    /// The channel's [`identity`].
    #[serde(default)]
    pub channel: String,
    /// The channel's [`label`], for people.
    #[serde(default)]
    pub label: String,
    /// No channel of the current config has this identity: kept, never
    /// sent, not counted for exit 3 (SPEC §7, §11).
    #[serde(default, skip_serializing_if = "is_false")]
    pub channel_gone: bool,
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
    #[serde(default, skip_serializing_if = "is_zero_parts")]
    pub parts_sent: usize,
    /// The channel answered that this can never succeed as it is (a 4xx
    /// other than 429): kept, but not tried again until the delivery
    /// settings change (SPEC §7, §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refused>,
    /// Keys this version does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The clock reading of the tick that last tried it, in this run only
    /// (never stored): a tick's clock reading is one value, so this says
    /// "already tried in this tick" — an entry is tried at most once per
    /// tick, so one tick never counts two attempts (and doubles the
    /// backoff twice) for it.
    #[serde(skip)]
    pub tried_at: Option<f64>,
    /// The clock reading of the tick that put it in as a new report, in this
    /// run only: a new report on a channel sends that channel's waiting
    /// entries first, their backoff ignored (SPEC §11).
    #[serde(skip)]
    pub new_at: Option<f64>,
}

fn is_zero_parts(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A refusal on record: when, under which delivery settings (a fingerprint
/// of the job config, the OpenClaw config and the token), and whether a
/// report has said so yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    pub at: f64,
    pub settings: String,
    #[serde(default)]
    pub told: bool,
}

impl OutboxMessage {
    /// A new entry for a report that has not been tried on this channel yet.
    pub fn new(
        spec: Channel,
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
            id: new_id(),
            text,
            channel: identity(&spec),
            label: label(&spec),
            channel_gone: false,
            target: None,
            header: header.to_string(),
            sections: sections.to_vec(),
            time,
            created_at: now,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            parts_sent: 0,
            refused: None,
            extra: Map::new(),
            tried_at: None,
            new_at: None,
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

    /// An entry as older versions wrote it: a plain channel key becomes its
    /// [`identity`] (and gives the label), and the stored channel spec —
    /// which could hold an argv, a URL path or headers, and which the state
    /// file must never be trusted with again — is dropped. Other unknown
    /// keys stay.
    fn upgrade(&mut self) {
        let spec = self.extra.remove("channelSpec");
        if self.channel.is_empty() {
            // Older entries without a key were for the channel they named.
            let spec = spec.and_then(|v| serde_json::from_value::<Channel>(v).ok());
            self.channel = spec
                .as_ref()
                .map(Channel::key)
                .unwrap_or_else(|| "telegram".into());
        }
        if !is_identity(&self.channel) {
            self.label = label_of_key(&self.channel);
            self.channel = identity_of_key(&self.channel);
        }
        if self.label.is_empty() {
            self.label = key_type(&self.channel).to_string();
        }
    }

    /// Whether the entry was tried in the tick whose clock reads `now`.
    pub fn tried_in(&self, now: f64) -> bool {
        self.tried_at == Some(now)
    }

    /// Whether the entry is a new report of the tick whose clock reads `now`.
    pub fn new_in(&self, now: f64) -> bool {
        self.new_at == Some(now)
    }

    /// Whether the entry's backoff is over at `now`.
    pub fn is_due(&self, now: f64) -> bool {
        self.next_attempt_at <= now + DUE_SLACK_SECONDS
    }

    /// Record a failed attempt: the error (already redacted), one more
    /// attempt, and the next try after `wait` seconds — which the delivery
    /// policy (`rules::delivery::retry_wait`) decides.
    pub fn failed(&mut self, error: String, wait: impl FnOnce(u32) -> f64, now: f64) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_error = Some(error);
        self.next_attempt_at = now + wait(self.attempts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(channel: &str, created: f64) -> OutboxMessage {
        let spec = Channel::File {
            path: channel.into(),
        };
        OutboxMessage::new(spec, "h", &["s".to_string()], created, created)
    }

    #[test]
    fn a_failure_counts_an_attempt_and_waits_what_the_policy_says() {
        let mut e = entry("a", 0.0);
        e.failed("down".into(), |n| 60.0 * f64::from(n), 1000.0);
        assert_eq!((e.attempts, e.next_attempt_at), (1, 1060.0));
        e.failed("down".into(), |n| 60.0 * f64::from(n), 2000.0);
        assert_eq!((e.attempts, e.next_attempt_at), (2, 2120.0));
        assert_eq!(e.last_error.as_deref(), Some("down"));
        assert!(!e.is_due(2100.0));
        assert!(e.is_due(2116.0));
    }

    #[test]
    fn round_trip_keeps_unknown_keys_and_reads_bare_entries() {
        let text = r#"{"text":"hello","future":1}"#;
        let e: OutboxMessage = serde_json::from_str(text).unwrap();
        assert_eq!(e.header_and_sections(), ("hello".to_string(), vec![]));
        assert_eq!(e.id.len(), 36, "an id is made for an entry without one");
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["future"], 1);

        let spec = Channel::Webhook {
            url: "https://hooks.example/T0/SECRET-PATH?k=SECRET-QUERY".into(),
            headers: [(
                "Authorization".to_string(),
                "Bearer SECRET-HEADER".to_string(),
            )]
            .into(),
        };
        let e = OutboxMessage::new(spec.clone(), "h", &["a".into(), "b".into()], 1.0, 2.0);
        assert_eq!(e.text, "h\n\na\n\nb");
        let saved = serde_json::to_value(&e).unwrap();
        let back: OutboxMessage = serde_json::from_value(saved.clone()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.channel, identity(&spec));
        assert_eq!(back.label, "webhook:https://hooks.example");
        assert!(!saved.to_string().contains("SECRET"), "{saved}");
    }

    #[test]
    fn identities_hash_the_destination_not_the_headers() {
        let hook = |url: &str, header: &str| Channel::Webhook {
            url: url.into(),
            headers: [("X".to_string(), header.to_string())].into(),
        };
        let a = identity(&hook("https://h/x", "1"));
        assert!(a.starts_with("webhook#") && is_identity(&a), "{a}");
        assert_eq!(a, identity(&hook("https://h/x", "2")));
        assert_ne!(a, identity(&hook("https://h/y", "1")));
        let cmd = Channel::Command {
            argv: vec!["apprise".into(), "tgram://SECRET".into()],
        };
        assert!(identity(&cmd).starts_with("command#"));
        assert_eq!(label(&cmd), "command");
        assert_eq!(label(&Channel::default()), "telegram");
        assert_eq!(
            label(&Channel::File {
                path: "/var/log/a.jsonl".into()
            }),
            "file:/var/log/a.jsonl"
        );
    }

    #[test]
    fn entries_of_older_versions_lose_their_channel_spec_and_keep_the_rest() {
        let text = r#"{"text":"t","channel":"command:sh -c id","later":[1],
            "channelSpec":{"type":"command","argv":["sh","-c","id"],"x":1}}"#;
        let outbox: Outbox = serde_json::from_str(&format!(
            r#"{{"outbox":[{text}],"outboxDroppedByChannel":{{"command:sh -c id":2}}}}"#
        ))
        .unwrap();
        let e = &outbox.entries[0];
        let cmd = Channel::Command {
            argv: vec!["sh".into(), "-c".into(), "id".into()],
        };
        assert_eq!(e.channel, identity(&cmd));
        assert_eq!(e.label, "command");
        assert_eq!(outbox.dropped_by_channel[&identity(&cmd)], 2);
        let saved = serde_json::to_value(&outbox).unwrap();
        assert!(saved["outbox"][0].get("channelSpec").is_none(), "{saved}");
        assert_eq!(saved["outbox"][0]["later"][0], 1);
        assert!(!saved.to_string().contains("sh -c"), "{saved}");
    }

    #[test]
    fn the_cap_is_per_channel_and_drops_that_channels_oldest() {
        let mut outbox = Outbox::default();
        // 50 + 3 for "even", 50 for "odd", 10 for "few": 113 in all.
        for i in 0..OUTBOX_KEEP + 3 {
            // Pushed out of order: trimming must still drop by age.
            outbox
                .entries
                .push(entry("even", (OUTBOX_KEEP + 3 - i) as f64));
        }
        for i in 0..OUTBOX_KEEP {
            outbox.entries.push(entry("odd", 0.5 + i as f64));
        }
        for i in 0..10 {
            outbox.entries.push(entry("few", 0.25 + i as f64));
        }
        let dropped = outbox.trim();
        assert_eq!(dropped.len(), 3);
        assert_eq!(outbox.len(), 2 * OUTBOX_KEEP + 10);
        let (even, odd) = (identity_of_key("file:even"), identity_of_key("file:odd"));
        assert!(dropped.iter().all(|d| d.channel == even));
        let mut made: Vec<f64> = dropped.iter().map(|d| d.created_at).collect();
        made.sort_by(f64::total_cmp);
        assert_eq!(made, [1.0, 2.0, 3.0], "that channel's oldest");
        let per = |c: &str| outbox.entries.iter().filter(|e| e.channel == c).count();
        assert_eq!((per(&even), per(&odd)), (OUTBOX_KEEP, OUTBOX_KEEP));
        assert_eq!(per(&identity_of_key("file:few")), 10);
        assert!(outbox
            .entries
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at));
        assert_eq!(outbox.dropped, 3);
        assert_eq!(outbox.dropped_untold(&even), 3);
        assert_eq!(outbox.dropped_untold(&odd), 0);
        assert!(outbox.trim().is_empty(), "nothing more to drop");

        outbox.dropped_told(&even, 3);
        assert_eq!(outbox.dropped, 0);
        assert!(outbox.dropped_by_channel.is_empty());
        let saved = serde_json::to_value(&outbox).unwrap();
        assert!(saved.get("outboxDroppedByChannel").is_none());
        assert!(saved.get("outboxDropped").is_none());
    }

    #[test]
    fn drops_of_two_channels_are_counted_apart() {
        let mut outbox = Outbox::default();
        for i in 0..OUTBOX_KEEP + 3 {
            let ch = if i % 2 == 0 { "a" } else { "b" };
            outbox.entries.push(entry(ch, i as f64));
        }
        for i in 0..OUTBOX_KEEP {
            outbox.entries.push(entry("b", 100.0 + i as f64));
        }
        // a: 27 (under the cap); b: 26 + 50 = 76, its 26 oldest dropped.
        let dropped = outbox.trim();
        let (a, b) = (identity_of_key("file:a"), identity_of_key("file:b"));
        assert_eq!(dropped.len(), 26);
        assert!(dropped
            .iter()
            .all(|d| d.channel == b && d.created_at < 100.0));
        assert_eq!(outbox.dropped_untold(&a), 0);
        assert_eq!(outbox.dropped_untold(&b), 26);
        outbox.dropped_told(&b, 26);
        assert_eq!(outbox.dropped, 0);
    }

    #[test]
    fn unattributed_drops_go_to_the_first_channel_that_delivers() {
        let mut outbox = Outbox {
            dropped: 4,
            ..Outbox::default()
        };
        assert_eq!(outbox.dropped_untold("telegram"), 4);
        outbox.dropped_told("telegram", 4);
        assert_eq!(outbox.dropped, 0);
        assert_eq!(outbox.dropped_untold("webhook:x"), 0);
    }

    #[test]
    fn counts_that_are_not_positive_integers_count_as_none() {
        let outbox: Outbox = serde_json::from_value(serde_json::json!({
            "outboxDropped": 5,
            "outboxDroppedByChannel": {"a": 2, "b": "three", "c": 0, "d": -1, "e": 1.5},
        }))
        .unwrap();
        let a = identity_of_key("a");
        assert_eq!(outbox.dropped_by_channel, [(a.clone(), 2)].into());
        assert_eq!(outbox.dropped_untold(&a), 5);
        assert_eq!(outbox.dropped_untold("b"), 3);
        let outbox: Outbox =
            serde_json::from_value(serde_json::json!({"outboxDroppedByChannel": [1]})).unwrap();
        assert!(outbox.dropped_by_channel.is_empty());
    }
}
