//! The manual commands through the binary: start, stop, run, approve,
//! revoke, silence, status, logs, validate-config, schema — and their exit codes.

use serde_json::json;

#[cfg(target_os = "linux")]
use crate::util::alive;
use crate::util::{config_with, long_job, TestEnv, NOON};

fn jobs_env() -> TestEnv {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"if [ -f daemon.pid ] && kill -0 "$(cat daemon.pid)" 2>/dev/null; then
  printf '{"running":true,"completed":false,"pid":%s}\n' "$(cat daemon.pid)"
else
  echo '{"running":false,"completed":false,"stopReason":"stopped"}'
fi"#,
    );
    // A start script that leaves a daemon holding its stdout open.
    let start = env.script(
        "start.sh",
        "sleep 300 & echo $! > daemon.pid; echo started daemon",
    );
    let verify = env.script("verify.sh", "echo verified >> verify.log");
    let write = env.script("write.sh", "echo wrote >> write.log; echo done writing");
    let mut risky = long_job("risky", &status, &start);
    risky["risk"] = json!("write_external");
    env.config(&config_with(json!([
        long_job("daemon", &status, &start),
        risky,
        {"id": "verify", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [verify]}},
        {"id": "write", "kind": "one_shot_write", "risk": "write_local",
         "commands": {"run": [write]},
         "after": [{"jobId": "verify", "when": "success", "delaySeconds": 0}]},
        {"id": "badread", "kind": "one_shot_read", "risk": "write_local", "commands": {"run": [write]}},
    ])));
    env
}

fn daemon_pid(env: &TestEnv) -> i32 {
    env.read("daemon.pid").trim().parse().unwrap()
}

