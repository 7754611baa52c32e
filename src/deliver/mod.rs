//! Delivering a report (SPEC §7) through the configured channels, with the
//! outbox so that nothing is lost.
//!
//! Every message is tried on each channel on its own; what a channel could
//! not take goes to the state's outbox as one entry for that channel, and
//! [`flush_outbox`] retries due entries oldest first at the start of later
//! ticks. A failing channel never holds back or repeats another.
//!
//! Order per channel (SPEC §7, §11): a channel's entries go oldest first,
//! and one that cannot go now — its backoff is not over, it failed, or it
//! was tried already in this tick — holds back the newer ones of that
//! channel until a later tick. A new report of this tick ([`enqueue`]) on a
//! channel makes that channel's waiting entries go first, their backoff
//! ignored; an entry is still tried at most once per tick, so a tick that
//! retried a channel in step 3 and failed does not try it again for its
//! new report (which waits behind, with no attempt counted).
//!
//! Decisions the SPEC leaves open:
//! - An outbox entry is retried with the channel as configured now (its
//!   headers, proxy, account); an entry whose channel left the config is
//!   kept, never sent elsewhere.
//! - A Telegram entry is retried to the target resolved now (`--target`, the
//!   channel's target, the OpenClaw config), falling back to the chat stored
//!   in the entry, so fixing a wrong target also fixes the waiting messages.
//! - An entry refused as it is does not hold its channel back: the entries
//!   made after it are marked refused too (see [`enqueue`]), those made
//!   before it still go.
//! - Telegram parts already delivered of a split report are not sent again.
//!
//! Nothing here reads the environment: [`Context::from_env`] does, once.
//! Nothing costly happens before something is sent: the HTTP client and the
//! OpenClaw config are made and read on first use.

mod channels;
mod openclaw;
pub mod probe;
pub mod split;
mod telegram;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::Channel;
use crate::outbox::{self, Outbox, OutboxMessage, OUTBOX_KEEP};
use crate::process;
use crate::report::Message;
use crate::rules::delivery;
use crate::secrets;
use crate::signals;
use crate::text;

/// The official Bot API server.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// Time limit of one HTTP request (Bot API, webhook).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Time limit of a `command` channel and of `openclaw message send`.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of an HTTP answer read at most.
const ANSWER_LIMIT: u64 = 64 * 1024;

/// The text when no Telegram chat is known (the tick exits 3).
pub const MISSING_TARGET: &str = "ERROR: missing Telegram target. Pass --target <chat_id>.";

/// How delivery waits in place (a short Telegram `429`): the real sleep in
/// a run; tests record the wait instead of sleeping.
pub type Pause = Arc<dyn Fn(Duration) + Send + Sync>;

/// Where and how to deliver.
#[derive(Clone)]
pub struct Context {
    /// `defaults.notify`, or `None` for Telegram only.
    pub channels: Option<Vec<Channel>>,
    /// `--target`, which wins over every configured target.
    pub target_override: Option<String>,
    /// The OpenClaw config (SPEC §1).
    pub openclaw_config: PathBuf,
    /// The OpenClaw home: its `.env` is read for `${VAR}` and tokens.
    pub openclaw_home: PathBuf,
    /// The `PATH` searched for `openclaw`; `None`: not searched.
    pub path_env: Option<OsString>,
    /// Folders searched for `openclaw` after `path_env` ([`telegram::cli_dirs`]).
    pub openclaw_dirs: Vec<PathBuf>,
    /// `$OPS_MONITOR_TELEGRAM_API`: the Bot API base URL, without a trailing
    /// slash, over `apiRoot` and the official server.
    pub telegram_api: Option<String>,
    /// `$TELEGRAM_BOT_TOKEN`, the last source of the token.
    pub env_token: Option<String>,
    /// The process environment, for `${VAR}` and SecretRef `env` tokens in
    /// the OpenClaw config.
    pub env_vars: BTreeMap<String, String>,
    /// Time limit of one HTTP request.
    pub http_timeout: Duration,
    /// Time limit of a command channel and of the `openclaw` CLI.
    pub command_timeout: Duration,
    /// This host's name, in webhook and file payloads.
    pub host: String,
    /// Working directory of a command channel and of the `openclaw` CLI.
    pub cwd: PathBuf,
    /// Waits out a short `429` ([`std::thread::sleep`] unless a test swaps it).
    pub pause: Pause,
    /// The job config the channels came from, for [`Context::settings_print`].
    pub job_config: Option<PathBuf>,
    /// Time this tick has spent delivering so far, shared by every flush
    /// and the Alertmanager posts (SPEC §11, [`Context::budget_left`]).
    pub spent: Spent,
}

