//! Unit tests of the decision rules. Time is a parameter: no test sleeps.
//! Several pin a defect of `ops-monitor.py` that this port must not have
//! (SPEC §5); their names say the fixed behaviour, their comments the defect.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::section::{Action, Problem};
use super::*;
use crate::clock::Clock;
use crate::config::{Kind, Policy, QuietHours, Risk};
use crate::process::Ending;
use crate::state::{QueueItem, QueueStatus};
use crate::status::Observation;

const T0: f64 = 1_795_244_049.0;

fn job() -> Job {
    let mut commands = BTreeMap::new();
    commands.insert("start".to_string(), vec!["true".to_string()]);
    commands.insert("status".to_string(), vec!["true".to_string()]);
    Job {
        id: "job1".into(),
        name: "Nightly crawl".into(),
        kind: Kind::LongRunningRead,
        risk: Risk::ReadOnly,
        enabled: true,
        cwd: PathBuf::from("/"),
        commands,
        policy: Policy {
            quiet_hours: QuietHours {
                start_minute: 0,
                end_minute: 0,
            },
            ..Policy::default()
        },
        approval: None,
        after: Vec::new(),
    }
}

fn noon(now: f64) -> Clock {
    Clock::from_parts(now, 12, 0, 0)
}

fn status(json: &str) -> Observation {
    crate::status::parse(json)
}

const PAUSED: &str = r#"{"running":false,"completed":false,"stopReason":"exited"}"#;
const COMPLETED: &str = r#"{"running":false,"completed":true,"progress":{"done":100,"total":100}}"#;

fn running(done: u32) -> String {
    format!(
        r#"{{"running":true,"completed":false,"pid":4242,"progress":{{"done":{done},"total":100}}}}"#
    )
}

/// One tick of a long job: plan automatic resume (assuming `start` exits 0)
/// and decide.
fn tick(job: &Job, obs: &Observation, prev: &JobState, clock: &Clock) -> JobOutcome {
    let note = plan_autorun(job, obs, prev, clock.now).map(|a| match a {
        Autorun::Start => AutorunNote::Started,
        Autorun::Suppressed => AutorunNote::Suppressed,
        Autorun::Blocked => AutorunNote::Blocked,
    });
    decide_job(job, obs, prev, clock, note, None)
}

fn output(ending: Ending, stdout: &str) -> Output {
    Output {
        ending,
        stdout: stdout.into(),
        stderr: String::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration: Duration::from_millis(5),
        limit: Duration::from_secs(300),
    }
}

