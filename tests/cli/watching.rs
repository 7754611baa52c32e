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

fn with_file_channel(mut config: Value) -> Value {
    config["defaults"]["notify"] = json!([{"type": "file", "path": "alerts.jsonl"}]);
    config
}

/// The texts delivered through the file channel so far.
fn delivered(env: &TestEnv) -> Vec<String> {
    env.read("alerts.jsonl")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_broken_config_keeps_watching_with_the_last_good_one_and_starts_nothing() {
    let mut env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"if [ -f paused ]; then echo '{"running":false,"completed":false}'; else echo '{"running":true,"completed":false,"pid":4242}'; fi"#,
    );
    let start = env.script("start.sh", "rm -f paused; echo started >> starts.log");
    let mut job = long_job("j", &status, &start);
    job["policy"] = json!({"autoResume": true, "autoResumeBackoffSeconds": 60});
    env.config(&with_file_channel(config_with(json!([job]))));
    env.run(&["tick"]).code(0);
    assert_eq!(delivered(&env).len(), 1, "first sight is reported");
    assert!(env
        .path("state/ops-monitor.json.last-good-config.json")
        .is_file());

    // A stray comma: the file no longer parses.
    let good = fs::read_to_string(env.config_path()).unwrap();
    fs::write(env.config_path(), good.replacen('{', "{,", 1)).unwrap();
    env.write("paused", "");
    env.at(NOON + 3600.0);
    let run = env.run(&["tick"]);
    run.code(2).stderr_has("ERROR: config invalid");
    let texts = delivered(&env);
    assert_eq!(
        texts.len(),
        2,
        "the alert went through the last good channel"
    );
    let alert = &texts[1];
    assert!(alert.contains("ALERT: ops-jobs config invalid"), "{alert}");
    assert!(
        alert.contains("still watching with the config from"),
        "{alert}"
    );
    assert!(
        alert.contains("paused"),
        "the job is still watched: {alert}"
    );
    assert_eq!(
        starts(&env),
        0,
        "nothing is started with the last good config"
    );

    // Within the hour: no new config alert, still watching, still exit 2.
    env.at(NOON + 3700.0);
    env.run(&["tick"]).code(2);
    assert!(delivered(&env)
        .iter()
        .skip(2)
        .all(|t| !t.contains("config invalid")));

    // Fixed: starts again.
    fs::write(env.config_path(), &good).unwrap();
    env.at(NOON + 3800.0);
    env.run(&["tick"]).code(0);
    assert_eq!(starts(&env), 1);
}

#[test]
fn with_no_good_copy_the_alert_uses_the_channels_the_broken_file_names() {
    let env = TestEnv::new();
    let mut config = with_file_channel(config_with(json!([paused_job(&env)])));
    config["jobs"][0]["kind"] = json!("long_running_writer");
    env.config(&config);
    env.run(&["tick"]).code(2);
    let texts = delivered(&env);
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].starts_with("🛠️ Ops report\n"),
        "no time in the header: {}",
        texts[0]
    );
    assert!(texts[0].contains("ALERT: ops-jobs config invalid"));
    assert_eq!(starts(&env), 0);
}

#[test]
fn a_missing_config_is_nothing_to_watch_said_once_an_hour() {
    let mut env = TestEnv::new();
    let first = env.tick();
    first.code(0).stderr_has("nothing to watch");
    assert!(first.stdout.is_empty(), "no report: {}", first.stdout);
    env.at(NOON + 60.0);
    let second = env.tick();
    second.code(0);
    assert!(
        !second.stderr.contains("nothing to watch"),
        "{}",
        second.stderr
    );
    env.at(NOON + 3600.0);
    env.tick().code(0).stderr_has("nothing to watch");
}

#[test]
fn status_with_a_broken_config_shows_the_error_then_the_last_good_jobs() {
    let env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    env.tick().code(0);
    fs::write(env.config_path(), "{ oops").unwrap();
    let run = env.run(&["status"]);
    run.code(0)
        .stderr_has("config invalid")
        .stderr_has("using the last good config")
        .stdout_has("j (long_running_read)");
    // Commands that act refuse an invalid config.
    env.run(&["start", "j"])
        .code(2)
        .stderr_has("config invalid");
}
