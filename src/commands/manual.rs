//! The commands a person runs to act on a job (SPEC §9): `start`, `stop` and
//! `run`. Each asks `rules::safety` whether it may act, runs the job's
//! command through a [`Runner`], and records the result in the state.
//!
//! Each takes the lock twice (SPEC §8, §11 "Time limits"): phase 1 records
//! what must never be lost (a grant used up, `runInProgress`,
//! `startInProgress`, `stopInProgress`, the times asked) and saves; the
//! command runs without the lock, so a tick meanwhile is not held back;
//! phase 2 records the result, waiting for the lock without
//! `--lock-timeout` — the command has already run, its result must land.

use std::time::Duration;

use anyhow::Result;

use super::show::time_text;
use super::{
    files, find_job, learn_tokens, load_config, load_watching, login_name, print_output, refused,
    seconds, state_usable, with_state, with_state_waiting,
};
use crate::cli::Global;
use crate::clock::Clock;
use crate::config::{Job, Kind, When};
use crate::exit::{fail, Code};
use crate::out::outln;
use crate::process::{self, Output};
use crate::rules::{self, safety};
use crate::runner::{self, OutlivesHangup, Ran, Real, Runner, Which};
use crate::signals;
use crate::state::{self, ApprovalUsed, InProgress, QueueItem};
use crate::status::Observation;

/// The output of a command a person asked for: these runners never only record.
fn ran(runner: &dyn Runner, job: &Job, which: Which, limit: Duration) -> Output {
    match runner.run(job, which, limit) {
        Ran::Done(out) => out,
        Ran::Recorded => unreachable!("the real runners run every command"),
    }
}

/// The record that a command of ours is under way, written in phase 1.
fn under_way(at: f64, limit: Duration) -> InProgress {
    InProgress {
        at,
        limit: limit.as_secs_f64(),
        pid: Some(std::process::id()),
        extra: Default::default(),
    }
}

/// Phase 2 clears the record phase 1 wrote — only that one: a later command
/// (after ours was given up for dead) may have written its own. The time is
/// compared within a microsecond: it went through the state file, and our
/// pid says the rest.
fn finished(slot: &mut Option<InProgress>, at: f64) {
    if slot
        .as_ref()
        .is_some_and(|p| (p.at - at).abs() < 1e-6 && p.pid == Some(std::process::id()))
    {
        *slot = None;
    }
}

/// The exit code once the result is recorded: the signal that stopped the
/// command (SPEC §8: 129/130/143), else 0 or 1 by how the command ended.
fn exit_code(ok: bool, hangup_stops: bool) -> Code {
    match signals::received_stopping(hangup_stops) {
        Some(sig) => Code::for_signal(sig),
        None if ok => Code::Ok,
        None => Code::Failed,
    }
}

/// `start JOB`, in two phases (SPEC §8, §11 "Time limits"): under the lock,
/// `lastManualStartAt` and `startInProgress` are saved; the lock is let go
/// while the start command runs (a tick meanwhile is not held back); then
/// the result is recorded under the lock again, waiting as long as it takes.
pub fn start(g: &Global, id: &str, allow_risk: bool, force: bool, timeout: f64) -> Result<Code> {
    let files = files(g)?;
    let config = load_config(&files, false)?;
    learn_tokens(&config, &files);
    let job = find_job(&config, id)?;
    safety::may_start(job, allow_risk).map_err(refused)?;
    if job.command("start").is_none() {
        return Err(fail(Code::Usage, format!("{id} has no start command")));
    }
    state_usable(&files.state)?;
    // SPEC §11: the status first; a running or unreadable job is refused.
    if !force {
        safety::may_start_now(id, &runner::observe(&Real, job), force).map_err(refused)?;
    }
    let limit = seconds(timeout)?;
    signals::install();
    let at = Clock::read().now;
    with_state(&files, g, |st| {
        let js = st.job_mut(id);
        js.last_manual_start_at = Some(at);
        js.start_in_progress = Some(under_way(at, limit));
        // Released here, also when the start then fails (SPEC §11 "Held
        // jobs and starts").
        Ok(js.hold.take().is_some())
    })
    .map(|released| {
        if released {
            outln!("start {id}: released the hold; tick watches it as usual again");
        }
    })?;
    let out = ran(&Real, job, Which::Start, limit);
    print_output("start", id, &out);
    with_state_waiting(&files, |st| {
        let js = st.job_mut(id);
        finished(&mut js.start_in_progress, at);
        let mut record = rules::run_record(&out);
        record.at = Some(at);
        record.by = Some(login_name());
        js.last_start = Some(Box::new(record));
        Ok(())
    })?;
    Ok(exit_code(out.success(), true))
}

