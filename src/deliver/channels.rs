//! The channels beside Telegram (SPEC §7): a webhook (JSON POST), a file
//! (one JSON line appended per report), and a command (the report on stdin —
//! the way to reach Apprise, ntfy, mail, …).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use super::{describe_failure, rfc3339, snippet, Failure, Session};
use crate::config::Channel;
use crate::outbox::OutboxMessage;
use crate::process;

/// Send `entry` (plus `extra_section`, the dropped-messages line) through a
/// webhook, file or command channel.
pub(super) fn send(
    session: &mut Session,
    spec: &Channel,
    entry: &OutboxMessage,
    extra_section: Option<&str>,
) -> Result<(), Failure> {
    let (header, mut sections) = entry.header_and_sections();
    sections.extend(extra_section.map(str::to_string));
    let text = std::iter::once(header.as_str())
        .filter(|h| !h.is_empty())
        .chain(sections.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n\n");
    let payload = json!({
        "text": text,
        "sections": sections,
        "host": session.ctx.host,
        "time": rfc3339(entry.time),
    });
    match spec {
        Channel::Webhook { url, headers } => webhook(session, url, headers, &payload),
        Channel::File { path } => file(path, &payload),
        Channel::Command { argv } => command(session, argv, &text),
        Channel::Telegram { .. } => unreachable!("telegram has its own module"),
    }
}

fn webhook(
    session: &mut Session,
    url: &str,
    headers: &BTreeMap<String, String>,
    payload: &Value,
) -> Result<(), Failure> {
    // The URL's path may hold a token: errors name the host only.
    let shown = crate::outbox::label(&Channel::Webhook {
        url: url.to_string(),
        headers: BTreeMap::new(),
    });
    let hide = |e: String| {
        let mut e = e.replace(url, &shown);
        if let Ok(parsed) = reqwest::Url::parse(url) {
            e = e.replace(parsed.as_str(), &shown);
        }
        e
    };
    let (status, body) = session
        .post_json(url, payload, headers)
        .map_err(|e| Failure::new(format!("webhook: {}", hide(e))))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        let body = snippet(&body, 200);
        let error = if body.is_empty() {
            format!("webhook HTTP {status}")
        } else {
            format!("webhook HTTP {status}: {body}")
        };
        // SPEC §11: a 4xx other than 429 will not succeed as it is.
        Err(if (400..500).contains(&status) && status != 429 {
            Failure::refused(error)
        } else {
            Failure::new(error)
        })
    }
}

fn file(path: &Path, payload: &Value) -> Result<(), Failure> {
    let fail = |what: &str, e: std::io::Error| {
        Failure::new(format!("file {}: cannot {what}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail("create its folder", e))?;
    }
    let mut line = serde_json::to_string(payload).expect("a JSON value serialises");
    line.push('\n');
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| fail("open", e))?;
    // One write of the whole line, so concurrent appenders do not interleave.
    f.write_all(line.as_bytes())
        .and_then(|()| f.flush())
        .map_err(|e| fail("append", e))
}

fn command(session: &mut Session, argv: &[String], text: &str) -> Result<(), Failure> {
    if argv.is_empty() {
        return Err(Failure::new("command channel: empty argv"));
    }
    let spec = process::Spec::new(argv, &session.ctx.cwd, session.ctx.command_timeout)
        .with_stdin(text.as_bytes());
    let out = process::run(&spec);
    if out.success() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "command {}: {}",
            argv[0],
            describe_failure(&out)
        )))
    }
}
