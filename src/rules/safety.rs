//! The safety policy of SPEC §6, whole, in one place: one predicate per
//! clause. `tick` and every command ask these and nothing else, so a reviewer
//! who reads this file has read every rule that decides whether something is
//! started, run, stopped or signalled.
//!
//! Each predicate is pure: the caller gathers the facts (the job, a grant,
//! the process tree) and acts on the verdict.

use std::fmt;

use crate::config::{Approval, Job, Kind, Risk, When};
use crate::state::{Grant, InProgress};

/// Why an action was refused, and which exit code says so (SPEC §9: 2 for a
/// command that does not apply to the job, 4 for a safety refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The action does not apply to this kind of job (exit 2).
    WrongKind(String),
    /// A safety rule refuses it (exit 4).
    Unsafe(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::WrongKind(why) | Refusal::Unsafe(why) => f.write_str(why),
        }
    }
}

/// §6 clause 1: `tick` only ever starts (by autoResume) a `long_running_read`
/// job with `read_only` risk. Nothing else, under any config.
pub fn tick_may_start(job: &Job) -> bool {
    job.kind == Kind::LongRunningRead && job.risk == Risk::ReadOnly
}

/// §6 clause 1: `tick` only ever runs (queue, schedule) a `one_shot_read`
/// job with `read_only` risk. Nothing else, under any config.
pub fn tick_may_run(job: &Job) -> bool {
    job.kind == Kind::OneShotRead && job.risk == Risk::ReadOnly
}

/// §6 clause 2: `start JOB` runs a `long_running_read`'s `start`; a risk
/// other than `read_only` needs `--allow-risk`.
pub fn may_start(job: &Job, allow_risk: bool) -> Result<(), Refusal> {
    if job.kind != Kind::LongRunningRead {
        return Err(Refusal::WrongKind(format!(
            "{} is a {}: start is for long_running_read jobs (use run)",
            job.id,
            job.kind.as_str()
        )));
    }
    risk_allowed(job, allow_risk, "start")
}

/// §11 "Held jobs and starts": `start JOB` refuses a job its status says is
/// running, or whose status cannot be read (it may well be running: a
/// second copy could do damage), unless `--force`.
pub fn may_start_now(
    id: &str,
    obs: &crate::status::Observation,
    force: bool,
) -> Result<(), Refusal> {
    use crate::status::Observation;
    match obs {
        _ if force => Ok(()),
        Observation::Known(s) if s.running => Err(Refusal::Unsafe(format!(
            "refused: {id} is running{} — a second copy could do damage; \
             `ops-monitor start {id} --force` starts it anyway",
            s.pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ))),
        Observation::Known(_) => Ok(()),
        Observation::Unknown(why) => Err(Refusal::Unsafe(format!(
            "refused: the status of {id} cannot be read ({why}), so it may well be \
             running; `ops-monitor start {id} --force` starts it anyway"
        ))),
    }
}

/// §6: `stop JOB` applies to `long_running_read` jobs only; its `stop`
/// command needs `--allow-risk` when the risk is not `read_only`, as `start`
/// does. (Signalling a pid instead is [`may_signal`].)
pub fn may_stop(job: &Job, allow_risk: bool) -> Result<(), Refusal> {
    if job.kind != Kind::LongRunningRead {
        return Err(Refusal::WrongKind(format!(
            "{} is a {}: stop is for long_running_read jobs",
            job.id,
            job.kind.as_str()
        )));
    }
    if job.command("stop").is_some() {
        risk_allowed(job, allow_risk, "stop")
    } else {
        Ok(())
    }
}

fn risk_allowed(job: &Job, allow_risk: bool, verb: &str) -> Result<(), Refusal> {
    if job.risk == Risk::ReadOnly || allow_risk {
        return Ok(());
    }
    Err(Refusal::Unsafe(format!(
        "refused: {} has risk {}; pass --allow-risk to {verb} it anyway",
        job.id,
        job.risk.as_str()
    )))
}

/// How a write job is approved right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approved {
    /// The config opens the gate (`granted: true` or `required: false`):
    /// no expiry, no fingerprint, said on every use (§11).
    ByConfig,
    /// A grant from `approve`, good for one run until it expires.
    ByGrant,
    /// An unexpired grant given for the job as it was: its kind, risk, `run`
    /// argv or `cwd` changed since (or the grant has no fingerprint).
    Voided,
    /// Not approved.
    No,
}

