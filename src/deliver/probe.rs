//! What `doctor` asks of delivery (SPEC §7, §9): what every channel would
//! use — without sending anything and without a token in the answer — and
//! one test message through every channel, outside the outbox.
//!
//! It goes through the same resolution as a real delivery (the same
//! [`Session`], the same `telegram::settings`), so what `doctor` shows is
//! what `tick` does.

use std::path::{Path, PathBuf};

use super::openclaw::{Loaded, Target, Token};
use super::{channels, telegram, Context, Session, TELEGRAM_API};
use crate::config::Channel;
use crate::outbox::OutboxMessage;

/// One channel as `doctor` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelReport {
    /// `telegram`, `telegram (account ops-bot)`, `webhook https://host/path`, …
    pub title: String,
    /// `(what, value)` lines: account, target, token, send.
    pub lines: Vec<(String, String)>,
    /// It resolves: a target and a way to send.
    pub ok: bool,
}

/// The OpenClaw config as `doctor` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenclawReport {
    /// `read`, `not found`, or why it could not be read.
    pub status: String,
    pub includes: Vec<PathBuf>,
    /// `<home>/.env` and `env.vars`: where they are and how many variables
    /// (never a value).
    pub env: Vec<String>,
    /// `${VAR}` references left as written (unset everywhere): `path: VAR`.
    pub unresolved: Vec<String>,
    /// The `openclaw` CLI found, and where it was looked for.
    pub cli: Option<PathBuf>,
    pub cli_searched: Vec<PathBuf>,
}

/// The OpenClaw config, its includes and environment, and the CLI.
pub fn openclaw(ctx: &Context) -> OpenclawReport {
    let mut session = Session::new(ctx);
    let loaded = telegram::loaded(&mut session).clone();
    let (status, includes, env, unresolved) = match &loaded {
        Loaded::Doc(s) => {
            let mut env = Vec::new();
            match (&s.env.dotenv_error, s.env.dotenv.len()) {
                (Some(e), _) => env.push(format!("cannot read {e}")),
                (None, 0) => env.push(format!("{} (none)", s.env.dotenv_path.display())),
                (None, n) => env.push(format!(
                    "{} ({})",
                    s.env.dotenv_path.display(),
                    variables(n)
                )),
            }
            if !s.env.config_vars.is_empty() {
                env.push(format!("env.vars ({})", variables(s.env.config_vars.len())));
            }
            let unresolved = s
                .unresolved
                .iter()
                .map(|(path, var)| format!("{path}: ${{{var}}} is not set"))
                .collect();
            ("read".to_string(), s.includes.clone(), env, unresolved)
        }
        Loaded::Missing => ("not found".to_string(), Vec::new(), Vec::new(), Vec::new()),
        Loaded::Broken(why) => (why.clone(), Vec::new(), Vec::new(), Vec::new()),
    };
    let mut searched: Vec<PathBuf> = ctx
        .path_env
        .as_deref()
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    searched.extend(ctx.openclaw_dirs.iter().cloned());
    OpenclawReport {
        status,
        includes,
        env,
        unresolved,
        cli: telegram::find_openclaw(ctx.path_env.as_deref(), &ctx.openclaw_dirs),
        cli_searched: searched,
    }
}

fn variables(n: usize) -> String {
    if n == 1 {
        "1 variable".to_string()
    } else {
        format!("{n} variables")
    }
}

/// What every channel of `ctx` resolves to.
pub fn channels(ctx: &Context) -> Vec<ChannelReport> {
    let mut session = Session::new(ctx);
    ctx.channel_list()
        .iter()
        .map(|spec| match spec {
            Channel::Telegram { target, account } => {
                telegram_report(&mut session, target.as_deref(), account.as_deref())
            }
            Channel::Webhook { url, headers } => {
                let parsed = reqwest::Url::parse(url).ok();
                let ok = parsed
                    .as_ref()
                    .is_some_and(|u| matches!(u.scheme(), "http" | "https"));
                let mut lines = Vec::new();
                if !headers.is_empty() {
                    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
                    lines.push((
                        "headers".to_string(),
                        format!("{} (values not shown)", names.join(", ")),
                    ));
                }
                if !ok {
                    lines.push(("problem".to_string(), "not an http(s) URL".to_string()));
                }
                ChannelReport {
                    title: format!("webhook {}", shown_url(url)),
                    lines,
                    ok,
                }
            }
            Channel::File { path } => {
                let (ok, why) = writable_place(path);
                ChannelReport {
                    title: format!("file {}", path.display()),
                    lines: vec![("file".to_string(), why)],
                    ok,
                }
            }
            Channel::Command { argv } => {
                let program = argv.first().cloned().unwrap_or_default();
                let found = command_program(&program, &ctx.cwd, ctx.path_env.as_deref());
                ChannelReport {
                    title: format!("command {program} (its arguments are not shown)"),
                    lines: vec![(
                        "program".to_string(),
                        match &found {
                            Some(p) => format!("{} (runs in {})", p.display(), ctx.cwd.display()),
                            None => "not found or not executable".to_string(),
                        },
                    )],
                    ok: found.is_some(),
                }
            }
        })
        .collect()
}