#[test]
fn first_sight_of_a_running_job_is_reported_with_progress() {
    let out = tick(
        &job(),
        &status(&running(42)),
        &JobState::default(),
        &noon(T0),
    );
    let s = out.section.expect("reported");
    assert_eq!(s.state, StateLine::Running { pid: Some(4242) });
    assert_eq!(s.progress.len(), 2);
    assert_eq!(out.state.last_progress_at, Some(T0));
    assert_eq!(
        out.state.last_progress_key.as_deref(),
        Some(r#"{"done": 42, "total": 100}"#)
    );
    assert!(!s.anomaly && s.actions.is_empty());
}

#[test]
fn stall_is_an_alert_after_stall_seconds_without_progress() {
    let mut j = job();
    j.policy.stall_seconds = 60.0;
    let t1 = tick(&j, &status(&running(7)), &JobState::default(), &noon(T0));
    let t2 = tick(&j, &status(&running(7)), &t1.state, &noon(T0 + 59.0));
    assert!(t2.section.is_none(), "not stalled yet, nothing new");
    let t3 = tick(&j, &status(&running(7)), &t2.state, &noon(T0 + 60.0));
    let s = t3.section.expect("stall reported");
    assert_eq!(s.message, None, "the job's own message: none");
    assert_eq!(s.stall.unwrap().threshold, 60.0);
    assert_eq!(s.stall.unwrap().since, T0);
    assert_eq!(s.actions, vec![Action::Stalled { for_seconds: 60.0 }]);
    assert!(s.anomaly);
    assert!(t3
        .state
        .last_anomaly_key
        .as_deref()
        .unwrap()
        .contains("\"level\": \"alert\""));
    // Progress moves again: the anomaly is cleared.
    let t4 = tick(&j, &status(&running(8)), &t3.state, &noon(T0 + 61.0));
    assert_eq!(t4.state.last_anomaly_key, None);
    assert_eq!(t4.state.last_progress_at, Some(T0 + 61.0));
}

#[test]
fn stall_zero_never_stalls() {
    let mut j = job();
    j.policy.stall_seconds = 0.0;
    let t1 = tick(&j, &status(&running(7)), &JobState::default(), &noon(T0));
    let t2 = tick(&j, &status(&running(7)), &t1.state, &noon(T0 + 1e6));
    assert!(t2.state.last_anomaly_key.is_none());
}

#[test]
fn anomaly_key_matches_python_for_paused_job() {
    let out = tick(&job(), &status(PAUSED), &JobState::default(), &noon(T0));
    assert_eq!(
        out.state.last_anomaly_key.as_deref(),
        Some(
            r#"{"completed": false, "level": null, "message": null, "progressKey": null, "running": false, "stopReason": "exited"}"#
        )
    );
    let s = out.section.unwrap();
    assert!(s.anomaly);
    assert_eq!(s.actions, vec![Action::StartIt]);
}

#[test]
fn same_anomaly_is_reminded_only_after_the_interval() {
    let j = job();
    let t1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    assert!(t1.section.is_some());
    let t2 = tick(&j, &status(PAUSED), &t1.state, &noon(T0 + 60.0));
    assert!(
        t2.section.is_none(),
        "same anomaly within the reminder interval"
    );
    // Reminder after max(900, reportEverySeconds=1800).
    let t3 = tick(&j, &status(PAUSED), &t2.state, &noon(T0 + 1799.0));
    assert!(t3.section.is_none());
    let t4 = tick(&j, &status(PAUSED), &t3.state, &noon(T0 + 1800.0));
    assert!(t4.section.is_some(), "reminder");
    // A different anomaly is reported at once.
    let other = r#"{"running":false,"completed":false,"stopReason":"rate_limited"}"#;
    let t5 = tick(&j, &status(other), &t4.state, &noon(T0 + 1801.0));
    assert!(t5.section.is_some());
}

#[test]
fn completion_is_reported_once() {
    let j = job();
    let t1 = tick(&j, &status(COMPLETED), &JobState::default(), &noon(T0));
    assert_eq!(t1.section.unwrap().state, StateLine::Completed);
    assert_eq!(t1.state.reported_completed, Some(true));
    let t2 = tick(&j, &status(COMPLETED), &t1.state, &noon(T0 + 99_999.0));
    assert!(t2.section.is_none());
}

#[test]
fn quiet_hours_hold_routine_reports_but_not_anomalies() {
    let mut j = job();
    j.policy.quiet_hours = QuietHours {
        start_minute: 23 * 60,
        end_minute: 8 * 60,
    };
    let night = Clock::from_parts(T0, 3, 0, 0);
    let t1 = tick(&j, &status(&running(1)), &JobState::default(), &night);
    assert!(t1.section.is_none(), "routine report held back at 03:00");
    assert!(
        t1.state.last_seen.as_ref().unwrap().running,
        "lastSeen updated"
    );
    let t2 = tick(
        &j,
        &status(PAUSED),
        &t1.state,
        &Clock::from_parts(T0 + 60.0, 23, 30, 0),
    );
    assert!(t2.section.is_some(), "anomaly reported in quiet hours");
    let back = tick(
        &j,
        &status(&running(2)),
        &t2.state,
        &Clock::from_parts(T0 + 90.0, 23, 31, 0),
    );
    let s = back.section.expect("RESOLVED is not held back");
    assert_eq!(s.resolved.unwrap().problem, Problem::Paused);
    let t3 = tick(
        &j,
        &status(COMPLETED),
        &back.state,
        &Clock::from_parts(T0 + 120.0, 7, 59, 0),
    );
    assert_eq!(
        t3.state.last_decision.as_ref().unwrap().rule,
        "quietHours",
        "the rule that held it back is recorded"
    );
    assert_eq!(
        t3.state.last_decision.as_ref().unwrap().until,
        Some(T0 + 120.0 + 60.0)
    );
    assert!(t3.section.is_none(), "completion waits for the morning");
    let t4 = tick(
        &j,
        &status(COMPLETED),
        &t3.state,
        &Clock::from_parts(T0 + 180.0, 8, 0, 0),
    );
    assert!(t4.section.is_some(), "reported after quiet hours");
}

#[test]
fn quiet_hours_wrap_midnight() {
    let q = QuietHours {
        start_minute: 23 * 60,
        end_minute: 8 * 60,
    };
    assert!(q.contains(23 * 60));
    assert!(q.contains(0));
    assert!(q.contains(8 * 60 - 1));
    assert!(!q.contains(8 * 60));
    assert!(!q.contains(12 * 60));
    let day = QuietHours {
        start_minute: 9 * 60,
        end_minute: 17 * 60,
    };
    assert!(day.contains(12 * 60) && !day.contains(18 * 60) && !day.contains(8 * 60));
    let none = QuietHours {
        start_minute: 300,
        end_minute: 300,
    };
    assert!((0..1440).all(|m| !none.contains(m)));
}

#[test]
fn only_on_change_skips_unchanged_progress() {
    let mut j = job();
    j.policy.report_every_seconds = 60.0;
    let t1 = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
    assert!(t1.section.is_some());
    let t2 = tick(&j, &status(&running(1)), &t1.state, &noon(T0 + 120.0));
    assert!(t2.section.is_none(), "no progress since the last report");
    j.policy.only_on_change = false;
    let t3 = tick(&j, &status(&running(1)), &t2.state, &noon(T0 + 120.0));
    assert!(t3.section.is_some(), "onlyOnChange off: the cadence alone");
}

#[test]
fn report_while_running_off_silences_routine_progress() {
    let mut j = job();
    j.policy.report_while_running = false;
    j.policy.report_every_seconds = 0.0;
    let t1 = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
    assert!(t1.section.is_some(), "first sight is a state change");
    let t2 = tick(&j, &status(&running(2)), &t1.state, &noon(T0 + 60.0));
    assert!(t2.section.is_none());
}

#[test]
fn python_defect_progress_changes_flood_the_chat() {
    // A counter that moves every tick is reported once per reportEverySeconds.
    let j = job();
    let mut prev = JobState::default();
    let mut reports = 0;
    for minute in 0..60 {
        let out = tick(
            &j,
            &status(&running(minute)),
            &prev,
            &noon(T0 + 60.0 * minute as f64),
        );
        reports += out.section.is_some() as u32;
        prev = out.state;
    }
    assert_eq!(
        reports, 2,
        "at 0 and 30 minutes with reportEverySeconds=1800"
    );
}

#[test]
fn python_defect_autorun_suppressed_floods_every_tick() {
    let mut j = job();
    j.policy.auto_resume = true;
    let t1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    let s1 = t1.section.expect("start reported");
    assert_eq!(s1.autorun, Some(AutorunNote::Started));
    assert_eq!(t1.state.last_auto_resume_at, Some(T0));
    let mut prev = t1.state;
    for minute in 1..15 {
        let out = tick(&j, &status(PAUSED), &prev, &noon(T0 + 60.0 * minute as f64));
        assert!(
            out.section.is_none(),
            "minute {minute}: suppressed (backoff) must not be reported on its own"
        );
        prev = out.state;
    }
    // After the backoff the job is started again, and that is reported.
    let out = tick(&j, &status(PAUSED), &prev, &noon(T0 + 900.0));
    assert_eq!(out.section.unwrap().autorun, Some(AutorunNote::Started));
}

#[test]
fn suppressed_note_rides_along_a_reported_section() {
    let mut j = job();
    j.policy.auto_resume = true;
    let t1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    let other = r#"{"running":false,"completed":false,"stopReason":"crashed"}"#;
    let t2 = tick(&j, &status(other), &t1.state, &noon(T0 + 60.0));
    assert_eq!(t2.section.unwrap().autorun, Some(AutorunNote::Suppressed));
}

#[test]
/// ops-monitor.py adds `blocked` to every tick of every enabled write-risk job.
fn blocked_is_said_only_when_a_write_risk_job_is_paused() {
    let mut j = job();
    j.risk = Risk::WriteLocal;
    j.policy.auto_resume = true;
    // Running: nothing to resume, so no AUTORUN note at all.
    assert_eq!(
        plan_autorun(&j, &status(&running(1)), &JobState::default(), T0),
        None
    );
    let t1 = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
    assert_eq!(t1.section.unwrap().autorun, None);
    // Paused: blocked, said once with the anomaly, not every tick.
    let t2 = tick(&j, &status(PAUSED), &t1.state, &noon(T0 + 60.0));
    assert_eq!(t2.section.unwrap().autorun, Some(AutorunNote::Blocked));
    let t3 = tick(&j, &status(PAUSED), &t2.state, &noon(T0 + 120.0));
    assert!(t3.section.is_none());
    assert_eq!(t3.state.last_auto_resume_at, None, "never started");
}

#[test]
/// ops-monitor.py saves `lastAutoResumeAt` on a dry run, so the real tick
/// after it refuses to start the job.
fn dry_run_only_records_the_start_and_sets_no_backoff() {
    use crate::runner::{DryRun, Ran, Runner, Which};
    let mut j = job();
    j.policy.auto_resume = true;
    let prev = JobState::default();
    let plan = plan_autorun(&j, &status(PAUSED), &prev, T0);
    assert_eq!(plan, Some(Autorun::Start));
    let dry = DryRun::default();
    let ran = dry.run(&j, Which::Start, crate::runner::START_TIMEOUT);
    assert!(matches!(ran, Ran::Recorded), "a dry run starts nothing");
    assert_eq!(dry.recorded(), vec![("job1".to_string(), Which::Start)]);
    let out = decide_job(
        &j,
        &status(PAUSED),
        &prev,
        &noon(T0),
        Some(AutorunNote::WouldStart),
        None,
    );
    assert_eq!(out.section.unwrap().autorun, Some(AutorunNote::WouldStart));
    assert_eq!(
        out.state.last_auto_resume_at, None,
        "a dry run sets no backoff"
    );
}

#[test]
/// ops-monitor.py treats an unreadable status as paused and starts a second copy.
fn an_unknown_status_never_triggers_a_start() {
    let mut j = job();
    j.policy.auto_resume = true;
    let obs = Observation::Unknown("status exit=1".into());
    assert_eq!(plan_autorun(&j, &obs, &JobState::default(), T0), None);
    let prev = tick(&j, &status(&running(3)), &JobState::default(), &noon(T0)).state;
    let out = tick(&j, &obs, &prev, &noon(T0 + 60.0));
    let s = out.section.expect("unknown is an alert");
    assert_eq!(
        s.state,
        StateLine::Unknown {
            last_known: Some("running")
        }
    );
    assert_eq!(
        s.actions,
        vec![Action::Unknown {
            reason: "status exit=1".into()
        }]
    );
    let seen = out.state.last_seen.as_ref().unwrap();
    assert!(seen.running, "lastSeen keeps the last known state");
    assert!(seen.unknown);
    // Recovery is a change and is reported.
    let back = tick(&j, &status(&running(3)), &out.state, &noon(T0 + 120.0));
    assert!(back.section.is_some());
    assert!(!back.state.last_seen.unwrap().unknown);
}

#[test]
fn autorun_respects_backoff_and_risk() {
    let mut j = job();
    j.policy.auto_resume = true;
    j.policy.auto_resume_backoff_seconds = 100.0;
    let prev = JobState {
        last_auto_resume_at: Some(T0),
        ..JobState::default()
    };
    let p = status(PAUSED);
    assert_eq!(
        plan_autorun(&j, &p, &prev, T0 + 99.0),
        Some(Autorun::Suppressed)
    );
    assert_eq!(
        plan_autorun(&j, &p, &prev, T0 + 100.0),
        Some(Autorun::Start)
    );
    j.policy.auto_resume = false;
    assert_eq!(plan_autorun(&j, &p, &prev, T0 + 100.0), None);
    j.policy.auto_resume = true;
    j.risk = Risk::WriteExternal;
    assert_eq!(
        plan_autorun(&j, &p, &prev, T0 + 100.0),
        Some(Autorun::Blocked)
    );
    assert_eq!(
        plan_autorun(&j, &status(COMPLETED), &prev, T0 + 100.0),
        None
    );
}

#[test]
fn failed_start_is_reported_and_sets_backoff() {
    let mut j = job();
    j.policy.auto_resume = true;
    let out = decide_job(
        &j,
        &status(PAUSED),
        &JobState::default(),
        &noon(T0),
        Some(AutorunNote::StartFailed(7)),
        None,
    );
    assert_eq!(
        out.section.unwrap().autorun,
        Some(AutorunNote::StartFailed(7))
    );
    assert_eq!(out.state.last_auto_resume_at, Some(T0));
}

#[test]
fn level_change_is_reported_once_and_alert_is_an_anomaly() {
    let j = job();
    let warn = r#"{"running":true,"completed":false,"level":"warn","message":"slow"}"#;
    let t1 = tick(&j, &status(warn), &JobState::default(), &noon(T0));
    let t2 = tick(&j, &status(warn), &t1.state, &noon(T0 + 60.0));
    assert!(t2.section.is_none());
    let ok = r#"{"running":true,"completed":false,"level":"ok"}"#;
    let t3 = tick(&j, &status(ok), &t2.state, &noon(T0 + 120.0));
    assert!(t3.section.is_some(), "back to ok is reported");
    let alert = r#"{"running":true,"completed":false,"level":"alert","message":"disk full"}"#;
    let t4 = tick(&j, &status(alert), &t3.state, &noon(T0 + 180.0));
    let s = t4.section.unwrap();
    assert_eq!(
        s.actions,
        vec![Action::Alert {
            message: Some("disk full".into())
        }]
    );
    assert_eq!(s.level, Some(crate::status::Level::Alert));
    assert!(t4.state.last_anomaly_key.is_some());
}

#[test]
fn silence_holds_back_even_anomalies_until_it_ends() {
    let j = job();
    let t1 = decide_job(
        &j,
        &status(PAUSED),
        &JobState::default(),
        &noon(T0),
        None,
        Some(T0 + 30.0),
    );
    assert!(t1.section.is_none());
    assert!(
        t1.state.last_anomaly_key.is_none(),
        "not marked as reported"
    );
    let t2 = tick(&j, &status(PAUSED), &t1.state, &noon(T0 + 60.0));
    assert!(t2.section.is_some(), "reported once the silence is over");
}

/// The Python way (`progress_first_six_keys` in the reference corpus): the
/// first 6 keys in sorted order, then the non-scalars among them left out.
#[test]
fn progress_shows_the_scalars_among_the_first_six_keys() {
    let p = r#"{"running":true,"completed":false,"progress":{"h":1,"g":2,"f":3,"e":4,"d":5,"c":6,"b":{"x":1},"a":[1]}}"#;
    let s = tick(&job(), &status(p), &JobState::default(), &noon(T0))
        .section
        .unwrap();
    let keys: Vec<&str> = s.progress.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["c", "d", "e", "f"]);
}

