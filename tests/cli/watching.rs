//! Never stops watching, never acts twice (issue 8, the tick and state
//! side): state path safety, symbolic links, the last good config, a clock
//! that steps back, side effects written down first, closed pipes, hostile
//! status text.

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::util::{config_with, long_job, TestEnv, NOON};

fn paused_job(env: &TestEnv) -> Value {
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    let start = env.script("start.sh", "echo started >> starts.log");
    let mut job = long_job("j", &status, &start);
    job["policy"] = json!({"autoResume": true, "autoResumeBackoffSeconds": 600});
    job
}

fn starts(env: &TestEnv) -> usize {
    env.read("starts.log").lines().count()
}

#[test]
fn a_state_path_that_is_not_a_regular_file_is_refused_untouched() {
    let env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    let fifo = env.path("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut specials = vec![fifo.clone(), env.root().to_path_buf()];
    // A copy of /dev/null, where the kernel lets us make one (root).
    let dev = env.path("null-copy");
    if Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        specials.push(dev.clone());
    }
    for path in &specials {
        let p = path.display().to_string();
        let run = env.run_with_state(path, &["tick", "--print-only"]);
        run.code(2).stderr_has("refused: the state path");
        let lock = format!("{p}.lock");
        assert!(!std::path::Path::new(&lock).exists(), "no lock beside {p}");
    }
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    if specials.contains(&dev) {
        assert!(fs::metadata(&dev).unwrap().file_type().is_char_device());
    }
    assert_eq!(starts(&env), 0, "nothing was started");
}

#[test]
fn a_job_config_or_a_foreign_file_is_never_used_as_a_state() {
    let env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    let config_text = fs::read_to_string(env.config_path()).unwrap();
    env.run_with_state(&env.config_path(), &["tick", "--print-only"])
        .code(2)
        .stderr_has("holds a job config");
    assert_eq!(fs::read_to_string(env.config_path()).unwrap(), config_text);

    let notes = env.write("notes.txt", "my notes, not JSON\n");
    env.run_with_state(&notes, &["tick", "--print-only"])
        .code(2)
        .stderr_has("is not an ops-monitor state");
    assert_eq!(fs::read_to_string(&notes).unwrap(), "my notes, not JSON\n");
    assert_eq!(starts(&env), 0);

    // Named like a state: corrupt, moved aside, reported, a fresh state.
    let named = env.write("ops-monitor-host2.json", "{not json");
    env.run_with_state(&named, &["tick", "--print-only"])
        .code(0)
        .stdout_has("state file");
    let aside: Vec<_> = fs::read_dir(env.root())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("ops-monitor-host2.json.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "moved aside once");
    assert_eq!(
        fs::read_to_string(aside[0].path()).unwrap(),
        "{not json",
        "the old bytes are kept"
    );
}

#[test]
fn a_symlinked_state_stays_a_link_and_shares_one_lock() {
    let env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    fs::create_dir_all(env.path("real")).unwrap();
    let target = env.path("real/ops-monitor.json");
    let link = env.path("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let t = target.display().to_string();
    env.run_with_state(&link, &["tick", "--print-only"]).code(0);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::metadata(&target).unwrap().is_file());
    assert_eq!(starts(&env), 1);

    // The lock is taken on the real path: holding the target's lock makes
    // a tick through the link wait and give up.
    let holder = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{t}.lock"))
        .unwrap();
    holder.lock().unwrap();
    env.run_with_state(&link, &["tick", "--print-only", "--lock-timeout", "100ms"])
        .code(75);
    drop(holder);
    assert!(!env.path("link.json.lock").exists(), "no second lock file");
}

#[test]
fn an_existing_state_keeps_its_mode_and_a_new_one_is_private() {
    let env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    env.tick().code(0);
    let mode = |env: &TestEnv| fs::metadata(env.state_path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env), 0o600);
    fs::set_permissions(env.state_path(), fs::Permissions::from_mode(0o644)).unwrap();
    env.tick().code(0);
    assert_eq!(mode(&env), 0o644);
}
