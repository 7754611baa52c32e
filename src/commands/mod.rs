//! The commands of SPEC §9 other than `tick`, by family: acting on a job
//! ([`manual`]: start, stop, run), gates ([`grants`]: approve, revoke,
//! silence), showing ([`status`], [`show`]: logs, [`explain`]); the small
//! ones live here.
//! Each loads what it needs, works through the other modules, and prints its
//! result.

mod explain;
mod grants;
mod manual;
mod show;
mod status;

use std::time::Duration;

use anyhow::Result;

pub use explain::{decision_text, explain};
pub use grants::{approve, revoke, silence};
pub use manual::{run, start, stop};
pub use show::logs;
pub use status::status;

use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{self, Config, Job};
use crate::deliver::{self, Context};
use crate::exit::{fail, Code};
use crate::paths::Files;
use crate::process::{self, Output};
use crate::rules::{self, safety::Refusal};
use crate::state::{self, State};

/// Who runs this command, for the record (a grant, a hold): the user behind
/// `sudo`, else `$USER` / `$LOGNAME`, else the login name of this process's
/// user from the password file (cron and systemd set no `$USER`).
fn login_name() -> String {
    for var in ["SUDO_USER", "USER", "LOGNAME"] {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return v;
        }
    }
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| passwd_name(&text, uid))
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The name of `uid` in `/etc/passwd` text.
fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse::<u32>().ok() == Some(uid) && !name.is_empty()).then(|| name.to_string())
    })
}

fn files(g: &Global) -> Files {
    Files::resolve(g.config_file.as_deref(), g.state_file.as_deref())
}

/// Load the config or fail with exit 2, every problem on its own line.
fn load_config(files: &Files, strict: bool) -> Result<Config> {
    config::load(&files.config, &files.home, strict).map_err(|e| {
        let mut text = format!("ERROR: config invalid: {}", e.path.display());
        for p in &e.problems {
            text.push_str("\n  - ");
            text.push_str(p);
        }
        fail(Code::Usage, text)
    })
}

/// The config, or — when the file is invalid — the last good copy that
/// `tick` keeps beside the state (SPEC §5 step 2, §11), with the error text
/// to print first. A missing file is not invalid: no copy is used for it.
fn load_config_or_last_good(files: &Files) -> Result<(Config, Option<String>)> {
    let err = match config::load(&files.config, &files.home, false) {
        Ok(c) => return Ok((c, None)),
        Err(e) => e,
    };
    let mut text = format!("ERROR: config invalid: {}", err.path.display());
    for p in &err.problems {
        text.push_str("\n  - ");
        text.push_str(p);
    }
    let copy = last_good_path(&files.state);
    let last_good = files
        .config
        .exists()
        .then(|| std::fs::read_to_string(&copy).ok())
        .flatten()
        .and_then(|t| config::parse(&t, &files.config, &files.home, false).ok());
    match last_good {
        Some(c) => {
            let when = std::fs::metadata(&copy)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| show::time_text(d.as_secs_f64()))
                .unwrap_or_else(|| "?".into());
            text.push_str(&format!(
                "\nshowing the jobs as the last good config (from {when}) sees them"
            ));
            Ok((c, Some(text)))
        }
        None => Err(fail(Code::Usage, text)),
    }
}

/// Where `tick` keeps the last config that validated (SPEC §5 step 2).
pub fn last_good_path(state: &std::path::Path) -> std::path::PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".last-good-config.json");
    std::path::PathBuf::from(name)
}

/// The config error said first, on stderr, by commands that go on with the
/// last good config.
fn print_config_error(text: &str) {
    eprintln!("{text}");
}

fn find_job<'a>(config: &'a Config, id: &str) -> Result<&'a Job> {
    config
        .job(id)
        .ok_or_else(|| fail(Code::Usage, format!("unknown job: {id}")))
}

pub fn validate_config(g: &Global, strict: bool) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, strict)?;
    println!("OK: {}", config::summary(&config));
    for w in &config.warnings {
        println!("WARNING: {w}");
    }
    Ok(Code::Ok)
}

/// Print a command's result the way `start`, `stop` and `run` do.
fn print_output(verb: &str, job: &str, out: &Output) {
    println!(
        "{verb} {job}: exit={} durMs={}",
        out.exit_code(),
        out.duration.as_millis()
    );
    let stdout = process::tail(&out.stdout, rules::TAIL_CHARS);
    let stderr = process::tail(&out.stderr, rules::TAIL_CHARS);
    if !stdout.is_empty() {
        println!("stdout:\n{stdout}");
    }
    if !stderr.is_empty() {
        println!("stderr:\n{stderr}");
    }
    if out.stdout_truncated || out.stderr_truncated {
        println!("(output cut at {} bytes)", process::OUTPUT_LIMIT);
    }
    match &out.ending {
        process::Ending::TimedOut => println!("timed out"),
        process::Ending::FailedToStart(why) => println!("failed to start: {why}"),
        process::Ending::Signaled(s) => println!("killed by signal {s}"),
        _ => {}
    }
}

fn seconds(s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| fail(Code::Usage, format!("invalid timeout: {s}")))
}

/// A safety refusal as an error with its exit code (2 or 4).
fn refused(r: Refusal) -> anyhow::Error {
    match r {
        Refusal::WrongKind(why) => fail(Code::Usage, why),
        Refusal::Unsafe(why) => fail(Code::Refused, why),
    }
}

/// Load state under the lock, let `f` change it, save it.
fn with_state<T>(files: &Files, g: &Global, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    let _lock = state::lock(&files.state, g.lock_timeout)?;
    let mut st = state::load(&files.state, true)?;
    let result = f(&mut st);
    state::save(&files.state, &mut st)?;
    result
}

pub fn notify(g: &Global, text: &str, target: Option<String>) -> Result<Code> {
    if text.trim().is_empty() {
        return Err(fail(
            Code::Usage,
            "notify: the text is empty; nothing to send",
        ));
    }
    let files = files(g);
    let config = load_config(&files, false)?;
    let ctx = Context::from_env(
        config.defaults.notify.clone(),
        target,
        files.openclaw_config.clone(),
    );
    with_state(&files, g, |st| {
        let outcome = deliver::notify(st, &ctx, text, Clock::read().now);
        for n in &outcome.notices {
            eprintln!("{n}");
        }
        Ok(if st.outbox.is_empty() {
            Code::Ok
        } else {
            Code::Undelivered
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lookup_by_uid() {
        let text = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(passwd_name(text, 1000).as_deref(), Some("alice"));
        assert_eq!(passwd_name(text, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(text, 5), None);
    }
}
