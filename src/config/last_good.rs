//! The last good config (SPEC §5 step 2): every config that validates is
//! kept, when its bytes change, beside the state as
//! `<state file>.last-good-config.json`, so a typo in `ops-jobs.json` never
//! stops the watching — `tick` goes on running status commands with the copy
//! (and starts and runs nothing) until the file is fixed.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::{parse_remembered, Config};
use crate::atomic::{self, NewMode};

/// The copy beside a state file.
pub struct LastGood {
    path: PathBuf,
}

impl LastGood {
    pub fn beside(state: &Path) -> LastGood {
        let mut name = state.as_os_str().to_owned();
        name.push(".last-good-config.json");
        LastGood {
            path: PathBuf::from(name),
        }
    }

    /// Keep `text` as the last good copy unless the copy already holds it
    /// (the fingerprint of the last config that validated is `known`). A
    /// failure to write is returned for the caller to print; it never stops
    /// a tick.
    pub fn keep(&self, text: &str, fingerprint: &str, known: Option<&str>) -> std::io::Result<()> {
        if known == Some(fingerprint) && self.path.is_file() {
            return Ok(());
        }
        atomic::write(&self.path, text.as_bytes(), NewMode::Private)
    }

    /// The copy, validated again as if it were at `config_path` (relative
    /// paths in it mean what they meant there), and when it was kept.
    pub fn load(&self, config_path: &Path, home: &Path) -> Option<(Config, f64)> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let (config, _) = parse_remembered(&text, config_path, home, false, None).ok()?;
        let kept_at = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        Some((config, kept_at))
    }
}
