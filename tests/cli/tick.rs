//! `tick` through the binary: status failure modes, the queue, scheduled
//! checks, dry runs, corrupt state, config errors, exit codes.

use std::fs;
use std::time::{Duration, Instant};

use serde_json::json;

#[cfg(target_os = "linux")]
use crate::util::alive;
use crate::util::{config_with, long_job, Run, TestEnv, NOON};

fn env_with_status(body: &str) -> TestEnv {
    let env = TestEnv::new();
    let status = env.script("status.sh", body);
    let start = env.script("start.sh", "echo started >> starts.log");
    env.config(&config_with(json!([long_job("j", &status, &start)])));
    env
}

#[test]
fn english_report_for_a_running_job() {
    let env = env_with_status(
        r#"echo '{"running":true,"completed":false,"pid":4242,"message":"scanning /photos","progress":{"scannedDirs":2900,"pendingDirs":80}}'"#,
    );
    env.tick().code(0).stdout_is(
        "🛠️ Ops report (12:00:00)\n\n• Job j (j, long_running_read)\n- state: running (pid=4242)\n- message: scanning /photos\n- progress: pendingDirs=80 | scannedDirs=2900\n",
    );
}

#[test]
fn every_status_failure_is_an_unknown_alert_never_a_crash() {
    let cases = [
        ("exit 3", "status exit=3"),
        ("echo 'disk gone' >&2; exit 1", "disk gone"),
        ("true", "empty status output"),
        ("echo 'not json'", "status output is not JSON"),
        (
            "echo '[1,2]'",
            "status JSON must include boolean fields: running, completed",
        ),
        (
            r#"echo '{"running":"yes","completed":false}'"#,
            "status JSON must include boolean fields: running, completed",
        ),
        ("kill -9 $$", "status killed by signal 9"),
    ];
    for (body, message) in cases {
        let env = env_with_status(body);
        let run = env.tick();
        run.code(0)
            .stdout_has("- state: unknown\n")
            .stdout_has(&format!("- ALERT: status unknown — {message}"));
        assert_eq!(env.read("starts.log"), "", "{body}: never started");
    }
}

#[test]
fn missing_status_program_is_an_alert() {
    let env = TestEnv::new();
    let start = env.script("start.sh", "true");
    env.config(&config_with(json!([long_job(
        "j",
        "/nonexistent/status",
        &start
    )])));
    env.tick()
        .code(0)
        .stdout_has("- ALERT: status unknown — status command failed to start:");
}

#[test]
fn unknown_status_with_autoresume_never_starts_a_second_copy() {
    let env = TestEnv::new();
    let status = env.script("status.sh", "exit 1");
    let start = env.script("start.sh", "echo started >> starts.log");
    let mut job = long_job("j", &status, &start);
    job["policy"] = json!({"autoResume": true});
    env.config(&config_with(json!([job])));
    env.tick().code(0).stdout_has("- state: unknown");
    assert_eq!(env.read("starts.log"), "");
    let st = env.state();
    assert!(st["jobs"]["j"].get("lastAutoResumeAt").is_none());
}

#[test]
// Reads /proc (`alive`).
#[cfg(target_os = "linux")]
fn hanging_status_costs_its_time_limit_and_leaves_no_grandchild() {
    let env = TestEnv::new();
    // The status starts a grandchild that would outlive it, then hangs.
    let status = env.script(
        "status.sh",
        "sleep 300 & echo $! > grandchild.pid; sleep 300",
    );
    let start = env.script("start.sh", "true");
    let mut job = long_job("j", &status, &start);
    job["policy"] = json!({"statusTimeoutSeconds": 1});
    env.config(&config_with(json!([job])));
    let began = Instant::now();
    env.tick()
        .code(0)
        .stdout_has("- ALERT: status unknown — status timed out after 1s");
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "bounded by the limit"
    );
    let pid: i32 = env.read("grandchild.pid").trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "the grandchild was stopped with its group");
}

#[test]
fn huge_status_output_is_an_alert_with_a_small_state() {
    let env = env_with_status("head -c 50000000 /dev/zero | tr '\\0' 'x'");
    env.tick()
        .code(0)
        .stdout_has("- ALERT: status unknown — status output too large");
    let size = fs::metadata(env.state_path()).unwrap().len();
    assert!(size < 4096, "state is {size} bytes");
}