/// How `stop` acts on a job.
enum Stopping {
    /// Its `stop` command.
    Command,
    /// SIGTERM to the pid its status reports (already judged by `may_signal`).
    Signal(i32),
}

/// `stop JOB`, in two phases like [`start`]. Without a `stop` command the
/// pid is judged before anything is written: a refusal changes nothing.
pub fn stop(g: &Global, id: &str, allow_risk: bool, timeout: f64) -> Result<Code> {
    let files = files(g)?;
    let config = load_watching(&files)?;
    learn_tokens(&config, &files);
    let job = find_job(&config, id)?;
    safety::may_stop(job, allow_risk).map_err(refused)?;
    let limit = seconds(timeout)?;
    state_usable(&files.state)?;
    signals::install();
    let how = if job.command("stop").is_some() {
        Stopping::Command
    } else {
        Stopping::Signal(pid_to_signal(job, id)?)
    };
    let at = Clock::read().now;
    with_state(&files, g, |st| {
        let js = st.job_mut(id);
        js.last_stop_at = Some(at);
        js.stop_in_progress = Some(under_way(at, limit));
        // The hold is set here, in the first phase, whether or not the stop
        // then succeeds (SPEC §11 "Held jobs and starts"); a second stop
        // keeps the first one's time.
        if js.hold.is_none() {
            js.hold = Some(state::Hold {
                at,
                by: login_name(),
                extra: Default::default(),
            });
        }
        Ok(())
    })?;
    outln!("stop {id}: held — tick will not start it until `ops-monitor start {id}`");
    let (record, failure) = match how {
        Stopping::Command => {
            let out = ran(&Real, job, Which::Stop, limit);
            print_output("stop", id, &out);
            (rules::run_record(&out), None)
        }
        Stopping::Signal(pid) => match process::terminate(pid) {
            Ok(()) => {
                outln!("stop {id}: sent SIGTERM to pid {pid}");
                let record = state::RunRecord {
                    exit_code: Some(0),
                    duration_ms: Some(0),
                    stdout_tail: format!("sent SIGTERM to pid {pid}"),
                    ..Default::default()
                };
                (record, None)
            }
            Err(e) => {
                let why = format!("stop {id}: pid {pid}: {e}");
                let record = state::RunRecord {
                    exit_code: Some(1),
                    duration_ms: Some(0),
                    stderr_tail: why.clone(),
                    ..Default::default()
                };
                (record, Some(why))
            }
        },
    };
    let ok = record.exit_code == Some(0);
    with_state_waiting(&files, |st| {
        let js = st.job_mut(id);
        finished(&mut js.stop_in_progress, at);
        js.last_stop = Some(Box::new(record));
        Ok(())
    })?;
    if let Some(why) = failure {
        return Err(fail(Code::Failed, why));
    }
    Ok(exit_code(ok, true))
}

/// The pid `stop` may signal: the one the status reports, if `may_signal`
/// allows it (SPEC §6: never PID 1, an ancestor, the monitor's group, or
/// another user's process).
fn pid_to_signal(job: &Job, id: &str) -> Result<i32> {
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
    i32::try_from(pid).map_err(|_| fail(Code::Failed, format!("stop {id}: pid {pid} out of range")))
}

/// `run JOB --dry-run`: what would run, where — after the kind and risk
/// refusals (the approval is judged only by a real run, under the lock).
/// Nothing is run or written.
pub fn run_dry(g: &Global, id: &str) -> Result<Code> {
    let files = files(g)?;
    let config = load_config(&files, false)?;
    let job = find_job(&config, id)?;
    safety::may_run(job, &config.jobs, safety::Approved::ByConfig).map_err(refused)?;
    let argv = job.command("run").unwrap_or_default();
    outln!("run {id}: would run {argv:?} in {}", job.cwd.display());
    Ok(Code::Ok)
}

