//! The Telegram channel (SPEC §7): the account, target and token from the
//! OpenClaw config ([`super::openclaw`]), then the `openclaw` CLI when there
//! is one — with the Bot API at once when the CLI fails and a token
//! resolves — else the Bot API; with Telegram's rules: 4096 characters a
//! message, `429` with `retry_after`, and a group that moved
//! (`migrate_to_chat_id`).
//!
//! The CLI and the Bot API get the same account and chat, so both post from
//! the same bot to the same place.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::openclaw::{self, EnvSources, Inputs, Loaded, Settings, Target};
use super::split::{split, TELEGRAM_LIMIT};
use super::{describe_failure, snippet, Failure, Session, MISSING_TARGET, TELEGRAM_API};
use crate::outbox::OutboxMessage;
use crate::process;
use crate::rules::delivery;

/// What one session keeps about Telegram: the OpenClaw config, read on
/// first use, and every token it resolved (to redact them from all output).
#[derive(Default)]
pub(super) struct Cache {
    loaded: Option<Loaded>,
    bare_env: Option<EnvSources>,
    tokens: Vec<String>,
    default_checked: bool,
}

/// The OpenClaw config, read on first use.
pub(super) fn loaded<'s>(session: &'s mut Session) -> &'s Loaded {
    let ctx = session.ctx;
    session.telegram.loaded.get_or_insert_with(|| {
        openclaw::load(&ctx.openclaw_config, &ctx.openclaw_home, &process_env(ctx))
    })
}

/// The process environment as the OpenClaw config sees it, with
/// `$TELEGRAM_BOT_TOKEN` as the context says.
fn process_env(ctx: &super::Context) -> std::collections::BTreeMap<String, String> {
    let mut env = ctx.env_vars.clone();
    env.remove("TELEGRAM_BOT_TOKEN");
    if let Some(t) = &ctx.env_token {
        env.insert("TELEGRAM_BOT_TOKEN".to_string(), t.clone());
    }
    env
}

/// The Telegram settings for a channel (its target and account, if any).
pub(crate) fn settings(
    session: &mut Session,
    channel_target: Option<&str>,
    channel_account: Option<&str>,
) -> Settings {
    loaded(session);
    let ctx = session.ctx;
    if session.telegram.bare_env.is_none() {
        session.telegram.bare_env = Some(EnvSources::without_config(
            &ctx.openclaw_home,
            &process_env(ctx),
        ));
    }
    let cache = &mut session.telegram;
    let settings = openclaw::resolve(&Inputs {
        source: cache.loaded.as_ref().and_then(Loaded::source),
        env: cache.bare_env.as_ref().expect("just set"),
        target_override: ctx.target_override.as_deref(),
        channel_target,
        channel_account,
    });
    if let Some(t) = settings.token.value() {
        if !cache.tokens.iter().any(|k| k == t) {
            cache.tokens.push(t.to_string());
        }
        crate::secrets::learn(t);
    }
    settings
}

/// Every token this session knows of (the default account's included), for
/// redaction.
pub(super) fn known_tokens(session: &mut Session) -> Vec<String> {
    if !session.telegram.default_checked {
        session.telegram.default_checked = true;
        settings(session, None, None);
    }
    session.telegram.tokens.clone()
}

/// Send `entry` (plus `extra_section`, the dropped-messages line) to
/// Telegram, the parts of a long report in order, skipping those a previous
/// attempt delivered. `entry.target` and `entry.parts_sent` follow progress.
pub(super) fn send(
    session: &mut Session,
    channel_target: Option<&str>,
    channel_account: Option<&str>,
    entry: &mut OutboxMessage,
    extra_section: Option<&str>,
) -> Result<(), Failure> {
    let settings = settings(session, channel_target, channel_account);
    let Some(mut target) = settings
        .target
        .as_ref()
        .map(|(t, _)| t.clone())
        .or(entry.target.clone())
    else {
        let error = missing_target(session, &settings);
        session.notices.push(error.clone());
        config_problem(session);
        return Err(Failure::new(error));
    };
    entry.target = Some(target.clone());
    let (header, mut sections) = entry.header_and_sections();
    sections.extend(extra_section.map(str::to_string));
    let parts = split(&header, &sections, TELEGRAM_LIMIT);
    if entry.parts_sent >= parts.len() {
        return Ok(());
    }
    let cli = find_openclaw(session.ctx.path_env.as_deref(), &session.ctx.openclaw_dirs);
    let mut cli_failed: Option<String> = None;
    for part in &parts[entry.parts_sent..] {
        let by_cli = match (&cli, &cli_failed) {
            (Some(bin), None) => {
                match send_cli(session, bin, &target, settings.account.id.as_deref(), part) {
                    Ok(()) => true,
                    Err(e) => {
                        cli_failed = Some(e);
                        false
                    }
                }
            }
            _ => false,
        };
        if !by_cli {
            let Some(token) = settings.token.value() else {
                config_problem(session);
                let why = match &settings.token {
                    openclaw::Token::Missing { why } => why.clone(),
                    openclaw::Token::Found { .. } => unreachable!("no value"),
                };
                return Err(Failure::new(match &cli_failed {
                    Some(e) => format!("{e}; no token for the Bot API: {why}"),
                    None => format!(
                        "missing Telegram bot token: {why} (OpenClaw config: {})",
                        session.ctx.openclaw_config.display()
                    ),
                }));
            };
            send_api(session, &settings, token, &mut target, part).map_err(|mut f| {
                if let Some(e) = &cli_failed {
                    f.error = format!("{e}; then the Bot API: {}", f.error);
                }
                f
            })?;
            if let Some(e) = &cli_failed {
                let note = format!("telegram: {e}; sent by the Bot API instead");
                if !session.notices.contains(&note) {
                    session.notices.push(note);
                }
            }
        }
        entry.target = Some(target.clone());
        entry.parts_sent += 1;
    }
    Ok(())
}

