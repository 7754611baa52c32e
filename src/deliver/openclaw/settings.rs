//! The Telegram settings of the OpenClaw config (SPEC §7 steps 2–4 and 6):
//! which account, which chat (and where that came from), which token (and
//! where that came from), the Bot API root and the proxy.
//!
//! Everything here is a function of the document read by `source` and the
//! caller's overrides; the only I/O is reading a `tokenFile`. Each answer
//! carries its reason, so `doctor` and the `missing Telegram target` error
//! can say what was looked at.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::source::{substitute_str, EnvSources, Source};
use crate::paths;

/// A `tokenFile` is read up to this many bytes (OpenClaw's limit).
pub const TOKEN_FILE_LIMIT: u64 = 4096;

/// A Telegram chat, and the forum topic in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The chat id (`123`, `-100…`) or `@username`, without any `tg:` prefix.
    pub chat: String,
    /// The forum topic; `None` also for the General topic (thread 1), which
    /// Telegram refuses as a `message_thread_id`.
    pub thread: Option<i64>,
    /// Whether the target named the General topic (thread 1).
    pub general_topic: bool,
}

impl Target {
    /// `123`, `-100123`, `tg:123`, `telegram:123`, `@name`,
    /// `<chat>:topic:<thread>` or `<chat>:<thread>`; `None` for `*`, an
    /// empty string, or a topic that is not a number.
    pub fn parse(raw: &str) -> Option<Target> {
        let mut s = raw.trim();
        for prefix in ["telegram:", "tg:"] {
            if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
                s = s[prefix.len()..].trim();
                break;
            }
        }
        if s.is_empty() || s == "*" {
            return None;
        }
        let lower = s.to_ascii_lowercase();
        let (chat, thread) = if let Some(i) = lower.find(":topic:") {
            let thread = s[i + ":topic:".len()..].trim().parse::<i64>().ok()?;
            (s[..i].trim(), Some(thread))
        } else {
            match s.rsplit_once(':') {
                Some((c, t)) if !c.trim().is_empty() => match t.trim().parse::<i64>() {
                    Ok(t) => (c.trim(), Some(t)),
                    Err(_) => (s, None),
                },
                _ => (s, None),
            }
        };
        if chat.is_empty() {
            return None;
        }
        let thread = thread.filter(|t| *t > 0);
        Some(Target {
            chat: chat.to_string(),
            general_topic: thread == Some(1),
            thread: thread.filter(|t| *t != 1),
        })
    }

    /// A numeric chat id: what a default may be (`*` and `@names` are skipped).
    fn numeric(&self) -> bool {
        let digits = self.chat.strip_prefix('-').unwrap_or(&self.chat);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    }

    /// `123`, `123, topic 42`, `123, General topic`.
    pub fn describe(&self) -> String {
        match (self.thread, self.general_topic) {
            (Some(t), _) => format!("{}, topic {t}", self.chat),
            (None, true) => format!("{}, General topic (sent without a thread id)", self.chat),
            (None, false) => self.chat.clone(),
        }
    }
}

/// The account in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account id; `None`: no `accounts`, the channel's top level is the account.
    pub id: Option<String>,
    /// Why this account (`channels.telegram.defaultAccount`, …).
    pub why: String,
    /// It is the default account (the only one `$TELEGRAM_BOT_TOKEN` serves).
    pub is_default: bool,
    /// The account was named but does not exist.
    pub problem: Option<String>,
}

/// The bot token, or why there is none.
#[derive(Clone, PartialEq, Eq)]
pub enum Token {
    Found {
        value: String,
        /// Where it came from (`tokenFile /path`, `botToken`, `env …`) — never the value.
        source: String,
    },
    Missing {
        why: String,
    },
}

impl std::fmt::Debug for Token {
    // By hand, so the token never lands in a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Found { source, .. } => write!(f, "Token::Found({source})"),
            Token::Missing { why } => write!(f, "Token::Missing({why})"),
        }
    }
}

impl Token {
    pub fn value(&self) -> Option<&str> {
        match self {
            Token::Found { value, .. } => Some(value),
            Token::Missing { .. } => None,
        }
    }
}

/// What delivery to Telegram would use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub account: Account,
    /// The target as written, and where it came from.
    pub target: Option<(String, String)>,
    /// Every place looked at for a target, in order, with what was there.
    pub looked: Vec<String>,
    pub token: Token,
    /// `apiRoot` of the account, else of the channel (no trailing `/`).
    pub api_root: Option<String>,
    /// `proxy` of the account, else of the channel.
    pub proxy: Option<String>,
}

