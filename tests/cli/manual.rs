//! `run`, `start` and `stop` by a person (SPEC §6, §8, §11): the lock taken
//! twice, a grant used up on disk before the write job starts, SIGHUP, and a
//! closed stdout that never skips a save.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{config_with, Run, TestEnv};

/// Wait until `rel` exists in the test folder.
fn wait_for(env: &TestEnv, rel: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !env.path(rel).exists() {
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