fn read_job(id: &str) -> Job {
    let mut j = job();
    j.id = id.into();
    j.name = format!("Check {id}");
    j.kind = Kind::OneShotRead;
    j.commands.clear();
    j.commands.insert("run".into(), vec!["true".into()]);
    j
}

fn item(job_id: &str) -> QueueItem {
    QueueItem::new(job_id, T0, T0 + 10.0, "test".into())
}

#[test]
fn queue_verdicts() {
    let mut write = read_job("w");
    write.kind = Kind::OneShotWrite;
    let mut risky_read = read_job("r2");
    risky_read.risk = Risk::WriteLocal;
    let jobs = vec![read_job("r"), write, risky_read, job()];
    assert!(matches!(
        queue_verdict(&item("r"), &jobs),
        QueueVerdict::Run(_)
    ));
    assert!(matches!(
        queue_verdict(&item("w"), &jobs),
        QueueVerdict::Blocked(_)
    ));
    assert!(matches!(
        queue_verdict(&item("r2"), &jobs),
        QueueVerdict::Blocked(_)
    ));
    assert!(matches!(
        queue_verdict(&item("job1"), &jobs),
        QueueVerdict::Blocked(_)
    ));
    assert_eq!(queue_verdict(&item("gone"), &jobs), QueueVerdict::Missing);

    let mut it = item("gone");
    let s = queue_refuse(&mut it, &QueueVerdict::Missing);
    assert_eq!(it.status, QueueStatus::Blocked);
    assert_eq!(
        s,
        Section::QueueMissing {
            job_id: "gone".into()
        }
    );
}

