//! The safety policy of SPEC §6 through the binary: which job `stop` may
//! act on and which pid it may signal, and grants that follow the job as
//! it was approved, not its id.

use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::util::{alive, config_with, long_job, Run, TestEnv, NOON};

/// `stop j` run by a `/bin/sh` that says how it ended: if the monitor
/// signalled its parent, the shell dies and never says so — and the test
/// process itself is never the one at risk.
fn stop_through_a_shell(env: &TestEnv, job: &str) -> Run {
    let inner = env.command(&["stop", job]);
    let mut sh = Command::new("/bin/sh");
    sh.env_clear()
        .arg("-c")
        .arg(r#""$0" "$@"; echo "monitor exit=$?""#)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env.root())
        .stdin(Stdio::null());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    Run::from(sh.output().unwrap())
}

#[test]
fn stop_of_a_write_job_is_refused_and_runs_nothing() {
    let env = TestEnv::new();
    let stop = env.script("stop.sh", "echo stopped > stopped");
    let verify = env.script("verify.sh", "true");
    env.config(&config_with(json!([
        {"id": "verify", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [verify]}},
        {"id": "w", "kind": "one_shot_write", "risk": "write_local",
         "commands": {"run": [stop], "stop": [stop]},
         "approval": {"granted": true},
         "after": [{"jobId": "verify", "when": "success"}]},
        {"id": "r", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [verify], "stop": [stop]}},
    ])));
    for args in [
        &["stop", "w"][..],
        &["stop", "w", "--allow-risk"],
        &["stop", "r"],
    ] {
        env.run(args)
            .code(2)
            .stderr_has("stop is for long_running_read jobs");
    }
    assert!(!env.path("stopped").exists(), "no stop command ran");
    assert!(!env.state_path().exists(), "nothing recorded");
}

