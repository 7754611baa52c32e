//! Delivering a report (SPEC §7) through the configured channels, with the
//! outbox so that nothing is lost.
//!
//! Every message is tried on each channel on its own; what a channel could
//! not take goes to the state's outbox as one entry for that channel, and
//! [`flush_outbox`] retries due entries oldest first at the start of later
//! ticks. A failing channel never holds back or repeats another.
//!
//! Decisions the SPEC leaves open:
//! - An outbox entry is retried with the channel as configured now when a
//!   channel with the same key (type and destination) is still configured,
//!   else with the spec stored in the entry: removing a channel from the
//!   config does not lose what was meant for it.
//! - A Telegram entry is retried to the target resolved now (`--target`, the
//!   channel's target, the OpenClaw config), falling back to the chat stored
//!   in the entry, so fixing a wrong target also fixes the waiting messages.
//! - Within one flush, once an entry of a channel fails the channel's later
//!   entries wait for the next tick (their order is kept, the channel is not
//!   hammered). A new report is still tried at once on such a channel.
//! - Telegram parts already delivered of a split report are not sent again.
//!
//! Nothing here reads the environment: [`Context::from_env`] does, once.
//! Nothing costly happens before something is sent: the HTTP client and the
//! OpenClaw config are made and read on first use.

mod channels;
mod openclaw;
pub mod split;
mod telegram;

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::config::Channel;
use crate::outbox::{self, ChannelSpec, OutboxMessage};
use crate::process;
use crate::state::State;

/// The official Bot API server.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// Time limit of one HTTP request (Bot API, webhook).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Time limit of a `command` channel and of `openclaw message send`.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of an HTTP answer read at most.
const ANSWER_LIMIT: u64 = 64 * 1024;

/// Where `openclaw` is also looked for when it is not on `PATH`.
pub const OPENCLAW_FALLBACK: &str = "/opt/homebrew/bin/openclaw";

/// The text when no Telegram chat is known (the tick exits 3).
pub const MISSING_TARGET: &str = "ERROR: missing Telegram target. Pass --target <chat_id>.";

/// A report ready to send: the whole text, and its sections so a channel can
/// split between them (Telegram's 4096-character limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The header line (`🛠️ Ops report (14:05:09)`).
    pub header: String,
    /// Each section's text, in order.
    pub sections: Vec<String>,
    /// When the report was made (Unix seconds).
    pub time: f64,
}

impl Message {
    /// The report as one text: header, blank line, sections separated by blank lines.
    pub fn text(&self) -> String {
        let mut out = self.header.clone();
        for s in &self.sections {
            out.push_str("\n\n");
            out.push_str(s);
        }
        out
    }
}

/// Where and how to deliver.
#[derive(Clone)]
pub struct Context {
    /// `defaults.notify`, or `None` for Telegram only.
    pub channels: Option<Vec<Channel>>,
    /// `--target`, which wins over every configured target.
    pub target_override: Option<String>,
    /// The OpenClaw config (`$OPENCLAW_CONFIG_PATH`, else `<home>/openclaw.json`).
    pub openclaw_config: PathBuf,
    /// The `PATH` searched for `openclaw`; `None`: not searched.
    pub path_env: Option<OsString>,
    /// Tried when `openclaw` is not on `path_env` ([`OPENCLAW_FALLBACK`]).
    pub openclaw_fallback: Option<PathBuf>,
    /// The Bot API base URL, without a trailing slash.
    pub telegram_api: String,
    /// `$TELEGRAM_BOT_TOKEN`, the last source of the token.
    pub env_token: Option<String>,
    /// Time limit of one HTTP request.
    pub http_timeout: Duration,
    /// Time limit of a command channel and of the `openclaw` CLI.
    pub command_timeout: Duration,
    /// This host's name, in webhook and file payloads.
    pub host: String,
    /// Working directory of a command channel and of the `openclaw` CLI.
    pub cwd: PathBuf,
}