#[test]
fn queue_not_before_and_status() {
    let mut it = item("r");
    assert!(!queue_due(&it, T0 + 9.0));
    assert!(queue_due(&it, T0 + 10.0));
    it.status = QueueStatus::Running;
    assert!(
        queue_due(&it, T0 + 10.0),
        "left behind by a crashed tick: run again"
    );
    it.status = QueueStatus::Done;
    assert!(!queue_due(&it, T0 + 10.0));
}

#[test]
fn queue_results() {
    let j = read_job("r");
    let mut it = item("r");
    assert_eq!(
        queue_finish(&mut it, &j, &output(Ending::Exited(0), "all fine"), T0),
        None
    );
    assert_eq!(it.status, QueueStatus::Done);
    assert_eq!(it.attempt, 1);

    let mut it = item("r");
    let s = queue_finish(
        &mut it,
        &j,
        &output(Ending::Exited(0), "ALERT: 3 files differ"),
        T0,
    );
    assert!(
        matches!(s, Some(Section::QueueOutput { ref output, .. }) if output.stdout == "ALERT: 3 files differ")
    );

    let mut it = item("r");
    let s = queue_finish(&mut it, &j, &output(Ending::Exited(2), ""), T0);
    assert_eq!(it.status, QueueStatus::Failed);
    assert!(matches!(s, Some(Section::QueueFailed { exit: 2, .. })));
}