#[test]
// Reads /proc (`alive`).
#[cfg(target_os = "linux")]
fn start_returns_at_once_although_the_daemon_holds_stdout_then_stop_sigterms_it() {
    let env = jobs_env();
    let began = std::time::Instant::now();
    env.run(&["start", "daemon"])
        .code(0)
        .stdout_has("start daemon: exit=0 durMs=")
        .stdout_has("started daemon");
    assert!(
        began.elapsed() < std::time::Duration::from_secs(60),
        "did not wait for the daemon"
    );
    let pid = daemon_pid(&env);
    assert!(alive(pid));
    let st = env.state();
    assert_eq!(st["jobs"]["daemon"]["lastManualStartAt"], NOON);
    assert_eq!(
        st["jobs"]["daemon"]["lastStart"]["stdoutTail"],
        "started daemon"
    );
    assert_eq!(
        env.run(&["status"]).status_line("daemon"),
        format!("running daemon pid={pid}")
    );
    // No stop command: SIGTERM to the pid the status reports.
    env.run(&["stop", "daemon"])
        .code(0)
        .stdout_has(&format!("sent SIGTERM to pid {pid}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(pid));
    assert_eq!(env.state()["jobs"]["daemon"]["lastStopAt"], NOON);
    // The status script's `kill -0` counts a zombie as alive: wait until the
    // orphan is reaped (slow under some containers' init).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    env.run(&["stop", "daemon"])
        .code(1)
        .stderr_has("reports no pid");
}

#[test]
fn stop_refuses_pid_one() {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"echo '{"running":true,"completed":false,"pid":1}'"#,
    );
    let start = env.script("start.sh", "true");
    env.config(&config_with(json!([long_job("j", &status, &start)])));
    // pid 1 is dropped by the status contract already.
    env.run(&["stop", "j"]).code(1).stderr_has("reports no pid");
}

#[test]
fn start_refusals_and_usage_errors() {
    let env = jobs_env();
    env.run(&["start", "nope"])
        .code(2)
        .stderr_has("unknown job: nope");
    env.run(&["start", "verify"]).code(2).stderr_has("use run");
    env.run(&["start", "risky"])
        .code(4)
        .stderr_has("--allow-risk");
    env.run(&["start", "risky", "--allow-risk"]).code(0);
    let _ = std::process::Command::new("kill")
        .arg(daemon_pid(&env).to_string())
        .status();
}

#[test]
fn run_read_job_records_last_run() {
    let env = jobs_env();
    env.run(&["run", "verify"])
        .code(0)
        .stdout_has("run verify: exit=0 durMs=");
    assert_eq!(env.read("verify.log"), "verified\n");
    assert_eq!(env.state()["jobs"]["verify"]["lastRunAt"], NOON);
    assert_eq!(
        env.run(&["status"]).status_line("verify"),
        "ok verify lastRun exit=0 at 2026-11-21 12:00:00; not scheduled: run by hand or from the queue"
    );
    env.run(&["run", "badread"])
        .code(4)
        .stderr_has("must be read_only");
    env.run(&["run", "daemon"]).code(2);
}

#[test]
fn write_job_needs_approval_runs_once_and_queues_its_verification() {
    let env = jobs_env();
    env.run(&["run", "write"])
        .code(4)
        .stderr_has("ops-monitor approve write");
    assert_eq!(env.read("write.log"), "");
    assert_eq!(
        env.run(&["status"]).status_line("write"),
        "not approved write write (approved=no)"
    );
    env.run(&["approve", "write", "--for", "1h", "--note", "ticket 42"])
        .code(0);
    assert_eq!(env.state()["approvals"]["write"]["note"], "ticket 42");
    assert!(env
        .run(&["status"])
        .status_line("write")
        .starts_with("approved write write (approved=yes until 13:00, by "));
    env.run(&["run", "write"])
        .code(0)
        .stdout_has("queued verify");
    assert_eq!(env.read("write.log"), "wrote\n");
    let st = env.state();
    assert!(st.get("approvals").is_none(), "the grant is used up");
    assert_eq!(st["queue"][0]["jobId"], "verify");
    assert_eq!(st["queue"][0]["status"], "pending");
    // Good for one run only.
    env.run(&["run", "write"]).code(4);
    // The next tick runs the verification.
    env.tick().code(0);
    assert_eq!(env.read("verify.log"), "verified\n");
    assert_eq!(env.state()["queue"][0]["status"], "done");
}

#[test]
fn approval_expires_and_can_be_revoked() {
    let mut env = jobs_env();
    env.run(&["approve", "write", "--for", "10m"]).code(0);
    env.at(NOON + 601.0);
    env.run(&["run", "write"]).code(4);
    env.run(&["approve", "write"]).code(0);
    env.run(&["revoke", "write"]).code(0).stdout_has("revoked");
    env.run(&["run", "write"]).code(4);
    assert_eq!(env.read("write.log"), "");
    env.run(&["approve", "verify"]).code(2);
}

#[test]
fn run_dry_run_runs_nothing() {
    let env = jobs_env();
    env.run(&["approve", "write"]).code(0);
    env.run(&["run", "write", "--dry-run"])
        .code(0)
        .stdout_has("would run");
    assert_eq!(env.read("write.log"), "");
}

#[test]
fn silence_holds_back_reports_until_it_ends() {
    let mut env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    let start = env.script("start.sh", "true");
    env.config(&config_with(json!([long_job("j", &status, &start)])));
    env.run(&["silence", "j", "--for", "1h", "--reason", "maintenance"])
        .code(0);
    env.run(&["status"])
        .code(0)
        .stdout_has("silenced: j until")
        .stdout_has("(maintenance)");
    env.tick().code(0).stdout_is("");
    env.at(NOON + 3601.0);
    env.tick().code(0).stdout_has("ACTION REQUIRED");
    env.run(&["silence", "--all", "--for", "15m"]).code(0);
    env.run(&["unsilence", "--all"])
        .code(0)
        .stdout_has("unsilenced all jobs");
}

#[test]
fn logs_show_stored_tails() {
    let env = jobs_env();
    env.run(&["run", "verify"]).code(0);
    env.run(&["logs", "verify"])
        .code(0)
        .stdout_has("== last run: 2026-11-21 12:00:00")
        .stdout_has("exit=0");
}

#[test]
fn status_json_is_one_document() {
    let env = jobs_env();
    let run = env.run(&["status", "--json"]);
    run.code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 5);
    assert_eq!(doc["jobs"][0]["state"], "paused");
    assert_eq!(doc["jobs"][0]["summary"], "stopReason=stopped");
    assert_eq!(doc["outbox"]["total"], 0);
    assert!(!env.state_path().exists(), "status writes nothing");
}

#[test]
fn validate_config_ok_and_schema() {
    let env = jobs_env();
    env.run(&["validate-config"])
        .code(0)
        .stdout_has("OK: version=1 jobs=5 (long_running_read=2, one_shot_read=2, one_shot_write=1)")
        .stdout_has("WARNING: ");
    let schema = env.run(&["schema"]);
    schema.code(0);
    let parsed: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
    assert!(parsed.get("properties").is_some());
}

