//! The job config (`ops-jobs.json`, SPEC §2): its resolved types, loading,
//! and validation (JSON syntax, the shipped JSON Schema, cross-job rules).
//!
//! Everything after loading works on [`Config`]: every policy value already
//! fell back to `defaults` and the built-in default, every `cwd` is absolute,
//! every `~` expanded. Validation collects every problem before it reports.
//!
//! Validation runs in three passes over one parsed [`serde_json::Value`]:
//! the embedded JSON Schema ([`schema`]), a walk for keys the schema does not
//! know (driven by the schema's own `properties`, so the schema is the one
//! list of known keys), and the resolution into [`Config`] with the
//! cross-job rules ([`resolve`]). Every problem carries its JSON path; they
//! are sorted by path so a file's mistakes read top to bottom.

mod last_good;
mod lint;
#[cfg(test)]
mod props;
mod python;
mod resolve;
mod schema;
#[cfg(test)]
mod tests;

pub use last_good::LastGood;
pub use lint::lint;

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// The JSON Schema shipped with the binary (`ops-monitor schema` prints it).
pub const SCHEMA: &str = include_str!("../../config/ops-jobs.schema.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    LongRunningRead,
    OneShotRead,
    OneShotWrite,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LongRunningRead => "long_running_read",
            Kind::OneShotRead => "one_shot_read",
            Kind::OneShotWrite => "one_shot_write",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    ReadOnly,
    WriteLocal,
    WriteExternal,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::ReadOnly => "read_only",
            Risk::WriteLocal => "write_local",
            Risk::WriteExternal => "write_external",
        }
    }
}

/// Report language (`--lang`, `defaults.language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// A local-time window in minutes after midnight. `start == end` means none;
/// `start > end` wraps midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start_minute: u32,
    pub end_minute: u32,
}

impl QuietHours {
    /// The built-in default, 23:00–08:00.
    pub const DEFAULT: QuietHours = QuietHours {
        start_minute: 23 * 60,
        end_minute: 8 * 60,
    };

    /// Whether `minute_of_day` (0..1440, local time) lies in the window.
    pub fn contains(&self, minute_of_day: u32) -> bool {
        let (s, e) = (self.start_minute, self.end_minute);
        if s == e {
            false
        } else if s < e {
            (s..e).contains(&minute_of_day)
        } else {
            minute_of_day >= s || minute_of_day < e
        }
    }
}

/// Per-job policy with every fallback applied (SPEC §2 `policy` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub report_every_seconds: f64,
    pub only_on_change: bool,
    pub report_while_running: bool,
    pub stall_seconds: f64,
    pub auto_resume: bool,
    pub auto_resume_backoff_seconds: f64,
    pub quiet_hours: QuietHours,
    pub status_timeout_seconds: f64,
    /// `one_shot_read` only: the limit of a scheduled or queued run (else
    /// 60 s scheduled, 300 s queued).
    pub timeout_seconds: Option<f64>,
    pub every_seconds: Option<f64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            report_every_seconds: 1800.0,
            only_on_change: true,
            report_while_running: true,
            stall_seconds: 3600.0,
            auto_resume: false,
            auto_resume_backoff_seconds: 900.0,
            quiet_hours: QuietHours::DEFAULT,
            status_timeout_seconds: 30.0,
            timeout_seconds: None,
            every_seconds: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    pub required: bool,
    pub granted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq)]
pub struct After {
    pub job_id: String,
    pub when: When,
    pub delay_seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub risk: Risk,
    pub enabled: bool,
    /// Absolute working directory of every command.
    pub cwd: PathBuf,
    /// Command name → argv (never a shell string).
    pub commands: BTreeMap<String, Vec<String>>,
    pub policy: Policy,
    pub approval: Option<Approval>,
    pub after: Vec<After>,
}

impl Job {
    pub fn command(&self, name: &str) -> Option<&[String]> {
        self.commands.get(name).map(|v| v.as_slice())
    }