/// `ERROR: missing Telegram target …` with every place looked at and the
/// OpenClaw config read (or that none was found).
fn missing_target(session: &mut Session, settings: &Settings) -> String {
    let path = session.ctx.openclaw_config.display().to_string();
    let config = match loaded(session) {
        Loaded::Doc(s) if s.includes.is_empty() => format!("OpenClaw config read: {path}"),
        Loaded::Doc(s) => format!(
            "OpenClaw config read: {path} (with {})",
            s.includes
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Loaded::Missing => format!("no OpenClaw config found (looked for {path})"),
        Loaded::Broken(_) => format!("the OpenClaw config {path} could not be read"),
    };
    format!(
        "{MISSING_TARGET} Looked at: {}. {config}.",
        settings.looked.join("; ")
    )
}

/// Tell the operator the OpenClaw config could not be read, when that is
/// why a target or token is missing.
fn config_problem(session: &mut Session) {
    if let Loaded::Broken(why) = loaded(session).clone() {
        if !session.notices.contains(&why) {
            session.notices.push(why);
        }
    }
}

/// Where OpenClaw's installers put `openclaw`, after `PATH` (SPEC §7 step 5;
/// cron's `PATH` has none of them): `~/.openclaw/bin`, `<home>/bin`,
/// `~/.local/bin`, `~/.npm-global/bin`, `/opt/homebrew/bin`, `/usr/local/bin`.
/// Each folder once (`<home>` is usually `~/.openclaw`).
pub fn cli_dirs(user_home: &Path, openclaw_home: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in [
        user_home.join(".openclaw").join("bin"),
        openclaw_home.join("bin"),
        user_home.join(".local").join("bin"),
        user_home.join(".npm-global").join("bin"),
        PathBuf::from("/opt/homebrew/bin"),
        PathBuf::from("/usr/local/bin"),
    ] {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// An executable `openclaw` on `path`, else in the first of `dirs` that has one.
pub(crate) fn find_openclaw(path: Option<&OsStr>, dirs: &[PathBuf]) -> Option<PathBuf> {
    path.into_iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| !dir.as_os_str().is_empty())
        .chain(dirs.iter().cloned())
        .map(|dir| dir.join("openclaw"))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The argv of `openclaw message send` for `target` (SPEC §7 step 5): the
/// chat without any `tg:` prefix or topic, `--account` when an account was
/// chosen, `--thread-id` for a topic other than General.
pub(crate) fn cli_argv(bin: &Path, target: &str, account: Option<&str>, text: &str) -> Vec<String> {
    let (chat, thread) = parse_target(target);
    let mut argv: Vec<String> = [
        bin.display().to_string().as_str(),
        "message",
        "send",
        "--channel",
        "telegram",
        "--target",
        &chat,
        "--message",
        text,
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(a) = account {
        argv.extend(["--account".to_string(), a.to_string()]);
    }
    if let Some(t) = thread {
        argv.extend(["--thread-id".to_string(), t.to_string()]);
    }
    argv
}

fn send_cli(
    session: &mut Session,
    bin: &Path,
    target: &str,
    account: Option<&str>,
    text: &str,
) -> Result<(), String> {
    let argv = cli_argv(bin, target, account, text);
    let out = process::run(
        &process::Spec::new(&argv, &session.ctx.cwd, session.ctx.command_timeout)
            .inheriting_secrets(),
    );
    if !out.success() {
        return Err(format!("openclaw message send: {}", describe_failure(&out)));
    }
    // `--json`: `{action, channel, dryRun, handledBy, payload}`; a send that
    // was suppressed exits 0 too. An answer that is not JSON (an older CLI)
    // is taken at its exit code.
    let answer = json_answer(&out.stdout);
    match answer
        .as_ref()
        .and_then(|a| a.get("handledBy"))
        .and_then(Value::as_str)
    {
        Some("silent") => Err(
            "openclaw message send: the send was suppressed (handledBy: \"silent\"), not delivered"
                .to_string(),
        ),
        _ => Ok(()),
    }
}

/// The JSON object a command printed, also after lines of log output.
fn json_answer(stdout: &str) -> Option<Value> {
    let text = stdout.trim();
    serde_json::from_str::<Value>(text)
        .ok()
        .or_else(|| {
            let start = text.find('{')?;
            serde_json::from_str::<Value>(&text[start..]).ok()
        })
        .or_else(|| {
            text.lines()
                .rev()
                .find_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        })
        .filter(Value::is_object)
}

/// Whether an answer cut at the read limit (only its first 64 KiB are read)
/// is an object whose top-level `"ok"` is `true`: a message Telegram took,
/// with a long `result`, is delivered — not sent again and again.
pub(super) fn starts_ok_true(text: &str) -> bool {
    let mut depth = 0usize;
    let mut chars = text.trim_start().char_indices().peekable();
    let text = text.trim_start();
    if !text.starts_with('{') {
        return false;
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                // A string: at depth 1 it may be the key "ok".
                let start = i + 1;
                let mut end = None;
                while let Some((j, d)) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            end = Some(j);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(end) = end else { return false };
                if depth == 1 && &text[start..end] == "ok" {
                    let rest = text[end + 1..].trim_start();
                    if let Some(value) = rest.strip_prefix(':') {
                        return value.trim_start().starts_with("true");
                    }
                }
            }
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A target → the chat and the forum topic (none for the General topic);
/// a target that is no chat id at all is sent as written, for Telegram to judge.
pub(super) fn parse_target(target: &str) -> (String, Option<i64>) {
    match Target::parse(target) {
        Some(t) => (t.chat, t.thread),
        None => (target.trim().to_string(), None),
    }
}

/// The Bot API base: `$OPS_MONITOR_TELEGRAM_API`, else the account's or
/// channel's `apiRoot`, else the official server.
pub(crate) fn api_base(session: &Session, settings: &Settings) -> String {
    session
        .ctx
        .telegram_api
        .clone()
        .or_else(|| settings.api_root.clone())
        .unwrap_or_else(|| TELEGRAM_API.to_string())
}

/// One part through the Bot API. A short `429` is waited out once; a group
/// that moved is followed once (and `target` becomes the new chat).
fn send_api(
    session: &mut Session,
    settings: &Settings,
    token: &str,
    target: &mut String,
    text: &str,
) -> Result<(), Failure> {
    // The token as one path segment, whatever it holds: its spelling in an
    // error is then one `secrets` knows.
    let url = format!(
        "{}/bot{}/sendMessage",
        api_base(session, settings),
        crate::secrets::url_segment(token)
    );
    let mut waited = false;
    let mut migrated = false;
    loop {
        let (chat, thread) = parse_target(target);
        let mut body = json!({
            "chat_id": chat,
            "text": text,
            "link_preview_options": {"is_disabled": true},
        });
        if let Some(t) = thread {
            body["message_thread_id"] = json!(t);
        }
        let (status, answer_text) = session
            .post_json_via(&url, &body, &Default::default(), settings.proxy.as_deref())
            .map_err(|e| Failure::new(format!("Telegram: {e}")))?;
        let answer: Value = serde_json::from_str(&answer_text).unwrap_or(Value::Null);
        if answer.get("ok") == Some(&Value::Bool(true))
            || ((200..300).contains(&status) && starts_ok_true(&answer_text))
        {
            return Ok(());
        }
        let description = answer
            .get("description")
            .and_then(Value::as_str)
            .map(|d| snippet(d, 300))
            .unwrap_or_else(|| snippet(&answer_text, 200));
        let params = answer.get("parameters");
        let retry_after = params
            .and_then(|p| p.get("retry_after"))
            .and_then(Value::as_f64)
            .filter(|r| r.is_finite() && *r >= 0.0);
        let error_code = answer.get("error_code").and_then(Value::as_u64);
        if status == 429 || error_code == Some(429) {
            if let Some(r) = retry_after.filter(|r| delivery::wait_in_place(*r)) {
                if !waited {
                    waited = true;
                    (session.ctx.pause)(Duration::from_secs_f64(r));
                    continue;
                }
            }
            return Err(Failure {
                error: format!("Telegram HTTP 429: {description}"),
                retry_after,
            });
        }
        let moved_to = params
            .and_then(|p| p.get("migrate_to_chat_id"))
            .and_then(|v| match v {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            });
        if let (Some(new_chat), false) = (moved_to, migrated) {
            migrated = true;
            session.notices.push(format!(
                "telegram: chat {target} was upgraded to a supergroup and is now {new_chat}; sent there — update the target (--target, defaults.notify, or the OpenClaw config) to {new_chat}"
            ));
            // A forum topic does not carry over to the new chat.
            *target = new_chat;
            continue;
        }
        return Err(Failure::new(format!(
            "Telegram HTTP {status}: {description}"
        )));
    }
}
