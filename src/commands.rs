//! The commands of SPEC §9 other than `tick`: each loads what it needs, does
//! its work through the other modules, and prints its result.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use clap::CommandFactory;
use serde_json::{json, Value};

use crate::cli::{Cli, Command, Global, Which};
use crate::clock::Clock;
use crate::config::{self, Config, Job, Kind, Risk, When};
use crate::deliver::{self, Context};
use crate::exit::{fail, Code};
use crate::paths::Files;
use crate::process::{self, Output};
use crate::rules;
use crate::selftest;
use crate::signals;
use crate::state::{self, Grant, QueueItem, QueueStatus, Silence, State};
use crate::status::Observation;
use crate::tick;

pub fn dispatch(cli: Cli) -> Result<Code> {
    let g = &cli.global;
    match &cli.command {
        Command::Tick(args) => tick::run(g, args),
        Command::ValidateConfig { strict } => validate_config(g, *strict),
        Command::Status { json } => status(g, *json),
        Command::Start {
            job,
            allow_risk,
            timeout_seconds,
        } => start(g, job, *allow_risk, *timeout_seconds),
        Command::Stop {
            job,
            timeout_seconds,
        } => stop(g, job, *timeout_seconds),
        Command::Run {
            job,
            dry_run,
            timeout_seconds,
        } => run(g, job, *dry_run, *timeout_seconds),
        Command::Approve { job, for_, note } => approve(g, job, *for_, note.clone()),
        Command::Revoke { job } => revoke(g, job),
        Command::Silence {
            which,
            for_,
            reason,
        } => silence(g, which, Some((*for_, reason.clone()))),
        Command::Unsilence { which } => silence(g, which, None),
        Command::Notify { text, target } => notify(g, text, target.clone()),
        Command::Logs { job } => logs(g, job),
        Command::Selftest => selftest::run(),
        Command::Schema => {
            println!("{}", config::SCHEMA.trim_end());
            Ok(Code::Ok)
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "ops-monitor", &mut std::io::stdout());
            Ok(Code::Ok)
        }
    }
}

fn files(g: &Global) -> Files {
    Files::resolve(g.config_file.as_deref(), g.state_file.as_deref())
}

/// Load the config or fail with exit 2, every problem on its own line.
fn load_config(files: &Files, strict: bool) -> Result<Config> {
    config::load(&files.config, &files.home, strict).map_err(|e| {
        let mut text = format!("ERROR: config invalid: {}", e.path.display());
        for p in &e.problems {
            text.push_str("\n  - ");
            text.push_str(p);
        }
        fail(Code::Usage, text)
    })
}

fn find_job<'a>(config: &'a Config, id: &str) -> Result<&'a Job> {
    config
        .job(id)
        .ok_or_else(|| fail(Code::Usage, format!("unknown job: {id}")))
}

fn validate_config(g: &Global, strict: bool) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, strict)?;
    println!("OK: {}", config::summary(&config));
    for w in &config.warnings {
        println!("WARNING: {w}");
    }
    Ok(Code::Ok)
}

/// Print a command's result the way `start`, `stop` and `run` do.
fn print_output(verb: &str, job: &str, out: &Output) {
    println!(
        "{verb} {job}: exit={} durMs={}",
        out.exit_code(),
        out.duration.as_millis()
    );
    let stdout = process::tail(&out.stdout, rules::TAIL_CHARS);
    let stderr = process::tail(&out.stderr, rules::TAIL_CHARS);
    if !stdout.is_empty() {
        println!("stdout:\n{stdout}");
    }
    if !stderr.is_empty() {
        println!("stderr:\n{stderr}");
    }
    match &out.ending {
        process::Ending::TimedOut => println!("timed out"),
        process::Ending::FailedToStart(why) => println!("failed to start: {why}"),
        process::Ending::Signaled(s) => println!("killed by signal {s}"),
        _ => {}
    }
}

fn seconds(s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| fail(Code::Usage, format!("invalid timeout: {s}")))
}

/// Load state under the lock, let `f` change it, save it.
fn with_state<T>(files: &Files, g: &Global, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    let _lock = state::lock(&files.state, g.lock_timeout)?;
    let mut st = state::load(&files.state, true)?;
    let result = f(&mut st);
    state::save(&files.state, &mut st)?;
    result
}