#[test]
fn validate_config_reports_every_problem_with_its_path() {
    let env = TestEnv::new();
    env.write(
        "ops-jobs.json",
        r#"{"version": 1, "jobs": [
            {"id": "a", "kind": "long_running_read", "risk": "read_only", "commands": {"start": ["x"], "status": []}},
            {"id": "a", "kind": "one_shot_write", "risk": "write_local", "commands": {"run": ["w"]}},
            {"id": "b", "kind": "bogus", "risk": "read_only", "commands": {"run": ["x"]}, "after": [{"jobId": "zzz"}]}
        ]}"#,
    );
    let run = env.run(&["validate-config"]);
    run.code(2).stdout_is("");
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: config invalid: {}
  - jobs[0] (id \"a\").commands.status: must be a non-empty list of strings
  - jobs[1] (id \"a\").after: a one_shot_write job needs a verification step: an entry with \"when\": \"success\" whose job is a one_shot_read or long_running_read with risk \"read_only\"
  - jobs[1] (id \"a\").id: duplicate id \"a\" (already used by jobs[0]; ids must be unique after trimming)
  - jobs[2] (id \"b\").after[0].jobId: no job with id \"zzz\" in this file
  - jobs[2] (id \"b\").kind: must be one of \"long_running_read\", \"one_shot_read\", \"one_shot_write\" (got \"bogus\")
",
            env.config_path().display()
        )
    );
}

/// SPEC §2: the warnings come with the errors, after them and marked as
/// warnings; `--strict` makes them errors, each naming the job by id.
#[test]
fn validate_config_prints_the_warnings_also_when_there_are_errors() {
    let env = TestEnv::new();
    let status = env.script("status.sh", "true");
    let mut job = long_job("j", &status, &status);
    job["commands"]["status"] = json!([]);
    job["policy"] = json!({"autoresume": true, "stallSeconds": "60"});
    job["Enabled"] = json!(true);
    env.config(&config_with(json!([job])));
    let path = env.config_path().display().to_string();
    let run = env.run(&["validate-config"]);
    run.code(2).stdout_is("");
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: config invalid: {path}
  - jobs[0] (id \"j\").commands.status: must be a non-empty list of strings
WARNING: jobs[0].Enabled: unknown key (ignored; did you mean \"enabled\"?)
WARNING: jobs[0].policy.autoresume: unknown key (ignored; did you mean \"autoResume\"?)
WARNING: jobs[0].policy.stallSeconds: \"60\" is ignored (ops-monitor.py counts only a whole number 0 or more here): the defaults' 3600 is used
"
        )
    );
    let run = env.run(&["validate-config", "--strict"]);
    run.code(2).stdout_is("");
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: config invalid: {path}
  - jobs[0] (id \"j\").Enabled: unknown key (did you mean \"enabled\"?)
  - jobs[0] (id \"j\").commands.status: must be a non-empty list of strings
  - jobs[0] (id \"j\").policy.autoresume: unknown key (did you mean \"autoResume\"?)
  - jobs[0] (id \"j\").policy.stallSeconds: \"60\" is ignored (ops-monitor.py counts only a whole number 0 or more here): the defaults' 3600 is used
"
        )
    );
}

#[test]
fn validate_config_syntax_error_has_line_and_column() {
    let env = TestEnv::new();
    env.write("ops-jobs.json", "{\n  \"version\": 1,\n  \"jobs\": [,]\n}");
    env.run(&["validate-config"]).code(2).stderr_has("line 3");
}

#[test]
fn unknown_keys_warn_and_strict_fails() {
    let env = TestEnv::new();
    let status = env.script("status.sh", "true");
    let mut job = long_job("j", &status, &status);
    job["policy"] = json!({"autoresume": true});
    env.config(&config_with(json!([job])));
    env.run(&["validate-config"])
        .code(0)
        .stdout_has("jobs[0].policy.autoresume");
    env.run(&["validate-config", "--strict"])
        .code(2)
        .stderr_has("jobs[0] (id \"j\").policy.autoresume");
}

#[test]
fn completions_print_a_script() {
    let env = TestEnv::new();
    env.run(&["completions", "bash"])
        .code(0)
        .stdout_has("ops-monitor");
}

#[test]
fn selftest_passes_offline() {
    let env = TestEnv::new();
    env.run(&["selftest"])
        .code(0)
        .stdout_has("ok: stall detection")
        .stdout_has("ok: automatic resume and its backoff")
        .stdout_has("ok: the queue")
        .stdout_has("ok: quiet hours")
        .stdout_has("ok: atomic state write")
        .stdout_has("selftest: OK");
}

#[test]
fn verbose_tick_says_what_it_did() {
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":true,"completed":false}'"#);
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    env.run(&["tick", "--print-only", "-v"])
        .code(0)
        .stderr_has("tick: 1 job(s), 1 section(s), outbox 0");
}
