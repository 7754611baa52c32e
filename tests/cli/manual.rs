//! `run`, `start` and `stop` by a person (SPEC §6, §8, §11): the lock taken
//! twice, a grant used up on disk before the write job starts, SIGHUP, and a
//! closed stdout that never skips a save.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{config_with, Run, TestEnv};

/// Wait until `rel` exists in the test folder.
/// Wait until `rel` holds a whole line: the shell creates the file before it
/// writes to it, so existing is not enough to read a pid from it.
fn wait_for(env: &TestEnv, rel: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !env.read(rel).ends_with('\n') {
        assert!(Instant::now() < deadline, "{rel} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A write job `w` (verified by `verify`) whose run script writes `started`,
/// waits for the file `go`, then appends to `write.log`.
fn write_env() -> TestEnv {
    let env = TestEnv::new();
    let write = env.script(
        "write.sh",
        "echo $$ > started\nwhile [ ! -f go ]; do sleep 0.02; done\necho wrote >> write.log\necho done writing",
    );
    let verify = env.script("verify.sh", "echo verified >> verify.log");
    env.config(&config_with(json!([
        {"id": "verify", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [verify]}},
        {"id": "w", "kind": "one_shot_write", "risk": "write_local",
         "commands": {"run": [write]},
         "after": [{"jobId": "verify", "when": "success", "delaySeconds": 0}]},
    ])));
    env
}

#[test]
fn a_closed_stdout_never_panics_and_never_skips_the_save() {
    let env = write_env();
    env.run(&["approve", "w"]).code(0);
    // `run w | true`: the reader is gone before anything is printed.
    let mut child = env
        .command(&["run", "w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    wait_for(&env, "started");
    env.write("go", "");
    let run = Run::from(child.wait_with_output().unwrap());
    run.code(0);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let st = env.state();
    assert!(st.get("approvals").is_none(), "the grant is used up: {st}");
    assert_eq!(st["jobs"]["w"]["lastRun"]["stdoutTail"], "done writing");
    assert_eq!(st["queue"][0]["jobId"], "verify");
    assert_eq!(env.read("write.log"), "wrote\n");
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn spawn(env: &TestEnv, args: &[&str]) -> std::process::Child {
    env.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The pid the run script wrote into `started`.
fn job_pid(env: &TestEnv) -> i32 {
    env.read("started").trim().parse().unwrap()
}

#[test]
fn the_grant_is_used_up_on_disk_before_the_write_job_starts() {
    let mut env = write_env();
    env.run(&["approve", "w", "--note", "ticket 7"]).code(0);
    let mut first = spawn(&env, &["run", "w"]);
    wait_for(&env, "started");
    // While the job runs, the file already says: grant gone, run under way.
    let st = env.state();
    assert!(st.get("approvals").is_none(), "{st}");
    let going = &st["jobs"]["w"]["runInProgress"];
    assert_eq!(going["at"], crate::util::NOON);
    assert_eq!(going["limit"], 300.0);
    assert_eq!(going["pid"], first.id());
    // The monitor dies mid-run (SIGKILL: nothing can be saved any more);
    // its job goes on as an orphan.
    first.kill().unwrap();
    first.wait().unwrap();
    let orphan = job_pid(&env);
    assert!(crate::util::alive(orphan));
    // A second run finds no grant…
    env.run(&["run", "w"])
        .code(4)
        .stderr_has("ops-monitor approve w");
    // …and even with a fresh one, not while the first may still be going.
    env.run(&["approve", "w"]).code(0);
    env.run(&["run", "w"])
        .code(4)
        .stderr_has("may still be going");
    assert!(
        env.state()["approvals"]["w"].is_object(),
        "a refusal keeps the grant"
    );
    env.write("go", "");
    // Past the first run's time limit (300 s) and grace, its record no
    // longer counts.
    env.at(crate::util::NOON + 311.0);
    env.run(&["run", "w"]).code(0);
    assert!(env.state()["jobs"]["w"].get("runInProgress").is_none());
    // The orphan saw `go` too; wait until it has written and gone, so that
    // a loaded machine does not read the log before its line.
    let deadline = Instant::now() + Duration::from_secs(20);
    while crate::util::alive(orphan) {
        assert!(Instant::now() < deadline, "the orphan never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The orphan and the second run: two lines, never three.
    assert_eq!(env.read("write.log"), "wrote\nwrote\n");
}

#[test]
fn a_tick_during_a_run_is_not_held_back_by_the_lock() {
    let env = write_env();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.config_path()).unwrap()).unwrap();
    cfg["jobs"][1]["approval"] = json!({"granted": true});
    env.config(&cfg);
    let run = spawn(&env, &["run", "w"]);
    wait_for(&env, "started");
    env.run(&["tick", "--print-only", "--lock-timeout", "1s"])
        .code(0);
    env.write("go", "");
    let run = Run::from(run.wait_with_output().unwrap());
    run.code(0)
        .stdout_has("the gate is open for every run")
        .stdout_has("queued verify");
    let st = env.state();
    assert_eq!(st["jobs"]["w"]["lastRun"]["exitCode"], 0);
    assert_eq!(
        st["jobs"]["w"]["lastRun"]["approval"],
        json!({"source": "config"})
    );
    assert!(st["jobs"]["w"].get("runInProgress").is_none(), "{st}");
    // The tick's own record survived the run's second phase.
    assert!(st["monitor"].is_object(), "{st}");
}

#[test]
fn sighup_does_not_stop_a_write_run_which_is_waited_for_and_recorded() {
    let env = write_env();
    env.run(&["approve", "w"]).code(0);
    let run = spawn(&env, &["run", "w"]);
    wait_for(&env, "started");
    signal(run.id(), "-HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(crate::util::alive(run.id() as i32), "the monitor stays");
    assert!(crate::util::alive(job_pid(&env)), "the job stays");
    env.write("go", "");
    let run = Run::from(run.wait_with_output().unwrap());
    run.code(0).stdout_has("run w: exit=0");
    let st = env.state();
    assert_eq!(st["jobs"]["w"]["lastRun"]["stdoutTail"], "done writing");
    assert_eq!(st["jobs"]["w"]["lastRun"]["approval"]["source"], "grant");
    assert_eq!(env.read("write.log"), "wrote\n");
}

#[test]
fn sigterm_after_sighup_still_stops_a_write_run() {
    let env = write_env();
    env.run(&["approve", "w"]).code(0);
    let run = spawn(&env, &["run", "w"]);
    wait_for(&env, "started");
    let job = job_pid(&env);
    signal(run.id(), "-HUP");
    signal(run.id(), "-TERM");
    let began = Instant::now();
    let run = Run::from(run.wait_with_output().unwrap());
    run.code(143);
    assert!(began.elapsed() < Duration::from_secs(10));
    assert!(!crate::util::alive(job));
    let st = env.state();
    assert_eq!(st["jobs"]["w"]["lastRun"]["exitCode"], -1);
    assert!(st["jobs"]["w"].get("runInProgress").is_none());
    assert!(st.get("approvals").is_none(), "the grant stays used");
    assert_eq!(env.read("write.log"), "");
}

#[test]
fn sighup_stops_a_read_run_and_start_and_exits_129() {
    let env = TestEnv::new();
    let slow = env.script("slow.sh", "echo $$ > started; exec sleep 30");
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    env.config(&config_with(json!([
        {"id": "r", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [slow]}},
        crate::util::long_job("l", &status, &slow),
    ])));
    for (args, key) in [(["run", "r"], "lastRun"), (["start", "l"], "lastStart")] {
        let _ = std::fs::remove_file(env.path("started"));
        let child = spawn(&env, &args);
        wait_for(&env, "started");
        signal(child.id(), "-HUP");
        let run = Run::from(child.wait_with_output().unwrap());
        run.code(129);
        let id = args[1];
        let st = env.state();
        assert_eq!(st["jobs"][id][key]["exitCode"], -1, "{st}");
        assert!(!crate::util::alive(job_pid(&env)));
    }
    let st = env.state();
    assert!(st["jobs"]["l"].get("startInProgress").is_none(), "{st}");
    assert_eq!(st["jobs"]["l"]["lastManualStartAt"], crate::util::NOON);
}

#[test]
fn start_records_that_it_started_before_its_command_ends() {
    let env = TestEnv::new();
    let start = env.script(
        "start.sh",
        "echo $$ > started\nwhile [ ! -f go ]; do sleep 0.02; done\necho up",
    );
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    env.config(&config_with(json!([crate::util::long_job(
        "l", &status, &start
    )])));
    let child = spawn(&env, &["start", "l", "--timeout-seconds", "90"]);
    wait_for(&env, "started");
    let st = env.state();
    assert_eq!(st["jobs"]["l"]["lastManualStartAt"], crate::util::NOON);
    assert_eq!(st["jobs"]["l"]["startInProgress"]["at"], crate::util::NOON);
    assert_eq!(st["jobs"]["l"]["startInProgress"]["limit"], 90.0);
    // A tick meanwhile is not held back by the lock.
    env.run(&["tick", "--print-only", "--lock-timeout", "1s"])
        .code(0);
    env.write("go", "");
    Run::from(child.wait_with_output().unwrap())
        .code(0)
        .stdout_has("up");
    let st = env.state();
    assert!(st["jobs"]["l"].get("startInProgress").is_none(), "{st}");
    assert_eq!(st["jobs"]["l"]["lastStart"]["stdoutTail"], "up");
}

#[test]
fn a_run_under_way_is_cleared_whatever_digits_its_time_has() {
    // Times with 17 significant digits, as the real clock gives: each goes
    // through the state file between the two phases and must still match.
    let mut env = TestEnv::new();
    let quick = env.script("quick.sh", "echo ok");
    env.config(&config_with(json!([
        {"id": "verify", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [quick]}},
        {"id": "w", "kind": "one_shot_write", "risk": "write_local",
         "commands": {"run": [quick]}, "approval": {"granted": true},
         "after": [{"jobId": "verify", "when": "success", "delaySeconds": 0}]},
    ])));
    // The first is a time the real clock gave when a release build read
    // the record back one ULP off and refused the next run; the others are
    // spread 700 s apart, past each run's limit, so only a stuck record
    // could refuse the next one.
    let times = std::iter::once(1_795_277_241.091_125_7)
        .chain((1..=30).map(|k| 1_795_277_241.091_125_7 + f64::from(k) * 700.123_456_789_1));
    for (k, at) in times.enumerate() {
        env.at(at);
        env.run(&["run", "w"]).code(0);
        let st = env.state();
        assert!(
            st["jobs"]["w"].get("runInProgress").is_none(),
            "run {k} left its record: {}",
            st["jobs"]["w"]
        );
    }
}