/// What the caller brings: the config read (if any), the environment, and
/// the overrides of the command line and of the `defaults.notify` channel.
pub struct Inputs<'a> {
    pub source: Option<&'a Source>,
    /// The environment when there is no config (with one: its own sources).
    pub env: &'a EnvSources,
    pub target_override: Option<&'a str>,
    pub channel_target: Option<&'a str>,
    pub channel_account: Option<&'a str>,
}

/// Resolve the Telegram settings.
pub fn resolve(inputs: &Inputs) -> Settings {
    let null = Value::Null;
    let doc = inputs.source.map_or(&null, |s| &s.doc);
    let env = inputs.source.map_or(inputs.env, |s| &s.env);
    let tg = doc.pointer("/channels/telegram").filter(|v| v.is_object());
    let order = inputs
        .source
        .map(|s| s.account_order.as_slice())
        .unwrap_or(&[]);
    let account = choose_account(tg, order, inputs.channel_account);
    let acct = match (&account.id, &account.problem) {
        (Some(id), None) => tg
            .and_then(|t| t.get("accounts"))
            .and_then(|a| a.get(id))
            .filter(|a| a.is_object()),
        _ => None,
    };
    let acct_path = account
        .id
        .as_ref()
        .map(|id| format!("channels.telegram.accounts.{id}"));
    let str_at = |v: Option<&Value>, key: &str| {
        v.and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (target, looked) = find_target(inputs, doc, tg, acct, acct_path.as_deref());
    let config_dir = inputs
        .source
        .and_then(|s| s.path.parent())
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let token = match &account.problem {
        Some(p) => Token::Missing { why: p.clone() },
        None => find_token(
            inputs.source,
            env,
            tg,
            acct,
            acct_path.as_deref(),
            &account,
            &config_dir,
        ),
    };
    Settings {
        target,
        looked,
        token,
        api_root: str_at(acct, "apiRoot")
            .or_else(|| str_at(tg, "apiRoot"))
            .map(|r| r.trim_end_matches('/').to_string()),
        proxy: str_at(acct, "proxy").or_else(|| str_at(tg, "proxy")),
        account,
    }
}

/// SPEC §7 step 2: the channel's `account`, else `defaultAccount`, else
/// `accounts.default`, else the first account, else the top level.
fn choose_account(tg: Option<&Value>, order: &[String], explicit: Option<&str>) -> Account {
    let accounts = tg
        .and_then(|t| t.get("accounts"))
        .and_then(Value::as_object)
        .filter(|a| !a.is_empty());
    let default_account = tg
        .and_then(|t| t.get("defaultAccount"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    // The default account's id and why; `None` with no accounts.
    let default = accounts.map(|a| {
        if let Some(d) = default_account {
            (
                d.to_string(),
                "channels.telegram.defaultAccount".to_string(),
            )
        } else if a.contains_key("default") {
            (
                "default".to_string(),
                "channels.telegram.accounts.default".to_string(),
            )
        } else {
            let first = order
                .iter()
                .find(|k| a.contains_key(k.as_str()))
                .cloned()
                .or_else(|| a.keys().next().cloned())
                .expect("accounts is not empty");
            (first, "the first of channels.telegram.accounts".to_string())
        }
    });
    let missing = |id: &str, named_by: &str| {
        Some(format!(
            "{named_by} names account {id:?}, which channels.telegram.accounts does not have"
        ))
    };
    match (
        explicit.map(str::trim).filter(|s| !s.is_empty()),
        accounts,
        default,
    ) {
        (Some(id), Some(a), Some((d, _))) => Account {
            id: Some(id.to_string()),
            why: "the channel's account in defaults.notify".to_string(),
            is_default: id == d,
            problem: if a.contains_key(id) {
                None
            } else {
                missing(id, "defaults.notify")
            },
        },
        // No accounts: the top level is the account "default".
        (Some(id), _, _) => Account {
            id: Some(id.to_string()),
            why: "the channel's account in defaults.notify".to_string(),
            is_default: id == "default",
            problem: (id != "default").then(|| {
                format!(
                    "defaults.notify names account {id:?}, but channels.telegram has no accounts"
                )
            }),
        },
        (None, Some(a), Some((d, why))) => Account {
            problem: if a.contains_key(&d) {
                None
            } else {
                missing(&d, "channels.telegram.defaultAccount")
            },
            id: Some(d),
            why,
            is_default: true,
        },
        _ => Account {
            id: None,
            why: "channels.telegram (no accounts)".to_string(),
            is_default: true,
            problem: None,
        },
    }
}

/// SPEC §7 step 3, in order; the first usable target and where it came
/// from, and what every place held.
fn find_target(
    inputs: &Inputs,
    doc: &Value,
    tg: Option<&Value>,
    acct: Option<&Value>,
    acct_path: Option<&str>,
) -> (Option<(String, String)>, Vec<String>) {
    let mut looked = Vec::new();
    let explicit = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|t| Target::parse(t).is_some())
            .map(str::to_string)
    };
    if let Some(t) = explicit(inputs.target_override) {
        return (Some((t, "--target".to_string())), looked);
    }
    looked.push("--target (not given)".to_string());
    if let Some(t) = explicit(inputs.channel_target) {
        return (
            Some((t, "the channel's target in defaults.notify".to_string())),
            looked,
        );
    }
    looked.push("the channel's target in defaults.notify (none)".to_string());

    match heartbeat_target(doc) {
        HeartbeatTarget::Found(t, from) => return (Some((t, from)), looked),
        HeartbeatTarget::Not(why) => looked.push(why),
    }

    let mut places: Vec<(String, Option<&Value>)> = Vec::new();
    if let (Some(a), Some(p)) = (acct, acct_path) {
        places.push((format!("{p}.defaultTo"), a.get("defaultTo")));
    }
    places.push((
        "channels.telegram.defaultTo".into(),
        tg.and_then(|t| t.get("defaultTo")),
    ));
    for (label, value) in places {
        match value.and_then(scalar) {
            Some(t) if usable_default(&t) => return (Some((t, label)), looked),
            Some(t) => looked.push(format!("{label} ({t:?} is not a chat id)")),
            None => looked.push(format!("{label} (not set)")),
        }
    }

    let owners = doc
        .pointer("/commands/ownerAllowFrom")
        .and_then(Value::as_array);
    let owner = owners
        .into_iter()
        .flatten()
        .filter_map(scalar)
        .enumerate()
        .find(|(_, e)| {
            let lower = e.trim().to_ascii_lowercase();
            (lower.starts_with("telegram:") || lower.starts_with("tg:")) && usable_default(e)
        });
    if let Some((i, t)) = owner {
        return (Some((t, format!("commands.ownerAllowFrom[{i}]"))), looked);
    }
    looked.push(match owners {
        Some(_) => "commands.ownerAllowFrom (no telegram: entry)".to_string(),
        None => "commands.ownerAllowFrom (not set)".to_string(),
    });

    let mut lists: Vec<(String, Option<&Value>)> = Vec::new();
    if let (Some(a), Some(p)) = (acct, acct_path) {
        lists.push((format!("{p}.allowFrom"), a.get("allowFrom")));
    }
    lists.push((
        "channels.telegram.allowFrom".into(),
        tg.and_then(|t| t.get("allowFrom")),
    ));
    for (label, value) in lists {
        let list = value.and_then(Value::as_array);
        let found = list
            .into_iter()
            .flatten()
            .filter_map(scalar)
            .enumerate()
            .find(|(_, e)| usable_default(e));
        match (found, list) {
            (Some((i, t)), _) => return (Some((t, format!("{label}[{i}]"))), looked),
            (None, Some(_)) => looked.push(format!(
                "{label} (no chat id: \"*\" and @names are skipped)"
            )),
            (None, None) => looked.push(format!("{label} (not set)")),
        }
    }
    (None, looked)
}

/// A default target must be a chat id: `*` and `@names` are skipped.
fn usable_default(raw: &str) -> bool {
    Target::parse(raw).is_some_and(|t| t.numeric())
}

enum HeartbeatTarget {
    Found(String, String),
    /// What was there instead, for the list of places looked at.
    Not(String),
}

/// The default agent's heartbeat, merged over `agents.defaults.heartbeat`,
/// when its target is `telegram`: its `to`.
fn heartbeat_target(doc: &Value) -> HeartbeatTarget {
    let list = agents(doc);
    let defaults = doc
        .pointer("/agents/defaults/heartbeat")
        .filter(|h| h.is_object());
    let system = doc
        .pointer("/agents/defaults/systemAgent/agentId")
        .and_then(scalar);
    let chosen = list
        .iter()
        .find(|a| a.agent.get("default").and_then(Value::as_bool) == Some(true))
        .or_else(|| system.and_then(|s| list.iter().find(|a| a.id == s)))
        .or_else(|| list.iter().find(|a| a.id == "main"))
        .or_else(|| list.first());
    let own = chosen
        .and_then(|a| a.agent.get("heartbeat"))
        .filter(|h| h.is_object());
    let field = |key: &str| -> Option<(&Value, String)> {
        if let (Some(h), Some(a)) = (own, chosen) {
            if let Some(v) = h.get(key) {
                return Some((v, format!("{}.heartbeat.{key}", a.path)));
            }
        }
        defaults
            .and_then(|h| h.get(key))
            .map(|v| (v, format!("agents.defaults.heartbeat.{key}")))
    };
    let who = match chosen {
        Some(a) => format!("the default agent's heartbeat ({})", a.path),
        None => "the default agent's heartbeat".to_string(),
    };
    if own.is_none() && defaults.is_none() {
        return HeartbeatTarget::Not(format!("{who} (none)"));
    }
    let target = field("target").and_then(|(v, _)| scalar(v));
    match target.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("telegram") => match field("to") {
            Some((v, from)) => match scalar(v) {
                Some(t) if usable_default(&t) => HeartbeatTarget::Found(t, from),
                Some(t) => HeartbeatTarget::Not(format!("{from} ({t:?} is not a chat id)")),
                None => HeartbeatTarget::Not(format!("{who} (target telegram, no to)")),
            },
            None => HeartbeatTarget::Not(format!("{who} (target telegram, no to)")),
        },
        Some(_) => HeartbeatTarget::Not(format!(
            "{who} (target {:?}, not telegram)",
            target.unwrap_or_default()
        )),
        None => HeartbeatTarget::Not(format!("{who} (no target)")),
    }
}