    /// An enabled job with these commands, in `/`, with the built-in policy
    /// (for unit tests).
    #[cfg(test)]
    pub fn for_tests(id: &str, kind: Kind, risk: Risk, commands: &[(&str, &[&str])]) -> Job {
        Job {
            id: id.into(),
            name: id.into(),
            kind,
            risk,
            enabled: true,
            cwd: PathBuf::from("/"),
            commands: commands
                .iter()
                .map(|(k, argv)| (k.to_string(), argv.iter().map(|a| a.to_string()).collect()))
                .collect(),
            policy: Policy::default(),
            approval: None,
            after: Vec::new(),
        }
    }
}

/// One delivery channel under `defaults.notify` (SPEC §7). The serde form
/// is the config's own spelling (`{"type": "webhook", "url": …}`), used to
/// read the channel specs older versions stored in outbox entries (they
/// are upgraded to an identity and dropped, `outbox::OutboxMessage`).
/// Loading the config does not go through serde (see `resolve`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Channel {
    Telegram {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        /// The `channels.telegram.accounts` id to post from (SPEC §7 step 2).
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

impl Default for Channel {
    /// Telegram with the default target: the only channel of the Python
    /// version, and the one used without `defaults.notify`.
    fn default() -> Self {
        Channel::Telegram {
            target: None,
            account: None,
        }
    }
}

impl Channel {
    /// What identifies the channel across runs and config edits: its type
    /// and where it goes (never a header, which may hold a secret).
    pub fn key(&self) -> String {
        match self {
            // The account is part of the destination: another bot posts
            // elsewhere. Without one, the key is what it always was.
            Channel::Telegram { target, account } => {
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
            Channel::Webhook { url, .. } => format!("webhook:{url}"),
            Channel::File { path } => format!("file:{}", path.display()),
            Channel::Command { argv } => format!("command:{}", argv.join(" ")),
        }
    }
}

/// A `{"type": "alertmanager"}` entry of `defaults.notify` (SPEC §10). Kept
/// apart from [`Channel`]: it takes the current alerts every tick, not
/// reports, and never goes through the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerChannel {
    /// The Alertmanager's base URL (`http://am:9093`).
    pub url: String,
    /// Labels added to every alert (a secret never belongs here: they are shown).
    pub labels: BTreeMap<String, String>,
    /// HTTP headers; their values are secrets (never printed or stored).
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    pub language: Lang,
    /// `None`: Telegram only, as in the Python version.
    pub notify: Option<Vec<Channel>>,
    /// The `alertmanager` entries of `notify`.
    pub alertmanager: Vec<AlertmanagerChannel>,
    pub metrics_file: Option<PathBuf>,
    /// A secret: never printed or stored.
    pub heartbeat_url: Option<String>,
}

impl Defaults {
    /// The secrets the config itself holds, to be redacted from job output
    /// like the Telegram token (SPEC §7): webhook and Alertmanager header
    /// values (and the credential after `Bearer `/`Basic `), a webhook URL's
    /// query, the heartbeat URL with its path (a check id is all it takes
    /// to ping), and a command channel's arguments — not its program: a
    /// program path in every output would be redacted too.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        let header_values = |headers: &BTreeMap<String, String>, out: &mut Vec<String>| {
            for value in headers.values() {
                out.push(value.clone());
                if let Some((_, credential)) = value.split_once(' ') {
                    out.push(credential.to_string());
                }
            }
        };
        for channel in self.notify.iter().flatten() {
            match channel {
                Channel::Webhook { headers, .. } => header_values(headers, &mut out),
                Channel::Command { argv } => out.extend(argv.iter().skip(1).cloned()),
                _ => {}
            }
        }
        for am in &self.alertmanager {
            header_values(&am.headers, &mut out);
        }
        let mut url_parts = |url: &str, whole: bool| {
            if whole {
                out.push(url.to_string());
            }
            let Some((_, rest)) = url.split_once("://") else {
                return;
            };
            if whole {
                if let Some((_, path)) = rest.split_once('/') {
                    out.push(format!("/{path}"));
                }
            }
            if let Some((_, query)) = rest.split_once('?') {
                out.push(query.to_string());
            }
        };
        for channel in self.notify.iter().flatten() {
            if let Channel::Webhook { url, .. } = channel {
                url_parts(url, false);
            }
        }
        if let Some(url) = &self.heartbeat_url {
            url_parts(url, true);
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    pub defaults: Defaults,
    pub jobs: Vec<Job>,
    /// Problems that do not stop the config from loading (unknown keys,
    /// a `one_shot_read` with write risk), each naming its JSON path.
    pub warnings: Vec<String>,
}

impl Config {
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }
}