impl fmt::Debug for Context {
    // By hand, so that the token never lands in a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("channels", &self.channels)
            .field("target_override", &self.target_override)
            .field("openclaw_config", &self.openclaw_config)
            .field("path_env", &self.path_env)
            .field("openclaw_fallback", &self.openclaw_fallback)
            .field("telegram_api", &self.telegram_api)
            .field("env_token", &self.env_token.as_ref().map(|_| "<redacted>"))
            .field("http_timeout", &self.http_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("host", &self.host)
            .field("cwd", &self.cwd)
            .finish()
    }
}

impl Context {
    /// A context that reads nothing from the environment: no `PATH` (so no
    /// `openclaw` CLI), the official Bot API, no token from the environment,
    /// the default time limits. Tests and callers adjust the fields.
    pub fn new(
        channels: Option<Vec<Channel>>,
        target_override: Option<String>,
        openclaw_config: PathBuf,
    ) -> Context {
        Context {
            channels,
            target_override,
            openclaw_config,
            path_env: None,
            openclaw_fallback: None,
            telegram_api: TELEGRAM_API.to_string(),
            env_token: None,
            http_timeout: HTTP_TIMEOUT,
            command_timeout: COMMAND_TIMEOUT,
            host: hostname(),
            cwd: PathBuf::from("/"),
        }
    }

    /// The context of a real run: `PATH`, `$OPS_MONITOR_TELEGRAM_API` and
    /// `$TELEGRAM_BOT_TOKEN` from the environment, `/opt/homebrew/bin/openclaw`
    /// as a fallback, commands run in the OpenClaw config's folder.
    pub fn from_env(
        channels: Option<Vec<Channel>>,
        target_override: Option<String>,
        openclaw_config: PathBuf,
    ) -> Context {
        let non_empty = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut ctx = Context::new(channels, target_override, openclaw_config);
        ctx.path_env = std::env::var_os("PATH");
        ctx.openclaw_fallback = Some(PathBuf::from(OPENCLAW_FALLBACK));
        if let Some(api) = non_empty("OPS_MONITOR_TELEGRAM_API") {
            ctx.telegram_api = api.trim_end_matches('/').to_string();
        }
        ctx.env_token = non_empty("TELEGRAM_BOT_TOKEN");
        if let Some(dir) = ctx.openclaw_config.parent().filter(|d| d.is_dir()) {
            ctx.cwd = dir.to_path_buf();
        }
        ctx
    }