/// Time spent delivering, added up over the calls that deliver. Only that
/// time counts against the tick's budget: a tick whose status commands took
/// 40 s still has its whole budget for the report they produced.
#[derive(Debug, Clone, Default)]
pub struct Spent(Arc<std::sync::Mutex<SpentInner>>);

#[derive(Debug, Default)]
struct SpentInner {
    done: Duration,
    /// When the call under way began (nested calls count once).
    since: Option<Instant>,
}

impl Spent {
    fn lock(&self) -> std::sync::MutexGuard<'_, SpentInner> {
        // Nothing panics while holding it; a poisoned lock still counts.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// So far, the call under way included.
    pub fn so_far(&self) -> Duration {
        let inner = self.lock();
        inner.done + inner.since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Run `f`, counting its time.
    pub fn count<T>(&self, f: impl FnOnce() -> T) -> T {
        let outer = {
            let mut inner = self.lock();
            let outer = inner.since.is_none();
            if outer {
                inner.since = Some(Instant::now());
            }
            outer
        };
        let result = f();
        if outer {
            let mut inner = self.lock();
            if let Some(t) = inner.since.take() {
                inner.done += t.elapsed();
            }
        }
        result
    }
}

impl fmt::Debug for Context {
    // By hand, so that the token never lands in a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("channels", &self.channels)
            .field("target_override", &self.target_override)
            .field("openclaw_config", &self.openclaw_config)
            .field("openclaw_home", &self.openclaw_home)
            .field("path_env", &self.path_env)
            .field("openclaw_dirs", &self.openclaw_dirs)
            .field("telegram_api", &self.telegram_api)
            .field("env_token", &self.env_token.as_ref().map(|_| "<redacted>"))
            .field(
                "env_vars",
                &format_args!("{} variables", self.env_vars.len()),
            )
            .field("http_timeout", &self.http_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("host", &self.host)
            .field("cwd", &self.cwd)
            .field("pause", &"<fn>")
            .field("spent", &self.spent)
            .field("job_config", &self.job_config)
            .finish()
    }
}

impl Context {
    /// A fingerprint of what delivery depends on — the job config, the
    /// OpenClaw config and the token in the environment: a refused message
    /// is tried again only once it changed (SPEC §7).
    pub fn settings_print(&self) -> String {
        let read = |p: Option<&Path>| p.and_then(|p| std::fs::read(p).ok()).unwrap_or_default();
        // The channels as configured (headers included: a new key is a
        // change), then the files they and the token come from.
        let mut bytes = serde_json::to_vec(&self.channels).unwrap_or_default();
        bytes.push(0);
        bytes.extend(read(self.job_config.as_deref()));
        bytes.push(0);
        bytes.extend(read(Some(&self.openclaw_config)));
        bytes.push(0);
        bytes.extend(self.env_token.as_deref().unwrap_or("").as_bytes());
        format!("{:016x}", crate::text::fnv1a(&bytes))
    }

    /// The delivery budget of one tick (SPEC §11: 30 s in all — one and a
    /// half request deadlines).
    pub fn budget(&self) -> Duration {
        self.http_timeout.mul_f64(delivery::BUDGET_IN_DEADLINES)
    }

    /// What is left of the budget; what is not tried by the end of it is
    /// tried on the next tick.
    pub fn budget_remaining(&self) -> Duration {
        self.budget().saturating_sub(self.spent.so_far())
    }

    pub fn budget_left(&self) -> bool {
        !self.budget_remaining().is_zero()
    }

