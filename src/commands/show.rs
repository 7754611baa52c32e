//! The commands that show what is known about the jobs and write nothing
//! (SPEC §9): `status` and `logs`.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Value};

use super::{files, load_watching};
use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{Job, Kind};
use crate::exit::Code;
use crate::out::outln;
use crate::pyjson::PyValue;
use crate::rules::{self, safety};
use crate::runner::{self, Real};
use crate::state::{self, QueueItem, QueueStatus, Silence};
use crate::status::Observation;

pub fn logs(g: &Global, id: &str) -> Result<Code> {
    let files = files(g)?;
    let st = state::load(&files.state, false)?;
    let js = st.jobs.get(id).cloned().unwrap_or_default();
    // Into a buffer, then out once: a closed stdout is not an error here.
    let mut out = Vec::new();
    let when = |t: Option<f64>| t.map(time_text).unwrap_or_else(|| "never".into());
    for (label, at, rec) in [
        ("start", js.last_manual_start_at, &js.last_start),
        ("stop", js.last_stop_at, &js.last_stop),
        ("run", js.last_run_at, &js.last_run),
    ] {
        writeln!(out, "== last {label}: {}", when(at))?;
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
    crate::out::stdout_bytes(&out);
    Ok(Code::Ok)
}

/// A Unix time as local `YYYY-MM-DD HH:MM:SS`.
pub fn time_text(t: f64) -> String {
    crate::clock::local_text(t, "%Y-%m-%d %H:%M:%S")
}

/// `status` (SPEC §9): runs status commands, writes nothing.
pub fn status(g: &Global, as_json: bool) -> Result<Code> {
    let files = files(g)?;
    let config = load_watching(&files)?;
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
        // The state word of SPEC §11, the same function the metrics use.
        let word = observed
            .get(&job.id)
            .map(|obs| rules::job_state(job, Some(obs), &js, now));
        let (line, detail) = match job.kind {
            Kind::LongRunningRead => match observed.remove(&job.id) {
                Some(_) if word == Some(rules::JobStateWord::Held) => (
                    "held (stopped by hand; start JOB releases it)".to_string(),
                    json!({}),
                ),
                Some(Observation::Known(s)) => {
                    let line = if s.completed {
                        "completed".to_string()
                    } else if s.running {
                        let stalled = if word == Some(rules::JobStateWord::Stalled) {
                            let since = js.last_progress_at.unwrap_or(now);
                            format!("stalled, no progress since {}: ", time_text(since))
                        } else {
                            String::new()
                        };
                        match s.pid {
                            Some(p) => format!("{stalled}running pid={p}"),
                            None => format!("{stalled}running"),
                        }
                    } else {
                        match &s.stop_reason {
                            Some(r) => format!("paused stopReason={r}"),
                            None => "paused".into(),
                        }
                    };
                    let d = json!({"running": s.running, "completed": s.completed, "pid": s.pid,
                        "stopReason": s.stop_reason, "message": s.message,
                        "progress": s.progress.as_ref().map(|p| PyValue::Dict(p.clone()).to_json())});
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
                let approved = safety::approval(job, st.approvals.get(&job.id), now);
                let ok = matches!(
                    approved,
                    safety::Approved::ByConfig | safety::Approved::ByGrant
                );
                let why = match approved {
                    safety::Approved::ByConfig => " by the config",
                    safety::Approved::Voided => ": the job changed since it was approved",
                    _ => "",
                };
                (
                    format!("write (approved={}{why})", if ok { "yes" } else { "no" }),
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
        jobs.push((job, line, detail, enabled, word.map(|w| w.as_str())));
    }
    let pending = st
        .queue
        .iter()
        .filter(|q| matches!(q.status, QueueStatus::Pending | QueueStatus::Running))
        .count();
    let silences: Vec<(&String, &Silence)> =
        st.silences.iter().filter(|(_, s)| s.until > now).collect();
    let channels = super::outbox::configured(&config);
    let gone: Vec<_> = st
        .outbox
        .entries
        .iter()
        .filter(|e| !channels.contains(&e.channel))
        .collect();
    if as_json {
        let doc = json!({
            "jobs": jobs.iter().map(|(j, line, detail, _, state)| json!({
                "id": j.id, "name": j.name, "kind": j.kind.as_str(), "risk": j.risk.as_str(),
                "enabled": j.enabled, "state": state, "summary": line, "detail": detail,
            })).collect::<Vec<_>>(),
            "queue": {"total": st.queue.len(), "pending": pending},
            "outbox": st.outbox.len(),
            "outboxChannelGone": gone.len(),
            "silences": silences.iter().map(|(k, s)| json!({"job": k, "until": s.until, "reason": s.reason})).collect::<Vec<_>>(),
            "lastTick": st.monitor.as_ref().map(|m| json!({"at": m.last_tick_at, "durationMs": m.last_tick_duration_ms, "outcome": m.last_tick_outcome})),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Code::Ok);
    }
    for (job, line, _, enabled, _) in &jobs {
        outln!("{} ({}): {line}{enabled}", job.id, job.kind.as_str());
    }
    outln!("queue: {pending} pending ({} items)", st.queue.len());
    outln!("outbox: {} undelivered", st.outbox.len());
    if !gone.is_empty() {
        let mut labels: Vec<&str> = gone.iter().map(|e| e.label.as_str()).collect();
        labels.dedup();
        outln!(
            "outbox: {} kept for channels no longer in the config, never sent: {} (see `ops-monitor outbox`)",
            gone.len(),
            labels.join(", ")
        );
    }
    for (k, s) in &silences {
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
            "last tick: {} ({}ms, {})",
            time_text(m.last_tick_at),
            m.last_tick_duration_ms,
            m.last_tick_outcome
        ),
        None => outln!("last tick: never"),
    }
    Ok(Code::Ok)
}
