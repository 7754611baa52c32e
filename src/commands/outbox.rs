//! `outbox`, `outbox retry`, `outbox drop ID|--all` (SPEC §7, §9): what waits
//! to be delivered, trying it now, and giving it up.
//!
//! Entries are shown by their short id, redacted channel label, age,
//! attempts, next try and last error; an entry whose channel left the
//! config says so — it is never sent until a channel with its identity is
//! configured again.

use anyhow::Result;

use super::show::time_text;
use super::{config_missing, files, load_config, load_watching, no_config_text, with_state};
use crate::cli::{Global, OutboxAction};
use crate::clock::Clock;
use crate::config::{Channel, Config};
use crate::deliver::{self, Context};
use crate::exit::{fail, Code};
use crate::out::{errln, outln};
use crate::outbox::{self, OutboxMessage};
use crate::state;

/// The identities of the channels the config delivers to.
pub(super) fn configured(config: &Config) -> Vec<String> {
    match &config.defaults.notify {
        Some(list) => list.iter().map(outbox::identity).collect(),
        None => vec![outbox::identity(&Channel::default())],
    }
}

/// The first 8 characters of an entry's id, as `outbox` shows it.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

pub fn run(g: &Global, action: Option<&OutboxAction>) -> Result<Code> {
    match action {
        None => list(g),
        Some(OutboxAction::Retry) => retry(g),
        Some(OutboxAction::Drop { id, all }) => drop(g, id.as_deref(), *all),
    }
}

fn list(g: &Global) -> Result<Code> {
    let files = files(g)?;
    // No config at all (SPEC §11): `tick` still retries what waits for
    // Telegram as it is without `defaults.notify`, and keeps the rest until
    // there is a config; the list says so — it shows the state, it runs
    // nothing.
    let missing = config_missing(&files);
    let channels = if missing {
        errln!("warning: {}", no_config_text(&files));
        vec![outbox::identity(&Channel::default())]
    } else {
        configured(&load_watching(&files)?)
    };
    let st = state::load(&files.state, false)?;
    let now = Clock::read().now;
    if st.outbox.is_empty() {
        outln!("outbox: empty");
        return Ok(Code::Ok);
    }
    outln!("outbox: {} undelivered", st.outbox.len());
    let mut entries: Vec<&OutboxMessage> = st.outbox.entries.iter().collect();
    entries.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
    for e in entries {
        let when = if !channels.contains(&e.channel) && missing {
            "not sent: there is no config (without one only Telegram's entries are retried)"
                .to_string()
        } else if !channels.contains(&e.channel) {
            "not sent: its channel is no longer in the config".to_string()
        } else if e.next_attempt_at <= now {
            "next try: the next tick".to_string()
        } else {
            format!("next try: {}", time_text(e.next_attempt_at))
        };
        outln!(
            "{}  {}  made {}  attempts {}  {when}",
            short(&e.id),
            e.label,
            time_text(e.created_at),
            e.attempts
        );
        if let Some(err) = &e.last_error {
            outln!("          last error: {err}");
        }
        let first = e.text.lines().next().unwrap_or("");
        outln!("          {}", crate::text::cap(first, 100));
    }
    Ok(Code::Ok)
}

/// Every entry of a configured channel is tried now, its backoff ignored.
fn retry(g: &Global) -> Result<Code> {
    let files = files(g)?;
    let config = load_config(&files, false)?;
    let ctx = Context::from_env(config.defaults.notify.clone(), None, &files);
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        let before = st.outbox.len();
        for e in &mut st.outbox.entries {
            e.next_attempt_at = e.next_attempt_at.min(now);
        }
        let outcome = deliver::flush_outbox(&mut st.outbox, &ctx, now);
        for n in &outcome.notices {
            errln!("{n}");
        }
        outln!(
            "outbox: {} delivered, {} left ({} of them for channels no longer in the config)",
            before - st.outbox.len(),
            st.outbox.len(),
            st.outbox.len() - st.outbox.retried()
        );
        Ok(if st.outbox.retried() == 0 {
            Code::Ok
        } else {
            Code::Undelivered
        })
    })
}

fn drop(g: &Global, id: Option<&str>, all: bool) -> Result<Code> {
    let files = files(g)?;
    with_state(&files, g, |st| {
        let gone: Vec<OutboxMessage> = match (id, all) {
            (_, true) => std::mem::take(&mut st.outbox.entries),
            (Some(id), false) => {
                let id = id.trim();
                let matching: Vec<usize> = st
                    .outbox
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !id.is_empty() && e.id.starts_with(id))
                    .map(|(i, _)| i)
                    .collect();
                match matching.as_slice() {
                    [i] => vec![st.outbox.entries.remove(*i)],
                    [] => return Err(fail(Code::Usage, format!("outbox: no entry {id}"))),
                    _ => {
                        return Err(fail(
                            Code::Usage,
                            format!("outbox: {id} names more than one entry; give more of its id"),
                        ))
                    }
                }
            }
            (None, false) => {
                return Err(fail(Code::Usage, "outbox drop: name an ID or pass --all"))
            }
        };
        for e in &gone {
            outln!(
                "dropped {} ({}, made {})",
                short(&e.id),
                e.label,
                time_text(e.created_at)
            );
        }
        if gone.is_empty() {
            outln!("outbox: empty");
        }
        Ok(Code::Ok)
    })
}
