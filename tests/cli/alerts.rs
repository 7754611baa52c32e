//! Alerts a person can act on at 3 a.m. (SPEC §5.1–§5.6, §9, §11), through
//! the binary with the clock moved: each problem's exact English section,
//! RESOLVED after it, reminders with their duration, a failed start's
//! stderr, verifications, held jobs, `explain`, `status`.

use serde_json::{json, Value};

use crate::util::{config_with, TestEnv, NOON};
use testkit::Server;

const RUNNING: &str = r#"{"running":true,"completed":false,"pid":4242,"message":"scanning /photos","progress":{"scannedDirs":2900,"pendingDirs":80}}"#;

/// One long job `j` whose status prints `status.json`; its start command
/// runs `start.sh`'s body (default: log it and write `RUNNING`).
fn env_with(policy: Value, start_body: &str) -> TestEnv {
    let env = TestEnv::new();
    let status = env.script("status.sh", "cat status.json");
    let start = env.script("start.sh", start_body);
    let stop = env.script(
        "stop.sh",
        r#"echo stopping; echo '{"running":false,"completed":false,"stopReason":"stopped"}' > status.json"#,
    );
    env.config(&config_with(json!([{
        "id": "j", "name": "Job j", "kind": "long_running_read", "risk": "read_only",
        "enabled": true, "policy": policy,
        "commands": {"start": [start], "status": [status], "stop": [stop]},
    }])));
    env
}

fn default_start() -> String {
    format!("echo started >> starts.log; echo '{RUNNING}' > status.json")
}

fn set_status(env: &TestEnv, status: &str) {
    env.write("status.json", status);
}

/// `tick --print-only` at `now`, exit 0; its stdout.
fn tick_at(env: &mut TestEnv, now: f64) -> String {
    env.at(now);
    let run = env.tick();
    run.code(0);
    run.stdout
}

#[test]
fn stalled_with_its_own_message_then_reminded_then_resolved() {
    let mut env = env_with(json!({"stallSeconds": 600}), &default_start());
    set_status(&env, RUNNING);
    assert_eq!(
        tick_at(&mut env, NOON),
        "🛠️ Ops report (12:00:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242)\n- message: scanning /photos\n- progress: pendingDirs=80 | scannedDirs=2900\n"
    );
    assert_eq!(tick_at(&mut env, NOON + 599.0), "", "not stalled yet");
    assert_eq!(
        tick_at(&mut env, NOON + 7800.0),
        "🚨 Ops alert (14:10:00)\n\n• Job j (j, long_running_read)\n- state: stalled — running (pid=4242), no progress for 2h 10m (since 12:00)\n- message: scanning /photos\n- progress: pendingDirs=80 | scannedDirs=2900\n- ACTION REQUIRED: no progress for 2h 10m — look at the job (ops-monitor logs j)\n"
    );
    assert_eq!(tick_at(&mut env, NOON + 7860.0), "", "said once");
    // The reminder after max(900 s, reportEverySeconds = 1800 s).
    assert_eq!(
        tick_at(&mut env, NOON + 9600.0),
        "🚨 Ops alert (14:40:00)\n\n• Job j (j, long_running_read)\n- state: stalled — running (pid=4242), no progress for 2h 40m (since 12:00)\n- message: scanning /photos\n- progress: pendingDirs=80 | scannedDirs=2900\n- ACTION REQUIRED: no progress for 2h 40m — look at the job (ops-monitor logs j), still, for 2h 40m\n"
    );
    set_status(&env, &RUNNING.replace("2900", "2901"));
    assert_eq!(
        tick_at(&mut env, NOON + 11700.0),
        "🚨 Ops alert (15:15:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242)\n- message: scanning /photos\n- progress: pendingDirs=80 | scannedDirs=2901\n- RESOLVED: stalled, after 3h 15m\n"
    );
    assert_eq!(
        tick_at(&mut env, NOON + 11760.0),
        "",
        "RESOLVED is said once"
    );
}

