//! The Alertmanager channel (SPEC §10): every tick posts the alerts that
//! fire now to `/api/v2/alerts`, and the ones that cleared in the last 5
//! minutes as resolved, so Alertmanager groups, deduplicates, silences and
//! routes them across a fleet.
//!
//! - [`problems`] — what is wrong now, from the tick's facts and the state
//!   (pure). The same list decides the heartbeat's `/fail`.
//! - [`plan`] — the alerts to post and the new record (pure): a label set
//!   never changes while a problem lasts (the text lives in annotations),
//!   `startsAt` is when it began, `endsAt` is `now + 4 × the tick interval`
//!   (the time since the previous tick, clamped to 60–600 s, 60 s unknown)
//!   so Alertmanager resolves it by itself if the monitor stops; a cleared
//!   problem is posted with `endsAt = now` on every tick for 5 minutes.
//! - [`post_all`] — the posts. A failed post is not an outbox entry: the
//!   next tick posts the current alerts again. Meanwhile the tick exits 3
//!   and `OpsDeliveryFailing` fires for that Alertmanager.
//!
//! Silences and quiet hours of ops-monitor never apply here: Alertmanager
//! has its own.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::{rfc3339, shown_url, Mode, TickFacts};
use crate::config::Channel;
use crate::config::{AlertmanagerChannel, Job, Kind, Risk};
use crate::deliver::Context;
use crate::out::{errln, outln};
use crate::report::duration_text;
use crate::rules::{self, JobStateWord};
use crate::state::{AlertmanagerRecord, JobState, QueueStatus, State, TrackedAlert};
use crate::status::Observation;

/// How long a cleared alert is still posted as resolved.
pub const RESOLVED_FOR_SECONDS: f64 = 300.0;
/// Time limit of one post.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// The tick interval when the state has no previous tick.
const DEFAULT_INTERVAL: f64 = 60.0;
/// Most characters of one annotation.
const ANNOTATION_CHARS: usize = 1000;

/// One thing that is wrong now.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Its own labels: `alertname`, `severity`, and `job_id` or `channel`.
    pub labels: BTreeMap<String, String>,
    /// `summary` (one line, without the host: that is the `host` label)
    /// and `description`.
    pub annotations: BTreeMap<String, String>,
}

impl Problem {
    fn new(alertname: &str, severity: &str, summary: String, description: String) -> Problem {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_string(), alertname.to_string());
        labels.insert("severity".to_string(), severity.to_string());
        let mut annotations = BTreeMap::new();
        annotations.insert("summary".to_string(), clip(&summary));
        if !description.is_empty() {
            annotations.insert("description".to_string(), clip(&description));
        }
        Problem {
            labels,
            annotations,
        }
    }

    fn with(mut self, label: &str, value: &str) -> Problem {
        self.labels.insert(label.to_string(), value.to_string());
        self
    }

    /// The problem's identity: its labels, as JSON.
    pub fn key(&self) -> String {
        key_of(&self.labels)
    }

    pub fn alertname(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// What it is about: a job id, a channel, or nothing.
    pub fn subject(&self) -> Option<&str> {
        self.labels
            .get("job_id")
            .or_else(|| self.labels.get("channel"))
            .map(String::as_str)
    }
}

fn key_of(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).expect("a string map serialises")
}

fn clip(text: &str) -> String {
    crate::text::cap(text.trim(), ANNOTATION_CHARS)
}

/// What is wrong now: each watched long job that is stalled, paused or
/// unknown, or whose status says `level: alert`; each failing scheduled
/// check; each job whose latest run was a failed queued run; each channel
/// that cannot deliver; an invalid config. Pure.
pub fn problems(facts: &TickFacts, st: &State) -> Vec<Problem> {
    let mut out = Vec::new();
    if !facts.config_valid {
        let error = facts.config_error.as_deref().unwrap_or("");
        let watching = if facts.config.is_some() {
            "still watching with the last good config"
        } else {
            "no jobs are watched"
        };
        out.push(Problem::new(
            "OpsConfigInvalid",
            "critical",
            format!("ops-jobs config is invalid; {watching}"),
            error.to_string(),
        ));
    }
    if let Some(config) = facts.config {
        for job in &config.jobs {
            let js = st.jobs.get(&job.id).cloned().unwrap_or_default();
            if let Some(obs) = facts.observed.get(&job.id) {
                job_problems(job, obs, &js, facts, &mut out);
            } else if is_scheduled_check(job) {
                check_problem(job, &js, &mut out);
            }
            queued_problem(job, &js, st, &mut out);
        }
    }
    delivery_problems(st, &mut out);
    out
}

