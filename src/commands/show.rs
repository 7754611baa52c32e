//! `logs` (SPEC §9): the stored output of a job's last start, stop and run,
//! and its queue items. Writes nothing. (`status` and `explain` have their
//! own modules.)

use std::io::Write;

use anyhow::Result;

use super::{files, find_job, load_watching};
use crate::cli::Global;
use crate::exit::Code;
use crate::out::errln;
use crate::state::{self, QueueItem};

pub fn logs(g: &Global, id: &str) -> Result<Code> {
    let files = files(g)?;
    let st = state::load(&files.state, false)?;
    // The config (or its last good copy) says which jobs exist; when neither
    // can be read — or there is no config at all — a job the state knows is
    // still shown (logs run nothing), after saying why.
    match load_watching(&files) {
        Ok(config) => {
            find_job(&config, id)?;
        }
        Err(e) if !st.jobs.contains_key(id) => return Err(e),
        Err(e) => errln!("{e:#}\n(showing what the state holds for {id})"),
    }
    let js = st.jobs.get(id).cloned().unwrap_or_default();
    // Into a buffer, then out once: a closed stdout is not an error here.
    let mut out = Vec::new();
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
            if let Some(a) = &r.approval {
                writeln!(
                    out,
                    "approval: {}{}{}",
                    a.source,
                    a.by.as_ref()
                        .map(|b| format!(" by {b}"))
                        .unwrap_or_default(),
                    a.note
                        .as_ref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                )?;
            }
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