struct Agent<'a> {
    id: String,
    /// Where it is written (`agents.entries.main`, `agents.list[0]`).
    path: String,
    agent: &'a Value,
}

/// Every agent, whatever shape `agents` has: `entries` (from 2026-07, keyed
/// by id or a list), `list` (until 2026-07), a bare list, or agents keyed
/// by id directly. The first of one id counts.
fn agents(doc: &Value) -> Vec<Agent<'_>> {
    let mut out: Vec<Agent> = Vec::new();
    fn collect<'v>(out: &mut Vec<Agent<'v>>, value: &'v Value, base: &str) {
        match value {
            Value::Array(items) => {
                for (i, a) in items.iter().enumerate() {
                    if let Some(id) = a.get("id").and_then(scalar) {
                        add_agent(out, id, format!("{base}[{i}]"), a);
                    }
                }
            }
            Value::Object(map) => {
                for (k, a) in map {
                    if a.is_object() {
                        let id = a.get("id").and_then(scalar).unwrap_or_else(|| k.clone());
                        add_agent(out, id, format!("{base}.{k}"), a);
                    }
                }
            }
            _ => {}
        }
    }
    fn add_agent<'v>(out: &mut Vec<Agent<'v>>, id: String, path: String, agent: &'v Value) {
        if !out.iter().any(|a| a.id == id) {
            out.push(Agent { id, path, agent });
        }
    }
    match doc.get("agents") {
        Some(v @ Value::Array(_)) => collect(&mut out, v, "agents"),
        Some(Value::Object(map)) => {
            if let Some(e) = map.get("entries") {
                collect(&mut out, e, "agents.entries");
            }
            if let Some(l) = map.get("list") {
                collect(&mut out, l, "agents.list");
            }
            for (k, a) in map {
                if !matches!(k.as_str(), "entries" | "list" | "defaults")
                    && a.get("heartbeat").is_some()
                {
                    let id = a.get("id").and_then(scalar).unwrap_or_else(|| k.clone());
                    add_agent(&mut out, id, format!("agents.{k}"), a);
                }
            }
        }
        _ => {}
    }
    out
}

