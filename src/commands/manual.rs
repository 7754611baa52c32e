//! The commands a person runs to act on a job (SPEC §9): `start`, `stop` and
//! `run`. Each asks `rules::safety` whether it may act, runs the job's
//! command through a [`Runner`], and records the result in the state.

use std::time::Duration;

use anyhow::Result;

use super::{files, find_job, load_config, login_name, print_output, refused, seconds, with_state};
use crate::cli::Global;
use crate::clock::Clock;
use crate::config::When;
use crate::exit::{fail, Code};
use crate::process::{self, Output};
use crate::rules::{self, safety};
use crate::runner::{self, Ran, Real, Runner, Which};
use crate::signals;
use crate::state::{self, QueueItem};
use crate::status::Observation;

/// The output of a command a person asked for: `Real` never only records.
fn ran(runner: &dyn Runner, job: &crate::config::Job, which: Which, limit: Duration) -> Output {
    match runner.run(job, which, limit) {
        Ran::Done(out) => out,
        Ran::Recorded => unreachable!("the real runner runs every command"),
    }
}

pub fn start(g: &Global, id: &str, allow_risk: bool, timeout: f64) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    safety::may_start(job, allow_risk).map_err(refused)?;
    if job.command("start").is_none() {
        return Err(fail(Code::Usage, format!("{id} has no start command")));
    }
    let limit = seconds(timeout)?;
    signals::install();
    with_state(&files, g, |st| {
        let out = ran(&Real, job, Which::Start, limit);
        let now = Clock::read().now;
        let js = st.job_mut(id);
        js.last_manual_start_at = Some(now);
        let mut record = rules::run_record(&out);
        record.at = Some(now);
        record.by = Some(login_name());
        js.last_start = Some(record);
        print_output("start", id, &out);
        // Released whether the start worked or not (SPEC §11).
        if js.hold.take().is_some() {
            println!("start {id}: released the hold; tick watches it as usual again");
        }
        Ok(if out.success() {
            Code::Ok
        } else {
            Code::Failed
        })
    })
}

pub fn stop(g: &Global, id: &str, allow_risk: bool, timeout: f64) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    safety::may_stop(job, allow_risk).map_err(refused)?;
    let limit = seconds(timeout)?;
    signals::install();
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        // The hold is recorded before anything runs, and stays whatever
        // the stop command then does (SPEC §5.2, §11).
        let js = st.job_mut(id);
        if js.hold.is_none() {
            js.hold = Some(state::Hold {
                at: now,
                by: login_name(),
                extra: Default::default(),
            });
        }
        println!("stop {id}: held — tick will not start it until `ops-monitor start {id}`");
        let record = if job.command("stop").is_some() {
            let out = ran(&Real, job, Which::Stop, limit);
            print_output("stop", id, &out);
            rules::run_record(&out)
        } else {
            // No stop command: SIGTERM the pid the status reports.
            let status = match runner::observe(&Real, job) {
                Observation::Known(s) => s,
                Observation::Unknown(why) => {
                    return Err(fail(
                        Code::Failed,
                        format!("stop {id}: status failed: {why}"),
                    ))
                }
            };
            let (Some(pid), running) = (status.pid, status.running) else {
                return Err(fail(
                    Code::Failed,
                    format!("stop {id}: no stop command and the status reports no pid"),
                ));
            };
            safety::may_signal(running, &signal_target(pid), &monitor())
                .map_err(|r| fail(Code::Refused, format!("stop {id}: {r}")))?;
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

pub fn run(g: &Global, id: &str, dry_run: bool, timeout: f64) -> Result<Code> {
    let files = files(g);
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    // The approval is judged again under the lock below; this first look
    // only lets kind and risk refusals come before a dry run's answer.
    safety::may_run(job, &config.jobs, safety::Approved::ByConfig).map_err(refused)?;
    let limit = seconds(timeout)?;
    if dry_run {
        let argv = job.command("run").unwrap_or_default();
        println!("run {id}: would run {argv:?} in {}", job.cwd.display());
        return Ok(Code::Ok);
    }
    signals::install();
    with_state(&files, g, |st| {
        let now = Clock::read().now;
        let approved = safety::approval(job, st.approvals.get(id), now);
        safety::may_run(job, &config.jobs, approved).map_err(refused)?;
        if approved == safety::Approved::ByGrant {
            // Good for one run: used up before running, so a crash mid-run
            // cannot leave it to be used again.
            st.approvals.remove(id);
        }
        let out = ran(&Real, job, Which::Run, limit);
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
            item.timeout_seconds = Some(runner::QUEUED_RUN_TIMEOUT_SECONDS);
            if job.kind == crate::config::Kind::OneShotWrite && when == When::Success {
                // Its result is always reported (SPEC §5.4).
                item.verifies = Some(id.to_string());
            }
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

/// The facts `may_signal` needs about the process a status names.
fn signal_target(pid: i64) -> safety::SignalTarget {
    let pgid = i32::try_from(pid)
        .ok()
        .and_then(|p| process::pgid_of(p).ok())
        .map(i64::from);
    safety::SignalTarget {
        pid,
        pgid,
        same_user: process::same_user(pid),
    }
}

/// Who ops-monitor is: its pid, its ancestors, its process group.
fn monitor() -> safety::Monitor {
    safety::Monitor {
        lineage: process::lineage(),
        pgid: process::pgid_of(0).map(i64::from).unwrap_or(0),
    }
}