#[test]
fn scheduled_check_is_due_by_every_seconds() {
    let mut j = read_job("c");
    assert!(!check_due(&j, &JobState::default(), T0), "no everySeconds");
    j.policy.every_seconds = Some(300.0);
    assert!(check_due(&j, &JobState::default(), T0), "never ran");
    let ran = JobState {
        last_run_at: Some(T0),
        ..JobState::default()
    };
    assert!(!check_due(&j, &ran, T0 + 299.0));
    assert!(check_due(&j, &ran, T0 + 300.0));
    j.enabled = false;
    assert!(!check_due(&j, &ran, T0 + 300.0));
}

#[test]
fn scheduled_check_reports_failure_reminder_and_recovery() {
    let j = read_job("c");
    let fail = output(Ending::Exited(2), "CRITICAL: disk 97%");
    let (s1, r1) = decide_check(&j, &JobState::default(), &fail, T0, None, None);
    assert!(matches!(
        r1,
        Some(Section::Check {
            result: CheckResult::Exit(2),
            ..
        })
    ));
    let (s2, r2) = decide_check(&j, &s1, &fail, T0 + 300.0, None, None);
    assert!(r2.is_none(), "same failure within the reminder interval");
    let (s3, r3) = decide_check(&j, &s2, &fail, T0 + 1800.0, None, None);
    assert!(r3.is_some(), "reminder");
    let (s4, r4) = decide_check(
        &j,
        &s3,
        &output(Ending::Exited(0), "ok"),
        T0 + 2100.0,
        None,
        None,
    );
    assert!(matches!(
        r4,
        Some(Section::Check {
            result: CheckResult::Recovered {
                after: Some(2100.0)
            },
            ..
        })
    ));
    let (_, r5) = decide_check(
        &j,
        &s4,
        &output(Ending::Exited(0), "ok"),
        T0 + 2400.0,
        None,
        None,
    );
    assert!(r5.is_none(), "recovery is reported once");
    let (_, r6) = decide_check(
        &j,
        &s4,
        &output(Ending::Exited(0), "ALERT: cert expires"),
        T0,
        None,
        None,
    );
    assert!(matches!(
        r6,
        Some(Section::Check {
            result: CheckResult::Attention,
            ..
        })
    ));
}