    /// A context that reads nothing from the environment: no `PATH` (so no
    /// `openclaw` CLI), the official Bot API (or the config's `apiRoot`), no
    /// token from the environment, the OpenClaw home being the config's
    /// folder, the default time limits. Tests and callers adjust the fields.
    pub fn new(
        channels: Option<Vec<Channel>>,
        target_override: Option<String>,
        openclaw_config: PathBuf,
    ) -> Context {
        Context {
            channels,
            target_override,
            openclaw_home: openclaw_config
                .parent()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/")),
            openclaw_config,
            path_env: None,
            openclaw_dirs: Vec::new(),
            telegram_api: None,
            env_token: None,
            env_vars: BTreeMap::new(),
            http_timeout: HTTP_TIMEOUT,
            command_timeout: COMMAND_TIMEOUT,
            host: hostname(),
            cwd: PathBuf::from("/"),
            pause: Arc::new(std::thread::sleep),
            spent: Spent::default(),
            job_config: None,
        }
    }

    /// The context of a real run: `PATH`, `$OPS_MONITOR_TELEGRAM_API`,
    /// `$TELEGRAM_BOT_TOKEN` and the rest of the environment, the folders
    /// OpenClaw's installers use for `openclaw`, commands run in the
    /// OpenClaw config's folder.
    pub fn from_env(
        channels: Option<Vec<Channel>>,
        target_override: Option<String>,
        files: &crate::paths::Files,
    ) -> Context {
        let non_empty = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut ctx = Context::new(channels, target_override, files.openclaw_config.clone());
        ctx.openclaw_home = files.home.clone();
        ctx.job_config = Some(files.config.clone());
        ctx.path_env = std::env::var_os("PATH");
        ctx.openclaw_dirs = telegram::cli_dirs(&files.user_home, &files.home);
        ctx.telegram_api =
            non_empty("OPS_MONITOR_TELEGRAM_API").map(|api| api.trim_end_matches('/').to_string());
        // A shorter deadline for tests of a server that never finishes (like
        // OPS_MONITOR_NOW, a seam for tests; never needed in production).
        if let Some(secs) = non_empty("OPS_MONITOR_HTTP_TIMEOUT")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero() && *d <= HTTP_TIMEOUT)
        {
            ctx.http_timeout = secs;
        }
        ctx.env_token = non_empty("TELEGRAM_BOT_TOKEN");
        ctx.env_vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        if let Some(dir) = ctx.openclaw_config.parent().filter(|d| d.is_dir()) {
            ctx.cwd = dir.to_path_buf();
        }
        ctx
    }

    /// The channels to deliver to: `defaults.notify`, else Telegram.
    fn channel_list(&self) -> Vec<Channel> {
        match &self.channels {
            Some(list) => list.clone(),
            None => vec![Channel::default()],
        }
    }
}

/// What a delivery attempt came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Messages still in the outbox after this attempt.
    pub undelivered: usize,
    /// Lines for the operator (stderr): errors, a migrated chat, dropped messages.
    pub notices: Vec<String>,
    /// Messages (one per channel) delivered by this call.
    pub delivered: usize,
}

/// Retry what waits in the outbox whose time has come, oldest first —
/// each entry only through the configured channel with its identity (SPEC
/// §7: the state file never decides what is run or where anything is
/// posted). An entry whose channel left the config is kept and marked
/// `channelGone`, said once, and sent again only once the channel is back.
pub fn flush_outbox(outbox: &mut Outbox, ctx: &Context, now: f64) -> Outcome {
    if outbox.is_empty() {
        return Outcome::default();
    }
    ctx.spent.count(|| flush_waiting(outbox, ctx, now))
}