fn telegram_report(
    session: &mut Session,
    target: Option<&str>,
    account: Option<&str>,
) -> ChannelReport {
    let settings = telegram::settings(session, target, account);
    let mut lines = Vec::new();
    let acct = &settings.account;
    lines.push((
        "account".to_string(),
        match (&acct.id, &acct.problem) {
            (_, Some(p)) => format!("{} — {p}", acct.id.clone().unwrap_or_default()),
            (Some(id), None) => format!("{id} ({})", acct.why),
            (None, None) => "none: channels.telegram is the account".to_string(),
        },
    ));
    lines.push((
        "target".to_string(),
        match &settings.target {
            Some((raw, from)) => {
                let shown = Target::parse(raw).map_or_else(|| raw.clone(), |t| t.describe());
                format!("{shown} (from {from})")
            }
            None => format!("none — looked at: {}", settings.looked.join("; ")),
        },
    ));
    lines.push((
        "token".to_string(),
        match &settings.token {
            Token::Found { source, .. } => source.clone(),
            Token::Missing { why } => format!("none — {why}"),
        },
    ));
    let ctx = session.ctx;
    let cli = telegram::find_openclaw(ctx.path_env.as_deref(), &ctx.openclaw_dirs);
    let base = ctx
        .telegram_api
        .clone()
        .or_else(|| settings.api_root.clone())
        .unwrap_or_else(|| TELEGRAM_API.to_string());
    let base_from = if ctx.telegram_api.is_some() {
        "$OPS_MONITOR_TELEGRAM_API"
    } else if settings.api_root.is_some() {
        "apiRoot"
    } else {
        "the official server"
    };
    let api = format!("the Bot API at {} ({base_from})", shown_url(&base));
    let has_token = settings.token.value().is_some();
    let send = match (&cli, has_token) {
        (Some(bin), true) => format!(
            "openclaw CLI {}{}, then {api} if the CLI fails",
            bin.display(),
            acct.id
                .as_ref()
                .map(|a| format!(" --account {a}"))
                .unwrap_or_default()
        ),
        (Some(bin), false) => format!(
            "openclaw CLI {}{} (no token: no Bot API if it fails)",
            bin.display(),
            acct.id
                .as_ref()
                .map(|a| format!(" --account {a}"))
                .unwrap_or_default()
        ),
        (None, true) => api,
        (None, false) => "nothing: no openclaw CLI found and no token".to_string(),
    };
    lines.push(("send".to_string(), send));
    if let Some(p) = &settings.proxy {
        lines.push((
            "proxy".to_string(),
            format!("{} (channels.telegram.proxy)", shown_url(p)),
        ));
    } else if let Some((name, value)) = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|n| Some((n, ctx.env_vars.get(*n).filter(|v| !v.trim().is_empty())?)))
    {
        lines.push((
            "proxy".to_string(),
            format!("{} (${name})", shown_url(value)),
        ));
    }
    let title = match &acct.id {
        Some(a) => format!("telegram (account {a})"),
        None => "telegram".to_string(),
    };
    ChannelReport {
        title,
        ok: settings.target.is_some() && (cli.is_some() || has_token) && acct.problem.is_none(),
        lines,
    }
}

/// A URL without what may be secret in it: a user and password, a query,
/// a fragment.
pub fn shown_url(url: &str) -> String {
    let Ok(u) = reqwest::Url::parse(url) else {
        return "<not a URL>".to_string();
    };
    let mut s = format!("{}://", u.scheme());
    if !u.username().is_empty() || u.password().is_some() {
        s.push_str("<redacted>@");
    }
    s.push_str(u.host_str().unwrap_or(""));
    if let Some(p) = u.port() {
        s.push_str(&format!(":{p}"));
    }
    if u.path() != "/" {
        s.push_str(u.path());
    }
    if u.query().is_some() {
        s.push_str("?<redacted>");
    }
    s
}

/// `scheme://host[:port]` of a URL whose path and query may hold a secret
/// (a heartbeat URL's check id).
pub fn url_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}", u.scheme(), u.host_str().unwrap_or(""))
        }
        Err(_) => "<not a URL>".to_string(),
    }
}