fn start(g: &Global, id: &str, allow_risk: bool, timeout: f64) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    if job.kind != Kind::LongRunningRead {
        return Err(fail(
            Code::Usage,
            format!(
                "{id} is a {}: start is for long_running_read jobs (use run)",
                job.kind.as_str()
            ),
        ));
    }
    if job.risk != Risk::ReadOnly && !allow_risk {
        return Err(fail(
            Code::Refused,
            format!(
                "refused: {id} has risk {}; pass --allow-risk to start it anyway",
                job.risk.as_str()
            ),
        ));
    }
    let argv = job
        .command("start")
        .ok_or_else(|| fail(Code::Usage, format!("{id} has no start command")))?;
    let limit = seconds(timeout)?;
    signals::install();
    with_state(&files, g, |st| {
        let out = tick::run_command(job, argv, limit);
        let now = Clock::read().now;
        let js = st.job_mut(id);
        js.last_manual_start_at = Some(now);
        js.last_start = Some(rules::run_record(&out));
        print_output("start", id, &out);
        Ok(if out.success() {
            Code::Ok
        } else {
            Code::Failed
        })
    })
}

fn stop(g: &Global, id: &str, timeout: f64) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    let limit = seconds(timeout)?;
    signals::install();
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        let record = if let Some(argv) = job.command("stop") {
            let out = tick::run_command(job, argv, limit);
            print_output("stop", id, &out);
            rules::run_record(&out)
        } else {
            // No stop command: SIGTERM the pid the status reports.
            let pid = match tick::observe(job) {
                Observation::Known(s) => s.pid,
                Observation::Unknown(why) => {
                    return Err(fail(
                        Code::Failed,
                        format!("stop {id}: status failed: {why}"),
                    ))
                }
            };
            let Some(pid) = pid else {
                return Err(fail(
                    Code::Failed,
                    format!("stop {id}: no stop command and the status reports no pid"),
                ));
            };
            let pid = i32::try_from(pid)
                .map_err(|_| fail(Code::Failed, format!("stop {id}: pid {pid} out of range")))?;
            process::terminate(pid)
                .map_err(|e| fail(Code::Failed, format!("stop {id}: pid {pid}: {e}")))?;
            println!("stop {id}: sent SIGTERM to pid {pid}");
            state::RunRecord {
                exit_code: Some(0),
                duration_ms: Some(0),
                stdout_tail: format!("sent SIGTERM to pid {pid}"),
                ..Default::default()
            }
        };
        let ok = record.exit_code == Some(0);
        let js = st.job_mut(id);
        js.last_stop_at = Some(now);
        js.last_stop = Some(record);
        Ok(if ok { Code::Ok } else { Code::Failed })
    })
}

/// Whether a write job may run now, and whether that used a one-run grant.
fn approval(job: &Job, st: &State, now: f64) -> (bool, bool) {
    let a = job.approval.unwrap_or(config::Approval {
        required: true,
        granted: false,
    });
    if !a.required || a.granted {
        return (true, false);
    }
    let grant = st
        .approvals
        .get(&job.id)
        .is_some_and(|g| g.expires_at > now);
    (grant, grant)
}