/// `run JOB`, in two phases (SPEC §6, §8, §11). Phase 1, under the lock:
/// the approval is judged and a grant is used up, and the run is recorded
/// as started (`runInProgress`) — saved before the command starts, so a
/// `run` that is killed, hung up on or finds its stdout closed never leaves
/// the grant valid for a second run, and a second `run` of the write job
/// meanwhile is refused. Phase 2: the result, the approval it used and the
/// `after` entries are recorded under the lock, waiting as long as it takes.
/// A SIGHUP does not stop a write job: it is waited for and recorded, and
/// the exit code is the job's.
pub fn run(g: &Global, id: &str, timeout: f64) -> Result<Code> {
    let files = files(g)?;
    let config = load_config(&files, false)?;
    learn_tokens(&config, &files);
    let job = find_job(&config, id)?;
    let limit = seconds(timeout)?;
    signals::install();
    let write = job.kind == Kind::OneShotWrite;
    let now = Clock::read().now;
    let used = with_state(&files, g, |st| {
        let approved = safety::approval(job, st.approvals.get(id), now);
        safety::may_run(job, &config.jobs, approved).map_err(refused)?;
        let going = st.jobs.get(id).and_then(|j| j.run_in_progress.as_ref());
        safety::may_run_again(job, going, now).map_err(refused)?;
        let used = match approved {
            // Good for one run: used up on disk before the job starts.
            safety::Approved::ByGrant => st.approvals.remove(id).map(|g| ApprovalUsed {
                source: "grant".into(),
                by: Some(g.by),
                granted_at: Some(g.granted_at),
                note: g.note,
                extra: Default::default(),
            }),
            safety::Approved::ByConfig if write => Some(ApprovalUsed {
                source: "config".into(),
                ..Default::default()
            }),
            _ => None,
        };
        st.job_mut(id).run_in_progress = Some(under_way(now, limit));
        Ok(used)
    })?;
    match &used {
        Some(a) if a.source == "config" => outln!(
            "run {id}: approved by the config (approval.granted: true or required: false) — \
             the gate is open for every run"
        ),
        Some(a) => outln!(
            "run {id}: using the approval by {} from {}{} (now used up)",
            a.by.as_deref().unwrap_or("?"),
            time_text(a.granted_at.unwrap_or(now)),
            a.note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        ),
        None => {}
    }
    let runner: &dyn Runner = if write { &OutlivesHangup } else { &Real };
    let out = ran(runner, job, Which::Run, limit);
    print_output("run", id, &out);
    let queued = with_state_waiting(&files, |st| {
        let js = st.job_mut(id);
        finished(&mut js.run_in_progress, now);
        rules::record_run(js, &out, now);
        if let Some(rec) = js.last_run.as_mut() {
            rec.approval = used;
        }
        let when = if out.success() {
            When::Success
        } else {
            When::Failure
        };
        let outcome = if out.success() { "success" } else { "failure" };
        let mut queued = Vec::new();
        for a in job.after.iter().filter(|a| a.when == when) {
            let mut item = QueueItem::new(
                &a.job_id,
                now,
                now + a.delay_seconds,
                format!("after {id} ({outcome})"),
            );
            if write && when == When::Success {
                // The verification of the write: always reported (SPEC §5.4).
                item.verifies = Some(id.to_string());
            }
            st.queue.push(item);
            queued.push((a.job_id.clone(), a.delay_seconds));
        }
        st.trim_queue();
        Ok(queued)
    })?;
    for (job_id, delay) in queued {
        outln!("queued {job_id} (in {delay}s): the next tick runs it");
    }
    Ok(exit_code(out.success(), !write))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_record_is_cleared() {
        let at = 1_795_277_241.091_125_7;
        let ours = || Some(under_way(at, Duration::from_secs(300)));
        let mut slot = ours();
        // The release build once read such a time back one ULP off (2.4e-7
        // s here) and left the finished run "under way" for 310 s.
        finished(&mut slot, at + 2.4e-7);
        assert!(slot.is_none(), "one ULP off is the same time");
        let mut slot = ours();
        finished(&mut slot, at + 1.0);
        assert!(slot.is_some(), "another run's record stays");
        let mut slot = ours();
        slot.as_mut().unwrap().pid = Some(1);
        finished(&mut slot, at);
        assert!(slot.is_some(), "another process's record stays");
    }
}
