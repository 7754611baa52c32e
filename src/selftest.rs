//! `selftest` (SPEC §9): an offline end-to-end check of this installation.
//!
//! In a temporary folder it writes configs and small `/bin/sh` job scripts,
//! runs this very binary's `tick --print-only` with the clock moved through
//! `OPS_MONITOR_NOW` (so nothing sleeps), and checks stall detection,
//! automatic resume with its backoff, the queue, quiet hours, and the atomic
//! state write. Nothing leaves the machine.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::exit::Code;
use crate::out::outln;

/// 2026-11-21 12:00:00 UTC.
const NOON: f64 = 1_795_262_400.0;

struct Sandbox {
    dir: tempfile::TempDir,
    exe: PathBuf,
}

impl Sandbox {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn script(&self, rel: &str, body: &str) -> Result<String> {
        let p = self.path(rel);
        fs::write(&p, format!("#!/bin/sh\n{body}\n"))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755))?;
        Ok(p.display().to_string())
    }

    fn config(&self, name: &str, quiet: (&str, &str), jobs: Value) -> Result<PathBuf> {
        let p = self.path(name);
        let cfg = json!({"version": 1,
            "defaults": {"quietHours": {"start": quiet.0, "end": quiet.1}}, "jobs": jobs});
        fs::write(&p, serde_json::to_string_pretty(&cfg)?)?;
        Ok(p)
    }

    /// `tick --print-only` at `now`; the report text.
    fn tick(&self, config: &Path, state: &Path, now: f64) -> Result<String> {
        let out = Command::new(&self.exe)
            .args(["tick", "--print-only", "--lang", "en"])
            .arg("--config-file")
            .arg(config)
            .arg("--state-file")
            .arg(state)
            .env("OPS_MONITOR_NOW", now.to_string())
            .env("TZ", "UTC")
            .env("OPENCLAW_HOME", self.dir.path())
            .env_remove("OPS_MONITOR_CONFIG")
            .env_remove("OPS_MONITOR_STATE")
            .current_dir(self.dir.path())
            .output()
            .context("cannot run this binary")?;
        if !out.status.success() {
            bail!(
                "tick exited with {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// One end-to-end check, run in its own sandbox.
type Check = fn(&Sandbox) -> Result<()>;

fn long_job(id: &str, status: &str, start: &str, policy: Value) -> Value {
    json!({"id": id, "kind": "long_running_read", "risk": "read_only", "enabled": true,
           "commands": {"start": [start], "status": [status]}, "policy": policy})
}

fn expect(ok: bool, what: &str, report: &str) -> Result<()> {
    if !ok {
        bail!("{what}; the report was:\n{report}");
    }
    Ok(())
}

pub fn run() -> Result<Code> {
    let checks: [(&str, Check); 5] = [
        ("stall detection", stall),
        ("automatic resume and its backoff", auto_resume),
        ("the queue", queue),
        ("quiet hours", quiet_hours),
        ("atomic state write", atomic_state),
    ];
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let mut failed = 0;
    for (name, check) in checks {
        let sandbox = Sandbox {
            dir: tempfile::Builder::new()
                .prefix("ops-monitor-selftest")
                .tempdir()?,
            exe: exe.clone(),
        };
        match check(&sandbox) {
            Ok(()) => outln!("ok: {name}"),
            Err(e) => {
                failed += 1;
                outln!("FAILED: {name}: {e:#}");
            }
        }
    }
    if failed == 0 {
        outln!("selftest: OK");
        Ok(Code::Ok)
    } else {
        outln!("selftest: {failed} check(s) failed");
        Ok(Code::Failed)
    }
}

fn stall(sb: &Sandbox) -> Result<()> {
    let status = sb.script(
        "status.sh",
        r#"echo '{"running":true,"completed":false,"pid":4242,"progress":{"done":7}}'"#,
    )?;
    let cfg = sb.config(
        "stall.json",
        ("00:00", "00:00"),
        json!([long_job(
            "s",
            &status,
            "/bin/true",
            json!({"stallSeconds": 60})
        )]),
    )?;
    let state = sb.path("stall-state.json");
    let first = sb.tick(&cfg, &state, NOON)?;
    expect(
        first.contains("- progress: done=7"),
        "first tick reports progress",
        &first,
    )?;
    let early = sb.tick(&cfg, &state, NOON + 59.0)?;
    expect(
        !early.contains("stalled"),
        "no stall before stallSeconds",
        &early,
    )?;
    let late = sb.tick(&cfg, &state, NOON + 60.0)?;
    expect(
        late.contains("- state: stalled — running (pid=4242), no progress for 1m"),
        "stall reported at 60 s",
        &late,
    )
}

fn auto_resume(sb: &Sandbox) -> Result<()> {
    let status = sb.script("status.sh", r#"echo '{"running":false,"completed":false}'"#)?;
    let start = sb.script("start.sh", "echo started >> starts.log")?;
    let cfg = sb.config(
        "resume.json",
        ("00:00", "00:00"),
        json!([long_job(
            "r",
            &status,
            &start,
            json!({"autoResume": true, "autoResumeBackoffSeconds": 900})
        )]),
    )?;
    let state = sb.path("resume-state.json");
    let first = sb.tick(&cfg, &state, NOON)?;
    expect(
        first.contains("- AUTORUN: started"),
        "paused job started",
        &first,
    )?;
    let inside = sb.tick(&cfg, &state, NOON + 60.0)?;
    expect(
        inside.is_empty(),
        "nothing said inside the backoff",
        &inside,
    )?;
    let after = sb.tick(&cfg, &state, NOON + 900.0)?;
    expect(
        after.contains("- AUTORUN: started"),
        "started again after the backoff",
        &after,
    )?;
    let starts = fs::read_to_string(sb.path("starts.log")).unwrap_or_default();
    expect(starts.lines().count() == 2, "exactly two starts", &starts)
}

fn queue(sb: &Sandbox) -> Result<()> {
    let check = sb.script(
        "check.sh",
        "echo checked >> checks.log; echo 'ALERT: selftest'",
    )?;
    let cfg = sb.config(
        "queue.json",
        ("00:00", "00:00"),
        json!([{"id": "c", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [check]}}]),
    )?;
    let state = sb.path("queue-state.json");
    let item = |id: &str, job: &str| {
        json!({"id": id, "jobId": job, "createdAt": NOON, "notBefore": NOON,
               "reason": "selftest", "status": "pending", "attempt": 0})
    };
    fs::write(
        &state,
        json!({"version": 1, "jobs": {}, "queue": [item("1", "c"), item("2", "missing")]})
            .to_string(),
    )?;
    let report = sb.tick(&cfg, &state, NOON + 1.0)?;
    expect(
        report.contains("- ALERT: selftest"),
        "queued read job ran and was reported",
        &report,
    )?;
    expect(
        report.contains("ALERT: queued job missing"),
        "missing job blocked",
        &report,
    )?;
    let again = sb.tick(&cfg, &state, NOON + 2.0)?;
    expect(again.is_empty(), "a done item does not run again", &again)?;
    let runs = fs::read_to_string(sb.path("checks.log")).unwrap_or_default();
    expect(runs == "checked\n", "ran exactly once", &runs)
}

fn quiet_hours(sb: &Sandbox) -> Result<()> {
    let running = sb.script(
        "running.sh",
        r#"echo '{"running":true,"completed":false,"progress":{"n":1}}'"#,
    )?;
    let paused = sb.script("paused.sh", r#"echo '{"running":false,"completed":false}'"#)?;
    // 12:00 UTC lies inside 11:00–13:00.
    let cfg = sb.config(
        "quiet.json",
        ("11:00", "13:00"),
        json!([
            long_job("routine", &running, "/bin/true", json!({})),
            long_job("broken", &paused, "/bin/true", json!({}))
        ]),
    )?;
    let state = sb.path("quiet-state.json");
    let report = sb.tick(&cfg, &state, NOON)?;
    expect(
        !report.contains("(routine,"),
        "routine progress held back",
        &report,
    )?;
    expect(
        report.contains("(broken,"),
        "anomaly reported in quiet hours",
        &report,
    )
}

fn atomic_state(sb: &Sandbox) -> Result<()> {
    let status = sb.script("status.sh", r#"echo '{"running":true,"completed":false}'"#)?;
    let cfg = sb.config(
        "atomic.json",
        ("00:00", "00:00"),
        json!([long_job("a", &status, "/bin/true", json!({}))]),
    )?;
    let folder = sb.path("state");
    fs::create_dir_all(&folder)?;
    let state = folder.join("ops-monitor.json");
    fs::write(&state, "{\"version\": 1, \"jobs\": {half-writ")?;
    let report = sb.tick(&cfg, &state, NOON)?;
    expect(
        report.contains("state file was corrupt"),
        "corrupt state reported",
        &report,
    )?;
    for n in 1..=3 {
        sb.tick(&cfg, &state, NOON + f64::from(n))?;
    }
    let text = fs::read_to_string(&state)?;
    let value: Value = serde_json::from_str(&text).context("state is not valid JSON")?;
    expect(
        value["jobs"]["a"]["lastSeen"]["running"] == true,
        "state written",
        &text,
    )?;
    let names: Vec<String> = fs::read_dir(&folder)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let aside = names.iter().filter(|n| n.contains(".corrupt-")).count();
    let temps = names.iter().filter(|n| n.ends_with(".tmp")).count();
    expect(
        aside == 1 && temps == 0,
        "old file moved aside, no temp file left",
        &names.join(", "),
    )
}