fn run(g: &Global, id: &str, dry_run: bool, timeout: f64) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    let argv = match job.kind {
        Kind::LongRunningRead => {
            return Err(fail(
                Code::Usage,
                format!("{id} is a long_running_read: use start"),
            ))
        }
        Kind::OneShotRead if job.risk != Risk::ReadOnly => {
            return Err(fail(
                Code::Refused,
                format!(
                    "refused: {id} is a one_shot_read with risk {}; read jobs must be read_only",
                    job.risk.as_str()
                ),
            ))
        }
        _ => job
            .command("run")
            .ok_or_else(|| fail(Code::Usage, format!("{id} has no run command")))?,
    };
    let limit = seconds(timeout)?;
    if dry_run {
        println!("run {id}: would run {argv:?} in {}", job.cwd.display());
        return Ok(Code::Ok);
    }
    signals::install();
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        let mut used_grant = false;
        if job.kind == Kind::OneShotWrite {
            let (ok, grant) = approval(job, st, now);
            if !ok {
                return Err(fail(
                    Code::Refused,
                    format!(
                        "refused: {id} is a one_shot_write and is not approved.\n\
                         Approve one run with: ops-monitor approve {id} [--for 1h] [--note TEXT]\n\
                         (or set \"approval\": {{\"granted\": true}} in the config)"
                    ),
                ));
            }
            used_grant = grant;
        }
        if used_grant {
            // Good for one run: used up before running, so a crash mid-run
            // cannot leave it to be used again.
            st.approvals.remove(id);
        }
        let out = tick::run_command(job, argv, limit);
        rules::record_run(st.job_mut(id), &out, now);
        print_output("run", id, &out);
        let when = if out.success() {
            When::Success
        } else {
            When::Failure
        };
        for a in job.after.iter().filter(|a| a.when == when) {
            let outcome = if out.success() { "success" } else { "failure" };
            let mut item = QueueItem::new(
                &a.job_id,
                now,
                now + a.delay_seconds,
                format!("after {id} ({outcome})"),
            );
            item.timeout_seconds = Some(tick::RUN_TIMEOUT_SECONDS);
            println!(
                "queued {} (in {}s): the next tick runs it",
                a.job_id, a.delay_seconds
            );
            st.queue.push(item);
        }
        st.trim_queue();
        Ok(if out.success() {
            Code::Ok
        } else {
            Code::Failed
        })
    })
}

fn who() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn approve(g: &Global, id: &str, for_: Duration, note: Option<String>) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    if job.kind != Kind::OneShotWrite {
        return Err(fail(
            Code::Usage,
            format!(
                "{id} is a {}: only one_shot_write jobs need approval",
                job.kind.as_str()
            ),
        ));
    }
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        let expires_at = now + for_.as_secs_f64();
        st.approvals.insert(
            id.to_string(),
            Grant {
                granted_at: now,
                expires_at,
                by: who(),
                note,
                extra: Default::default(),
            },
        );
        println!(
            "approved {id} for one run within {}s (by {})",
            for_.as_secs(),
            who()
        );
        Ok(Code::Ok)
    })
}

fn revoke(g: &Global, id: &str) -> Result<Code> {
    let files = files(g);
    with_state(&files, g, |st| {
        if st.approvals.remove(id).is_some() {
            println!("revoked the approval of {id}");
        } else {
            println!("{id} had no approval to revoke");
        }
        Ok(Code::Ok)
    })
}

fn silence(g: &Global, which: &Which, set: Option<(Duration, Option<String>)>) -> Result<Code> {
    let files = files(g);
    let key = match (&which.job, which.all) {
        (_, true) => "*".to_string(),
        (Some(j), false) => {
            let config = load_config(&files, false)?;
            find_job(&config, j)?;
            j.clone()
        }
        (None, false) => return Err(fail(Code::Usage, "name a job or pass --all")),
    };
    let shown = if key == "*" {
        "all jobs".to_string()
    } else {
        key.clone()
    };
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        match set {
            Some((for_, reason)) => {
                st.silences.insert(
                    key.clone(),
                    Silence {
                        until: now + for_.as_secs_f64(),
                        created_at: now,
                        reason,
                        extra: Default::default(),
                    },
                );
                println!("silenced {shown} for {}s", for_.as_secs());
            }
            None => {
                if st.silences.remove(&key).is_some() {
                    println!("unsilenced {shown}");
                } else {
                    println!("{shown} was not silenced");
                }
            }
        }
        Ok(Code::Ok)
    })
}

fn notify(g: &Global, text: &str, target: Option<String>) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let ctx = Context::from_env(
        config.defaults.notify.clone(),
        target,
        files.openclaw_config.clone(),
    );
    with_state(&files, g, |st| {
        let outcome = deliver::notify(&mut st.outbox, &ctx, text, Clock::read().now);
        for n in &outcome.notices {
            eprintln!("{n}");
        }
        Ok(if st.outbox.is_empty() {
            Code::Ok
        } else {
            Code::Undelivered
        })
    })
}

fn logs(g: &Global, id: &str) -> Result<Code> {
    let files = files(g);
    let st = state::load(&files.state, false)?;
    let js = st.jobs.get(id).cloned().unwrap_or_default();
    let mut out = std::io::stdout().lock();
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
fn status(g: &Global, as_json: bool) -> Result<Code> {
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
        .zip(tick::observe_all(&long, 16))
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
                let (ok, _) = approval(job, &st, now);
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
