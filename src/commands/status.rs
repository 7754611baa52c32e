//! `status [--json]` (SPEC §9): what a person reads at a glance — one
//! aligned line per job, state first (the state words of SPEC §11), then the
//! queue by status, the outbox by channel, silences and the last tick. It
//! runs the long jobs' status commands and writes nothing.
//!
//! With an invalid config it says so first, then shows the jobs as the last
//! good config sees them (SPEC §5 step 2).

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use serde_json::{json, Value};

use super::show::time_text;
use super::{files, load_watching_or_error};
use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{Config, Job, Kind};
use crate::exit::Code;
use crate::out::{errln, outln};
use crate::pyjson::PyValue;
use crate::report::{duration_text, time_of_day};
use crate::rules::{self, safety, why};
use crate::runner::{self, Real};
use crate::state::{self, JobState, QueueStatus, State};
use crate::status::{Level, Observation};

/// One job's line: the state word, the details, and the same as JSON.
struct Row {
    state: String,
    id: String,
    details: Vec<String>,
    json: Value,
}

pub fn status(g: &Global, as_json: bool) -> Result<Code> {
    let files = files(g)?;
    let (config, config_error) = load_watching_or_error(&files)?;
    super::learn_tokens(&config, &files);
    let st = state::load(&files.state, false)?;
    let now = Clock::read().now;
    let long: Vec<&Job> = config
        .jobs
        .iter()
        .filter(|j| j.kind == Kind::LongRunningRead)
        .collect();
    let mut observed: HashMap<String, Observation> = long
        .iter()
        .map(|j| j.id.clone())
        .zip(runner::observe_all(&Real, &long, 16))
        .collect();
    let rows: Vec<Row> = config
        .jobs
        .iter()
        .map(|job| row(job, &st, observed.remove(&job.id), now))
        .collect();
    // The config error first (on stderr, as every command says it), then
    // the jobs; exit 0: it showed what was asked.
    if let Some(e) = &config_error {
        errln!("{e}");
    }
    if as_json {
        let doc = document(&config, config_error.as_deref(), &rows, &st, now);
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_text(&config, &rows, &st, now);
    }
    Ok(Code::Ok)
}

fn row(job: &Job, st: &State, obs: Option<Observation>, now: f64) -> Row {
    let js = st.jobs.get(&job.id).cloned().unwrap_or_default();
    let mut details = Vec::new();
    let mut json = json!({
        "id": job.id, "name": job.name, "kind": job.kind.as_str(),
        "risk": job.risk.as_str(), "enabled": job.enabled,
    });
    let state = match job.kind {
        Kind::LongRunningRead => {
            let obs = obs.unwrap_or_else(|| Observation::Unknown("status not run".into()));
            long_details(job, &js, &obs, now, &mut details, &mut json);
            // The state word of SPEC §11, the same function the metrics use.
            rules::job_state(job, Some(&obs), &js, now)
                .as_str()
                .to_string()
        }
        Kind::OneShotRead => {
            let state = match (&js.last_run, js.last_run_at) {
                (Some(r), Some(at)) => {
                    details.push(format!(
                        "lastRun exit={} at {}",
                        r.exit_code.unwrap_or(-1),
                        time_text(at)
                    ));
                    json["lastRun"] = json!({"at": at, "exitCode": r.exit_code,
                        "durationMs": r.duration_ms});
                    if r.exit_code == Some(0) {
                        "ok"
                    } else {
                        "failed"
                    }
                }
                _ => {
                    json["lastRun"] = Value::Null;
                    "never ran"
                }
            };
            if job.policy.every_seconds.is_none() {
                details.push("not scheduled: run by hand or from the queue".into());
            }
            if let Some(due) = why::check_due_at(job, &js) {
                details.push(format!(
                    "every {}, next {}",
                    duration_text(job.policy.every_seconds.unwrap_or(0.0)),
                    if due > now {
                        time_of_day(due, now)
                    } else {
                        "on the next tick".into()
                    }
                ));
                json["nextRunAt"] = json!(due.max(now));
            }
            state.to_string()
        }
        Kind::OneShotWrite => approval_details(job, st, now, &mut details, &mut json),
    };
    let watched = job.kind == Kind::LongRunningRead || job.policy.every_seconds.is_some();
    if watched && !job.enabled {
        details.push("disabled".into());
    }
    if let Some(until) = rules::silence_until(&st.silences, &job.id, now) {
        details.push(format!("silenced until {}", time_of_day(until, now)));
        json["silencedUntil"] = json!(until);
    }
    json["state"] = json!(state);
    json["summary"] = json!(details.join("; "));
    json["lastDecision"] = serde_json::to_value(&js.last_decision).unwrap_or(Value::Null);
    Row {
        state,
        id: job.id.clone(),
        details,
        json,
    }
}

