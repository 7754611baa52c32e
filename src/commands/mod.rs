//! The commands of SPEC §9 other than `tick`, by family: acting on a job
//! ([`manual`]: start, stop, run), gates ([`grants`]: approve, revoke,
//! silence), showing ([`status`], [`show`]: logs, [`explain`]); the small
//! ones live here.
//! Each loads what it needs, works through the other modules, and prints its
//! result.

mod explain;
mod grants;
mod manual;
mod outbox;
mod show;
mod status;

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

pub use explain::{decision_text, explain};
pub use grants::{approve, revoke, silence};
pub use manual::{run, run_dry, start, stop};
pub use outbox::run as outbox;
pub use show::logs;
pub use status::status;

use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{self, Config, Job};
use crate::deliver::{self, Context};
use crate::exit::{fail, Code};
use crate::out::{errln, outln};
use crate::paths::Files;
use crate::process::{self, Output};
use crate::rules::{self, safety::Refusal};
use crate::state::{self, State};
use crate::text;

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

/// Where the files are, the state path checked (SPEC §11 "State path
/// safety") before anything reads, locks or writes it.
fn files(g: &Global) -> Result<Files> {
    let mut files = Files::resolve(g.config_file.as_deref(), g.state_file.as_deref());
    files.state = state::checked_path(&files.state)?;
    Ok(files)
}

/// Whether there is no config file at all (a dangling link included).
/// SPEC §11: such a config is not "invalid" — there is nothing to watch, and
/// the last good copy is not used for a file that was deleted.
fn config_missing(files: &Files) -> bool {
    matches!(std::fs::metadata(&files.config), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// What a command says when there is no config, and what to do about it.
fn no_config_text(files: &Files) -> String {
    format!(
        "no job config at {}: there is nothing to watch (create it — `ops-monitor init` \
         writes a starter — or point --config-file or OPS_MONITOR_CONFIG at it; a last \
         good copy is not used for a config that was deleted)",
        files.config.display()
    )
}

/// [`no_config_text`] as the error of a command that needs the config
/// (exit 2); it runs nothing.
fn no_config(files: &Files) -> anyhow::Error {
    fail(Code::Usage, format!("ERROR: {}", no_config_text(files)))
}

/// Load the config or fail with exit 2, every problem on its own line, the
/// warnings after the errors (SPEC §2).
fn load_config(files: &Files, strict: bool) -> Result<Config> {
    config::load(&files.config, &files.home, strict).map_err(|e| {
        if config_missing(files) {
            return no_config(files);
        }
        fail(Code::Usage, invalid_text(&e))
    })
}

/// `ERROR: config invalid: PATH`, each error on its own line, then the
/// warnings as `validate-config` prints them on a config that loads.
fn invalid_text(e: &config::ConfigError) -> String {
    let mut text = format!("ERROR: config invalid: {}", e.path.display());
    for p in &e.problems {
        text.push_str("\n  - ");
        text.push_str(p);
    }
    for w in &e.warnings {
        text.push_str("\nWARNING: ");
        text.push_str(w);
    }
    text
}

/// The config for commands that only watch or show (`status`, `stop`,
/// `logs`, `explain`, `outbox`; SPEC §11): the file, or — when it is invalid
/// and a last good copy is kept — that copy, with the error to say first.
/// A file that does not exist is not invalid: no config, whatever copy is
/// kept (a deleted config must not go on driving `stop`).
fn load_watching_or_error(files: &Files) -> Result<(Config, Option<String>)> {
    match load_config(files, false) {
        Ok(c) => Ok((c, None)),
        Err(err) if config_missing(files) => Err(err),
        Err(err) => {
            let last_good = config::LastGood::beside(&files.state);
            let Some((good, kept_at)) = last_good.load(&files.config, &files.home) else {
                return Err(err);
            };
            let said = format!(
                "{err:#}\n(using the last good config, from {})",
                show::time_text(kept_at)
            );
            Ok((good, Some(said)))
        }
    }
}

/// Redact from job output the tokens delivery would use and the config's
/// own secrets (SPEC §7); the tokens are read from the OpenClaw config only
/// if some output needs it.
fn learn_tokens(config: &Config, files: &Files) {
    crate::secrets::learn_later(deliver::secret_source(&config.defaults, files.clone()));
}

/// [`load_watching_or_error`], the error printed first on stderr.
fn load_watching(files: &Files) -> Result<Config> {
    let (config, error) = load_watching_or_error(files)?;
    if let Some(e) = error {
        errln!("{e}");
    }
    Ok(config)
}

fn find_job<'a>(config: &'a Config, id: &str) -> Result<&'a Job> {
    config
        .job(id)
        .ok_or_else(|| fail(Code::Usage, format!("unknown job: {id}")))
}