fn flush_waiting(outbox: &mut Outbox, ctx: &Context, now: f64) -> Outcome {
    let mut session = Session::new(ctx);
    let configured: Vec<(String, Channel)> = ctx
        .channel_list()
        .into_iter()
        .map(|c| (outbox::identity(&c), c))
        .collect();
    outbox.sort_oldest_first();
    let waiting = std::mem::take(&mut outbox.entries);
    let with_new_report: HashSet<String> = waiting
        .iter()
        .filter(|e| e.new_in(now))
        .map(|e| e.channel.clone())
        .collect();
    // Channels whose remaining entries wait for a later tick.
    let mut held = HashSet::new();
    let mut kept = Vec::new();
    let mut delivered = 0;
    let mut over_budget = false;
    // Read once, and only if a refused entry waits.
    let mut settings: Option<String> = None;
    for mut entry in waiting {
        if signals::received().is_some() {
            // Stopping (SPEC §8): nothing more is tried; all stays kept.
            kept.push(entry);
            continue;
        }
        let Some((_, spec)) = configured.iter().find(|(id, _)| *id == entry.channel) else {
            if !entry.channel_gone {
                entry.channel_gone = true;
                session.notices.push(format!(
                    "outbox: a message for {} is kept but not sent: that channel is no longer \
                     in the config (`ops-monitor outbox` lists it, `ops-monitor outbox drop ID` \
                     removes it)",
                    entry.label
                ));
            }
            kept.push(entry);
            continue;
        };
        entry.channel_gone = false;
        if let Some(r) = &entry.refused {
            if r.settings == *settings.get_or_insert_with(|| ctx.settings_print()) {
                // Refused as it is: nothing changed that could help.
                kept.push(entry);
                continue;
            }
            entry.refused = None;
        }
        // Order per channel (SPEC §7, §11): an entry that cannot go now
        // holds back the newer ones of its channel. It cannot go when the
        // channel failed in this call, when it was tried already in this
        // tick, or when its backoff is not over — unless a new report of
        // this tick waits on the channel: then the waiting ones go first,
        // their backoff ignored.
        if held.contains(&entry.channel)
            || entry.tried_in(now)
            || !(entry.is_due(now) || with_new_report.contains(&entry.channel))
        {
            held.insert(entry.channel.clone());
            kept.push(entry);
            continue;
        }
        if !ctx.budget_left() {
            if !over_budget {
                over_budget = true;
                session.notices.push(format!(
                    "outbox: the delivery budget of this tick ({} s) is used up; \
                     the rest is tried on the next tick",
                    ctx.budget().as_secs_f64()
                ));
            }
            kept.push(entry);
            continue;
        }
        mark_delayed(&mut entry, now);
        entry.tried_at = Some(now);
        if try_entry(&mut session, outbox, &mut entry, spec, now) {
            delivered += 1;
        } else {
            held.insert(entry.channel.clone());
            kept.push(entry);
        }
    }
    // Nothing is added to the outbox while it is taken out above.
    kept.append(&mut outbox.entries);
    outbox.entries = kept;
    session.finish(outbox, delivered)
}

