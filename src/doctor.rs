//! `ops-monitor doctor [--send-test]` (SPEC §7, §9): where every file is
//! and which rule chose it, what delivery would use for every channel, and
//! the config's warnings — the first thing a user pastes when asking for
//! help, so it is complete, short, and never shows a secret (tokens, header
//! values, a command channel's arguments, passwords in URLs).
//!
//! Exit 0 when every channel resolves (a target and a way to send) and the
//! config and state can be used; 1 otherwise — also when `--send-test`
//! could not deliver through a channel. It reads the config whatever its
//! state (§11) and writes nothing.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{self, Defaults};
use crate::deliver::{self, probe, Context};
use crate::exit::Code;
use crate::paths::Files;
use crate::state;

/// Width of the label column.
const LABEL: usize = 14;

pub fn run(g: &Global, send_test: bool) -> Result<Code> {
    let files = Files::resolve(g.config_file.as_deref(), g.state_file.as_deref());
    let mut out = Report::default();
    out.line(
        "ops-monitor",
        &format!("{} doctor", env!("CARGO_PKG_VERSION")),
    );

    // Where the files are, and why.
    let home = &files.home_choice;
    out.line("home", &format!("{} ({})", home.dir.display(), home.rule));
    if let Some(over) = &home.sticky_over {
        out.warn(format!(
            "home: kept at {} because it holds the ops-monitor state; the rules alone would choose {}",
            home.dir.display(),
            over.display()
        ));
    }
    if home.with_files.len() > 1 {
        let list: Vec<String> = home
            .with_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        out.warn(format!(
            "home: ops-monitor files in more than one folder: {} — only {} is used",
            list.join(", "),
            home.dir.display()
        ));
    }

    let defaults = job_config(&files, &mut out);
    let channels = defaults.as_ref().and_then(|d| d.notify.clone());
    state_file(&files, &mut out);

    // Delivery.
    let ctx = Context::from_env(channels, None, &files);
    let oc = probe::openclaw(&ctx);
    out.line(
        "OpenClaw",
        &format!(
            "{} ({}) — {}",
            files.openclaw_config.display(),
            files.openclaw_choice.why,
            oc.status
        ),
    );
    for inc in &oc.includes {
        out.sub("$include", &inc.display().to_string());
    }
    for e in &oc.env {
        out.sub("env", e);
    }
    for u in &oc.unresolved {
        out.warn(format!("OpenClaw config: {u}"));
    }
    match &oc.cli {
        Some(p) => out.line("openclaw CLI", &p.display().to_string()),
        None => out.line(
            "openclaw CLI",
            &format!(
                "not found (looked on PATH, then in {})",
                ctx.openclaw_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
    let reports = probe::channels(&ctx);
    let unresolved = reports.iter().filter(|r| !r.ok).count();
    for (i, r) in reports.iter().enumerate() {
        let verdict = if r.ok { "OK" } else { "CANNOT DELIVER" };
        out.line(
            &format!("channel {}", i + 1),
            &format!("{} — {verdict}", r.title),
        );
        for (what, value) in &r.lines {
            out.sub(what, value);
        }
    }
    if unresolved > 0 {
        out.problem(format!(
            "{unresolved} of {} channel(s) cannot deliver",
            reports.len()
        ));
    }
    if let Some(d) = &defaults {
        fleet(d, &mut out);
    }

    if send_test {
        let now = Clock::read().now;
        let text = format!(
            "🧪 ops-monitor test message from {} (ops-monitor doctor --send-test)",
            deliver::hostname()
        );
        let sent = probe::send_test(&ctx, &text, now);
        for (title, result) in sent.results {
            match result {
                Ok(()) => out.line("send-test", &format!("{title}: sent")),
                Err(e) => {
                    out.line("send-test", &format!("{title}: FAILED: {e}"));
                    out.problem(format!("the test message did not go through {title}"));
                }
            }
        }
        for n in sent.notices {
            out.sub("note", &n);
        }
    }

    let text = out.finish();
    crate::out::stdout_bytes(probe::redact_tokens(&ctx, &text).as_bytes());
    Ok(if out.problems.is_empty() {
        Code::Ok
    } else {
        Code::Failed
    })
}

/// The job config: where, why, and what validation and the lints say. Its
/// `defaults` (of a broken file too, as far as they can be read: a tick
/// still uses them for the config alert, the metrics and the ping).
fn job_config(files: &Files, out: &mut Report) -> Option<Defaults> {
    let at = format!("{} ({})", files.config.display(), files.config_from);
    if !files.config.exists() {
        out.line(
            "job config",
            &format!("{at} — not found: tick has nothing to watch"),
        );
        return None;
    }
    match config::load(&files.config, &files.home, false) {
        Ok(c) => {
            out.line("job config", &format!("{at} — OK: {}", config::summary(&c)));
            for w in &c.warnings {
                out.warn(format!("config: {w}"));
            }
            for w in config::lint(&c, std::env::var_os("PATH").as_deref()) {
                out.warn(format!("config: {w}"));
            }
            Some(c.defaults)
        }
        Err(e) => {
            out.line(
                "job config",
                &format!("{at} — INVALID ({} problem(s))", e.problems.len()),
            );
            for p in &e.problems {
                out.sub("error", p);
            }
            out.problem(
                "the job config is invalid: tick uses the last good copy, start/run/approve refuse"
                    .to_string(),
            );
            std::fs::read_to_string(&files.config)
                .ok()
                .and_then(|t| config::defaults_of_broken(&t, &files.config))
        }
    }
}

/// SPEC §10, what a tick does beside its reports: the Alertmanager
/// channels (URL, labels, header names — never header values), the metrics
/// file, the heartbeat (its URL is a secret: only the scheme and host). It
/// posts and pings nothing: a test alert would page someone, a ping would
/// say the monitor ran.
fn fleet(d: &Defaults, out: &mut Report) {
    for (i, am) in d.alertmanager.iter().enumerate() {
        out.line(
            &format!("alertmanager {}", i + 1),
            &format!(
                "{} — the current alerts are posted every tick",
                probe::shown_url(&crate::fleet::alertmanager::endpoint(&am.url))
            ),
        );
        if !am.labels.is_empty() {
            let labels: Vec<String> = am.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.sub("labels", &labels.join(", "));
        }
        if !am.headers.is_empty() {
            let names: Vec<&str> = am.headers.keys().map(String::as_str).collect();
            out.sub(
                "headers",
                &format!("{} (values not shown)", names.join(", ")),
            );
        }
    }
    if let Some(path) = &d.metrics_file {
        let (ok, why) = probe::folder_writable(path);
        let verdict = if ok { "OK" } else { "CANNOT WRITE" };
        out.line(
            "metrics file",
            &format!("{} — {verdict}: {why}", path.display()),
        );
        if !ok {
            out.problem(format!(
                "the metrics file {} cannot be written",
                path.display()
            ));
        }
    }
    if let Some(url) = &d.heartbeat_url {
        out.line(
            "heartbeat",
            &format!(
                "{} (the rest of the URL is a secret) — pinged after every tick, /fail when it fails",
                probe::url_origin(url)
            ),
        );
    }
}

fn state_file(files: &Files, out: &mut Report) {
    let at = format!("{} ({})", files.state.display(), files.state_from);
    match state::checked_path(&files.state) {
        Ok(real) if real.exists() => {
            let shown = if real == files.state {
                "exists".to_string()
            } else {
                format!("exists (a link to {})", real.display())
            };
            out.line("state", &format!("{at} — {shown}"));
        }
        Ok(_) => out.line(
            "state",
            &format!(
                "{at} — not created yet (the first tick creates it{})",
                folder_note(&files.state)
            ),
        ),
        Err(e) => {
            out.line("state", &format!("{at} — REFUSED: {e:#}"));
            out.problem(format!("the state path is refused: {e:#}"));
        }
    }
}

fn folder_note(path: &Path) -> String {
    match path.parent() {
        Some(d) if !d.exists() => format!(", and {}", d.display()),
        _ => String::new(),
    }
}

/// The report as it is built: aligned lines, then warnings, then the verdict.
#[derive(Default)]
struct Report {
    text: String,
    warnings: Vec<String>,
    problems: Vec<String>,
}

impl Report {
    fn line(&mut self, label: &str, value: &str) {
        self.aligned(label, value);
    }

    fn sub(&mut self, label: &str, value: &str) {
        self.aligned(&format!("  {label}"), value);
    }

    /// `label` padded to the column, and always a space after it.
    fn aligned(&mut self, label: &str, value: &str) {
        let _ = writeln!(self.text, "{:<w$}{value}", format!("{label} "), w = LABEL);
    }

    fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    fn finish(&self) -> String {
        let mut text = self.text.clone();
        if !self.warnings.is_empty() {
            let _ = writeln!(text, "warnings ({}):", self.warnings.len());
            for w in &self.warnings {
                let _ = writeln!(text, "  - {w}");
            }
        }
        if self.problems.is_empty() {
            let _ = writeln!(text, "result: OK — every channel resolves");
        } else {
            let _ = writeln!(text, "result: {}", self.problems.join("; "));
        }
        text
    }
}