/// Why a config could not be loaded: every problem found, each with its JSON
/// path and the job's id (`jobs[2] (id "apply").commands.status: …`) or line
/// and column for a syntax error — and the warnings found with them (SPEC §2:
/// all at once, also when there are errors).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
    /// What would only have been a warning, had the config loaded.
    pub warnings: Vec<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.problems.join("; "))
    }
}

impl std::error::Error for ConfigError {}

/// Load and validate the config at `path`. With `strict`, unknown keys are
/// errors instead of warnings. `home` is the OpenClaw home (the default `cwd`).
pub fn load(path: &Path, home: &Path, strict: bool) -> Result<Config, ConfigError> {
    load_remembered(path, home, strict, None).map(|(config, _)| config)
}

/// A fingerprint of config text as this binary validates it (the text, the
/// embedded schema, the version). Same fingerprint, same verdict.
pub fn fingerprint(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (text, SCHEMA, env!("CARGO_PKG_VERSION")).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// `load`, for `tick`: when the text's fingerprint is `known_valid` (the one
/// that validated on the last tick), the JSON Schema check and the
/// unknown-key walk are skipped (with `strict` off they only find warnings,
/// said when the config changed); the Python readings, the cross-job rules
/// and the resolution still run. Returns the fingerprint.
pub fn load_remembered(
    path: &Path,
    home: &Path,
    strict: bool,
    known_valid: Option<&str>,
) -> Result<(Config, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        let hint = if err.kind() == std::io::ErrorKind::NotFound {
            " (create it, or point --config-file or OPS_MONITOR_CONFIG at the right file)"
        } else {
            ""
        };
        ConfigError {
            path: path.to_path_buf(),
            problems: vec![format!(
                "cannot read config file {}: {err}{hint}",
                path.display()
            )],
            warnings: Vec::new(),
        }
    })?;
    parse_remembered(&text, path, home, strict, known_valid)
}

/// [`load_remembered`] for text already read from `path`.
pub fn parse_remembered(
    text: &str,
    path: &Path,
    home: &Path,
    strict: bool,
    known_valid: Option<&str>,
) -> Result<(Config, String), ConfigError> {
    let print = fingerprint(text);
    let trusted = known_valid == Some(print.as_str());
    parse_checked(text, path, home, strict, !trusted).map(|config| (config, print))
}

/// The channels of `defaults.notify` in config text that does not validate,
/// if that part can still be read — so an alert about a broken config goes
/// where the user's reports go (SPEC §5 step 2).
pub fn notify_of_broken(text: &str, path: &Path) -> Option<Vec<Channel>> {
    let value: serde_json::Value =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
    let defaults = value.get("defaults")?.as_object()?;
    resolve::notify_of(defaults, &config_folder(path))
}

/// Load and validate config text, schema included (for tests).
#[cfg(test)]
pub fn parse(text: &str, path: &Path, home: &Path, strict: bool) -> Result<Config, ConfigError> {
    parse_checked(text, path, home, strict, true)
}

