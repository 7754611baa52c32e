//! The Prometheus text file (SPEC §10) for node_exporter's textfile
//! collector: the jobs' state after every tick.
//!
//! [`render`] is a pure function of the tick's facts and the state; it
//! follows what the textfile collector needs: one `# HELP` and `# TYPE` per
//! family before its samples, no timestamps, label values escaped, legacy
//! metric names, a `job_id` label (Prometheus adds `job` and `instance`
//! itself), a 0 for every series that exists but is not set, and a trailing
//! newline. [`write`] replaces the file atomically through a temporary name
//! in the same folder that does not end in `.prom`, so the collector never
//! reads half a file.
//!
//! The job state words are the ones `status --json` shows, from the same
//! function ([`crate::rules::job_state`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::alertmanager::channel_label;
use super::TickFacts;
use crate::atomic::{self, NewMode};
use crate::config::Channel;
use crate::config::{Config, Kind};
use crate::exit::Code;
use crate::rules::{self, JobStateWord};
use crate::state::{QueueStatus, State};
use crate::status::Observation;

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
    help: &'static str,
    started: bool,
}

impl Family<'_> {
    /// A sample; the family's HELP and TYPE go before its first one, so a
    /// family with no samples is left out whole.
    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        if !self.started {
            self.started = true;
            let _ = writeln!(self.out, "# HELP {} {}", self.name, self.help);
            let _ = writeln!(self.out, "# TYPE {} gauge", self.name);
        }
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&number(value));
        self.out.push('\n');
    }
}

fn family<'a>(out: &'a mut String, name: &'static str, help: &'static str) -> Family<'a> {
    Family {
        out,
        name,
        help,
        started: false,
    }
}

/// A label value in the text format: `\`, `"` and line feeds escaped.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The whole file for the tick that ended with `code` after `duration`
/// seconds. Jobs come from the config the tick watched with (none when no
/// config could be read: then only the monitor's own series are written).
pub fn render(facts: &TickFacts, st: &State, code: Code, duration: f64) -> String {
    let mut out = String::new();
    let config = facts.config;
    let monitor = st.monitor.as_ref();

    family(
        &mut out,
        "ops_monitor_build_info",
        "The ops-monitor version that wrote this file.",
    )
    .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    family(
        &mut out,
        "ops_monitor_config_valid",
        "1 when the last tick read a valid job config; 0 when it was invalid (the tick then watched with the last good config, or nothing).",
    )
    .sample(&[], flag(facts.config_valid));
    family(
        &mut out,
        "ops_monitor_tick_last_timestamp_seconds",
        "When the last tick ran (Unix seconds).",
    )
    .sample(&[], facts.now);
    family(
        &mut out,
        "ops_monitor_tick_last_success_timestamp_seconds",
        "When a tick last watched the jobs with a valid config and ran to its end (Unix seconds; 0 never).",
    )
    .sample(&[], monitor.and_then(|m| m.last_success_at).unwrap_or(0.0));
    family(
        &mut out,
        "ops_monitor_tick_duration_seconds",
        "How long the last tick took.",
    )
    .sample(&[], duration);
    family(
        &mut out,
        "ops_monitor_tick_exit_code",
        "The exit code of the last tick (0 ok, 2 config invalid, 3 undelivered, see the README).",
    )
    .sample(&[], f64::from(code.as_u8()));

    if let Some(config) = config {
        jobs(&mut out, config, facts, st);
    }

    let mut queue = family(
        &mut out,
        "ops_monitor_queue_items",
        "Items in the queue by status.",
    );
    for (status, name) in [
        (QueueStatus::Pending, "pending"),
        (QueueStatus::Running, "running"),
        (QueueStatus::Done, "done"),
        (QueueStatus::Failed, "failed"),
        (QueueStatus::Blocked, "blocked"),
    ] {
        let n = st.queue.iter().filter(|q| q.status == status).count();
        queue.sample(&[("status", name)], n as f64);
    }

    // Every configured channel, with 0 when nothing waits for it.
    let mut outbox: BTreeMap<String, usize> = BTreeMap::new();
    if let Some(config) = config {
        let specs: Vec<Channel> = match &config.defaults.notify {
            Some(list) => list.clone(),
            None => vec![Channel::default()],
        };
        for spec in &specs {
            outbox.entry(channel_label(spec)).or_default();
        }
    }
    for entry in &st.outbox.entries {
        *outbox.entry(entry.label.clone()).or_default() += 1;
    }
    let mut f = family(
        &mut out,
        "ops_monitor_outbox_messages",
        "Undelivered messages waiting in the outbox, by channel.",
    );
    for (channel, n) in &outbox {
        f.sample(&[("channel", channel)], *n as f64);
    }
    out
}