fn is_scheduled_check(job: &Job) -> bool {
    job.enabled
        && job.kind == Kind::OneShotRead
        && job.risk == Risk::ReadOnly
        && job.policy.every_seconds.is_some()
}

fn job_problems(
    job: &Job,
    obs: &Observation,
    js: &JobState,
    facts: &TickFacts,
    out: &mut Vec<Problem>,
) {
    let now = facts.now;
    let who = format!("{} ({})", job.name, job.id);
    let word = rules::job_state(job, Some(obs), js, now);
    let status = match obs {
        Observation::Known(s) => Some(s),
        Observation::Unknown(_) => None,
    };
    let message = status
        .and_then(|s| s.message.clone())
        .map(|m| format!("message: {m}\n"))
        .unwrap_or_default();
    let progress = status
        .map(|s| rules::progress_entries(s.progress.as_ref()))
        .filter(|p| !p.is_empty())
        .map(|p| {
            let shown: Vec<String> = p
                .iter()
                .map(|(k, v)| format!("{k}={}", v.json_str()))
                .collect();
            format!("progress: {}\n", shown.join(" | "))
        })
        .unwrap_or_default();
    let problem = match word {
        JobStateWord::Stalled => {
            let since =
                rules::stalled_since(job, status.and_then(|s| s.progress_key.as_deref()), js, now)
                    .unwrap_or(now);
            let lasted = duration_text(now - since);
            Some(Problem::new(
                "OpsJobStalled",
                "critical",
                format!("{who} is stalled: no progress for {lasted}"),
                format!(
                    "{message}{progress}no progress since {}; look at the job: ops-monitor logs {}",
                    rfc3339(since),
                    job.id
                ),
            ))
        }
        JobStateWord::Paused => {
            let reason = status
                .and_then(|s| s.stop_reason.clone())
                .map(|r| format!(" (stopReason={r})"))
                .unwrap_or_default();
            Some(Problem::new(
                "OpsJobPaused",
                "warning",
                format!("{who} is paused{reason}"),
                format!("{message}{progress}start it: ops-monitor start {}", job.id),
            ))
        }
        JobStateWord::Unknown => {
            let why = match obs {
                Observation::Unknown(why) => why.as_str(),
                Observation::Known(_) => "",
            };
            Some(Problem::new(
                "OpsJobUnknown",
                "critical",
                format!("{who}: status unknown — {why}"),
                format!(
                    "the status command gave no valid status: {why}; the job is never started automatically meanwhile"
                ),
            ))
        }
        _ => None,
    };
    out.extend(problem.map(|p| p.with("job_id", &job.id)));
    if status.is_some_and(|s| s.level == Some(crate::status::Level::Alert)) {
        let text = status.and_then(|s| s.message.clone()).unwrap_or_default();
        out.push(
            Problem::new(
                "OpsJobAlert",
                "critical",
                format!("{who} asks for attention: {text}"),
                format!("{message}{progress}state: {}", word.as_str()),
            )
            .with("job_id", &job.id),
        );
    }
}

/// A scheduled check whose last run failed or asked for attention
/// (Nagios: exit 1 and attention are warnings, everything else critical).
fn check_problem(job: &Job, js: &JobState, out: &mut Vec<Problem>) {
    let Some(run) = &js.last_run else { return };
    let exit = run.exit_code.unwrap_or(0);
    let attention = |t: &str| t.contains("ALERT") || t.contains("ACTION REQUIRED");
    let asks = attention(&run.stdout_tail) || attention(&run.stderr_tail);
    if exit == 0 && !asks {
        return;
    }
    let (severity, what) = match exit {
        0 => ("warning", "asks for attention".to_string()),
        1 => ("warning", "WARNING (exit=1)".to_string()),
        2 => ("critical", "CRITICAL (exit=2)".to_string()),
        3 => ("critical", "UNKNOWN (exit=3)".to_string()),
        -1 => (
            "critical",
            "did not finish (timed out or could not start)".to_string(),
        ),
        c => ("critical", format!("failed (exit={c})")),
    };
    let output = shown_tail(&run.stdout_tail, &run.stderr_tail);
    out.push(
        Problem::new(
            "OpsCheckFailed",
            severity,
            format!("{} ({}): {what}", job.name, job.id),
            output,
        )
        .with("job_id", &job.id),
    );
}

fn shown_tail(stdout: &str, stderr: &str) -> String {
    if stdout.trim().is_empty() {
        stderr.trim().to_string()
    } else {
        stdout.trim().to_string()
    }
}