fn rule(out: &JobOutcome) -> (&str, bool, Option<f64>) {
    let d = out.state.last_decision.as_ref().expect("a decision");
    (d.rule.as_str(), d.reported, d.until)
}

#[test]
fn every_problem_is_resolved_once_with_its_duration() {
    let mut j = job();
    j.policy.stall_seconds = 60.0;
    let alert = r#"{"running":true,"completed":false,"level":"alert","message":"disk 99%"}"#;
    let unknown = Observation::Unknown("status exit=1".into());
    let cases: Vec<(Observation, Problem)> = vec![
        (status(PAUSED), Problem::Paused),
        (status(alert), Problem::LevelAlert),
        (unknown, Problem::Unknown),
    ];
    for (bad, problem) in cases {
        let t0 = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
        let t1 = tick(&j, &bad, &t0.state, &noon(T0 + 60.0));
        assert!(t1.section.is_some(), "{problem:?} reported");
        assert_eq!(t1.state.problem.as_ref().unwrap().kind, problem.as_str());
        let t2 = tick(&j, &status(&running(2)), &t1.state, &noon(T0 + 660.0));
        let s = t2.section.clone().expect("RESOLVED reported");
        assert_eq!(
            s.resolved,
            Some(Resolved {
                problem,
                after: Some(600.0)
            }),
            "{problem:?}"
        );
        assert_eq!(rule(&t2).0, "resolved");
        assert!(t2.state.problem.is_none() && t2.state.last_anomaly_key.is_none());
        let t3 = tick(&j, &status(&running(3)), &t2.state, &noon(T0 + 700.0));
        assert!(t3.section.is_none(), "{problem:?}: said once");
    }
    // A stall: resolved by progress, after the time without it.
    let t0 = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
    let t1 = tick(&j, &status(&running(1)), &t0.state, &noon(T0 + 60.0));
    assert_eq!(t1.section.unwrap().stall.unwrap().for_seconds, 60.0);
    let t2 = tick(&j, &status(&running(2)), &t1.state, &noon(T0 + 90.0));
    assert_eq!(
        t2.section.unwrap().resolved,
        Some(Resolved {
            problem: Problem::Stalled,
            after: Some(90.0)
        })
    );
}

#[test]
fn a_reminder_says_how_long_the_problem_has_lasted() {
    let j = job();
    let t1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    assert_eq!(
        t1.section.as_ref().unwrap().reminder,
        None,
        "new, not a reminder"
    );
    assert_eq!(rule(&t1), ("problem", true, None));
    let t2 = tick(&j, &status(PAUSED), &t1.state, &noon(T0 + 60.0));
    assert_eq!(rule(&t2), ("reminderNotDue", false, Some(T0 + 1800.0)));
    let t3 = tick(&j, &status(PAUSED), &t2.state, &noon(T0 + 1800.0));
    assert_eq!(t3.section.as_ref().unwrap().reminder, Some(1800.0));
    assert_eq!(rule(&t3).0, "reminder");
}

#[test]
fn a_silenced_resolution_is_said_when_the_silence_ends() {
    let j = job();
    let t1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    let t2 = decide_job(
        &j,
        &status(&running(1)),
        &t1.state,
        &noon(T0 + 60.0),
        None,
        Some(T0 + 600.0),
    );
    assert!(t2.section.is_none());
    assert_eq!(rule(&t2), ("silence", false, Some(T0 + 600.0)));
    let t3 = tick(&j, &status(&running(1)), &t2.state, &noon(T0 + 600.0));
    let s = t3.section.expect("said after the silence");
    assert_eq!(s.resolved.unwrap().problem, Problem::Paused);
}

#[test]
fn a_held_job_is_not_started_and_its_pause_is_no_problem() {
    let mut j = job();
    j.policy.auto_resume = true;
    let t1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    assert!(t1.section.unwrap().anomaly);
    let mut held = t1.state.clone();
    held.hold = Some(crate::state::Hold {
        at: T0 + 30.0,
        by: "alice".into(),
        extra: Default::default(),
    });
    assert_eq!(
        plan_autorun(&j, &status(PAUSED), &held, T0 + 1e6),
        None,
        "never started while held"
    );
    let t2 = tick(&j, &status(PAUSED), &held, &noon(T0 + 60.0));
    assert!(t2.section.is_none(), "not RESOLVED: the hold ended it");
    assert_eq!(rule(&t2), ("hold", false, None));
    assert!(t2.state.last_anomaly_key.is_none() && t2.state.problem.is_none());
    // Stopped while running: the change is reported once, held.
    let run = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
    let mut held = run.state;
    held.hold = t2.state.hold.clone();
    let t3 = tick(&j, &status(PAUSED), &held, &noon(T0 + 60.0));
    let s = t3.section.unwrap();
    assert_eq!(s.state, StateLine::Held { since: T0 + 30.0 });
    assert!(s.actions.is_empty() && !s.anomaly && s.autorun.is_none());
}