/// A chat id written as a string or a number.
fn scalar(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// SPEC §7 step 4: the account's `tokenFile`, the account's `botToken`, the
/// channel's `tokenFile`, the channel's `botToken`, then
/// `$TELEGRAM_BOT_TOKEN` (default account only). The first that is set
/// decides: one set but unusable gives no token at all, as in OpenClaw.
fn find_token(
    source: Option<&Source>,
    env: &EnvSources,
    tg: Option<&Value>,
    acct: Option<&Value>,
    acct_path: Option<&str>,
    account: &Account,
    config_dir: &Path,
) -> Token {
    let mut places: Vec<(Option<&Value>, String)> = Vec::new();
    if let Some(p) = acct_path.filter(|_| acct.is_some()) {
        places.push((acct, p.to_string()));
    }
    places.push((tg, "channels.telegram".to_string()));
    for (holder, path) in places {
        let Some(holder) = holder else { continue };
        if let Some(file) = holder
            .get("tokenFile")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            let mut p = paths::expand_tilde(file);
            if p.is_relative() {
                p = config_dir.join(p);
            }
            return match read_token_file(&p) {
                Ok(value) => Token::Found {
                    value,
                    source: format!("tokenFile {} ({path}.tokenFile)", p.display()),
                },
                Err(why) => Token::Missing {
                    why: format!(
                        "{path}.tokenFile {}: {why} (a tokenFile that is set but unusable gives no token, as in OpenClaw)",
                        p.display()
                    ),
                },
            };
        }
        match holder.get("botToken") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.trim().is_empty() => {}
            Some(Value::String(s)) => {
                let raw = source
                    .and_then(|src| src.raw.pointer(&json_pointer(&path)))
                    .and_then(|h| h.get("botToken"))
                    .and_then(Value::as_str)
                    .unwrap_or(s);
                let (_, missing) = substitute_str(raw, env);
                if let Some(var) = missing.first() {
                    return Token::Missing {
                        why: format!(
                            "{path}.botToken refers to ${{{var}}}, which is set in neither the environment, {} nor env.vars",
                            env.dotenv_path.display()
                        ),
                    };
                }
                return Token::Found {
                    value: s.trim().to_string(),
                    source: format!("botToken ({path}.botToken{})", var_sources(raw, env)),
                };
            }
            Some(Value::Object(r)) => return secret_ref(r, env, &path),
            Some(_) => {
                return Token::Missing {
                    why: format!("{path}.botToken must be a string or a SecretRef object"),
                }
            }
        }
    }
    if !account.is_default {
        return Token::Missing {
            why: format!(
                "account {:?} has no tokenFile or botToken ($TELEGRAM_BOT_TOKEN serves only the default account)",
                account.id.clone().unwrap_or_default()
            ),
        };
    }
    match env.get("TELEGRAM_BOT_TOKEN") {
        Some((value, from)) => Token::Found {
            value: value.trim().to_string(),
            source: format!("env TELEGRAM_BOT_TOKEN (from {from})"),
        },
        None => Token::Missing {
            why: "no tokenFile or botToken in channels.telegram, and no $TELEGRAM_BOT_TOKEN"
                .to_string(),
        },
    }
}