/// The job's latest run was a queued run that failed: the newest failed
/// queue item of the job, unless the job ran again later (a queued or a
/// manual run records its `lastRunAt`).
fn queued_problem(job: &Job, js: &JobState, st: &State, out: &mut Vec<Problem>) {
    let failed = st
        .queue
        .iter()
        .filter(|q| q.job_id == job.id && q.status == QueueStatus::Failed)
        .filter_map(|q| Some((q.last_run_at?, q)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let Some((at, item)) = failed else { return };
    if js.last_run_at.is_some_and(|last| last > at) {
        return;
    }
    let exit = item
        .exit_code
        .map(|c| format!("exit={c}"))
        .unwrap_or_else(|| "no exit code".into());
    let error = item.last_error.clone().unwrap_or_default();
    let output = shown_tail(
        item.stdout_tail.as_deref().unwrap_or(""),
        item.stderr_tail.as_deref().unwrap_or(""),
    );
    out.push(
        Problem::new(
            "OpsQueuedJobFailed",
            "critical",
            format!("Queued run of {} ({}) failed ({exit})", job.name, job.id),
            format!("{} ({error}) at {}\n{output}", item.reason, rfc3339(at)),
        )
        .with("job_id", &job.id),
    );
}

/// Report channels with messages waiting in the outbox, and Alertmanagers
/// whose last post failed.
fn delivery_problems(st: &State, out: &mut Vec<Problem>) {
    let mut waiting: BTreeMap<String, (usize, Option<String>)> = BTreeMap::new();
    for entry in &st.outbox.entries {
        let w = waiting.entry(entry.label.clone()).or_default();
        w.0 += 1;
        if entry.last_error.is_some() {
            w.1 = entry.last_error.clone();
        }
    }
    for (channel, (count, error)) in waiting {
        out.push(
            Problem::new(
                "OpsDeliveryFailing",
                "warning",
                format!("Reports to {channel} are not delivered ({count} waiting)"),
                error
                    .map(|e| format!("last error: {e}"))
                    .unwrap_or_default(),
            )
            .with("channel", &channel),
        );
    }
    if let Some(record) = &st.alertmanager {
        for (url, since) in &record.failing {
            out.push(
                Problem::new(
                    "OpsDeliveryFailing",
                    "warning",
                    format!("Alerts to Alertmanager {url} are not delivered"),
                    format!("posts fail since {}", rfc3339(*since)),
                )
                .with("channel", &format!("alertmanager:{url}")),
            );
        }
    }
}

/// A channel as a metrics label or alert label: the outbox's label, so a
/// configured channel and its waiting entries share one (never a secret).
pub fn channel_label(spec: &Channel) -> String {
    crate::outbox::label(spec)
}

/// One alert as Alertmanager takes it (before the channel's labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: f64,
    pub ends_at: f64,
}

/// `endsAt` of a firing alert is `now` plus this: 4 × the time since the
/// previous tick, that time clamped to 60–600 s (60 s when unknown).
pub fn firing_window(now: f64, previous_tick_at: Option<f64>) -> f64 {
    let interval = previous_tick_at
        .map(|p| (now - p).clamp(60.0, 600.0))
        .filter(|i| i.is_finite())
        .unwrap_or(DEFAULT_INTERVAL);
    4.0 * interval
}

/// The alerts to post now and the record to keep (pure). `evaluated` says
/// whether this tick could judge a recorded alert: with no readable config
/// the jobs' alerts are neither posted nor resolved (Alertmanager lets them
/// end at their `endsAt`), since nothing is known about them.
pub fn plan(
    record: &AlertmanagerRecord,
    current: &[Problem],
    now: f64,
    previous_tick_at: Option<f64>,
    evaluated: impl Fn(&BTreeMap<String, String>) -> bool,
) -> (Vec<Alert>, AlertmanagerRecord) {
    let ends = now + firing_window(now, previous_tick_at);
    let mut next = AlertmanagerRecord {
        failing: record.failing.clone(),
        extra: record.extra.clone(),
        ..AlertmanagerRecord::default()
    };
    let mut alerts = Vec::new();
    for p in current {
        let key = p.key();
        // A clock that went back never makes an alert start in the future.
        let since = record
            .firing
            .get(&key)
            .map(|t| t.since.min(now))
            .unwrap_or(now);
        alerts.push(Alert {
            labels: p.labels.clone(),
            annotations: p.annotations.clone(),
            starts_at: since,
            ends_at: ends,
        });
        next.firing.insert(
            key,
            TrackedAlert {
                labels: p.labels.clone(),
                annotations: p.annotations.clone(),
                since,
                resolved_at: None,
            },
        );
    }
    for (key, t) in &record.firing {
        if next.firing.contains_key(key) {
            continue;
        }
        if evaluated(&t.labels) {
            let mut gone = t.clone();
            gone.resolved_at = Some(now);
            next.resolved.insert(key.clone(), gone);
        } else {
            next.firing.insert(key.clone(), t.clone());
        }
    }
    for (key, t) in &record.resolved {
        if next.firing.contains_key(key) || next.resolved.contains_key(key) {
            continue;
        }
        next.resolved.insert(key.clone(), t.clone());
    }
    next.resolved.retain(|_, t| {
        let at = t.resolved_at.unwrap_or(now).min(now);
        now - at < RESOLVED_FOR_SECONDS
    });
    for t in next.resolved.values() {
        alerts.push(Alert {
            labels: t.labels.clone(),
            annotations: t.annotations.clone(),
            starts_at: t.since.min(now),
            ends_at: now,
        });
    }
    (alerts, next)
}

/// The JSON body of a post to one channel: every alert with the channel's
/// labels and `host` added (an alert's own labels win, except `host`,
/// which a channel may set).
pub fn payload(alerts: &[Alert], channel: &AlertmanagerChannel, host: &str) -> Value {
    let list: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let mut labels = BTreeMap::new();
            labels.insert("host".to_string(), host.to_string());
            for (k, v) in &channel.labels {
                labels.insert(k.clone(), v.clone());
            }
            for (k, v) in &a.labels {
                labels.insert(k.clone(), v.clone());
            }
            // Alertmanager drops labels with empty values; so do we, so
            // the label set it keeps is the one we mean.
            labels.retain(|_, v| !v.is_empty());
            json!({
                "labels": labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(a.ends_at),
            })
        })
        .collect();
    Value::Array(list)
}