/// Whether a file replaced atomically at `path` can be written: its folder
/// is writable, or the nearest existing folder above it is (the folders are
/// created on first use).
pub fn folder_writable(path: &Path) -> (bool, String) {
    use rustix::fs::{access, Access};
    let d = match nearest_folder(path) {
        Ok(d) => d,
        Err(why) => return (false, why),
    };
    let created = if Some(d) == path.parent() {
        String::new()
    } else {
        format!(" (its folder will be created in {})", d.display())
    };
    match access(d, Access::WRITE_OK | Access::EXEC_OK) {
        Ok(()) => (true, format!("written after every tick{created}")),
        Err(_) => (false, format!("{} is not writable", d.display())),
    }
}

/// The nearest existing folder above `path`; an error when what exists
/// there is not a folder, or nothing does.
fn nearest_folder(path: &Path) -> Result<&Path, String> {
    match path.ancestors().skip(1).find(|d| d.exists()) {
        Some(d) if d.is_dir() => Ok(d),
        Some(d) => Err(format!("{} is not a folder", d.display())),
        None => Err("no folder to create it in".to_string()),
    }
}

/// Whether a file channel can append to `path`: the file is writable, or
/// its nearest existing folder is (the folders are created on first use).
fn writable_place(path: &Path) -> (bool, String) {
    use rustix::fs::{access, Access};
    if path.exists() {
        return match access(path, Access::WRITE_OK) {
            Ok(()) if path.is_file() => (true, "exists, writable".to_string()),
            Ok(()) => (false, "exists but is not a file".to_string()),
            Err(_) => (false, "exists but is not writable".to_string()),
        };
    }
    match nearest_folder(path) {
        Ok(d) => match access(d, Access::WRITE_OK) {
            Ok(()) => (true, format!("will be created (in {})", d.display())),
            Err(_) => (
                false,
                format!("cannot be created: {} is not writable", d.display()),
            ),
        },
        Err(why) => (false, format!("cannot be created: {why}")),
    }
}

/// The program of a command channel, if it can be run.
fn command_program(
    program: &str,
    cwd: &Path,
    path_env: Option<&std::ffi::OsStr>,
) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let p = cwd.join(program);
        return runnable(&p).then_some(p);
    }
    path_env
        .into_iter()
        .flat_map(std::env::split_paths)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(program))
        .find(|p| runnable(p))
}

/// What `--send-test` came to: per channel its title and the result
/// (errors redacted), and the notices.
pub struct TestSent {
    pub results: Vec<(String, Result<(), String>)>,
    pub notices: Vec<String>,
}

/// `doctor --send-test`: `text` once through every channel, each on its
/// own, nothing kept in any outbox. Per channel: its title and the result
/// (errors redacted), plus the notices (a CLI that failed over, a moved chat).
pub fn send_test(ctx: &Context, text: &str, now: f64) -> TestSent {
    let titles: Vec<String> = channels(ctx).into_iter().map(|r| r.title).collect();
    let mut session = Session::new(ctx);
    let mut results = Vec::new();
    for (spec, title) in ctx.channel_list().into_iter().zip(titles) {
        let mut entry = OutboxMessage::new(spec.clone(), text, &[], now, now);
        let result = match &spec {
            Channel::Telegram { target, account } => telegram::send(
                &mut session,
                target.as_deref(),
                account.as_deref(),
                &mut entry,
                None,
            ),
            other => channels::send(&mut session, other, &entry, None),
        };
        let result = result.map_err(|f| session.redact(&f.error));
        results.push((title, result));
    }
    let notices = std::mem::take(&mut session.notices);
    let notices = notices.iter().map(|n| session.redact(n)).collect();
    TestSent { results, notices }
}

/// `text` with every token any channel of `ctx` resolves to redacted: a
/// last guard on what `doctor` prints.
pub fn redact_tokens(ctx: &Context, text: &str) -> String {
    let mut session = Session::new(ctx);
    for spec in ctx.channel_list() {
        if let Channel::Telegram { target, account } = spec {
            telegram::settings(&mut session, target.as_deref(), account.as_deref());
        }
    }
    session.redact(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(
            shown_url("https://hooks.example/ops?token=abc#x"),
            "https://hooks.example/ops?<redacted>"
        );
        assert_eq!(
            shown_url("socks5://user:pw@127.0.0.1:9050"),
            "socks5://<redacted>@127.0.0.1:9050"
        );
        assert_eq!(
            shown_url("https://api.telegram.org/"),
            "https://api.telegram.org"
        );
        assert_eq!(
            shown_url("http://127.0.0.1:8081/tg"),
            "http://127.0.0.1:8081/tg"
        );
        assert_eq!(shown_url("nope"), "<not a URL>");
    }
}