#[test]
fn held_back_rules_say_until_when() {
    let mut j = job();
    j.policy.report_every_seconds = 600.0;
    let t1 = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
    assert_eq!(rule(&t1), ("stateChange", true, None));
    let t2 = tick(&j, &status(&running(2)), &t1.state, &noon(T0 + 60.0));
    assert_eq!(rule(&t2), ("cadenceNotDue", false, Some(T0 + 600.0)));
    let t3 = tick(&j, &status(&running(3)), &t2.state, &noon(T0 + 600.0));
    assert_eq!(rule(&t3), ("progress", true, None));
    let t4 = tick(&j, &status(&running(3)), &t3.state, &noon(T0 + 1200.0));
    assert_eq!(rule(&t4), ("onlyOnChange", false, None));
    j.policy.report_while_running = false;
    let t5 = tick(&j, &status(&running(4)), &t4.state, &noon(T0 + 1800.0));
    assert_eq!(rule(&t5), ("reportWhileRunningOff", false, None));
    // Backoff: a paused job between two automatic starts.
    j.policy.auto_resume = true;
    let p1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    assert_eq!(rule(&p1), ("problem", true, None));
    let p2 = tick(&j, &status(PAUSED), &p1.state, &noon(T0 + 60.0));
    assert_eq!(rule(&p2), ("backoff", false, Some(T0 + 900.0)));
}

#[test]
fn a_failed_start_gives_its_last_three_stderr_lines() {
    let mut j = job();
    j.policy.auto_resume = true;
    let prev = JobState {
        last_start: Some(Box::new(crate::state::RunRecord {
            exit_code: Some(1),
            stdout_tail: "progress 1\nprogress 2".into(),
            stderr_tail: "a\n\nb\nc\nd\n".into(),
            ..Default::default()
        })),
        ..JobState::default()
    };
    let out = decide_job(
        &j,
        &status(PAUSED),
        &prev,
        &noon(T0),
        Some(AutorunNote::StartFailed(1)),
        None,
    );
    assert_eq!(
        out.section.unwrap().actions,
        vec![Action::StartFailed {
            reason: "b / c / d".into()
        }]
    );
}

#[test]
fn time_while_paused_is_not_a_stall() {
    let mut j = job();
    j.policy.stall_seconds = 60.0;
    let t1 = tick(&j, &status(&running(5)), &JobState::default(), &noon(T0));
    let t2 = tick(&j, &status(PAUSED), &t1.state, &noon(T0 + 30.0));
    // Back with the same progress an hour later: not stalled, the clock restarts.
    let t3 = tick(&j, &status(&running(5)), &t2.state, &noon(T0 + 3600.0));
    assert!(t3.section.unwrap().stall.is_none());
    assert_eq!(t3.state.last_progress_at, Some(T0 + 3600.0));
    let t4 = tick(&j, &status(&running(5)), &t3.state, &noon(T0 + 3660.0));
    assert!(t4.section.unwrap().stall.is_some());
}

#[test]
fn a_python_state_names_its_problem_by_its_anomaly_key() {
    let st = |key: &str| JobState {
        last_anomaly_key: Some(key.to_string()),
        ..JobState::default()
    };
    assert_eq!(
        problem_of(&st(
            r#"{"completed": false, "level": null, "message": null, "progressKey": null, "running": false, "stopReason": "exited"}"#
        )),
        Some(Problem::Paused)
    );
    assert_eq!(
        problem_of(&st(
            r#"{"completed": false, "level": "alert", "message": "stalled >= 1s", "progressKey": "{\"done\": 7}", "running": true, "stopReason": null}"#
        )),
        Some(Problem::Stalled)
    );
    assert_eq!(problem_of(&JobState::default()), None);
}

