//! `logs` (SPEC §9): the stored output of a job's last start, stop and run,
//! and its queue items. Writes nothing. (`status` and `explain` have their
//! own modules.)

use std::io::Write;

use anyhow::Result;

use super::{files, find_job, load_config_or_last_good, print_config_error};
use crate::cli::Global;
use crate::exit::Code;
use crate::state::{self, QueueItem};

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
