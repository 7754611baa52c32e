//! Default file locations (SPEC §1) and `~` expansion.

use std::path::{Path, PathBuf};

/// `~` or `~/…` at the start of a path the user gave becomes their home,
/// `~user` or `~user/…` that user's home (as Python's `expanduser` reads
/// it); an unknown user leaves the path as it is.
pub fn expand_tilde(path: &str) -> PathBuf {
    let Some(rest) = path.strip_prefix('~') else {
        return PathBuf::from(path);
    };
    let (user, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let home = if user.is_empty() {
        home_dir()
    } else {
        match user_home(user) {
            Some(h) => h,
            None => return PathBuf::from(path),
        }
    };
    if tail.is_empty() {
        home
    } else {
        home.join(tail)
    }
}

/// The home folder of the user `name` from `/etc/passwd` (users known only
/// to a directory service are not found there).
pub fn user_home(name: &str) -> Option<PathBuf> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd_home(&passwd, name)
}

fn passwd_home(passwd: &str, name: &str) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name)
            .then(|| fields.nth(4))
            .flatten()
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    })
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
        assert_eq!(
            expand_tilde("~no-such-user-here/x"),
            PathBuf::from("~no-such-user-here/x"),
            "an unknown user: as it is"
        );
    }

    #[test]
    fn tilde_user_is_that_users_home() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\n\
                      odd:x:3:3::\n";
        assert_eq!(passwd_home(passwd, "bin"), Some(PathBuf::from("/bin")));
        assert_eq!(passwd_home(passwd, "root"), Some(PathBuf::from("/root")));
        assert_eq!(passwd_home(passwd, "odd"), None, "no home field");
        assert_eq!(passwd_home(passwd, "ro"), None, "whole names only");
        // root is in every /etc/passwd.
        let root = user_home("root").expect("root has a home");
        assert_eq!(expand_tilde("~root"), root);
        assert_eq!(expand_tilde("~root/jobs"), root.join("jobs"));
    }
}
