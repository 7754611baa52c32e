//! The job config (`ops-jobs.json`, SPEC §2): its resolved types, loading,
//! and validation (JSON syntax, the shipped JSON Schema, cross-job rules).
//!
//! Everything after loading works on [`Config`]: every policy value already
//! fell back to `defaults` and the built-in default, every `cwd` is absolute,
//! every `~` expanded. Validation collects every problem before it reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The JSON Schema shipped with the binary (`ops-monitor schema` prints it).
pub const SCHEMA: &str = include_str!("../config/ops-jobs.schema.json");

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
}

/// One delivery channel under `defaults.notify` (SPEC §7).
#[derive(Debug, Clone, PartialEq)]
pub enum Channel {
    Telegram {
        target: Option<String>,
    },
    Webhook {
        url: String,
        headers: BTreeMap<String, String>,
    },
    File {
        path: PathBuf,
    },
    Command {
        argv: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    pub language: Lang,
    /// `None`: Telegram only, as in the Python version.
    pub notify: Option<Vec<Channel>>,
    pub metrics_file: Option<PathBuf>,
    pub heartbeat_url: Option<String>,
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
/// path (`jobs[2].commands.status: …`) or line and column for a syntax error.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
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
    let _ = (path, home, strict);
    todo!("config::load")
}

/// Load and validate config text (used by `load`, and by tests and selftest).
pub fn parse(text: &str, path: &Path, home: &Path, strict: bool) -> Result<Config, ConfigError> {
    let _ = (text, path, home, strict);
    todo!("config::parse")
}

pub fn summary(config: &Config) -> String {
    let _ = config;
    todo!()
}
