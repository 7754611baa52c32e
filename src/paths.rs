//! Default file locations (SPEC §1) and `~` expansion.

use std::path::{Path, PathBuf};

/// `~` or `~/…` at the start of a path the user gave becomes their home.
pub fn expand_tilde(path: &str) -> PathBuf {
    if path == "~" {
        return home_dir();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return home_dir().join(rest);
    }
    PathBuf::from(path)
}

/// The user's home folder: `$HOME`, else what the OS says.
pub fn home_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("/")),
    }
}

/// The OpenClaw home: `$OPENCLAW_HOME`, else `~/.openclaw`.
pub fn openclaw_home() -> PathBuf {
    match std::env::var("OPENCLAW_HOME") {
        Ok(h) if !h.trim().is_empty() => expand_tilde(h.trim()),
        _ => home_dir().join(".openclaw"),
    }
}

pub fn default_config(home: &Path) -> PathBuf {
    home.join("net").join("config").join("ops-jobs.json")
}

pub fn default_state(home: &Path) -> PathBuf {
    home.join("net").join("state").join("ops-monitor.json")
}

/// `$OPENCLAW_CONFIG_PATH`, else `<home>/openclaw.json`.
pub fn openclaw_config(home: &Path) -> PathBuf {
    match std::env::var("OPENCLAW_CONFIG_PATH") {
        Ok(p) if !p.trim().is_empty() => expand_tilde(p.trim()),
        _ => home.join("openclaw.json"),
    }
}

/// The files one command works on, from the options, the environment and
/// the defaults (SPEC §1).
#[derive(Debug, Clone)]
pub struct Files {
    pub home: PathBuf,
    pub config: PathBuf,
    pub state: PathBuf,
    pub openclaw_config: PathBuf,
}

impl Files {
    pub fn resolve(config_file: Option<&str>, state_file: Option<&str>) -> Files {
        let home = openclaw_home();
        let pick = |given: Option<&str>, default: PathBuf| match given {
            Some(p) if !p.trim().is_empty() => expand_tilde(p.trim()),
            _ => default,
        };
        Files {
            config: pick(config_file, default_config(&home)),
            state: pick(state_file, default_state(&home)),
            openclaw_config: openclaw_config(&home),
            home,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_only_at_the_start() {
        assert_eq!(expand_tilde("/a/~/b"), PathBuf::from("/a/~/b"));
        assert_eq!(expand_tilde("~/x"), home_dir().join("x"));
        assert_eq!(expand_tilde("~"), home_dir());
        assert_eq!(expand_tilde("~other/x"), PathBuf::from("~other/x"));
    }
}