/// An entry sent from the outbox says when it was written (SPEC §5.6), once.
fn mark_delayed(entry: &mut OutboxMessage, now: f64) {
    // Delayed: it failed at least once, or it waited untried behind an
    // older entry of its channel — not this tick's new report (which goes
    // through the outbox too, SPEC §5 step 6, and is not late).
    let fresh = entry.attempts == 0 && entry.new_in(now);
    if fresh || entry.time <= 0.0 || entry.header.ends_with(", delayed)") {
        return;
    }
    let note = crate::report::delayed_note(entry.time);
    let (header, sections) = entry.header_and_sections();
    entry.sections = sections;
    entry.header = if header.is_empty() {
        note
    } else {
        format!("{header} {note}")
    };
    entry.text = std::iter::once(entry.header.as_str())
        .chain(entry.sections.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n\n");
}

/// Deliver `message` through every channel, each after what already waits
/// on it ([`enqueue`], then [`flush_outbox`]); what fails stays in the outbox.
pub fn deliver(outbox: &mut Outbox, ctx: &Context, message: &Message, now: f64) -> Outcome {
    let dropped = enqueue(outbox, ctx, message, now);
    let mut outcome = flush_outbox(outbox, ctx, now);
    outcome.notices.splice(0..0, dropped);
    outcome
}

/// Put `message` in the outbox for every channel, due now, without sending
/// anything (SPEC §5 step 6): the caller saves the state and then calls
/// [`flush_outbox`], so a report is on disk before it leaves, and a crash,
/// a full disk or a broken pipe can never deliver it twice or lose it.
/// The new entries are marked as this tick's new report, so the flush
/// sends the entries already waiting on those channels first, their
/// backoff ignored, and each channel keeps its order (SPEC §11) — unless
/// one was tried already in this tick: it then holds the channel back, and
/// its stored backoff is left as it is.
pub fn enqueue(outbox: &mut Outbox, ctx: &Context, message: &Message, now: f64) -> Vec<String> {
    let channels = ctx.channel_list();
    // The delivery settings are read (two files) only when a refusal waits.
    let settings = outbox
        .entries
        .iter()
        .any(|e| e.refused.is_some())
        .then(|| ctx.settings_print());
    for spec in channels {
        let mut entry =
            OutboxMessage::new(spec, &message.header, &message.sections, message.time, now);
        entry.new_at = Some(now);
        // A channel that refused its earlier messages as they are refuses
        // this one too until something changes: it waits with them, said.
        if let Some(settings) = &settings {
            let refused = outbox.entries.iter().any(|e| {
                e.channel == entry.channel
                    && e.refused.as_ref().is_some_and(|r| r.settings == *settings)
            });
            if refused {
                entry.refused = Some(outbox::Refused {
                    at: now,
                    settings: settings.clone(),
                    told: true,
                });
            }
        }
        outbox.entries.push(entry);
    }
    outbox
        .trim()
        .into_iter()
        .map(|gone| {
            format!(
                "outbox full for {} ({} kept per channel): dropped its oldest undelivered message \
                 (made {}, {} attempts)",
                gone.label,
                OUTBOX_KEEP,
                rfc3339(gone.created_at),
                gone.attempts
            )
        })
        .collect()
}

/// The `notify TEXT` command: deliver `text` as a one-off message through
/// the configured channels and rules — on each channel after what already
/// waits there ([`deliver`]), so the outbox is retried too.
pub fn notify(outbox: &mut Outbox, ctx: &Context, text: &str, now: f64) -> Outcome {
    // A text over Telegram's limit is sent in pieces, never cut.
    let pieces = split::chunks(text, split::TELEGRAM_LIMIT);
    let message = match pieces.as_slice() {
        [_, _, ..] => Message {
            header: String::new(),
            sections: pieces,
            time: now,
        },
        _ => Message {
            header: text.to_string(),
            sections: Vec::new(),
            time: now,
        },
    };
    deliver(outbox, ctx, &message, now)
}

/// `text` with `secret` replaced, in every spelling (`secrets::redact_one`).
pub fn redact(text: &str, secret: &str) -> String {
    secrets::redact_one(text, secret)
}

/// `text` with whatever stands between `/bot` and the next `/` replaced: a
/// Bot API URL in an error never shows a token, whatever it holds (SPEC §7).
fn redact_bot_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/bot") {
        let after = &rest[i + 4..];
        match after.find(['/', ' ', '"', ')']) {
            Some(end) if end > 0 && after[end..].starts_with('/') => {
                out.push_str(&rest[..i]);
                out.push_str("/bot<redacted>");
                rest = &after[end..];
            }
            _ => {
                out.push_str(&rest[..i + 4]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The secrets to redact from job output, for `secrets::learn_later`: the
/// config's own ([`Defaults::secrets`]) and the tokens the OpenClaw config
/// gives for the default account and every Telegram channel — that file is
/// read only if something is redacted.
pub fn secret_source(
    defaults: &crate::config::Defaults,
    files: crate::paths::Files,
) -> impl FnOnce() -> Vec<String> + Send + 'static {
    let defaults = defaults.clone();
    move || {
        let mut secrets = defaults.secrets();
        let ctx = Context::from_env(defaults.notify, None, &files);
        let mut session = Session::new(&ctx);
        for spec in ctx.channel_list() {
            if let Channel::Telegram { target, account } = spec {
                telegram::settings(&mut session, target.as_deref(), account.as_deref());
            }
        }
        secrets.extend(telegram::known_tokens(&mut session));
        secrets
    }
}

/// This host's name (`gethostname`, which is uname's node name), or
/// `localhost` when the OS has none.
pub fn hostname() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().trim().to_string();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// Unix seconds as an RFC 3339 UTC time (`2024-05-01T12:00:00Z`).
pub(crate) fn rfc3339(time: f64) -> String {
    let secs = time.floor();
    let nanos = ((time - secs) * 1e9) as u32;
    chrono::DateTime::from_timestamp(secs as i64, nanos.min(999_999_999))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why one attempt on one channel failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub error: String,
    /// The channel asked to wait this long (a Telegram `429`).
    pub retry_after: Option<f64>,
    /// The answer says it can never succeed as it is (SPEC §11: a 4xx other
    /// than 429).
    pub refused: bool,
}

impl Failure {
    pub fn new(error: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            retry_after: None,
            refused: false,
        }
    }

    /// A failure the channel refused for good, as it is.
    pub fn refused(error: impl Into<String>) -> Failure {
        Failure {
            refused: true,
            ..Failure::new(error)
        }
    }
}

/// Try `entry` once on `spec`. Delivered: the untold dropped count of its
/// channel went with it and is cleared. Not delivered: the entry records the
/// (redacted) error and its next attempt.
fn try_entry(
    session: &mut Session,
    outbox: &mut Outbox,
    entry: &mut OutboxMessage,
    spec: &Channel,
    now: f64,
) -> bool {
    let untold = outbox.dropped_untold(&entry.channel);
    let dropped_line = (untold > 0).then(|| {
        format!(
            "• ALERT: {untold} earlier message(s) for this channel could not be delivered and were dropped (outbox full)"
        )
    });
    let result = match spec {
        Channel::Telegram { target, account } => telegram::send(
            session,
            target.as_deref(),
            account.as_deref(),
            entry,
            dropped_line.as_deref(),
        ),
        other => channels::send(session, other, entry, dropped_line.as_deref()),
    };
    match result {
        Ok(()) => {
            if untold > 0 {
                outbox.dropped_told(&entry.channel, untold);
                session.notices.push(format!(
                    "{}: told that {untold} dropped message(s) were lost",
                    entry.label
                ));
            }
            true
        }
        Err(failure) if failure.refused => {
            let error = session.redact(&failure.error);
            entry.attempts = entry.attempts.saturating_add(1);
            entry.last_error = Some(error.clone());
            entry.refused = Some(outbox::Refused {
                at: now,
                settings: session.ctx.settings_print(),
                told: false,
            });
            session.notices.push(format!(
                "{}: refused, kept in the outbox until the config, the OpenClaw config or the \
                 token changes: {error}",
                entry.label
            ));
            false
        }
        Err(failure) => {
            let error = session.redact(&failure.error);
            let retry_after = failure.retry_after;
            entry.failed(
                error.clone(),
                |attempts| delivery::retry_wait(attempts, retry_after),
                now,
            );
            session.notices.push(format!(
                "{}: not delivered, kept in the outbox (next try in {:.0} s): {error}",
                entry.label,
                (entry.next_attempt_at - now).max(0.0)
            ));
            false
        }
    }
}

/// What one `flush_outbox` or `deliver` call shares between its attempts:
/// the OpenClaw config and the HTTP clients, each made on first use, and
/// the notices so far.
pub(crate) struct Session<'a> {
    pub ctx: &'a Context,
    /// The OpenClaw config and the tokens it gave.
    telegram: telegram::Cache,
    /// By route: `None` through the environment's proxy, `Some("")` direct
    /// (loopback), `Some(url)` through a channel's own proxy.
    clients: HashMap<Option<String>, reqwest::blocking::Client>,
    pub notices: Vec<String>,
}

impl<'a> Session<'a> {
    fn new(ctx: &'a Context) -> Session<'a> {
        Session {
            ctx,
            telegram: telegram::Cache::default(),
            clients: HashMap::new(),
            notices: Vec::new(),
        }
    }

    /// `text` with every token this run knows of redacted, and any Bot API
    /// URL path cut at `/bot`: what is printed or stored of an error.
    pub fn redact(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for t in telegram::known_tokens(self) {
            out = redact(&out, &t);
        }
        if let Some(t) = self.ctx.env_token.clone() {
            out = redact(&out, &t);
        }
        redact_bot_paths(&secrets::redact(&out))
    }

    /// POST `body` as JSON; the status and the answer's text, or why no
    /// answer came (with the URL in it — callers redact).
    pub fn post_json(
        &mut self,
        url: &str,
        body: &Value,
        headers: &BTreeMap<String, String>,
    ) -> Result<(u16, String), String> {
        self.post_json_via(url, body, headers, None)
    }

    /// `post_json` through `proxy` (a channel's own) instead of the
    /// environment's `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`.
    pub fn post_json_via(
        &mut self,
        url: &str,
        body: &Value,
        headers: &BTreeMap<String, String>,
        proxy: Option<&str>,
    ) -> Result<(u16, String), String> {
        let client = self.client(url, proxy)?.clone();
        let mut request = client.post(url).json(body);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        // One deadline for the whole request, connection to last byte (SPEC
        // §7): the request runs on its own thread and this one waits for it
        // until the deadline — a server trickling a byte a second cannot hold
        // the tick (and its lock) past it. A SIGINT/SIGTERM abandons it at
        // once; the message stays in the outbox.
        let limit = self.ctx.http_timeout;
        let deadline = Instant::now() + limit;
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || {
                let _ = tx.send(exchange(request));
            });
        if let Err(e) = worker {
            return Err(format!("cannot start the request: {e}"));
        }
        loop {
            if let Some(sig) = signals::received() {
                return Err(format!("{url}: abandoned (signal {sig})"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "{url}: timed out: no complete answer within {} s",
                    limit.as_secs_f64()
                ));
            }
            match rx.recv_timeout(left.min(SIGNAL_CHECK)) {
                Ok(result) => return result,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("{url}: the request ended without an answer"))
                }
            }
        }
    }

    /// The HTTP client, built on first use (it starts a runtime thread, which
    /// a tick that sends nothing must not pay for). Loopback addresses are
    /// reached directly, never through a proxy; others through `proxy` when
    /// given, else the environment's.
    fn client(
        &mut self,
        url: &str,
        proxy: Option<&str>,
    ) -> Result<&reqwest::blocking::Client, String> {
        let route = if is_loopback(url) {
            Some(String::new())
        } else {
            proxy.map(str::to_string)
        };
        if !self.clients.contains_key(&route) {
            // No redirects (a redirect is a failure naming its `Location`:
            // a Bot API base answering 307 elsewhere would get the token,
            // a webhook's secret headers would go to the new host) and no
            // `Referer` (SPEC §7). The client's own timeout is a backstop
            // for an abandoned request's thread.
            let mut builder = reqwest::blocking::Client::builder()
                .timeout(self.ctx.http_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
                .user_agent(concat!("ops-monitor/", env!("CARGO_PKG_VERSION")));
            match route.as_deref() {
                Some("") => builder = builder.no_proxy(),
                Some(p) => {
                    // The proxy's URL may hold a password: not in the error.
                    let proxy = reqwest::Proxy::all(p)
                        .map_err(|_| "the channel's proxy is not a valid proxy URL".to_string())?;
                    builder = builder.proxy(proxy);
                }
                None => {}
            }
            let client = builder.build().map_err(|e| error_chain(&e))?;
            self.clients.insert(route.clone(), client);
        }
        Ok(self.clients.get(&route).expect("client was just built"))
    }

    /// The outcome: the outbox size and the notices, redacted.
    fn finish(mut self, outbox: &Outbox, delivered: usize) -> Outcome {
        let notices = std::mem::take(&mut self.notices);
        let notices = notices.iter().map(|n| self.redact(n)).collect();
        Outcome {
            undelivered: outbox.len(),
            notices,
            delivered,
        }
    }
}