#[test]
fn verifications_are_reported_once_a_pass_after_quiet_hours() {
    let mut write = read_job("apply");
    write.kind = Kind::OneShotWrite;
    let mut it = item("verify");
    it.verifies = Some("apply".into());
    let v = read_job("verify");
    assert_eq!(
        verification_of(&it, std::slice::from_ref(&write)).map(|w| w.id.as_str()),
        Some("apply")
    );
    assert_eq!(
        queue_finish(&mut it, &v, &output(Ending::Exited(0), "ok"), T0),
        None
    );
    assert_eq!(verification_report(&mut it, &write, true, false, T0), None);
    assert_eq!(verification_report(&mut it, &write, false, true, T0), None);
    let s = verification_report(&mut it, &write, false, false, T0).unwrap();
    assert!(matches!(s, Section::Verification { failure: None, .. }));
    assert!(!s.is_alert());
    assert_eq!(verification_report(&mut it, &write, false, false, T0), None);
    // A failure is said at once, quiet hours or not.
    let mut it = item("verify");
    it.verifies = Some("apply".into());
    queue_finish(&mut it, &v, &output(Ending::Exited(2), ""), T0);
    let s = verification_report(&mut it, &write, true, false, T0).unwrap();
    assert!(matches!(s, Section::Verification { failure: Some(ref f), .. } if f == "exit=2"));
    assert!(s.is_alert());
    // An item queued by an earlier version is known by its reason.
    let old = QueueItem::new("verify", T0, T0, "after apply (success)".into());
    assert!(verification_of(&old, std::slice::from_ref(&write)).is_some());
}

#[test]
fn anomaly_keys_compare_with_digits_and_levels_normalised() {
    let a = r#"{"completed": null, "level": "alert", "message": "error at 17:05:09 (try 3)", "progressKey": null, "running": null, "stopReason": "unknown"}"#;
    let b = r#"{"completed": null, "level": "ERROR", "message": "error at 17:06:10 (try 4)", "progressKey": null, "running": null, "stopReason": "unknown"}"#;
    assert_eq!(normalised_key(a), normalised_key(b));
    let c = r#"{"completed": null, "level": "alert", "message": "disk full", "progressKey": null, "running": null, "stopReason": "unknown"}"#;
    assert_ne!(normalised_key(a), normalised_key(c));
    assert_eq!(digits_as_hash("a12b3"), "a#b#");
    assert_eq!(level_word("Warning"), "warn");
    assert_eq!(level_word("info"), "ok");
}

#[test]
fn a_check_warning_waits_for_the_end_of_quiet_hours_a_critical_does_not() {
    let j = read_job("c");
    let warn = output(Ending::Exited(1), "DISK WARNING - / 85% used");
    let night = Some(T0 + 3600.0);
    let (s1, r1) = decide_check(&j, &JobState::default(), &warn, T0, None, night);
    assert!(r1.is_none(), "held back at night");
    assert_eq!(s1.last_decision.as_ref().unwrap().rule, "quietHours");
    assert_eq!(s1.last_decision.as_ref().unwrap().until, night);
    let (_, r2) = decide_check(&j, &s1, &warn, T0 + 3600.0, None, None);
    assert!(r2.is_some(), "the first run after the window reports it");
    let crit = output(Ending::Exited(2), "DISK CRITICAL - / 97% used");
    let (_, r3) = decide_check(&j, &JobState::default(), &crit, T0, None, night);
    assert!(r3.is_some(), "a critical is never held back by quiet hours");
}

#[test]
fn no_automatic_start_while_a_start_by_hand_is_under_way() {
    let mut j = job();
    j.policy.auto_resume = true;
    let prev = JobState {
        start_in_progress: Some(crate::state::InProgress {
            at: T0,
            limit: 60.0,
            pid: Some(1234),
            extra: Default::default(),
        }),
        ..JobState::default()
    };
    assert_eq!(plan_autorun(&j, &status(PAUSED), &prev, T0 + 30.0), None);
    assert_eq!(
        plan_autorun(&j, &status(PAUSED), &prev, T0 + 66.0),
        Some(Autorun::Start),
        "a start that never recorded its end counts until its limit"
    );
}

#[test]
fn quiet_hours_are_the_rule_for_routine_reports_at_night() {
    let mut j = job();
    j.policy.quiet_hours = QuietHours {
        start_minute: 23 * 60,
        end_minute: 8 * 60,
    };
    let day = tick(&j, &status(&running(1)), &JobState::default(), &noon(T0));
    let night = Clock::from_parts(T0 + 60.0, 3, 0, 0);
    let t = tick(&j, &status(&running(1)), &day.state, &night);
    assert_eq!(
        rule(&t),
        ("quietHours", false, Some(T0 + 60.0 + 5.0 * 3600.0))
    );
}

#[test]
fn a_pause_that_automatic_resume_handled_ends_without_resolved() {
    let mut j = job();
    j.policy.auto_resume = true;
    let t1 = tick(&j, &status(PAUSED), &JobState::default(), &noon(T0));
    let s1 = t1.section.clone().unwrap();
    assert!(s1.actions.is_empty(), "AUTORUN: started asks for nothing");
    let t2 = tick(&j, &status(&running(1)), &t1.state, &noon(T0 + 60.0));
    let s2 = t2.section.clone().expect("the change of state");
    assert_eq!(s2.resolved, None);
    assert_eq!(rule(&t2).0, "stateChange");
    assert!(t2.state.last_anomaly_key.is_none() && t2.state.problem.is_none());
}