fn long_details(
    job: &Job,
    js: &JobState,
    obs: &Observation,
    now: f64,
    details: &mut Vec<String>,
    json: &mut Value,
) {
    let at = |t: f64| time_of_day(t, now);
    if let Some(h) = &js.hold {
        let by = if h.by.is_empty() {
            String::new()
        } else {
            format!(" by {}", h.by)
        };
        details.push(format!("stopped by hand since {}{by}", at(h.at)));
        json["hold"] = json!({"at": h.at, "by": h.by});
    } else {
        json["hold"] = Value::Null;
    }
    let s = match obs {
        Observation::Unknown(why) => {
            details.push(format!("status error: {why}"));
            json["error"] = json!(why);
            if let Some(seen) = &js.last_seen {
                let known = if seen.completed {
                    "completed"
                } else if seen.running {
                    "running"
                } else {
                    "paused"
                };
                details.push(format!("last known: {known}"));
            }
            return;
        }
        Observation::Known(s) => s,
    };
    json["running"] = json!(s.running);
    json["completed"] = json!(s.completed);
    json["pid"] = json!(s.pid);
    json["stopReason"] = json!(s.stop_reason);
    json["message"] = json!(s.message);
    json["level"] = json!(s.level.filter(|l| *l != Level::Ok).map(Level::as_str));
    json["progress"] = s
        .progress
        .as_ref()
        .map_or(Value::Null, |p| PyValue::Dict(p.clone()).to_json());
    if s.running {
        details.push(match s.pid {
            Some(p) => format!("pid={p}"),
            None => "running".into(),
        });
    } else if !s.completed {
        if js.hold.is_some() {
            details.push("paused".into());
        }
        if let Some(r) = &s.stop_reason {
            details.push(format!("stopReason={r}"));
        }
    }
    if let Some(stall) = rules::stall_of(job, js, s, now) {
        details.push(format!(
            "no progress for {} (since {})",
            duration_text(stall.for_seconds),
            at(stall.since)
        ));
        json["stalledFor"] = json!(stall.for_seconds);
    }
    let progress = rules::progress_entries(s.progress.as_ref());
    if !progress.is_empty() {
        let parts: Vec<String> = progress
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::text::cap(&v.json_str(), 60)))
            .collect();
        details.push(format!("progress {}", parts.join(" | ")));
    }
    // The age of the last progress change, when the stored key is this one.
    let changed = js
        .last_progress_at
        .filter(|_| s.progress_key.is_some() && js.last_progress_key == s.progress_key);
    if let Some(t) = changed {
        details.push(format!("changed {} ago", duration_text(now - t)));
    }
    json["progressChangedAt"] = json!(changed);
    match s.level {
        Some(Level::Warn) => details.push("[warn]".into()),
        Some(Level::Alert) => details.push("[alert]".into()),
        _ => {}
    }
    if let Some(m) = &s.message {
        details.push(format!("message: {}", crate::text::cap(m, 120)));
    }
    if !s.running && !s.completed && js.hold.is_none() && job.policy.auto_resume {
        if let Some(until) = why::backoff_until(job, js).filter(|t| *t > now) {
            details.push(format!("next automatic start after {}", at(until)));
            json["nextAutoStartAt"] = json!(until);
        }
    }
}

fn approval_details(
    job: &Job,
    st: &State,
    now: f64,
    details: &mut Vec<String>,
    json: &mut Value,
) -> String {
    let grant = st.approvals.get(&job.id);
    let approved = safety::approval(job, grant, now);
    let ok = matches!(
        approved,
        safety::Approved::ByConfig | safety::Approved::ByGrant
    );
    let text = match (approved, grant) {
        (safety::Approved::ByConfig, _) => "write (approved=yes by the config)".to_string(),
        (safety::Approved::ByGrant, Some(g)) => format!(
            "write (approved=yes until {}, by {}{})",
            time_of_day(g.expires_at, now),
            g.by,
            g.note
                .as_ref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        ),
        (safety::Approved::Voided, Some(_)) => {
            "write (approved=no: the job changed since it was approved)".to_string()
        }
        (_, Some(g)) => format!(
            "write (approved=no: the approval by {} expired at {})",
            g.by,
            time_of_day(g.expires_at, now)
        ),
        (_, None) => "write (approved=no)".to_string(),
    };
    details.push(text);
    json["approval"] = json!({
        "approved": ok,
        "source": match approved {
            safety::Approved::ByConfig => json!("config"),
            safety::Approved::ByGrant => json!("grant"),
            _ => Value::Null,
        },
        "voided": approved == safety::Approved::Voided,
        "by": grant.map(|g| g.by.clone()),
        "note": grant.and_then(|g| g.note.clone()),
        "grantedAt": grant.map(|g| g.granted_at),
        "expiresAt": grant.map(|g| g.expires_at),
        "expired": grant.is_some_and(|g| g.expires_at <= now),
    });
    if ok {
        "approved".into()
    } else {
        "not approved".into()
    }
}

/// Queue items by status, in a fixed order.
fn queue_counts(st: &State) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for q in &st.queue {
        let k = match q.status {
            QueueStatus::Pending => "pending",
            QueueStatus::Running => "running",
            QueueStatus::Done => "done",
            QueueStatus::Failed => "failed",
            QueueStatus::Blocked => "blocked",
            // A status this version does not know, kept as it is (SPEC §4).
            QueueStatus::Other => "other",
        };
        *counts.entry(k).or_insert(0) += 1;
    }
    counts
}

