//! The commands that show what is known about the jobs and write nothing
//! (SPEC §9): `status` and `logs`.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Value};

use super::{files, find_job, load_config, load_config_or_last_good, print_config_error};
use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{Job, Kind};
use crate::exit::Code;
use crate::rules::safety;
use crate::runner::{self, Real};
use crate::state::{self, QueueItem, QueueStatus, Silence};
use crate::status::Observation;

pub fn logs(g: &Global, id: &str) -> Result<Code> {
    let files = files(g);
    let st = state::load(&files.state, false)?;
    // The config (or its last good copy) says which jobs exist; when neither
    // can be read, a job the state knows is still shown.
    match load_config_or_last_good(&files) {
        Ok((config, error)) => {
            if let Some(e) = &error {
                print_config_error(e);
            }
            find_job(&config, id)?;
        }
        Err(e) if !st.jobs.contains_key(id) => return Err(e),
        Err(_) => {}
    }
    let js = st.jobs.get(id).cloned().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let when = |t: Option<f64>| t.map(time_text).unwrap_or_else(|| "never".into());
    for (label, at, rec) in [
        ("start", js.last_manual_start_at, &js.last_start),
        ("stop", js.last_stop_at, &js.last_stop),
        ("run", js.last_run_at, &js.last_run),
    ] {
        // The record's own time first: an automatic start sets no
        // `lastManualStartAt`, and a manual one may be older than it.
        let at = rec.as_ref().and_then(|r| r.at).or(at);
        let by = rec
            .as_ref()
            .and_then(|r| r.by.as_deref())
            .map(|b| match b {
                "autoResume" => " (automatic, by tick)".to_string(),
                who => format!(" (by {who})"),
            })
            .unwrap_or_default();
        let at = if rec.is_some() && at.is_none() {
            "time unknown".to_string()
        } else {
            when(at)
        };
        writeln!(out, "== last {label}: {at}{by}")?;
        if let Some(r) = rec {
            writeln!(
                out,
                "exit={} durMs={}",
                r.exit_code.map_or("?".into(), |c| c.to_string()),
                r.duration_ms.unwrap_or(0)
            )?;
            if !r.stdout_tail.is_empty() {
                writeln!(out, "stdout:\n{}", r.stdout_tail)?;
            }
            if !r.stderr_tail.is_empty() {
                writeln!(out, "stderr:\n{}", r.stderr_tail)?;
            }
        }
    }
    let items: Vec<&QueueItem> = st.queue.iter().filter(|q| q.job_id == id).collect();
    writeln!(out, "== queue items: {}", items.len())?;
    for q in items {
        writeln!(
            out,
            "{} {:?} attempt={} exit={} {}",
            q.id,
            q.status,
            q.attempt,
            q.exit_code.map_or("-".into(), |c| c.to_string()),
            q.last_error.as_deref().unwrap_or("")
        )?;
    }
    Ok(Code::Ok)
}

/// A Unix time as local `YYYY-MM-DD HH:MM:SS`.
pub fn time_text(t: f64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_opt(t as i64, 0)
        .single()
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| format!("{t}"))
}

/// `status` (SPEC §9): runs status commands, writes nothing.
pub fn status(g: &Global, as_json: bool) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let st = state::load(&files.state, false)?;
    let now = Clock::read().now;
    let long: Vec<&Job> = config
        .jobs
        .iter()
        .filter(|j| j.kind == Kind::LongRunningRead)
        .collect();
    let mut observed = long
        .iter()
        .map(|j| j.id.clone())
        .zip(runner::observe_all(&Real, &long, 16))
        .collect::<std::collections::HashMap<_, _>>();
    let mut jobs = Vec::new();
    for job in &config.jobs {
        let js = st.jobs.get(&job.id).cloned().unwrap_or_default();
        let (line, detail) = match job.kind {
            Kind::LongRunningRead => match observed.remove(&job.id) {
                Some(Observation::Known(s)) => {
                    let line = if s.completed {
                        "completed".to_string()
                    } else if s.running {
                        match s.pid {
                            Some(p) => format!("running pid={p}"),
                            None => "running".into(),
                        }
                    } else {
                        match &s.stop_reason {
                            Some(r) => format!("paused stopReason={r}"),
                            None => "paused".into(),
                        }
                    };
                    let d = json!({"running": s.running, "completed": s.completed, "pid": s.pid,
                        "stopReason": s.stop_reason, "message": s.message, "progress": s.progress});
                    (line, d)
                }
                Some(Observation::Unknown(why)) => {
                    (format!("unknown: {why}"), json!({"error": why}))
                }
                None => ("unknown".into(), Value::Null),
            },
            Kind::OneShotRead => match (&js.last_run, js.last_run_at) {
                (Some(r), Some(at)) => (
                    format!(
                        "lastRun exit={} at {}",
                        r.exit_code.unwrap_or(-1),
                        time_text(at)
                    ),
                    json!({"lastRunAt": at, "exitCode": r.exit_code}),
                ),
                _ => ("never ran".into(), json!({"lastRunAt": null})),
            },
            Kind::OneShotWrite => {
                let ok =
                    safety::approval(job, st.approvals.get(&job.id), now) != safety::Approved::No;
                (
                    format!("write (approved={})", if ok { "yes" } else { "no" }),
                    json!({"approved": ok}),
                )
            }
        };
        // Only long jobs and scheduled checks are watched by `tick`.
        let watched = job.kind == Kind::LongRunningRead || job.policy.every_seconds.is_some();
        let enabled = if watched && !job.enabled {
            " (disabled)"
        } else {
            ""
        };
        jobs.push((job, line, detail, enabled));
    }
    let pending = st
        .queue
        .iter()
        .filter(|q| matches!(q.status, QueueStatus::Pending | QueueStatus::Running))
        .count();
    let silences: Vec<(&String, &Silence)> =
        st.silences.iter().filter(|(_, s)| s.until > now).collect();
    if as_json {
        let doc = json!({
            "jobs": jobs.iter().map(|(j, line, detail, _)| json!({
                "id": j.id, "name": j.name, "kind": j.kind.as_str(), "risk": j.risk.as_str(),
                "enabled": j.enabled, "summary": line, "detail": detail,
            })).collect::<Vec<_>>(),
            "queue": {"total": st.queue.len(), "pending": pending},
            "outbox": st.outbox.len(),
            "silences": silences.iter().map(|(k, s)| json!({"job": k, "until": s.until, "reason": s.reason})).collect::<Vec<_>>(),
            "lastTick": st.monitor.as_ref().map(|m| json!({"at": m.last_tick_at, "durationMs": m.last_tick_duration_ms, "outcome": m.last_tick_outcome})),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Code::Ok);
    }
    for (job, line, _, enabled) in &jobs {
        println!("{} ({}): {line}{enabled}", job.id, job.kind.as_str());
    }
    println!("queue: {pending} pending ({} items)", st.queue.len());
    println!("outbox: {} undelivered", st.outbox.len());
    for (k, s) in &silences {
        let who = if k.as_str() == "*" {
            "all jobs"
        } else {
            k.as_str()
        };
        println!(
            "silenced: {who} until {}{}",
            time_text(s.until),
            s.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    match &st.monitor {
        Some(m) => println!(
            "last tick: {} ({}ms, {})",
            time_text(m.last_tick_at),
            m.last_tick_duration_ms,
            m.last_tick_outcome
        ),
        None => println!("last tick: never"),
    }
    Ok(Code::Ok)
}