fn parse_checked(
    text: &str,
    path: &Path,
    home: &Path,
    strict: bool,
    schema_check: bool,
) -> Result<Config, ConfigError> {
    // Editors on some systems save a byte-order mark; it is not a mistake.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|err| ConfigError {
        path: path.to_path_buf(),
        problems: vec![syntax_problem(&err)],
        warnings: Vec::new(),
    })?;

    let mut found = Found {
        strict,
        ..Found::default()
    };
    // The Python version's readings first: everything after sees the
    // canonical form.
    let readings = python::read(&mut value, &mut found);
    // A config this state saw validate needs neither the schema nor the
    // unknown-key walk again: both only find what was found (and said)
    // the first time — and the walk was a sixth of a 1000-job tick's own
    // work.
    if schema_check {
        schema::check(&value, &mut found);
        schema::unknown_keys(&value, strict, &mut found);
    }
    let base = config_folder(path);
    let home = absolute(home);
    let resolved = resolve::resolve(&value, &readings, &base, &home, &mut found);

    let (errors, warnings) = found.finish(&job_ids(&value));
    match resolved {
        Some((defaults, jobs)) if errors.is_empty() => Ok(Config {
            path: path.to_path_buf(),
            defaults,
            jobs,
            warnings,
        }),
        _ => Err(ConfigError {
            path: path.to_path_buf(),
            problems: if errors.is_empty() {
                // resolve gives up only where a check above already
                // complained; this keeps a slip there from passing silently.
                vec!["the config could not be resolved".to_string()]
            } else {
                errors
            },
            warnings,
        }),
    }
}

/// The `defaults` of config text that does not validate, as far as they can
/// be read (it must still be JSON): where a tick that found the config
/// invalid, with no last good copy, still writes its metrics, posts its
/// alerts and pings (SPEC §10).
pub fn defaults_of_broken(text: &str, path: &Path) -> Option<Defaults> {
    let value: serde_json::Value =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
    let defaults = value.get("defaults")?.as_object()?;
    Some(resolve::resolve_defaults(defaults, &config_folder(path)))
}

/// `version=1 jobs=N (long_running_read=a, one_shot_read=b, one_shot_write=c)`,
/// the line `validate-config` prints after `OK: `.
pub fn summary(config: &Config) -> String {
    let count = |kind: Kind| config.jobs.iter().filter(|j| j.kind == kind).count();
    format!(
        "version=1 jobs={} (long_running_read={}, one_shot_read={}, one_shot_write={})",
        config.jobs.len(),
        count(Kind::LongRunningRead),
        count(Kind::OneShotRead),
        count(Kind::OneShotWrite),
    )
}

/// `line L, column C: <message>`, without serde's own ` at line … column …`.
fn syntax_problem(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    format!("line {}, column {}: {message}", err.line(), err.column())
}

/// The folder relative paths in the config are taken from.
fn config_folder(path: &Path) -> PathBuf {
    let path = absolute(path);
    match path.parent() {
        Some(parent) => parent.to_path_buf(),
        None => path,
    }
}

/// Make `path` absolute against the current directory (no symlinks
/// resolved, nothing read from disk).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A path the user wrote in the config: `~` expanded, a relative path taken
/// from the config file's folder.
fn user_path(text: &str, base: &Path) -> PathBuf {
    let path = crate::paths::expand_tilde(text);
    if path.is_absolute() {
        path
    } else {
        absolute(&base.join(path))
    }
}

/// Each job's id as an error names it (`jobs[2] (id "apply")`): the id
/// trimmed, when it is a non-empty string; `None` for a job without one.
fn job_ids(value: &serde_json::Value) -> Vec<Option<String>> {
    let Some(jobs) = value.get("jobs").and_then(|j| j.as_array()) else {
        return Vec::new();
    };
    jobs.iter()
        .map(|job| {
            let id = job.get("id")?.as_str()?.trim();
            (!id.is_empty()).then(|| id.to_string())
        })
        .collect()
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Index(usize),
    Key(String),
}

/// A location in the config, shown as `jobs[2].commands.status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct JsonPath(Vec<Seg>);

impl JsonPath {
    fn root() -> Self {
        JsonPath(Vec::new())
    }

    fn key(mut self, key: &str) -> Self {
        self.0.push(Seg::Key(key.to_string()));
        self
    }

    fn index(mut self, index: usize) -> Self {
        self.0.push(Seg::Index(index));
        self
    }