    /// The channels to deliver to, as outbox specs.
    fn channel_specs(&self) -> Vec<ChannelSpec> {
        match &self.channels {
            Some(list) => list.iter().map(ChannelSpec::from).collect(),
            None => vec![ChannelSpec::default()],
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

/// Retry what waits in `state`'s outbox whose time has come, oldest first.
pub fn flush_outbox(state: &mut State, ctx: &Context, now: f64) -> Outcome {
    if state.outbox.is_empty() {
        return Outcome::default();
    }
    let mut session = Session::new(ctx);
    let configured = ctx.channel_specs();
    outbox::sort_oldest_first(&mut state.outbox);
    let waiting = std::mem::take(&mut state.outbox);
    let mut failed_channels = HashSet::new();
    let mut kept = Vec::new();
    let mut delivered = 0;
    for mut entry in waiting {
        if failed_channels.contains(&entry.channel) || !entry.is_due(now) {
            kept.push(entry);
            continue;
        }
        let spec = configured
            .iter()
            .find(|c| c.key() == entry.channel)
            .unwrap_or(&entry.channel_spec)
            .clone();
        mark_delayed(&mut entry);
        if try_entry(&mut session, state, &mut entry, &spec, now) {
            delivered += 1;
        } else {
            failed_channels.insert(entry.channel.clone());
            kept.push(entry);
        }
    }
    // Nothing is added to the outbox while it is taken out above.
    kept.append(&mut state.outbox);
    state.outbox = kept;
    session.finish(state, delivered)
}

/// An entry sent from the outbox says when it was written (SPEC §5.6), once.
fn mark_delayed(entry: &mut OutboxMessage) {
    if entry.time <= 0.0 || entry.header.ends_with(", delayed)") {
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

/// Deliver `message` through every channel; what fails goes to the outbox.
pub fn deliver(state: &mut State, ctx: &Context, message: &Message, now: f64) -> Outcome {
    let mut session = Session::new(ctx);
    let mut delivered = 0;
    for spec in ctx.channel_specs() {
        let mut entry = OutboxMessage::new(
            spec.clone(),
            &message.header,
            &message.sections,
            message.time,
            now,
        );
        if try_entry(&mut session, state, &mut entry, &spec, now) {
            delivered += 1;
        } else {
            state.outbox.push(entry);
        }
    }
    for gone in outbox::trim(state) {
        session.notices.push(format!(
            "outbox full ({} kept): dropped the oldest undelivered message for {} (made {}, {} attempts)",
            outbox::OUTBOX_KEEP,
            gone.channel,
            rfc3339(gone.created_at),
            gone.attempts
        ));
    }
    session.finish(state, delivered)
}

/// The `notify TEXT` command: retry the outbox, then deliver `text` as a
/// one-off message through the same channels and rules.
pub fn notify(state: &mut State, ctx: &Context, text: &str, now: f64) -> Outcome {
    let mut outcome = flush_outbox(state, ctx, now);
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
    let sent = deliver(state, ctx, &message, now);
    outcome.notices.extend(sent.notices);
    outcome.delivered += sent.delivered;
    outcome.undelivered = sent.undelivered;
    outcome
}

/// `text` with `secret` replaced: in a Bot API URL by `/bot<redacted>/`,
/// anywhere else by `<redacted>` (also percent-encoded, as a URL may carry it).
pub fn redact(text: &str, secret: &str) -> String {
    let secret = secret.trim();
    if secret.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    let variants = [
        secret.to_string(),
        secret.replace(':', "%3A"),
        secret.replace(':', "%3a"),
    ];
    for v in &variants {
        out = out.replace(&format!("/bot{v}/"), "/bot<redacted>/");
        out = out.replace(v.as_str(), "<redacted>");
    }
    out
}

/// This host's name (`gethostname`), or `localhost` when the OS has none.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call;
    // gethostname writes at most `len` bytes into it.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
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
}

impl Failure {
    pub fn new(error: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            retry_after: None,
        }
    }
}

/// Try `entry` once on `spec`. Delivered: the untold dropped count of its
/// channel went with it and is cleared. Not delivered: the entry records the
/// (redacted) error and its next attempt.
fn try_entry(
    session: &mut Session,
    state: &mut State,
    entry: &mut OutboxMessage,
    spec: &ChannelSpec,
    now: f64,
) -> bool {
    let untold = outbox::dropped_untold(state, &entry.channel);
    let dropped_line = (untold > 0).then(|| {
        format!(
            "• ALERT: {untold} earlier message(s) for this channel could not be delivered and were dropped (outbox full)"
        )
    });
    let result = match spec {
        ChannelSpec::Telegram { target } => {
            telegram::send(session, target.as_deref(), entry, dropped_line.as_deref())
        }
        other => channels::send(session, other, entry, dropped_line.as_deref()),
    };
    match result {
        Ok(()) => {
            if untold > 0 {
                outbox::dropped_told(state, &entry.channel, untold);
                session.notices.push(format!(
                    "{}: told that {untold} dropped message(s) were lost",
                    entry.channel
                ));
            }
            true
        }
        Err(failure) => {
            let error = session.redact(&failure.error);
            entry.failed(error.clone(), failure.retry_after, now);
            session.notices.push(format!(
                "{}: not delivered, kept in the outbox (next try in {:.0} s): {error}",
                entry.channel,
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
    openclaw: Option<openclaw::Loaded>,
    token: Option<Option<String>>,
    /// Index 0: through the environment's proxy; 1: direct, for loopback.
    clients: [Option<reqwest::blocking::Client>; 2],
    pub notices: Vec<String>,
}

impl<'a> Session<'a> {
    fn new(ctx: &'a Context) -> Session<'a> {
        Session {
            ctx,
            openclaw: None,
            token: None,
            clients: [None, None],
            notices: Vec::new(),
        }
    }

    /// The OpenClaw config, read on first use.
    pub fn openclaw(&mut self) -> &openclaw::Loaded {
        self.openclaw
            .get_or_insert_with(|| openclaw::load(&self.ctx.openclaw_config))
    }

    /// The bot token, looked up on first use.
    pub fn token(&mut self) -> Option<String> {
        if self.token.is_none() {
            let path = self.ctx.openclaw_config.clone();
            let env_token = self.ctx.env_token.clone();
            let doc = self.openclaw().doc().cloned();
            self.token = Some(openclaw::token_from(
                doc.as_ref(),
                &path,
                env_token.as_deref(),
            ));
        }
        self.token.clone().flatten()
    }

    /// `text` with every token this run knows of redacted.
    pub fn redact(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(t) = self.token() {
            out = redact(&out, &t);
        }
        if let Some(t) = self.ctx.env_token.clone() {
            out = redact(&out, &t);
        }
        out
    }

    /// POST `body` as JSON; the status and the answer's text, or why no
    /// answer came (with the URL in it — callers redact).
    pub fn post_json(
        &mut self,
        url: &str,
        body: &Value,
        headers: &BTreeMap<String, String>,
    ) -> Result<(u16, String), String> {
        let client = self.client(url)?;
        let mut request = client.post(url).json(body);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        // Only the start of an answer is ever looked at; a webhook that
        // answers with megabytes must not cost memory or time.
        let mut body = Vec::new();
        response
            .take(ANSWER_LIMIT)
            .read_to_end(&mut body)
            .map_err(|e| error_chain(&e))?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// The HTTP client, built on first use (it starts a runtime thread, which
    /// a tick that sends nothing must not pay for). Loopback addresses are
    /// reached directly, never through a proxy from the environment.
    fn client(&mut self, url: &str) -> Result<&reqwest::blocking::Client, String> {
        let direct = is_loopback(url);
        let slot = &mut self.clients[usize::from(direct)];
        if slot.is_none() {
            let mut builder = reqwest::blocking::Client::builder()
                .timeout(self.ctx.http_timeout)
                .user_agent(concat!("ops-monitor/", env!("CARGO_PKG_VERSION")));
            if direct {
                builder = builder.no_proxy();
            }
            *slot = Some(builder.build().map_err(|e| error_chain(&e))?);
        }
        Ok(slot.as_ref().expect("client was just built"))
    }

    /// The outcome: the outbox size and the notices, redacted.
    fn finish(mut self, state: &State, delivered: usize) -> Outcome {
        let notices = std::mem::take(&mut self.notices);
        let notices = notices.iter().map(|n| self.redact(n)).collect();
        Outcome {
            undelivered: state.outbox.len(),
            notices,
            delivered,
        }
    }
}

fn is_loopback(url: &str) -> bool {
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

/// An error and its causes on one line (`error sending request …: connection refused`).
fn error_chain(err: &dyn std::error::Error) -> String {
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
pub(crate) fn describe_failure(out: &process::Output, timeout: Duration) -> String {
    let last_line = out
        .stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| snippet(l, 300));
    let how = match &out.ending {
        process::Ending::Exited(c) => format!("exit={c}"),
        process::Ending::Signaled(s) => format!("killed by signal {s}"),
        process::Ending::TimedOut => format!("timed out after {} s", timeout.as_secs_f64()),
        process::Ending::FailedToStart(why) => format!("could not start: {why}"),
        process::Ending::Interrupted => "interrupted".to_string(),
    };
    match last_line {
        Some(l) => format!("{how}: {l}"),
        None => how,
    }
}

/// At most `max` characters of `text`'s first line, for an error message.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