/// The job families, in config order.
fn jobs(out: &mut String, config: &Config, facts: &TickFacts, st: &State) {
    let long: Vec<_> = config
        .jobs
        .iter()
        .filter(|j| j.kind == Kind::LongRunningRead && facts.observed.contains_key(&j.id))
        .collect();
    let checks: Vec<_> = config
        .jobs
        .iter()
        .filter(|j| j.kind == Kind::OneShotRead)
        .collect();
    let default_state = Default::default();
    let js = |id: &str| st.jobs.get(id).unwrap_or(&default_state);

    let mut f = family(
        out,
        "ops_monitor_job_enabled",
        "1 when the job is enabled in the config.",
    );
    for job in &config.jobs {
        f.sample(
            &[("job_id", &job.id), ("kind", job.kind.as_str())],
            flag(job.enabled),
        );
    }

    let observed = |id: &str| match facts.observed.get(id) {
        Some(Observation::Known(s)) => (s.running, s.completed),
        _ => (false, false),
    };
    let mut f = family(
        out,
        "ops_monitor_job_running",
        "1 when the job's status said running on the last tick (enabled long_running_read jobs).",
    );
    for job in &long {
        f.sample(&[("job_id", &job.id)], flag(observed(&job.id).0));
    }
    let mut f = family(
        out,
        "ops_monitor_job_completed",
        "1 when the job's status said completed on the last tick.",
    );
    for job in &long {
        f.sample(&[("job_id", &job.id)], flag(observed(&job.id).1));
    }
    let mut f = family(
        out,
        "ops_monitor_job_state",
        "1 for the job's state word (held, unknown, completed, stalled, running, paused: the words of status --json), 0 for the others.",
    );
    for job in &long {
        let word = rules::job_state(job, facts.observed.get(&job.id), js(&job.id), facts.now);
        for w in JobStateWord::ALL {
            f.sample(
                &[("job_id", &job.id), ("state", w.as_str())],
                flag(w == word),
            );
        }
    }
    let mut f = family(
        out,
        "ops_monitor_job_last_progress_change_timestamp_seconds",
        "When the job's progress last changed (Unix seconds; 0 never).",
    );
    for job in &long {
        f.sample(
            &[("job_id", &job.id)],
            js(&job.id).last_progress_at.unwrap_or(0.0),
        );
    }

    let mut f = family(
        out,
        "ops_monitor_check_last_exit_code",
        "Exit code of the one_shot_read job's last run (Nagios: 1 warning, 2 critical, 3 unknown; -1 timed out or could not start; 0 also when it never ran).",
    );
    for job in &checks {
        let code = js(&job.id)
            .last_run
            .as_ref()
            .and_then(|r| r.exit_code)
            .unwrap_or(0);
        f.sample(&[("job_id", &job.id)], code as f64);
    }
    let mut f = family(
        out,
        "ops_monitor_check_last_run_timestamp_seconds",
        "When the one_shot_read job last ran (Unix seconds; 0 never).",
    );
    for job in &checks {
        f.sample(
            &[("job_id", &job.id)],
            js(&job.id).last_run_at.unwrap_or(0.0),
        );
    }
}

/// Replace `path` with `text` atomically, world-readable (node_exporter
/// runs as its own user); the temporary name ends in `.tmp`, never `.prom`,
/// so the collector never reads a half-written file.
pub fn write(path: &Path, text: &str) -> io::Result<()> {
    atomic::write(path, text.as_bytes(), NewMode::WorldReadable)
}

#[cfg(test)]
mod tests;