/// Outbox entries by channel (its label, never a secret): how many, the
/// last error, the next try, and whether the channel left the config (then
/// they are kept, never sent — SPEC §7).
struct OutboxLine {
    label: String,
    count: usize,
    last_error: Option<String>,
    next_try: f64,
    gone: bool,
}

fn outbox_by_channel(config: &Config, st: &State) -> Vec<OutboxLine> {
    let configured = super::outbox::configured(config);
    let mut by: BTreeMap<(bool, String), OutboxLine> = BTreeMap::new();
    for e in &st.outbox.entries {
        let gone = !configured.contains(&e.channel);
        let line = by.entry((gone, e.label.clone())).or_insert(OutboxLine {
            label: e.label.clone(),
            count: 0,
            last_error: None,
            next_try: f64::INFINITY,
            gone,
        });
        line.count += 1;
        if e.last_error.is_some() {
            line.last_error = e.last_error.clone();
        }
        line.next_try = line.next_try.min(e.next_attempt_at);
    }
    by.into_values().collect()
}

fn print_text(config: &Config, rows: &[Row], st: &State, now: f64) {
    let state_w = rows
        .iter()
        .map(|r| r.state.chars().count())
        .max()
        .unwrap_or(0);
    let id_w = rows.iter().map(|r| r.id.chars().count()).max().unwrap_or(0);
    for r in rows {
        let line = format!(
            "{:<state_w$}  {:<id_w$}  {}",
            r.state,
            r.id,
            r.details.join("; ")
        );
        outln!("{}", line.trim_end());
    }
    let counts = queue_counts(st);
    if counts.is_empty() {
        outln!("queue: empty");
    } else {
        let order = ["pending", "running", "failed", "blocked", "done", "other"];
        let parts: Vec<String> = order
            .iter()
            .filter_map(|k| counts.get(k).map(|n| format!("{n} {k}")))
            .collect();
        outln!("queue: {}", parts.join(", "));
    }
    let (gone, live): (Vec<OutboxLine>, Vec<OutboxLine>) = outbox_by_channel(config, st)
        .into_iter()
        .partition(|o| o.gone);
    if live.is_empty() && gone.is_empty() {
        outln!("outbox: empty");
    }
    for o in live {
        let when = if o.next_try > now {
            format!("next try {}", time_of_day(o.next_try, now))
        } else {
            "next try on the next tick".to_string()
        };
        outln!(
            "outbox: {}: {} undelivered, {when}{}",
            o.label,
            o.count,
            o.last_error
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        );
    }
    if !gone.is_empty() {
        let labels: Vec<&str> = gone.iter().map(|o| o.label.as_str()).collect();
        outln!(
            "outbox: {} kept for channels no longer in the config, never sent: {} (see `ops-monitor outbox`)",
            gone.iter().map(|o| o.count).sum::<usize>(),
            labels.join(", ")
        );
    }
    for (k, s) in st.silences.iter().filter(|(_, s)| s.until > now) {
        let who = if k.as_str() == "*" {
            "all jobs"
        } else {
            k.as_str()
        };
        outln!(
            "silenced: {who} until {}{}",
            time_text(s.until),
            s.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    match &st.monitor {
        Some(m) => outln!(
            "last tick: {} ({} ago, {}ms, {})",
            time_text(m.last_tick_at),
            duration_text(now - m.last_tick_at),
            m.last_tick_duration_ms,
            m.last_tick_outcome
        ),
        None => outln!("last tick: never"),
    }
}

fn document(config: &Config, error: Option<&str>, rows: &[Row], st: &State, now: f64) -> Value {
    let counts = queue_counts(st);
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    json!({
        "config": {
            "path": config.path.display().to_string(),
            "valid": error.is_none(),
            "error": error,
        },
        "jobs": rows.iter().map(|r| r.json.clone()).collect::<Vec<_>>(),
        "queue": {
            "total": st.queue.len(),
            "pending": count("pending"), "running": count("running"), "done": count("done"),
            "failed": count("failed"), "blocked": count("blocked"), "other": count("other"),
        },
        "outbox": {
            "total": st.outbox.len(),
            "channels": outbox_by_channel(config, st).into_iter().map(|o| json!({
                "channel": o.label, "count": o.count, "lastError": o.last_error,
                "nextAttemptAt": o.next_try, "channelGone": o.gone,
            })).collect::<Vec<_>>(),
        },
        "silences": st.silences.iter().filter(|(_, s)| s.until > now)
            .map(|(k, s)| json!({"job": k, "until": s.until, "reason": s.reason}))
            .collect::<Vec<_>>(),
        "lastTick": st.monitor.as_ref().map(|m| json!({
            "at": m.last_tick_at, "durationMs": m.last_tick_duration_ms,
            "outcome": m.last_tick_outcome,
        })),
    })
}