#[test]
fn dry_run_writes_nothing_and_starts_nothing() {
    let env = env_with_status(r#"echo '{"running":false,"completed":false}'"#);
    let mut cfg = config_with(json!([]));
    let status = env.path("status.sh").display().to_string();
    let start = env.path("start.sh").display().to_string();
    let mut job = long_job("j", &status, &start);
    job["policy"] = json!({"autoResume": true});
    cfg["jobs"] = json!([job]);
    env.config(&cfg);
    env.run(&["tick", "--dry-run"])
        .code(0)
        .stdout_has("- AUTORUN: would start (dry-run)");
    assert!(!env.state_path().exists());
    assert!(!env.path("state").exists(), "not even the folder");
    assert_eq!(env.read("starts.log"), "");
}

#[test]
fn corrupt_state_is_moved_aside_and_reported() {
    let env = env_with_status(r#"echo '{"running":true,"completed":false}'"#);
    env.write(
        "state/ops-monitor.json",
        "{\"version\": 1, \"jobs\": {trunc",
    );
    env.tick()
        .code(0)
        .stdout_has("ALERT: state file was corrupt")
        .stdout_has("ops-monitor.json.corrupt-");
    let aside: Vec<_> = fs::read_dir(env.path("state"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ops-monitor.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let kept = env.read(&format!("state/{}", aside[0]));
    assert_eq!(
        kept, "{\"version\": 1, \"jobs\": {trunc",
        "old content kept"
    );
    assert_eq!(env.state()["version"], 1, "a fresh valid state");
    // Said once.
    let again = env.tick();
    assert!(!again.stdout.contains("corrupt"), "{}", again.stdout);
}

#[test]
fn invalid_config_alerts_at_most_hourly_and_exits_2() {
    let mut env = TestEnv::new();
    env.write("ops-jobs.json", r#"{"version": 1, "jobs": [{"id": "x"}]}"#);
    let run = env.tick();
    run.code(2)
        .stdout_has("🚨 Ops alert (12:00:00)\n\n• ALERT: ops-jobs config invalid\n- path: ")
        .stdout_has("- error: ");
    assert_eq!(env.state()["lastConfigErrorAt"], NOON);
    assert_eq!(env.state()["monitor"]["lastTickOutcome"], "config invalid");
    env.at(NOON + 60.0);
    let again = env.tick();
    again.code(2);
    assert_eq!(again.stdout, "", "not again within the hour");
    env.at(NOON + 3600.0);
    env.tick()
        .code(2)
        .stdout_has("ALERT: ops-jobs config invalid");
}

#[test]
fn config_error_alert_in_chinese_has_the_timeless_header() {
    let env = TestEnv::new();
    env.write("ops-jobs.json", "{not json");
    env.run(&["tick", "--print-only", "--lang", "zh"])
        .code(2)
        .stdout_has("🛠️ Ops 快报\n\n• ALERT: ops-jobs config invalid\n");
}

#[test]
fn no_telegram_target_exits_3_and_still_saves_the_state() {
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    let start = env.script("start.sh", "echo started >> starts.log");
    let mut job = long_job("j", &status, &start);
    job["policy"] = json!({"autoResume": true});
    env.config(&config_with(json!([job])));
    env.run(&["tick"])
        .code(3)
        .stderr_has("ERROR: missing Telegram target. Pass --target <chat_id>.");
    // The automatic start's backoff is saved although delivery failed.
    assert_eq!(env.state()["jobs"]["j"]["lastAutoResumeAt"], NOON);
    assert_eq!(env.read("starts.log"), "started\n");
    let again = env.run(&["tick"]);
    again.code(3);
    assert_eq!(env.read("starts.log"), "started\n", "no second start");
}

#[test]
fn options_are_accepted_after_the_subcommand_and_via_env() {
    let env = env_with_status(r#"echo '{"running":true,"completed":false}'"#);
    let out = env
        .bare_command()
        .env("OPS_MONITOR_CONFIG", env.config_path())
        .env("OPS_MONITOR_STATE", env.state_path())
        .args(["tick", "--print-only"])
        .output()
        .unwrap();
    Run::from(out).code(0).stdout_has("- state: running");
}

#[test]
fn default_files_live_under_openclaw_home() {
    let env = env_with_status(r#"echo '{"running":true,"completed":false}'"#);
    let cfg = env.path("net/config/ops-jobs.json");
    fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    fs::copy(env.config_path(), &cfg).unwrap();
    let out = env
        .bare_command()
        .args(["tick", "--print-only"])
        .output()
        .unwrap();
    Run::from(out).code(0);
    assert!(env.path("net/state/ops-monitor.json").exists());
}

fn queue_env() -> TestEnv {
    let env = TestEnv::new();
    let verify = env.script(
        "verify.sh",
        "echo verified >> verify.log; echo 'ALERT: 2 files differ'",
    );
    let write = env.script("write.sh", "echo wrote >> write.log");
    let failing = env.script("failing.sh", "echo boom >&2; exit 5");
    env.config(&config_with(json!([
        {"id": "verify", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [verify]}},
        {"id": "fails", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [failing]}},
        {"id": "write", "kind": "one_shot_write", "risk": "write_local",
         "commands": {"run": [write]}, "approval": {"required": true, "granted": false},
         "after": [{"jobId": "verify", "when": "success", "delaySeconds": 60}]},
    ])));
    env
}

fn queue_item(job_id: &str, not_before: f64) -> serde_json::Value {
    json!({"id": format!("id-{job_id}"), "jobId": job_id, "createdAt": NOON - 100.0,
           "notBefore": not_before, "reason": "test", "status": "pending", "attempt": 0})
}

#[test]
fn queue_runs_reads_and_blocks_everything_else() {
    let mut env = queue_env();
    env.write(
        "state/ops-monitor.json",
        &serde_json::to_string(&json!({"version": 1, "jobs": {}, "queue": [
            queue_item("verify", NOON - 1.0),
            queue_item("fails", NOON - 1.0),
            queue_item("write", NOON - 1.0),
            queue_item("gone", NOON - 1.0),
            queue_item("verify", NOON + 600.0),
        ]}))
        .unwrap(),
    );
    let run = env.tick();
    run.code(0)
        .stdout_has("• verify (verify)\n- ALERT: 2 files differ")
        .stdout_has("• ALERT: queued job failed\n- job: fails (fails)\n- exit: 5")
        .stdout_has(
            "• ACTION REQUIRED: queued job blocked\n- job: write (one_shot_write, write_local)",
        )
        .stdout_has("• ALERT: queued job missing\n- jobId: gone");
    let st = env.state();
    let statuses: Vec<&str> = st["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["done", "failed", "blocked", "blocked", "pending"]
    );
    assert_eq!(st["queue"][1]["stderrTail"], "boom");
    assert_eq!(env.read("write.log"), "", "tick never runs a write job");
    assert_eq!(env.read("verify.log"), "verified\n");
    // Finished items are not run again; the delayed one runs when due.
    env.at(NOON + 600.0);
    env.tick().code(0);
    assert_eq!(env.read("verify.log"), "verified\nverified\n");
}

#[test]
fn scheduled_check_runs_by_every_seconds_and_reports_nagios_codes() {
    let mut env = TestEnv::new();
    let check = env.script(
        "check.sh",
        "echo run >> runs.log; cat rc 2>/dev/null | grep -q . && exit $(cat rc); echo fine",
    );
    env.config(&config_with(json!([
        {"id": "disk", "name": "Disk", "kind": "one_shot_read", "risk": "read_only", "enabled": true,
         "commands": {"run": [check]}, "policy": {"everySeconds": 300}},
    ])));
    env.write("rc", "2");
    env.tick()
        .code(0)
        .stdout_has("• Disk (disk, one_shot_read)\n- ALERT: critical (exit=2)");
    env.at(NOON + 100.0);
    env.tick().code(0);
    assert_eq!(env.read("runs.log"), "run\n", "not due yet");
    env.at(NOON + 300.0);
    let again = env.tick();
    again.code(0);
    assert_eq!(
        again.stdout, "",
        "same failure: reminder only after the interval"
    );
    env.write("rc", "");
    env.at(NOON + 600.0);
    env.tick()
        .code(0)
        .stdout_has("- RESOLVED: check failing, after 10m (exit=0 now)");
    assert_eq!(env.read("runs.log"), "run\nrun\nrun\n");
}

#[test]
fn a_config_broken_after_a_good_tick_is_still_caught() {
    let env = env_with_status(r#"echo '{"running":true,"completed":false}'"#);
    env.tick().code(0);
    assert!(env.state()["configFingerprint"].is_string());
    // Valid JSON, same shape, but a schema error: must not pass on the
    // strength of the last tick's verdict.
    let text = fs::read_to_string(env.config_path()).unwrap();
    env.write(
        "ops-jobs.json",
        &text.replace("\"read_only\"", "\"read_mostly\""),
    );
    env.tick()
        .code(2)
        .stdout_has("ALERT: ops-jobs config invalid")
        .stdout_has("jobs[0] (id \"j\").risk");
}
