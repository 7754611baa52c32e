//! What delivery takes from the OpenClaw config (SPEC §7 steps 1–4, 6), read
//! the way OpenClaw reads it, in every shape it has had in 2026:
//!
//! - [`source`]: the file — JSON5, `$include`, `${VAR}` from the
//!   environment, `<home>/.env` and `env.vars`;
//! - [`settings`]: the Telegram settings in it — account, target, token,
//!   Bot API root and proxy, each with where it came from.
//!
//! `OPENCLAW.md` (in the project's shared notes) has the facts and their
//! sources in OpenClaw's repository.

pub mod settings;
pub mod source;

use std::collections::BTreeMap;
use std::path::Path;

pub use settings::{resolve, Inputs, Settings, Target, Token};
pub use source::{EnvSources, Source};

/// The OpenClaw config as read, or why it could not be.
#[derive(Debug, Clone)]
pub enum Loaded {
    Doc(Box<Source>),
    /// No file there: fine when `--target` and `$TELEGRAM_BOT_TOKEN` are given.
    Missing,
    /// Unreadable, not JSON5, or a bad `$include`: the reason, to tell the operator.
    Broken(String),
}

impl Loaded {
    pub fn source(&self) -> Option<&Source> {
        match self {
            Loaded::Doc(s) => Some(s),
            _ => None,
        }
    }
}

/// Read the OpenClaw config at `path`; `home` holds its `.env`, `process`
/// is the process environment.
pub fn load(path: &Path, home: &Path, process: &BTreeMap<String, String>) -> Loaded {
    match source::load(path, home, process) {
        Ok(s) => Loaded::Doc(Box::new(s)),
        Err(source::LoadError::Missing) => Loaded::Missing,
        Err(source::LoadError::Broken(why)) => Loaded::Broken(why),
    }
}

#[cfg(test)]
mod tests;