/// §6 "A grant is for the job as it was approved": what a grant remembers of
/// the job — its kind, risk, `run` argv and `cwd` — as a short stable text.
/// Anything else (name, policy, `after`) may change without voiding it.
pub fn job_fingerprint(job: &Job) -> String {
    let canonical = serde_json::json!([
        job.kind.as_str(),
        job.risk.as_str(),
        job.command("run"),
        job.cwd.to_string_lossy(),
    ])
    .to_string();
    // FNV-1a: stable across Rust releases (std's hasher is not promised to
    // be), and nothing here needs to resist a forger — whoever can write the
    // state can write a grant.
    let hash = canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("v1:{hash:016x}")
}

/// §6 clause 3 and §11 "Approvals": an absent `approval` is `{required:
/// true, granted: false}`; a stored grant counts while it has not expired
/// and the job is still the one that was approved.
pub fn approval(job: &Job, grant: Option<&Grant>, now: f64) -> Approved {
    let a = job.approval.unwrap_or(Approval {
        required: true,
        granted: false,
    });
    if !a.required || a.granted {
        return Approved::ByConfig;
    }
    match grant {
        Some(g) if g.expires_at > now => {
            if g.fingerprint.as_deref() == Some(job_fingerprint(job).as_str()) {
                Approved::ByGrant
            } else {
                Approved::Voided
            }
        }
        _ => Approved::No,
    }
}

/// Slack after a recorded run's time limit before it no longer counts as
/// under way: the TERM→KILL grace of a stopped command, and a little more.
pub const IN_PROGRESS_SLACK_SECONDS: f64 = 10.0;

/// §6 "never twice": a write job is not run while a run of it recorded as
/// started may still be going (another terminal, or a `run` killed with its
/// job orphaned). A record left by a killed monitor counts only until its
/// time limit has passed; a start in the future (the clock went back)
/// counts as long from now.
pub fn may_run_again(job: &Job, in_progress: Option<&InProgress>, now: f64) -> Result<(), Refusal> {
    let Some(p) = in_progress.filter(|_| job.kind == Kind::OneShotWrite) else {
        return Ok(());
    };
    let span = p.limit.max(0.0) + IN_PROGRESS_SLACK_SECONDS;
    if (now - p.at).abs() < span {
        return Err(Refusal::Unsafe(format!(
            "refused: a run of {} started {:.0} s ago may still be going{} (it ends within {:.0} s at most)",
            job.id,
            (now - p.at).max(0.0),
            p.pid.map(|pid| format!(" (ops-monitor pid {pid})")).unwrap_or_default(),
            (p.at + span - now).max(0.0)
        )));
    }
    Ok(())
}

/// §11 "`after` entries": a write job may run only when at least one of its
/// `success` entries names a job the queue can run — so a verification that
/// could never run never lets a write happen.
pub fn has_runnable_verification(job: &Job, jobs: &[Job]) -> bool {
    job.after.iter().any(|a| {
        a.when == When::Success && jobs.iter().any(|j| j.id == a.job_id && tick_may_run(j))
    })
}

/// §6 clauses 3–4: `run JOB` by a person. A `one_shot_read` must be
/// `read_only`; a `one_shot_write` must be approved and verifiable; a long
/// job is started, not run.
pub fn may_run(job: &Job, jobs: &[Job], approved: Approved) -> Result<(), Refusal> {
    match job.kind {
        Kind::LongRunningRead => Err(Refusal::WrongKind(format!(
            "{} is a long_running_read: use start",
            job.id
        ))),
        Kind::OneShotRead if job.risk != Risk::ReadOnly => Err(Refusal::Unsafe(format!(
            "refused: {} is a one_shot_read with risk {}; read jobs must be read_only",
            job.id,
            job.risk.as_str()
        ))),
        Kind::OneShotRead => Ok(()),
        Kind::OneShotWrite if !has_runnable_verification(job, jobs) => {
            Err(Refusal::Unsafe(format!(
                "refused: {} has no verification step the queue can run (an `after` entry \
                 with when: success naming a one_shot_read job with read_only risk)",
                job.id
            )))
        }
        Kind::OneShotWrite if approved == Approved::Voided => Err(Refusal::Unsafe(format!(
            "refused: the approval of {id} was given for the job as it was then; its kind, \
             risk, run command or cwd changed since, so it no longer counts.\n\
             Approve the job as it is now with: ops-monitor approve {id} [--for 1h] [--note TEXT]",
            id = job.id
        ))),
        Kind::OneShotWrite if approved == Approved::No => Err(Refusal::Unsafe(format!(
            "refused: {id} is a one_shot_write and is not approved.\n\
             Approve one run with: ops-monitor approve {id} [--for 1h] [--note TEXT]\n\
             (or set \"approval\": {{\"granted\": true}} in the config)",
            id = job.id
        ))),
        Kind::OneShotWrite => Ok(()),
    }
}