#[test]
fn paused_with_autoresume_off_reminded_with_its_duration_then_resolved() {
    let mut env = env_with(json!({}), &default_start());
    set_status(
        &env,
        r#"{"running":false,"completed":false,"stopReason":"rate_limited"}"#,
    );
    assert_eq!(
        tick_at(&mut env, NOON),
        "🚨 Ops alert (12:00:00)\n\n• Job j (j, long_running_read)\n- state: paused (stopReason=rate_limited)\n- ACTION REQUIRED: paused — start it (ops-monitor start j) or enable autoResume\n"
    );
    assert_eq!(tick_at(&mut env, NOON + 900.0), "");
    assert_eq!(
        tick_at(&mut env, NOON + 1800.0),
        "🚨 Ops alert (12:30:00)\n\n• Job j (j, long_running_read)\n- state: paused (stopReason=rate_limited)\n- ACTION REQUIRED: paused — start it (ops-monitor start j) or enable autoResume, still, for 30m\n"
    );
    set_status(&env, r#"{"running":true,"completed":false,"pid":77}"#);
    assert_eq!(
        tick_at(&mut env, NOON + 2100.0),
        "🚨 Ops alert (12:35:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=77)\n- RESOLVED: paused, after 35m\n"
    );
    assert_eq!(env.read("starts.log"), "", "autoResume is off");
}

#[test]
fn paused_started_now_then_inside_the_backoff_then_resolved() {
    let mut env = env_with(
        json!({"autoResume": true, "autoResumeBackoffSeconds": 3600}),
        // The start "works" but the job stays paused.
        "echo started >> starts.log",
    );
    let paused = r#"{"running":false,"completed":false,"stopReason":"exited"}"#;
    set_status(&env, paused);
    assert_eq!(
        tick_at(&mut env, NOON),
        "🛠️ Ops report (12:00:00)\n\n• Job j (j, long_running_read)\n- state: paused (stopReason=exited)\n- AUTORUN: started\n"
    );
    assert_eq!(
        tick_at(&mut env, NOON + 60.0),
        "",
        "nothing new in the backoff"
    );
    assert_eq!(
        tick_at(&mut env, NOON + 1800.0),
        "🚨 Ops alert (12:30:00)\n\n• Job j (j, long_running_read)\n- state: paused (stopReason=exited)\n- ACTION REQUIRED: paused — next automatic start after 13:00, still, for 30m\n- AUTORUN: suppressed (backoff)\n"
    );
    assert_eq!(env.read("starts.log"), "started\n");
    set_status(&env, r#"{"running":true,"completed":false}"#);
    assert_eq!(
        tick_at(&mut env, NOON + 2000.0),
        "🚨 Ops alert (12:33:20)\n\n• Job j (j, long_running_read)\n- state: running\n- RESOLVED: paused, after 33m 20s\n"
    );
}

#[test]
fn a_failed_automatic_start_says_why_from_its_stderr() {
    let mut env = env_with(
        json!({"autoResume": true}),
        "echo 'connecting to the drive'; echo 'warming up' >&2; echo 'error: token expired' >&2; echo 'hint: run login' >&2; echo 'giving up' >&2; exit 1",
    );
    set_status(
        &env,
        r#"{"running":false,"completed":false,"stopReason":"exited"}"#,
    );
    assert_eq!(
        tick_at(&mut env, NOON),
        "🚨 Ops alert (12:00:00)\n\n• Job j (j, long_running_read)\n- state: paused (stopReason=exited)\n- ALERT: automatic start failed — error: token expired / hint: run login / giving up (more: ops-monitor logs j)\n- AUTORUN: start failed (exit=1)\n"
    );
    // `logs` shows that start, with its time, although nobody started it by hand.
    let logs = env.run(&["logs", "j"]);
    logs.code(0)
        .stdout_has("== last start: 2026-11-21 12:00:00 (automatic, by tick)\nexit=1 durMs=")
        .stdout_has("stderr:\nwarming up\nerror: token expired\nhint: run login\ngiving up");
}

#[test]
fn unknown_status_then_readable_again() {
    let mut env = env_with(json!({}), &default_start());
    env.script(
        "status.sh",
        "if [ -f broken ]; then echo 'status: disk /data gone' >&2; exit 1; fi; cat status.json",
    );
    set_status(&env, r#"{"running":true,"completed":false,"pid":4242}"#);
    tick_at(&mut env, NOON);
    env.write("broken", "");
    assert_eq!(
        tick_at(&mut env, NOON + 60.0),
        "🚨 Ops alert (12:01:00)\n\n• Job j (j, long_running_read)\n- state: unknown (last known: running)\n- ALERT: status unknown — status: disk /data gone\n"
    );
    std::fs::remove_file(env.path("broken")).unwrap();
    assert_eq!(
        tick_at(&mut env, NOON + 360.0),
        "🚨 Ops alert (12:06:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242)\n- RESOLVED: status unknown, after 5m\n"
    );
}

#[test]
fn level_alert_then_back_to_ok() {
    let mut env = env_with(json!({}), &default_start());
    set_status(
        &env,
        r#"{"running":true,"completed":false,"pid":4242,"level":"alert","message":"disk full"}"#,
    );
    assert_eq!(
        tick_at(&mut env, NOON),
        "🚨 Ops alert (12:00:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242) [alert]\n- ALERT: disk full\n"
    );
    set_status(
        &env,
        r#"{"running":true,"completed":false,"pid":4242,"level":"ok"}"#,
    );
    assert_eq!(
        tick_at(&mut env, NOON + 600.0),
        "🚨 Ops alert (12:10:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242)\n- RESOLVED: level alert, after 10m\n"
    );
    // A warning is a change reported once, without an alert.
    set_status(
        &env,
        r#"{"running":true,"completed":false,"pid":4242,"level":"warn","message":"slow"}"#,
    );
    assert_eq!(
        tick_at(&mut env, NOON + 660.0),
        "🛠️ Ops report (12:11:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242) [warn]\n- message: slow\n"
    );
}

#[test]
fn autoresume_of_a_write_risk_job_asks_for_a_start_by_hand() {
    let mut env = env_with(json!({"autoResume": true}), &default_start());
    let mut cfg: Value = serde_json::from_str(&env.read("ops-jobs.json")).unwrap();
    cfg["jobs"][0]["risk"] = json!("write_local");
    env.config(&cfg);
    set_status(&env, r#"{"running":false,"completed":false}"#);
    assert_eq!(
        tick_at(&mut env, NOON),
        "🚨 Ops alert (12:00:00)\n\n• Job j (j, long_running_read)\n- state: paused\n- ACTION REQUIRED: paused — start it by hand (ops-monitor start j --allow-risk): automatic starts are for read_only jobs\n- AUTORUN: blocked (risk != read_only)\n"
    );
    assert_eq!(env.read("starts.log"), "");
}

#[test]
fn chinese_uses_python_wording_and_the_english_new_lines() {
    let mut env = env_with(json!({}), &default_start());
    set_status(&env, r#"{"running":false,"completed":false}"#);
    env.at(NOON);
    env.run(&["tick", "--print-only", "--lang", "zh"]).code(0);
    set_status(&env, r#"{"running":true,"completed":false,"pid":5}"#);
    env.at(NOON + 120.0);
    let run = env.run(&["tick", "--print-only", "--lang", "zh"]);
    assert_eq!(
        run.stdout,
        "🛠️ Ops 快报（12:02:00）\n\n• Job j (j, long_running_read)\n- 状态: running (pid=5)\n- RESOLVED: paused, after 2m\n"
    );
}

#[test]
fn a_held_job_is_never_started_until_start_releases_it() {
    let mut env = env_with(json!({"autoResume": true}), &default_start());
    set_status(
        &env,
        r#"{"running":false,"completed":false,"stopReason":"crashed"}"#,
    );
    // Reported as a problem and started; then seen running.
    tick_at(&mut env, NOON);
    assert_eq!(env.read("starts.log"), "started\n");
    // A pause automatic resume handled asked nobody for anything: its end is
    // a change of state, not a RESOLVED alert.
    assert_eq!(
        tick_at(&mut env, NOON + 30.0),
        "🛠️ Ops report (12:00:30)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242)\n- message: scanning /photos\n- progress: pendingDirs=80 | scannedDirs=2900\n"
    );
    // A person stops it: held from the first phase on.
    env.at(NOON + 60.0);
    env.run(&["stop", "j"])
        .code(0)
        .stdout_has("stop j: held — tick will not start it until `ops-monitor start j`");
    let st = env.state();
    assert_eq!(st["jobs"]["j"]["hold"]["at"], NOON + 60.0);
    // Paused by hand: said once, not a problem, not RESOLVED, not started.
    assert_eq!(
        tick_at(&mut env, NOON + 120.0),
        "🛠️ Ops report (12:02:00)\n\n• Job j (j, long_running_read)\n- state: stopped by hand (since 12:01)\n"
    );
    for minutes in [30.0, 60.0, 120.0, 600.0] {
        assert_eq!(tick_at(&mut env, NOON + minutes * 60.0), "");
    }
    assert_eq!(
        env.read("starts.log"),
        "started\n",
        "never started while held"
    );
    assert_eq!(
        env.run(&["status"]).status_line("j"),
        "held j stopped by hand since 12:01 by ".to_string()
            + &login()
            + "; paused; stopReason=stopped"
    );
    env.at(NOON + 36_060.0);
    env.run(&["explain", "j"]).code(0).stdout_has(&format!(
        "- stopped by hand since 12:01 by {}: never started automatically, and paused is not a problem (ops-monitor start j releases it)",
        login()
    ));
    // `start` releases the hold; tick watches it as usual again.
    env.run(&["start", "j"])
        .code(0)
        .stdout_has("start j: released the hold");
    assert!(env.state()["jobs"]["j"].get("hold").is_none());
    assert_eq!(env.read("starts.log"), "started\nstarted\n");
    assert!(tick_at(&mut env, NOON + 36_120.0).contains("- state: running (pid=4242)"));
}

#[test]
fn a_failed_start_still_releases_the_hold() {
    let env = env_with(json!({"autoResume": true}), "echo nope >&2; exit 3");
    set_status(&env, r#"{"running":false,"completed":false}"#);
    env.run(&["stop", "j"]).code(0);
    assert!(env.state()["jobs"]["j"]["hold"].is_object());
    env.run(&["start", "j"])
        .code(1)
        .stdout_has("released the hold");
    assert!(env.state()["jobs"]["j"].get("hold").is_none());
}

/// The login name `approve` and `stop` record without `$USER`.
fn login() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn verify_env(verify_body: &str) -> TestEnv {
    let env = TestEnv::new();
    let verify = env.script("verify.sh", verify_body);
    let write = env.script("write.sh", "echo wrote >> write.log");
    env.config(&config_with(json!([
        {"id": "verify", "name": "Verify", "kind": "one_shot_read", "risk": "read_only",
         "commands": {"run": [verify]}},
        {"id": "apply", "name": "Apply changes", "kind": "one_shot_write", "risk": "write_local",
         "commands": {"run": [write]},
         "after": [{"jobId": "verify", "when": "success", "delaySeconds": 0}]},
    ])));
    env
}

#[test]
fn a_passed_verification_is_reported() {
    let mut env = verify_env("echo 'checked 12 files, all match'");
    env.run(&["approve", "apply", "--note", "ticket 42"])
        .code(0);
    env.run(&["run", "apply"]).code(0);
    assert_eq!(env.state()["queue"][0]["verifies"], "apply");
    assert_eq!(
        tick_at(&mut env, NOON + 60.0),
        "🛠️ Ops report (12:01:00)\n\n• Verification of Apply changes (apply): passed\n- output: checked 12 files, all match\n"
    );
    assert_eq!(tick_at(&mut env, NOON + 120.0), "", "reported once");
}

#[test]
fn a_failed_verification_is_an_alert_with_its_reason() {
    let mut env = verify_env(
        "echo 'checking archive'; echo 'ALERT: archive is not a readable tar' >&2; exit 2",
    );
    env.run(&["approve", "apply"]).code(0);
    env.run(&["run", "apply"]).code(0);
    assert_eq!(
        tick_at(&mut env, NOON + 60.0),
        "🚨 Ops alert (12:01:00)\n\n• Verification of Apply changes (apply): failed (exit=2)\n- ALERT: archive is not a readable tar\n- output: checking archive\nALERT: archive is not a readable tar\n"
    );
}

#[test]
fn a_passed_verification_waits_for_the_end_of_quiet_hours() {
    let mut env = verify_env("echo ok");
    let mut cfg: Value = serde_json::from_str(&env.read("ops-jobs.json")).unwrap();
    cfg["defaults"]["quietHours"] = json!({"start": "23:00", "end": "08:00"});
    env.config(&cfg);
    let three_am = NOON - 9.0 * 3600.0;
    env.at(three_am);
    env.run(&["approve", "apply"]).code(0);
    env.run(&["run", "apply"]).code(0);
    assert_eq!(tick_at(&mut env, three_am + 60.0), "", "held back at 03:01");
    assert_eq!(env.state()["queue"][0]["status"], "done");
    assert_eq!(
        tick_at(&mut env, NOON - 4.0 * 3600.0),
        "🛠️ Ops report (08:00:00)\n\n• Verification of Apply changes (apply): passed\n- output: ok\n"
    );
}

/// A state whose queue holds one pending run of `job`, due now.
fn queue_one(env: &TestEnv, job: &str) {
    env.write(
        "state/ops-monitor.json",
        &json!({"version": 1, "jobs": {}, "queue": [{"id": "q1", "jobId": job,
            "createdAt": NOON - 10.0, "notBefore": NOON - 1.0, "reason": "test",
            "status": "pending", "attempt": 0}]})
        .to_string(),
    );
}

#[test]
fn a_failed_queued_job_shows_the_line_that_asked_for_attention() {
    let mut env = TestEnv::new();
    let check = env.script(
        "check.sh",
        "echo 'reading archive.tar'; echo 'ALERT: archive is not a readable tar …' >&2; exit 2",
    );
    env.config(&config_with(json!([
        {"id": "tarcheck", "name": "Tar check", "kind": "one_shot_read", "risk": "read_only",
         "commands": {"run": [check]}},
    ])));
    queue_one(&env, "tarcheck");
    assert_eq!(
        tick_at(&mut env, NOON),
        "🚨 Ops alert (12:00:00)\n\n• ALERT: queued job failed\n- job: Tar check (tarcheck)\n- exit: 2\n- ALERT: archive is not a readable tar …\n- output: reading archive.tar\nALERT: archive is not a readable tar …\n"
    );
}

#[test]
fn an_alert_line_printed_long_before_the_end_is_still_in_the_section() {
    let mut env = TestEnv::new();
    // The ALERT line, then about 3 KB: far more than the 800-character tail.
    let check = env.script(
        "check.sh",
        "echo 'ALERT: 3 files differ'; i=0; while [ $i -lt 150 ]; do echo \"filler line $i\"; i=$((i+1)); done; exit 1",
    );
    env.config(&config_with(json!([
        {"id": "cmp", "name": "Compare", "kind": "one_shot_read", "risk": "read_only",
         "commands": {"run": [check]}},
    ])));
    queue_one(&env, "cmp");
    let report = tick_at(&mut env, NOON);
    assert!(
        report.contains("- exit: 1\n- ALERT: 3 files differ\n- output: "),
        "{report}"
    );
    assert!(
        report.contains("filler line 149"),
        "the tail is there too: {report}"
    );
    let tail = env.state()["queue"][0]["stdoutTail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !tail.contains("ALERT"),
        "the stored tail alone would have lost it"
    );
}

#[test]
fn alert_sections_come_first() {
    let mut env = TestEnv::new();
    let ok = env.script(
        "ok.sh",
        r#"echo '{"running":true,"completed":false,"pid":11}'"#,
    );
    let bad = env.script("bad.sh", r#"echo '{"running":false,"completed":false}'"#);
    let start = env.script("start.sh", "true");
    env.config(&config_with(json!([
        {"id": "a", "kind": "long_running_read", "risk": "read_only", "enabled": true,
         "commands": {"start": [start], "status": [ok]}},
        {"id": "b", "kind": "long_running_read", "risk": "read_only", "enabled": true,
         "commands": {"start": [start], "status": [bad]}},
    ])));
    let out = tick_at(&mut env, NOON);
    assert!(
        out.starts_with("🚨 Ops alert (12:00:00)\n\n• b (b, long_running_read)\n- state: paused\n"),
        "{out}"
    );
    assert!(out.ends_with("\n\n• a (a, long_running_read)\n- state: running (pid=11)\n"));
}

/// `explain` after a tick at `now`: its stdout.
fn explain_at(env: &mut TestEnv, now: f64) -> String {
    tick_at(env, now);
    let run = env.run(&["explain", "j"]);
    run.code(0);
    run.stdout
}

#[test]
fn explain_quiet_hours() {
    let mut env = env_with(json!({"stallSeconds": 0}), &default_start());
    let mut cfg: Value = serde_json::from_str(&env.read("ops-jobs.json")).unwrap();
    cfg["defaults"]["quietHours"] = json!({"start": "23:00", "end": "08:00"});
    env.config(&cfg);
    set_status(&env, RUNNING);
    let three_am = NOON - 9.0 * 3600.0;
    let out = explain_at(&mut env, three_am);
    assert!(
        out.starts_with("j (Job j, long_running_read)\nlast tick (03:00): not reported: quiet hours hold routine reports until 08:00\nnext tick:\n"),
        "{out}"
    );
    assert!(out.contains("- quiet hours 23:00–08:00 (now, until 08:00): only problems, RESOLVED and automatic starts are reported\n"), "{out}");
    // The held-back first report comes when the window ends.
    let morning = tick_at(&mut env, NOON - 4.0 * 3600.0);
    assert!(morning.contains("- state: running (pid=4242)"), "{morning}");
    // `tick -v` says the same as `explain`.
    env.at(NOON - 4.0 * 3600.0 + 60.0);
    env.run(&["tick", "--print-only", "-v"])
        .code(0)
        .stderr_has("tick: j: not reported: the next routine report is due at 08:30");
}

#[test]
fn explain_reminder_not_due() {
    let mut env = env_with(json!({}), &default_start());
    set_status(&env, r#"{"running":false,"completed":false}"#);
    tick_at(&mut env, NOON);
    let out = explain_at(&mut env, NOON + 60.0);
    assert!(out.contains("last tick (12:01): not reported: the same problem was already reported; reminder due at 12:30\n"), "{out}");
    assert!(out.contains("- problem: paused since 12:00 (1m), reported; the same problem is reminded from 12:30; a different problem, or its end (RESOLVED), is reported at once\n"), "{out}");
}

#[test]
fn explain_cadence_not_due_and_only_on_change() {
    let mut env = env_with(json!({"reportEverySeconds": 600}), &default_start());
    set_status(&env, RUNNING);
    tick_at(&mut env, NOON);
    set_status(&env, &RUNNING.replace("2900", "2950"));
    let out = explain_at(&mut env, NOON + 60.0);
    assert!(
        out.contains("last tick (12:01): not reported: the next routine report is due at 12:10\n"),
        "{out}"
    );
    assert!(out.contains("- routine progress: every 10m, next due at 12:10, when progress changed since the last report (onlyOnChange)\n"), "{out}");
    let reported = tick_at(&mut env, NOON + 600.0);
    assert!(reported.contains("scannedDirs=2950"), "{reported}");
    let out = explain_at(&mut env, NOON + 1200.0);
    assert!(out.contains("last tick (12:20): not reported: progress did not change since the last report (onlyOnChange)\n"), "{out}");
}

#[test]
fn explain_silence() {
    let mut env = env_with(json!({}), &default_start());
    set_status(&env, r#"{"running":false,"completed":false}"#);
    env.run(&["silence", "j", "--for", "1h", "--reason", "maintenance"])
        .code(0);
    let out = explain_at(&mut env, NOON + 60.0);
    assert!(
        out.contains("last tick (12:01): not reported: silenced until 13:00\n"),
        "{out}"
    );
    assert!(out.contains("- silenced until 13:00: nothing about it is reported before then (ops-monitor unsilence j)\n"), "{out}");
    // Still true when the silence ends: reported then.
    assert!(tick_at(&mut env, NOON + 3600.0).contains("ACTION REQUIRED: paused"));
}

#[test]
fn explain_hold() {
    let mut env = env_with(json!({}), &default_start());
    set_status(&env, r#"{"running":false,"completed":false}"#);
    assert!(tick_at(&mut env, NOON).contains("ACTION REQUIRED: paused"));
    env.run(&["stop", "j"]).code(0);
    // A paused state cleared by a hold is not RESOLVED: nothing to say.
    assert_eq!(tick_at(&mut env, NOON + 30.0), "");
    let out = explain_at(&mut env, NOON + 60.0);
    assert!(
        out.contains(
            "last tick (12:01): not reported: stopped by hand (held); paused is not a problem\n"
        ),
        "{out}"
    );
}

#[test]
fn explain_backoff() {
    let mut env = env_with(
        json!({"autoResume": true, "autoResumeBackoffSeconds": 900}),
        "echo started >> starts.log",
    );
    set_status(&env, r#"{"running":false,"completed":false}"#);
    tick_at(&mut env, NOON);
    let out = explain_at(&mut env, NOON + 60.0);
    assert!(out.contains("last tick (12:01): not reported: paused, waiting for the next automatic start after 12:15\n"), "{out}");
    assert!(
        out.contains("- automatic start: when paused, backoff until 12:15 (every 15m)\n"),
        "{out}"
    );
}

#[test]
fn explain_an_unknown_job_is_a_usage_error() {
    let env = env_with(json!({}), &default_start());
    env.run(&["explain", "nope"])
        .code(2)
        .stderr_has("unknown job: nope");
}

/// Six long jobs, one in each state of SPEC §11.
fn states_env() -> TestEnv {
    let env = TestEnv::new();
    let start = env.script("start.sh", "true");
    let stop = env.script("stop.sh", "true");
    let mut jobs = Vec::new();
    for (id, body) in [
        (
            "run",
            r#"echo '{"running":true,"completed":false,"pid":4242,"progress":{"done":7}}'"#,
        ),
        (
            "stall",
            r#"echo '{"running":true,"completed":false,"pid":4243,"progress":{"done":1}}'"#,
        ),
        (
            "pause",
            r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
        ),
        ("done", r#"echo '{"running":false,"completed":true}'"#),
        ("lost", "echo 'cannot reach the daemon' >&2; exit 1"),
        ("held", r#"echo '{"running":false,"completed":false}'"#),
    ] {
        let status = env.script(&format!("{id}.sh"), body);
        jobs.push(json!({"id": id, "kind": "long_running_read", "risk": "read_only",
            "enabled": true,
            "policy": {"stallSeconds": if id == "stall" { 600 } else { 0 }, "autoResume": id == "held"},
            "commands": {"start": [start], "status": [status], "stop": [stop]}}));
    }
    env.config(&config_with(Value::Array(jobs)));
    env
}

#[test]
fn status_shows_each_state_at_a_glance() {
    let mut env = states_env();
    env.run(&["stop", "held"]).code(0);
    env.at(NOON);
    env.tick().code(0);
    env.at(NOON + 700.0);
    // The stall and the progress age come from the state; nothing is written.
    let before = std::fs::read_to_string(env.state_path()).unwrap();
    let run = env.run(&["status"]);
    run.code(0);
    assert_eq!(
        run.status_line("run"),
        "running run pid=4242; progress done=7; changed 11m 40s ago"
    );
    assert_eq!(
        run.status_line("stall"),
        "stalled stall pid=4243; no progress for 11m 40s (since 12:00); progress done=1; changed 11m 40s ago"
    );
    assert_eq!(
        run.status_line("pause"),
        "paused pause stopReason=rate_limited"
    );
    assert_eq!(run.status_line("done"), "completed done");
    assert_eq!(
        run.status_line("lost"),
        "unknown lost status error: cannot reach the daemon"
    );
    assert!(run
        .status_line("held")
        .starts_with("held held stopped by hand since 12:00 by "));
    // Aligned: every job line has its id, and its details, in the same column.
    let ids = ["run", "stall", "pause", "done", "lost", "held"];
    let cols: Vec<usize> = run
        .stdout
        .lines()
        .zip(ids)
        .map(|(l, id)| l.find(&format!(" {id} ")).unwrap_or(l.len() - id.len() - 1))
        .collect();
    assert!(cols.windows(2).all(|w| w[0] == w[1]), "{}", run.stdout);
    assert!(run
        .stdout
        .contains("\nqueue: empty\noutbox: empty\nlast tick: 2026-11-21 12:00:00 (11m 40s ago, "));
    assert_eq!(std::fs::read_to_string(env.state_path()).unwrap(), before);

    let run = env.run(&["status", "--json"]);
    run.code(0);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let states: Vec<&str> = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "running",
            "stalled",
            "paused",
            "completed",
            "unknown",
            "held"
        ]
    );
    assert_eq!(doc["jobs"][0]["progress"]["done"], 7);
    assert_eq!(doc["jobs"][0]["progressChangedAt"], NOON);
    assert_eq!(doc["jobs"][1]["stalledFor"], 700.0);
    assert_eq!(doc["jobs"][4]["error"], "cannot reach the daemon");
    assert_eq!(doc["jobs"][5]["hold"]["at"], NOON);
    assert_eq!(doc["jobs"][0]["lastDecision"]["rule"], "stateChange");
    assert_eq!(doc["config"]["valid"], true);
    assert_eq!(doc["queue"]["total"], 0);
    assert_eq!(doc["lastTick"]["at"], NOON);
}

#[test]
fn status_with_an_invalid_config_shows_the_error_then_the_last_good_jobs() {
    let env = states_env();
    // The copy `tick` keeps of the last config that validated.
    let good = env.read("ops-jobs.json");
    env.write("state/ops-monitor.json.last-good-config.json", &good);
    env.write(
        "ops-jobs.json",
        "{\"version\": 1, \"jobs\": [{\"id\": \"x\"}]}",
    );
    let run = env.run(&["status"]);
    run.code(0);
    assert!(
        run.stderr.starts_with("ERROR: config invalid: "),
        "{}",
        run.stderr
    );
    run.stderr_has("(using the last good config, from ");
    assert_eq!(
        run.status_line("pause"),
        "paused pause stopReason=rate_limited"
    );
    let doc: Value = serde_json::from_str(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(doc["config"]["valid"], false);
    assert!(doc["config"]["error"].as_str().unwrap().contains("jobs[0]"));
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 6);
    // Without a last good copy: the error alone, exit 2.
    std::fs::remove_file(env.path("state/ops-monitor.json.last-good-config.json")).unwrap();
    env.run(&["status"])
        .code(2)
        .stderr_has("ERROR: config invalid");
}

#[test]
fn status_shows_approvals_with_their_expiry_and_the_outbox_by_channel() {
    let mut env = verify_env("echo ok");
    env.run(&["approve", "apply", "--for", "10m", "--note", "ticket 42"])
        .code(0);
    assert_eq!(
        env.run(&["status"]).status_line("apply"),
        format!(
            "approved apply write (approved=yes until 12:10, by {}: ticket 42)",
            login()
        )
    );
    env.at(NOON + 601.0);
    assert_eq!(
        env.run(&["status"]).status_line("apply"),
        format!(
            "not approved apply write (approved=no: the approval by {} expired at 12:10)",
            login()
        )
    );
    let doc: Value = serde_json::from_str(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(doc["jobs"][1]["approval"]["expired"], true);
    assert_eq!(doc["jobs"][1]["approval"]["note"], "ticket 42");
    // An undelivered report: the outbox by channel, its error and next try.
    env.run(&["notify", "hello"]).code(3);
    let run = env.run(&["status"]);
    run.stdout_has("outbox: telegram: 1 undelivered, next try ");
    run.stdout_has(", last error: ");
}

#[test]
fn logs_of_an_unknown_job_exits_2() {
    let env = env_with(json!({}), &default_start());
    env.run(&["logs", "nosuchjob"])
        .code(2)
        .stderr_has("unknown job: nosuchjob");
    env.run(&["logs", "j"])
        .code(0)
        .stdout_has("== last start: never");
}

#[test]
fn unsilence_all_ends_every_silence() {
    let env = env_with(json!({}), &default_start());
    env.run(&["silence", "j", "--for", "1h"]).code(0);
    env.run(&["silence", "--all", "--for", "1h"]).code(0);
    env.run(&["unsilence", "--all"])
        .code(0)
        .stdout_has("unsilenced all jobs (2 silence(s) ended)");
    assert!(env.state().get("silences").is_none());
    let run = env.run(&["status"]);
    assert!(!run.stdout.contains("silenced"), "{}", run.stdout);
}

#[test]
fn approve_without_user_records_the_login_name() {
    let env = verify_env("echo ok");
    let run = env.run(&["approve", "apply"]);
    run.code(0).stdout_has(&format!("(by {})", login()));
    assert!(!run.stdout.contains("unknown"), "{}", run.stdout);
    assert_eq!(env.state()["approvals"]["apply"]["by"], login());
}

#[test]
fn notify_refuses_empty_text_and_splits_long_text() {
    let server = Server::start();
    let mut env = env_with(json!({}), &default_start());
    env.env("OPS_MONITOR_TELEGRAM_API", &server.url);
    env.env("TELEGRAM_BOT_TOKEN", "123:abc");
    env.run(&["notify", "", "--target", "42"])
        .code(2)
        .stderr_has("the text is empty");
    env.run(&["notify", "  \n", "--target", "42"]).code(2);
    assert!(server.requests().is_empty());
    let line = format!("{}\n", "x".repeat(99));
    let text = line.repeat(50); // 5000 characters
    env.run(&["notify", &text, "--target", "42"]).code(0);
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sent.len(), 2, "split, not cut");
    assert!(sent.iter().all(|t| t.chars().count() <= 4096));
    assert_eq!(sent.join("\n") + "\n", text, "nothing lost");
}

#[test]
fn start_refuses_a_running_or_unknown_job_unless_forced() {
    let env = env_with(json!({}), &default_start());
    set_status(&env, r#"{"running":true,"completed":false,"pid":4242}"#);
    env.run(&["start", "j"])
        .code(4)
        .stderr_has("refused: j is running (pid 4242)")
        .stderr_has("--force");
    assert_eq!(env.read("starts.log"), "", "nothing started");
    env.write("status.json", "not json");
    env.run(&["start", "j"])
        .code(4)
        .stderr_has("cannot be read (status output is not JSON)");
    env.run(&["start", "j", "--force"]).code(0);
    assert_eq!(env.read("starts.log"), "started\n");
}