#[test]
fn stop_command_of_a_risky_long_job_needs_allow_risk() {
    let env = TestEnv::new();
    let stop = env.script("stop.sh", "echo stopped > stopped");
    let status = env.script("status.sh", r#"echo '{"running":true,"completed":false}'"#);
    let mut job = long_job("l", &status, &stop);
    job["risk"] = json!("write_external");
    job["commands"]["stop"] = json!([stop]);
    env.config(&config_with(json!([job])));
    env.run(&["stop", "l"]).code(4).stderr_has("--allow-risk");
    assert!(!env.path("stopped").exists());
    env.run(&["stop", "l", "--allow-risk"]).code(0);
    assert_eq!(env.read("stopped"), "stopped\n");
}

/// A long job without a stop command whose status reports `pid` (JSON text).
fn reporting_pid(env: &TestEnv, pid: &str) {
    let status = env.script(
        "status.sh",
        &format!(r#"printf '{{"running":true,"completed":false,"pid":%s}}\n' "{pid}""#),
    );
    let start = env.script("start.sh", "true");
    env.config(&config_with(json!([long_job("j", &status, &start)])));
}

#[test]
fn stop_never_signals_the_monitors_parent() {
    let env = TestEnv::new();
    // The status script's parent is the monitor; the monitor's parent (the
    // fourth field of its /proc stat) is the shell that ran it.
    let status = env.script(
        "status.sh",
        r#"pp=$(cut -d' ' -f4 /proc/$PPID/stat)
printf '{"running":true,"completed":false,"pid":%s}\n' "$pp""#,
    );
    let start = env.script("start.sh", "true");
    env.config(&config_with(json!([long_job("j", &status, &start)])));
    let run = stop_through_a_shell(&env, "j");
    assert!(
        run.stdout.contains("monitor exit=4"),
        "the shell must survive and see exit 4\n{run:?}"
    );
    run.stderr_has("ops-monitor itself or one of its parents");
}

#[test]
fn stop_never_signals_a_process_of_its_own_group_pid_1_or_pid_true() {
    let env = TestEnv::new();
    // A process in the test's process group, which the monitor shares.
    let mut sibling = Command::new("sleep").arg("30").spawn().unwrap();
    reporting_pid(&env, &sibling.id().to_string());
    env.run(&["stop", "j"])
        .code(4)
        .stderr_has("in ops-monitor's own process group");
    assert!(alive(sibling.id() as i32));
    sibling.kill().unwrap();
    sibling.wait().unwrap();
    for pid in ["1", "true", "0", "-1"] {
        reporting_pid(&env, pid);
        env.run(&["stop", "j"]).code(1).stderr_has("reports no pid");
    }
    assert!(!env.state_path().exists(), "a refused stop records nothing");
}

/// Two write jobs, each verified by `verify`, each leaving a marker.
fn two_writes(env: &TestEnv, deploy_id: &str, drop_id: &str) {
    let deploy = env.script("deploy.sh", "echo deployed >> deploy.log");
    let drop = env.script("drop.sh", "echo DROP DATABASE >> drop.log");
    let verify = env.script("verify.sh", "true");
    let write = |id: &str, script: &str| {
        json!({"id": id, "kind": "one_shot_write", "risk": "write_external",
               "commands": {"run": [script]},
               "after": [{"jobId": "verify", "when": "success"}]})
    };
    env.config(&config_with(json!([
        {"id": "verify", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [verify]}},
        write(deploy_id, &deploy),
        write(drop_id, &drop),
    ])));
}

#[test]
fn a_grant_follows_the_job_as_approved_not_its_id() {
    let mut env = TestEnv::new();
    env.env("USER", "ann");
    two_writes(&env, "deploy", "dropdb");
    env.run(&["approve", "deploy", "--note", "release 4"])
        .code(0);
    let grant = &env.state()["approvals"]["deploy"];
    assert!(
        grant["fingerprint"].as_str().unwrap().starts_with("v1:"),
        "{grant}"
    );
    // The ids are swapped: `deploy` now names the DROP DATABASE job.
    two_writes(&env, "dropdb", "deploy");
    assert_eq!(
        env.run(&["status"]).status_line("deploy"),
        "not approved deploy write (approved=no: the job changed since it was approved)",
    );
    env.run(&["run", "deploy"])
        .code(4)
        .stderr_has("changed since")
        .stderr_has("ops-monitor approve deploy");
    assert_eq!(env.read("drop.log"), "", "the unapproved job never ran");
    assert!(env.state()["jobs"].get("deploy").is_none());
    // Swapped back, the job is the approved one again and the grant counts.
    two_writes(&env, "deploy", "dropdb");
    env.run(&["run", "deploy"])
        .code(0)
        .stdout_has("using the approval by ann")
        .stdout_has("release 4");
    assert_eq!(env.read("deploy.log"), "deployed\n");
    let used = &env.state()["jobs"]["deploy"]["lastRun"]["approval"];
    assert_eq!(
        used,
        &json!({"source": "grant", "by": "ann", "grantedAt": NOON, "note": "release 4"})
    );
}

#[test]
fn a_grant_is_void_when_the_cwd_changes() {
    let env = TestEnv::new();
    two_writes(&env, "deploy", "dropdb");
    env.run(&["approve", "deploy"]).code(0);
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(env.config_path()).unwrap()).unwrap();
    std::fs::create_dir_all(env.path("elsewhere")).unwrap();
    cfg["jobs"][1]["cwd"] = json!(env.path("elsewhere").display().to_string());
    env.config(&cfg);
    env.run(&["run", "deploy"])
        .code(4)
        .stderr_has("changed since");
    assert!(!env.path("elsewhere/deploy.log").exists());
}

#[test]
fn a_gate_open_in_the_config_is_said_on_every_run() {
    let env = TestEnv::new();
    two_writes(&env, "deploy", "dropdb");
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(env.config_path()).unwrap()).unwrap();
    cfg["jobs"][1]["approval"] = json!({"required": false});
    env.config(&cfg);
    for _ in 0..2 {
        env.run(&["run", "deploy"])
            .code(0)
            .stdout_has("approved by the config")
            .stdout_has("the gate is open for every run");
    }
    assert_eq!(env.read("deploy.log"), "deployed\ndeployed\n");
    env.run(&["status"])
        .code(0)
        .stdout_has("deploy  write (approved=yes by the config)");
}

#[test]
fn approve_is_for_at_most_a_day() {
    let env = TestEnv::new();
    two_writes(&env, "deploy", "dropdb");
    env.run(&["approve", "deploy", "--for", "25h"])
        .code(2)
        .stderr_has("at most 24h");
    env.run(&["approve", "deploy", "--for", "24h"]).code(0);
}
