//! The Telegram channel (SPEC §7): the target, then the `openclaw` CLI when
//! there is one, else the Bot API — with Telegram's rules: 4096 characters a
//! message, `429` with `retry_after`, and a group that moved
//! (`migrate_to_chat_id`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::split::{split, TELEGRAM_LIMIT};
use super::{describe_failure, openclaw, snippet, Failure, Session, MISSING_TARGET};
use crate::outbox::OutboxMessage;
use crate::process;

/// A `429` asking to wait at most this long is waited out once, in place.
pub const SHORT_RETRY_AFTER_SECONDS: f64 = 10.0;

/// How a part goes out.
enum Via {
    /// `openclaw message send …`
    Cli(PathBuf),
    /// `POST <base>/bot<token>/sendMessage`
    Api(String),
}

/// Send `entry` (plus `extra_section`, the dropped-messages line) to
/// Telegram, the parts of a long report in order, skipping those a previous
/// attempt delivered. `entry.target` and `entry.parts_sent` follow progress.
pub(super) fn send(
    session: &mut Session,
    channel_target: Option<&str>,
    entry: &mut OutboxMessage,
    extra_section: Option<&str>,
) -> Result<(), Failure> {
    let Some(mut target) = resolve_target(session, channel_target).or(entry.target.clone()) else {
        session.notices.push(MISSING_TARGET.to_string());
        config_problem(session);
        return Err(Failure::new(MISSING_TARGET));
    };
    entry.target = Some(target.clone());
    let (header, mut sections) = entry.header_and_sections();
    sections.extend(extra_section.map(str::to_string));
    let parts = split(&header, &sections, TELEGRAM_LIMIT);
    if entry.parts_sent >= parts.len() {
        return Ok(());
    }
    let via = match find_openclaw(
        session.ctx.path_env.as_deref(),
        session.ctx.openclaw_fallback.as_deref(),
    ) {
        Some(bin) => Via::Cli(bin),
        None => match session.token() {
            Some(token) => Via::Api(token),
            None => {
                config_problem(session);
                return Err(Failure::new(format!(
                    "missing Telegram bot token: set channels.telegram.botToken or tokenFile in {}, or $TELEGRAM_BOT_TOKEN",
                    session.ctx.openclaw_config.display()
                )));
            }
        },
    };
    for part in &parts[entry.parts_sent..] {
        match &via {
            Via::Cli(bin) => send_cli(session, bin, &target, part)?,
            Via::Api(token) => send_api(session, token, &mut target, part)?,
        }
        entry.target = Some(target.clone());
        entry.parts_sent += 1;
    }
    Ok(())
}

/// `--target`, else the channel's own target, else the OpenClaw config's.
fn resolve_target(session: &mut Session, channel_target: Option<&str>) -> Option<String> {
    let given = |t: Option<&str>| {
        t.map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    given(session.ctx.target_override.as_deref())
        .or_else(|| given(channel_target))
        .or_else(|| session.openclaw().doc().and_then(openclaw::default_target))
}

/// Tell the operator the OpenClaw config could not be read, when that is
/// why a target or token is missing.
fn config_problem(session: &mut Session) {
    if let openclaw::Loaded::Broken(why) = session.openclaw().clone() {
        if !session.notices.contains(&why) {
            session.notices.push(why);
        }
    }
}

/// An executable `openclaw` on `path`, else `fallback` if it is one.
pub(super) fn find_openclaw(path: Option<&OsStr>, fallback: Option<&Path>) -> Option<PathBuf> {
    path.into_iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join("openclaw"))
        .chain(fallback.map(Path::to_path_buf))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn send_cli(session: &mut Session, bin: &Path, target: &str, text: &str) -> Result<(), Failure> {
    let argv: Vec<String> = [
        bin.display().to_string().as_str(),
        "message",
        "send",
        "--channel",
        "telegram",
        "--target",
        target,
        "--message",
        text,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = process::run(&process::Spec::new(
        &argv,
        &session.ctx.cwd,
        session.ctx.command_timeout,
    ));
    if out.success() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "openclaw message send: {}",
        describe_failure(&out)
    )))
}

/// `CHAT:THREAD` → the chat and the forum topic; anything else is a chat.
pub(super) fn parse_target(target: &str) -> (String, Option<i64>) {
    if let Some((chat, thread)) = target.rsplit_once(':') {
        if !chat.is_empty() {
            if let Ok(t) = thread.trim().parse::<i64>() {
                return (chat.trim().to_string(), Some(t));
            }
        }
    }
    (target.trim().to_string(), None)
}

/// One part through the Bot API. A short `429` is waited out once; a group
/// that moved is followed once (and `target` becomes the new chat).
fn send_api(
    session: &mut Session,
    token: &str,
    target: &mut String,
    text: &str,
) -> Result<(), Failure> {
    let url = format!("{}/bot{token}/sendMessage", session.ctx.telegram_api);
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
            .post_json(&url, &body, &Default::default())
            .map_err(|e| Failure::new(format!("Telegram: {e}")))?;
        let answer: Value = serde_json::from_str(&answer_text).unwrap_or(Value::Null);
        if answer.get("ok") == Some(&Value::Bool(true)) {
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
            if let Some(r) = retry_after.filter(|r| *r <= SHORT_RETRY_AFTER_SECONDS) {
                if !waited {
                    waited = true;
                    std::thread::sleep(Duration::from_secs_f64(r));
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