/// `<base>/api/v2/alerts` (a URL that already names the endpoint is kept).
pub fn endpoint(url: &str) -> String {
    let base = url.trim_end_matches('/');
    if base.ends_with("/api/v2/alerts") {
        base.to_string()
    } else {
        format!("{base}/api/v2/alerts")
    }
}

/// Plan, then post to (or print for) every channel; update the record.
/// Returns whether a post failed.
pub fn post_all(
    channels: &[AlertmanagerChannel],
    st: &mut State,
    facts: &TickFacts,
    mode: Mode,
    ctx: &Context,
) -> bool {
    let mut record = st.alertmanager.clone().unwrap_or_default();
    // A channel that left the config no longer fails.
    record
        .failing
        .retain(|url, _| channels.iter().any(|c| &shown_url(&c.url) == url));
    st.alertmanager = Some(record.clone());
    let current = problems(facts, st);
    let config_read = facts.config.is_some();
    let (alerts, mut next) = plan(
        &record,
        &current,
        facts.now,
        facts.previous_tick_at,
        // Without a config only the alerts about the monitor itself can be
        // judged; the jobs' alerts are left as they are.
        |labels| config_read || !labels.contains_key("job_id"),
    );
    let mut failed = false;
    if !alerts.is_empty() {
        for channel in channels {
            let url = endpoint(&channel.url);
            let shown = shown_url(&url);
            let body = payload(&alerts, channel, &facts.host);
            if mode != Mode::Send {
                outln!(
                    "Alertmanager {shown}: would post {} alert(s):\n{}",
                    alerts.len(),
                    serde_json::to_string_pretty(&body).expect("JSON serialises")
                );
                continue;
            }
            let bytes = serde_json::to_vec(&body).expect("JSON serialises");
            let failing_key = shown_url(&channel.url);
            // The posts share the tick's delivery budget with the reports
            // (SPEC §11): a post never runs past it.
            let left = ctx.budget_remaining();
            if left.is_zero() {
                failed = true;
                errln!(
                    "Alertmanager {shown}: {} alert(s) not posted: the delivery budget of this tick \
                     ({} s) is used up; the next tick posts them",
                    alerts.len(),
                    ctx.budget().as_secs_f64()
                );
                continue;
            }
            let posted = ctx.spent.count(|| {
                super::post(
                    &url,
                    "application/json",
                    bytes,
                    &channel.headers,
                    POST_TIMEOUT.min(left),
                    true,
                )
            });
            match posted {
                Ok(()) => {
                    next.failing.remove(&failing_key);
                }
                Err(e) => {
                    failed = true;
                    errln!(
                        "Alertmanager {shown}: {} alert(s) not posted (the next tick posts them again): {e}",
                        alerts.len()
                    );
                    next.failing.entry(failing_key).or_insert(facts.now);
                }
            }
        }
    }
    if mode != Mode::DryRun {
        st.alertmanager = (next != AlertmanagerRecord::default()).then_some(next);
    }
    failed
}

#[cfg(test)]
mod tests;