pub(crate) fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// How often a request's wait looks at the signals: a SIGTERM abandons a
/// delivery well within the 2 s SPEC §8 allows.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Send one request and read the start of its answer: the status and up to
/// [`ANSWER_LIMIT`] bytes. A redirect is an error naming where it pointed.
fn exchange(request: reqwest::blocking::RequestBuilder) -> Result<(u16, String), String> {
    let response = request.send().map_err(|e| error_chain(&e))?;
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
            .unwrap_or_else(|| "nowhere".into());
        return Err(format!(
            "HTTP {}: a redirect to {} (not followed)",
            status.as_u16(),
            text::cap(&location, 300)
        ));
    }
    // Only the start of an answer is ever looked at; a webhook that answers
    // with megabytes must not cost memory or time.
    let mut body = Vec::new();
    response
        .take(ANSWER_LIMIT)
        .read_to_end(&mut body)
        .map_err(|e| error_chain(&e))?;
    Ok((status.as_u16(), String::from_utf8_lossy(&body).into_owned()))
}

/// An error and its causes on one line (`error sending request …: connection refused`).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Why a command failed, in one line: `exit=2: <last stderr line>`.
pub(crate) fn describe_failure(out: &process::Output) -> String {
    match text::last_line(&out.stderr) {
        Some(l) => format!("{}: {}", out.describe(), text::cap(l, 300)),
        None => out.describe().to_string(),
    }
}

/// At most `max` characters of `text`'s first line, for an error message.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    text::cap(text::first_line(text), max)
}

#[cfg(test)]
mod tests;