/// What is known about a process `stop` might signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalTarget {
    pub pid: i64,
    /// Its process group, when it could be read.
    pub pgid: Option<i64>,
    /// Whether it belongs to the same user as the monitor.
    pub same_user: bool,
}

/// Who the monitor is, for [`may_signal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// The monitor's own pid and every ancestor up to PID 1.
    pub lineage: Vec<i64>,
    pub pgid: i64,
}

/// §6 and §11 "Held jobs and starts": `stop` without a `stop` command signals
/// the pid the status reports only when the same status says the job is
/// running, and the process is not PID 1, not the monitor or one of its
/// ancestors, not in the monitor's process group, and the same user's.
pub fn may_signal(running: bool, target: &SignalTarget, me: &Monitor) -> Result<(), Refusal> {
    let pid = target.pid;
    let why = if !running {
        Some("the status does not say the job is running".to_string())
    } else if pid <= 1 {
        Some(format!("pid {pid} is not a job's process"))
    } else if me.lineage.contains(&pid) {
        Some(format!(
            "pid {pid} is ops-monitor itself or one of its parents"
        ))
    } else if target.pgid == Some(me.pgid) {
        Some(format!("pid {pid} is in ops-monitor's own process group"))
    } else if !target.same_user {
        Some(format!("pid {pid} belongs to another user"))
    } else {
        None
    };
    match why {
        Some(why) => Err(Refusal::Unsafe(format!("refused to signal: {why}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::After;

    fn job(id: &str, kind: Kind, risk: Risk) -> Job {
        Job::for_tests(id, kind, risk, &[("run", &["true"])])
    }

    fn verified_write() -> (Job, Vec<Job>) {
        let mut w = job("w", Kind::OneShotWrite, Risk::WriteLocal);
        w.after.push(After {
            job_id: "verify".into(),
            when: When::Success,
            delay_seconds: 0.0,
        });
        let jobs = vec![w.clone(), job("verify", Kind::OneShotRead, Risk::ReadOnly)];
        (w, jobs)
    }

    #[test]
    fn tick_starts_and_runs_only_read_only_jobs_of_the_right_kind() {
        for kind in [Kind::LongRunningRead, Kind::OneShotRead, Kind::OneShotWrite] {
            for risk in [Risk::ReadOnly, Risk::WriteLocal, Risk::WriteExternal] {
                let j = job("j", kind, risk);
                let read_only = risk == Risk::ReadOnly;
                assert_eq!(
                    tick_may_start(&j),
                    read_only && kind == Kind::LongRunningRead
                );
                assert_eq!(tick_may_run(&j), read_only && kind == Kind::OneShotRead);
            }
        }
    }

    #[test]
    fn start_and_stop_need_a_long_job_and_allow_risk_for_write_risks() {
        let long = job("l", Kind::LongRunningRead, Risk::WriteExternal);
        assert!(matches!(may_start(&long, false), Err(Refusal::Unsafe(_))));
        assert_eq!(may_start(&long, true), Ok(()));
        let one = job("o", Kind::OneShotWrite, Risk::WriteLocal);
        assert!(matches!(may_start(&one, true), Err(Refusal::WrongKind(_))));
        assert!(matches!(may_stop(&one, true), Err(Refusal::WrongKind(_))));
        // No stop command: signalling is judged by may_signal instead.
        assert_eq!(may_stop(&long, false), Ok(()));
        let mut with_stop = long.clone();
        with_stop
            .commands
            .insert("stop".into(), vec!["kill-it".into()]);
        assert!(matches!(
            may_stop(&with_stop, false),
            Err(Refusal::Unsafe(_))
        ));
        assert_eq!(may_stop(&with_stop, true), Ok(()));
    }

    #[test]
    fn write_jobs_run_only_approved_and_verifiable() {
        let (w, jobs) = verified_write();
        assert!(matches!(
            may_run(&w, &jobs, Approved::No),
            Err(Refusal::Unsafe(_))
        ));
        assert_eq!(may_run(&w, &jobs, Approved::ByGrant), Ok(()));
        assert_eq!(may_run(&w, &jobs, Approved::ByConfig), Ok(()));
        // The verification names a job the queue would refuse: never run.
        let mut bad = jobs.clone();
        bad[1].risk = Risk::WriteLocal;
        let refused = may_run(&w, &bad, Approved::ByConfig).unwrap_err();
        assert!(refused.to_string().contains("verification"), "{refused}");
        let read = job("r", Kind::OneShotRead, Risk::WriteLocal);
        assert!(matches!(
            may_run(&read, &jobs, Approved::ByConfig),
            Err(Refusal::Unsafe(_))
        ));
        let long = job("l", Kind::LongRunningRead, Risk::ReadOnly);
        assert!(matches!(
            may_run(&long, &jobs, Approved::ByConfig),
            Err(Refusal::WrongKind(_))
        ));
    }

    #[test]
    fn approval_from_config_or_an_unexpired_grant() {
        let (mut w, _) = verified_write();
        let mut grant = Grant {
            granted_at: 100.0,
            expires_at: 200.0,
            by: "ann".into(),
            note: None,
            fingerprint: Some(job_fingerprint(&w)),
            extra: Default::default(),
        };
        assert_eq!(approval(&w, None, 150.0), Approved::No);
        assert_eq!(approval(&w, Some(&grant), 150.0), Approved::ByGrant);
        assert_eq!(approval(&w, Some(&grant), 200.0), Approved::No);
        // The job changed under the grant, or the grant remembers no job.
        let mut swapped = w.clone();
        swapped
            .commands
            .insert("run".into(), vec!["drop-database".into()]);
        assert_eq!(approval(&swapped, Some(&grant), 150.0), Approved::Voided);
        grant.fingerprint = None;
        assert_eq!(approval(&w, Some(&grant), 150.0), Approved::Voided);
        assert!(matches!(
            may_run(&w, &[w.clone()], Approved::Voided),
            Err(Refusal::Unsafe(_))
        ));
        w.approval = Some(Approval {
            required: false,
            granted: false,
        });
        assert_eq!(approval(&w, None, 150.0), Approved::ByConfig);
        w.approval = Some(Approval {
            required: true,
            granted: true,
        });
        assert_eq!(approval(&w, None, 150.0), Approved::ByConfig);
    }

    #[test]
    fn the_fingerprint_covers_kind_risk_argv_and_cwd_only() {
        let (w, _) = verified_write();
        let print = job_fingerprint(&w);
        let mut other = w.clone();
        other.name = "renamed".into();
        other.after.clear();
        assert_eq!(job_fingerprint(&other), print);
        let changes: [fn(&mut Job); 4] = [
            |j| j.kind = Kind::OneShotRead,
            |j| j.risk = Risk::WriteExternal,
            |j| j.cwd = PathBuf::from("/srv"),
            |j| {
                j.commands
                    .insert("run".into(), vec!["true".into(), "x".into()]);
            },
        ];
        for change in changes {
            let mut j = w.clone();
            change(&mut j);
            assert_ne!(job_fingerprint(&j), print, "{j:?}");
        }
    }

    #[test]
    fn a_write_job_is_not_run_while_a_recorded_run_may_go_on() {
        let (w, _) = verified_write();
        let going = InProgress {
            at: 1000.0,
            limit: 300.0,
            pid: Some(42),
            extra: Default::default(),
        };
        assert_eq!(may_run_again(&w, None, 1000.0), Ok(()));
        assert!(may_run_again(&w, Some(&going), 1100.0).is_err());
        assert!(may_run_again(&w, Some(&going), 1309.0).is_err());
        assert_eq!(may_run_again(&w, Some(&going), 1311.0), Ok(()));
        // A clock far behind the record does not block for years.
        assert_eq!(may_run_again(&w, Some(&going), 0.0), Ok(()));
        // Read jobs may run side by side.
        let read = job("r", Kind::OneShotRead, Risk::ReadOnly);
        assert_eq!(may_run_again(&read, Some(&going), 1100.0), Ok(()));
    }

    #[test]
    fn never_signal_init_the_monitor_its_parents_its_group_or_another_user() {
        let me = Monitor {
            lineage: vec![500, 400, 1],
            pgid: 450,
        };
        let target = |pid, pgid, same_user| SignalTarget {
            pid,
            pgid: Some(pgid),
            same_user,
        };
        assert_eq!(may_signal(true, &target(900, 900, true), &me), Ok(()));
        for (running, t) in [
            (false, target(900, 900, true)),
            (true, target(1, 1, true)),
            (true, target(0, 0, true)),
            (true, target(-5, 0, true)),
            (true, target(400, 400, true)),
            (true, target(500, 450, true)),
            (true, target(901, 450, true)),
            (true, target(902, 902, false)),
        ] {
            assert!(may_signal(running, &t, &me).is_err(), "{t:?}");
        }
    }
}