    fn job(index: usize) -> Self {
        JsonPath::root().key("jobs").index(index)
    }

    /// The path with the job's id after its index, when `ids` knows it:
    /// `jobs[2] (id "apply").after`. The id is written as a JSON string, so
    /// quotes and control characters in it cannot blur the line.
    fn with_id(&self, ids: &[Option<String>]) -> String {
        let shown = self.to_string();
        let (Some(Seg::Key(jobs)), Some(Seg::Index(i))) = (self.0.first(), self.0.get(1)) else {
            return shown;
        };
        let Some(Some(id)) = ids.get(*i).filter(|_| jobs == "jobs") else {
            return shown;
        };
        let head = format!("jobs[{i}]");
        let rest = shown.strip_prefix(&head).unwrap_or_default();
        format!("{head} (id {}){rest}", serde_json::Value::from(id.as_str()))
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("top level");
        }
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) if is_plain_key(k) => {
                    if n > 0 {
                        f.write_char('.')?;
                    }
                    f.write_str(k)?;
                }
                // A key such as `my cmd` or `a.b` would make the dotted form
                // ambiguous; JSON string syntax keeps it readable.
                Seg::Key(k) => write!(f, "[{}]", serde_json::Value::from(k.as_str()))?,
            }
        }
        Ok(())
    }
}

fn is_plain_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

/// Problems found so far, each at its path.
#[derive(Debug, Default)]
struct Found {
    /// `validate-config --strict`: what is only tolerated is an error.
    strict: bool,
    errors: Vec<(JsonPath, String)>,
    warnings: Vec<(JsonPath, String)>,
    /// Warnings said once for all the places they apply to, with those
    /// places: `(message, paths)`.
    shared: Vec<(String, Vec<JsonPath>)>,
}

impl Found {
    /// A form the Python version accepts and this port reads the same way:
    /// a warning, an error with `--strict`.
    fn tolerated(&mut self, path: JsonPath, message: impl Into<String>) {
        if self.strict {
            self.error(path, message);
        } else {
            self.warn(path, message);
        }
    }

    fn error(&mut self, path: JsonPath, message: impl Into<String>) {
        self.errors.push((path, message.into()));
    }

    fn warn(&mut self, path: JsonPath, message: impl Into<String>) {
        self.warnings.push((path, message.into()));
    }

    /// A warning that several places may share word for word (four jobs
    /// with the same relative `cwd`): one line at the first place, naming
    /// the others, rather than a line each.
    fn warn_shared(&mut self, path: JsonPath, message: String) {
        match self.shared.iter_mut().find(|(m, _)| *m == message) {
            Some((_, paths)) => paths.push(path),
            None => self.shared.push((message, vec![path])),
        }
    }

    /// Errors and warnings as `path: message`, sorted by path (stable, so
    /// one path's problems keep the order they were found in), without
    /// repeats. An error names its job by id too (`ids`, SPEC §2).
    fn finish(mut self, ids: &[Option<String>]) -> (Vec<String>, Vec<String>) {
        for (message, mut paths) in std::mem::take(&mut self.shared) {
            paths.sort();
            paths.dedup();
            let first = paths.remove(0);
            let message = if paths.is_empty() {
                message
            } else {
                let others: Vec<String> = paths.iter().map(ToString::to_string).collect();
                format!("{message} (the same for {})", others.join(", "))
            };
            self.warnings.push((first, message));
        }
        fn render(mut list: Vec<(JsonPath, String)>, ids: &[Option<String>]) -> Vec<String> {
            list.sort_by(|a, b| a.0.cmp(&b.0));
            let mut seen = std::collections::HashSet::with_capacity(list.len());
            let mut out = Vec::with_capacity(list.len());
            for (path, message) in list {
                let line = format!("{}: {message}", path.with_id(ids));
                if seen.insert(line.clone()) {
                    out.push(line);
                }
            }
            out
        }
        (render(self.errors, ids), render(self.warnings, &[]))
    }
}