pub fn validate_config(g: &Global, strict: bool) -> Result<Code> {
    let files = files(g)?;
    let config = load_config(&files, strict)?;
    outln!("OK: {}", config::summary(&config));
    for w in &config.warnings {
        outln!("WARNING: {w}");
    }
    for w in config::lint(&config, std::env::var_os("PATH").as_deref()) {
        outln!("WARNING: {w}");
    }
    Ok(Code::Ok)
}

/// Print a command's result the way `start`, `stop` and `run` do.
fn print_output(verb: &str, job: &str, out: &Output) {
    outln!(
        "{verb} {job}: exit={} durMs={}",
        out.exit_code(),
        out.duration.as_millis()
    );
    let stdout = text::tail(&out.stdout, rules::TAIL_CHARS);
    let stderr = text::tail(&out.stderr, rules::TAIL_CHARS);
    if !stdout.is_empty() {
        outln!("stdout:\n{stdout}");
    }
    if !stderr.is_empty() {
        outln!("stderr:\n{stderr}");
    }
    if out.stdout_truncated || out.stderr_truncated {
        outln!("(output cut at {} bytes)", process::OUTPUT_LIMIT);
    }
    // The exit line above already says how a command that exited ended.
    if !matches!(out.ending, process::Ending::Exited(_)) {
        outln!("{}", out.describe());
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

/// Take the state lock (SPEC §8) on a path [`files`] checked, waiting up to
/// `timeout` (`None`: as long as it takes) — the one way every command and
/// `tick` lock the state. SPEC §4, §11: a file at the state path that is
/// refused (a job config, JSON that is not a state and is not named like
/// one) gets no lock file beside it. So before the first lock file is
/// created there, the file is read as a state would be, touching nothing;
/// once a lock file exists, creating it again cannot happen, and the read
/// under the lock refuses the file as before (no second read each time).
pub(crate) fn lock_state(path: &Path, timeout: Option<Duration>) -> Result<state::Lock> {
    let lock_absent = matches!(
        std::fs::symlink_metadata(state::lock_path(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    );
    if lock_absent {
        state_usable(path)?;
    }
    match timeout {
        Some(t) => state::lock(path, t),
        None => state::lock_waiting(path),
    }
}

/// Refuse a state path that cannot be a state (SPEC §4) before a command
/// runs anything of the job's — a status command, a pid judged from it —
/// not only once it comes to take the lock.
pub(crate) fn state_usable(path: &Path) -> Result<()> {
    if path.exists() {
        state::load(path, false)?;
    } else {
        state::checked_path(path)?;
    }
    Ok(())
}

/// Load state under the lock, let `f` change it, save it.
fn with_state<T>(files: &Files, g: &Global, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    let lock = lock_state(&files.state, Some(g.lock_timeout))?;
    change_state(files, lock, f)
}

/// [`with_state`], waiting for the lock as long as it takes: the second
/// phase of `run`, `start` and `stop`, which records what already happened.
fn with_state_waiting<T>(files: &Files, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    let lock = lock_state(&files.state, None)?;
    change_state(files, lock, f)
}

fn change_state<T>(
    files: &Files,
    _lock: state::Lock,
    f: impl FnOnce(&mut State) -> Result<T>,
) -> Result<T> {
    let mut st = state::load(&files.state, true)?;
    if let Some(fix) = rules::clock::correct(&mut st, Clock::read().now) {
        errln!(
            "warning: the clock went back: {} stored time(s) were in the future and were reset{}",
            fix.times,
            if fix.voided.is_empty() {
                String::new()
            } else {
                format!("; ended: {}", fix.voided.join(", "))
            }
        );
    }
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
    let files = files(g)?;
    let config = load_config(&files, false)?;
    let ctx = Context::from_env(config.defaults.notify.clone(), target, &files);
    with_state(&files, g, |st| {
        let outcome = deliver::notify(&mut st.outbox, &ctx, text, Clock::read().now);
        for n in &outcome.notices {
            errln!("{n}");
        }
        Ok(if st.outbox.retried() == 0 {
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