/// `channels.telegram.accounts.x` → `/channels/telegram/accounts/x`.
fn json_pointer(dotted: &str) -> String {
    let mut out = String::new();
    for part in dotted.splitn(4, '.') {
        out.push('/');
        out.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// `, ${VAR} from <home>/.env` for each variable a value was made of.
fn var_sources(raw: &str, env: &EnvSources) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find("${") {
        let tail = &rest[i + 2..];
        let Some(end) = tail.find('}') else { break };
        let name = &tail[..end];
        if let Some((_, from)) = env.get(name) {
            out.push_str(&format!(", ${{{name}}} from {from}"));
        }
        rest = &tail[end + 1..];
    }
    out
}

/// A SecretRef `{source, provider, id}`: the `env` source is read here;
/// others need OpenClaw's gateway, through its CLI.
fn secret_ref(r: &serde_json::Map<String, Value>, env: &EnvSources, path: &str) -> Token {
    let source = r.get("source").and_then(Value::as_str).unwrap_or("").trim();
    let id = r.get("id").and_then(Value::as_str).unwrap_or("").trim();
    if source != "env" {
        return Token::Missing {
            why: format!(
                "{path}.botToken is a SecretRef with source {source:?}: only the openclaw CLI (through the gateway) can resolve it"
            ),
        };
    }
    match env.get(id) {
        Some((value, from)) => Token::Found {
            value: value.trim().to_string(),
            source: format!("botToken SecretRef env {id} from {from} ({path}.botToken)"),
        },
        None => Token::Missing {
            why: format!(
                "{path}.botToken is a SecretRef to env {id:?}, which is set in neither the environment, {} nor env.vars",
                env.dotenv_path.display()
            ),
        },
    }
}

/// A token file: a regular file (not a symbolic link, FIFO or device),
/// read up to [`TOKEN_FILE_LIMIT`] bytes, trimmed, not empty.
pub fn read_token_file(path: &Path) -> Result<String, String> {
    use rustix::fs::{Mode, OFlags};
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("is a symbolic link (refused)".to_string());
    }
    if !meta.is_file() {
        return Err("is not a regular file (refused)".to_string());
    }
    // O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO since
    // the check above neither redirects nor blocks the open.
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| std::io::Error::from(e).to_string())?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("is not a regular file (refused)".to_string());
    }
    let mut bytes = Vec::new();
    file.take(TOKEN_FILE_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "is not text".to_string())?;
    let token = text.trim();
    if token.is_empty() {
        return Err("is empty".to_string());
    }
    Ok(token.to_string())
}
