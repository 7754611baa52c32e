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

/// SPEC §4, §11: a refused state file gets no lock file beside it — from
/// `tick` and from every command that locks the state.
#[test]
fn a_refused_state_file_gets_no_lock_file_beside_it() {
    let env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    let jobs_conf = env.write(
        "jobsconf.json",
        &fs::read_to_string(env.config_path()).unwrap(),
    );
    let other = env.write("other.json", "[1, 2, 3]\n");
    // Its status leaves a mark: a refused state runs nothing of the job's.
    env.script(
        "status.sh",
        r#"echo ran >> status.ran; echo '{"running":false,"completed":false}'"#,
    );
    let commands: [&[&str]; 5] = [
        &["tick"],
        &["silence", "j", "--for", "10m"],
        &["outbox", "drop", "--all"],
        &["start", "j"],
        &["stop", "j"],
    ];
    for (file, why) in [
        (&jobs_conf, "holds a job config"),
        (&other, "is not an ops-monitor state"),
    ] {
        let before = fs::read(file).unwrap();
        for args in commands {
            let run = env.run_with_state(file, args);
            run.code(2).stderr_has(why);
            let lock = format!("{}.lock", file.display());
            assert!(
                !std::path::Path::new(&lock).exists(),
                "{args:?} left {lock}"
            );
            assert_eq!(fs::read(file).unwrap(), before, "{args:?} changed it");
        }
    }
    assert_eq!(starts(&env), 0, "nothing was started");
    assert!(!env.path("status.ran").exists(), "no status command ran");
    // A state of ours still gets its lock, also when the file came first.
    let ours = env.write("ops-monitor.json", "{\"version\": 1, \"jobs\": {}}\n");
    env.run_with_state(&ours, &["silence", "j", "--for", "10m"])
        .code(0);
    assert!(env.path("ops-monitor.json.lock").is_file());
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
    // autoResume is on: the action line says why nothing started, not
    // "enable autoResume".
    assert!(
        alert.contains("- ACTION REQUIRED: paused — not started automatically by this tick (see the alert above); start it by hand (ops-monitor start j)"),
        "{alert}"
    );
    assert!(!alert.contains("enable autoResume"), "{alert}");
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

/// The first tick of a config that never validated (a job kind that does
/// not exist; `language` set when given): exit 2, one alert delivered
/// through the file channel the broken file names. The texts delivered.
fn first_tick_of_a_broken_config(env: &TestEnv, language: Option<&str>) -> Vec<String> {
    let mut config = with_file_channel(config_with(json!([paused_job(env)])));
    if let Some(lang) = language {
        config["defaults"]["language"] = json!(lang);
    }
    config["jobs"][0]["kind"] = json!("long_running_writer");
    env.config(&config);
    env.run(&["tick"]).code(2);
    let texts = delivered(env);
    assert_eq!(texts.len(), 1);
    texts
}

#[test]
fn with_no_good_copy_the_alert_uses_the_channels_the_broken_file_names() {
    let env = TestEnv::new();
    let texts = first_tick_of_a_broken_config(&env, None);
    assert!(
        texts[0].starts_with("🚨 Ops alert (12:00:00)\n\n• ALERT: ops-jobs config invalid"),
        "the alert header: {}",
        texts[0]
    );
    assert!(texts[0].contains("ALERT: ops-jobs config invalid"));
    assert_eq!(starts(&env), 0);
}

/// With no last good copy, the alert speaks the broken file's
/// `defaults.language`, as it goes to its `defaults.notify`.
#[test]
fn with_no_good_copy_the_alert_speaks_the_broken_files_language() {
    let env = TestEnv::new();
    let texts = first_tick_of_a_broken_config(&env, Some("zh"));
    assert!(
        texts[0].starts_with("🛠️ Ops 快报\n\n• ALERT: ops-jobs config invalid"),
        "the zh header: {}",
        texts[0]
    );
    assert!(texts[0].contains("jobs[0] (id \"j\").kind"), "{}", texts[0]);
    // `--lang` still decides first.
    env.write("alerts.jsonl", "");
    let mut env = env;
    env.at(NOON + 3600.0);
    env.run(&["tick", "--lang", "en"]).code(2);
    assert!(
        delivered(&env)[0].starts_with("🚨 Ops alert ("),
        "{:?}",
        delivered(&env)
    );
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

/// SPEC §11: a config that was deleted is not "invalid": the last good copy
/// is not used for it — no command acts or watches through it.
#[test]
fn a_deleted_config_drives_nothing_through_the_last_good_copy() {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"echo '{"running":true,"completed":false}'; echo ran >> status.log"#,
    );
    let start = env.script("start.sh", "echo started >> starts.log");
    let stop = env.script("stop.sh", "echo stopped > stop.marker");
    let mut job = long_job("j", &status, &start);
    job["commands"]["stop"] = json!([stop]);
    env.config(&config_with(json!([job])));
    env.tick().code(0);
    assert!(env
        .path("state/ops-monitor.json.last-good-config.json")
        .is_file());
    fs::remove_file(env.config_path()).unwrap();
    let status_runs = || env.read("status.log").lines().count();
    let before = status_runs();

    let said = format!("ERROR: no job config at {}: ", env.config_path().display());
    for args in [
        &["stop", "j"][..],
        &["status"],
        &["status", "--json"],
        &["explain", "j"],
        &["start", "j"],
        &["run", "j"],
        &["approve", "j"],
    ] {
        let run = env.run(args);
        run.code(2).stderr_has(&said).stderr_has("ops-monitor init");
        assert!(
            !run.stderr.contains("last good config,") && !run.stderr.contains("config invalid"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    assert!(!env.path("stop.marker").exists(), "stop ran nothing");
    assert_eq!(status_runs(), before, "no status command ran");
    assert_eq!(starts(&env), 0);

    // What only reads the state still shows it, after saying why.
    env.run(&["logs", "j"])
        .code(0)
        .stderr_has("no job config at")
        .stdout_has("== last start: never");
    env.run(&["outbox"])
        .code(0)
        .stderr_has("no job config at")
        .stdout_is("outbox: empty\n");
    // `tick` watches nothing (SPEC §11), as before.
    env.tick().code(0).stderr_has("nothing to watch");
    assert_eq!(status_runs(), before);
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
        .stdout_has("paused  j  ");
    // Commands that act refuse an invalid config.
    env.run(&["start", "j"])
        .code(2)
        .stderr_has("config invalid");
}

const FUTURE: f64 = 2_000_000_000.0;

#[test]
fn one_tick_in_the_future_does_not_stall_the_monitor() {
    let mut env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    env.at(FUTURE);
    env.tick().code(0).stdout_has("AUTORUN: started");
    env.run(&["silence", "j", "--for", "10m"]).code(0);
    assert_eq!(starts(&env), 1);

    // Back to real time: the backoff starts over from now, not from 2033;
    // the silence given "in the future" is over.
    env.at(NOON);
    let back = env.tick();
    back.code(0).stdout_has("CLOCK:").stdout_has("silence of j");
    assert_eq!(
        starts(&env),
        1,
        "inside the backoff again, counted from now"
    );
    assert_eq!(env.state()["jobs"]["j"]["lastAutoResumeAt"], json!(NOON));
    assert!(env.state().get("silences").is_none());
    env.at(NOON + 600.0);
    env.tick().code(0).stdout_has("AUTORUN: started");
    assert_eq!(starts(&env), 2, "started again after the backoff");
    env.at(NOON + 660.0);
    assert!(!env.tick().stdout.contains("CLOCK"), "said once");
}

#[test]
fn an_approval_given_in_the_future_is_void_when_the_clock_comes_back() {
    let mut env = TestEnv::new();
    let write = env.script("write.sh", "echo wrote >> writes.log");
    let verify = env.script("verify.sh", "true");
    env.config(&config_with(json!([
        {"id": "w", "kind": "one_shot_write", "risk": "write_local",
         "commands": {"run": [write]}, "after": [{"jobId": "v"}]},
        {"id": "v", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [verify]}},
    ])));
    env.at(FUTURE);
    env.run(&["approve", "w", "--for", "1h"]).code(0);
    env.at(NOON + 3.0 * 86400.0);
    env.run(&["run", "w"]).code(4).stderr_has("clock went back");
    assert_eq!(env.read("writes.log"), "", "the write never ran");
}

/// A script that marks `me` and succeeds only if every one of `all` is
/// marked within 10 s: it can pass only when they all run at the same time.
fn barrier(env: &TestEnv, rel: &str, me: &str, all: &[&str], out: &str) -> String {
    let waits: Vec<String> = all.iter().map(|m| format!("[ -f {m}.mark ]")).collect();
    env.script(
        rel,
        &format!(
            "touch {me}.mark\ni=0\nwhile ! ( {} ) && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n( {} ) && echo {out}",
            waits.join(" && "),
            waits.join(" && "),
        ),
    )
}

#[test]
fn queue_checks_and_statuses_run_in_one_pool() {
    let env = TestEnv::new();
    let all = ["q", "c", "s"];
    let queued = barrier(&env, "q.sh", "q", &all, "queued ok");
    let check = barrier(&env, "c.sh", "c", &all, "check ok");
    let status = barrier(
        &env,
        "s.sh",
        "s",
        &all,
        r#"'{"running":true,"completed":false}'"#,
    );
    env.config(&config_with(json!([
        {"id": "q", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [queued]}},
        {"id": "c", "kind": "one_shot_read", "risk": "read_only", "enabled": true,
         "commands": {"run": [check]}, "policy": {"everySeconds": 60}},
        long_job("s", &status, "/bin/true"),
    ])));
    env.write(
        "state/ops-monitor.json",
        &json!({"version": 1, "jobs": {}, "queue": [{"id": "q1", "jobId": "q", "createdAt": NOON,
            "notBefore": NOON, "reason": "t", "status": "pending", "attempt": 0}]})
        .to_string(),
    );
    let run = env.tick();
    run.code(0);
    let st = env.state();
    assert_eq!(st["queue"][0]["status"], json!("done"), "{}", run.stdout);
    assert_eq!(st["queue"][0]["stdoutTail"], json!("queued ok"));
    assert_eq!(st["jobs"]["c"]["lastRun"]["exitCode"], json!(0));
    assert_eq!(
        st["jobs"]["s"]["lastSeen"]["running"],
        json!(true),
        "{}",
        run.stdout
    );
}

#[test]
fn automatic_starts_run_in_parallel() {
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    let ids = ["a", "b", "c"];
    let jobs: Vec<Value> = ids
        .iter()
        .map(|id| {
            let start = barrier(&env, &format!("start-{id}.sh"), id, &ids, "up");
            let mut job = long_job(id, &status, &start);
            job["policy"] = json!({"autoResume": true});
            job
        })
        .collect();
    env.config(&config_with(Value::Array(jobs)));
    let run = env.tick();
    run.code(0);
    assert_eq!(
        run.stdout.matches("AUTORUN: started").count(),
        3,
        "{}",
        run.stdout
    );
}

#[test]
fn a_full_disk_never_makes_a_start_happen_twice() {
    let mut env = TestEnv::new();
    let disk = env.path("disk");
    fs::create_dir_all(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&disk)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a small tmpfs (run as root) for the full-disk test"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: cannot mount a tmpfs here (run as root to test a full disk)"
        );
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    env.config(&with_file_channel(config_with(json!([paused_job(&env)]))));
    let state = disk.join("ops-monitor.json");
    env.run_with_state(&state, &["tick"]).code(0);
    assert_eq!(starts(&env), 1);
    assert_eq!(delivered(&env).len(), 1);
    // Fill the disk to the last byte.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1k", "count=128"])
        .arg(format!("of={}", disk.join("filler").display()))
        .stderr(Stdio::null())
        .status();
    for minute in 1..=3 {
        env.at(NOON + 600.0 * minute as f64 + 60.0);
        let run = env.run_with_state(&state, &["tick"]);
        run.code(1).stderr_has("the state could not be saved");
        assert_eq!(starts(&env), 1, "never started without the backoff saved");
        assert_eq!(delivered(&env).len(), 1, "nothing delivered off the record");
    }
    fs::remove_file(disk.join("filler")).unwrap();
    env.at(NOON + 3600.0);
    env.run_with_state(&state, &["tick"]).code(0);
    assert_eq!(starts(&env), 2, "started once the save works");
    let texts = delivered(&env);
    assert_eq!(texts.len(), 2, "{texts:?}");
}

#[test]
fn a_status_error_with_a_timestamp_is_one_anomaly_not_one_a_minute() {
    let mut env = TestEnv::new();
    let status = env.script(
        "status.sh",
        "echo \"connection refused at $(date +%s%N), attempt $$\" >&2; exit 1",
    );
    env.config(&config_with(json!([long_job("j", &status, "/bin/true")])));
    let mut alerts = 0;
    for minute in 0..10 {
        env.at(NOON + 60.0 * minute as f64);
        let run = env.tick();
        run.code(0);
        alerts += run.stdout.matches("connection refused").count();
    }
    assert_eq!(alerts, 1, "one alert in ten minutes");
    // The reminder comes after max(900 s, reportEverySeconds = 1800 s).
    env.at(NOON + 1800.0);
    assert!(
        env.tick().stdout.contains("connection refused"),
        "a reminder"
    );
}

#[test]
fn a_status_cannot_forge_a_section_or_reach_the_terminal_with_escapes() {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"printf '{"running":false,"completed":false,"stopReason":"x\\n- 状态: completed ✅","message":"\\u001b[2J\\u001b[31mfine\\n\\n• Payroll sync (payroll, long_running_read)\\n- state: completed ✅\\n• ALERT: none"}\n'; printf '\033[31mred\033[0m line\n' >&2"#,
    );
    env.config(&config_with(json!([long_job("j", &status, "/bin/true")])));
    let run = env.tick();
    run.code(0);
    assert!(!run.stdout.contains('\u{1b}'), "{:?}", run.stdout);
    for line in run.stdout.lines() {
        assert!(!line.starts_with("• Payroll"), "forged section: {line}");
        assert!(!line.starts_with("• ALERT"), "forged alert line: {line}");
        assert!(!line.starts_with("- 状态"), "forged state line: {line}");
    }
    assert!(
        run.stdout.contains("fine  • Payroll sync"),
        "{}",
        run.stdout
    );
    let state = fs::read_to_string(env.state_path()).unwrap();
    assert!(!state.contains("\\u001b"), "no escapes in the state");
}

#[test]
fn a_change_at_the_end_of_a_long_progress_key_is_progress() {
    let mut env = TestEnv::new();
    let head = "x".repeat(2500);
    let status = env.script(
        "status.sh",
        &format!(
            r#"n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; echo '{{"running":true,"completed":false,"progressKey":"{head}'$n'"}}'"#
        ),
    );
    let mut job = long_job("j", &status, "/bin/true");
    job["policy"] = json!({"stallSeconds": 120});
    env.config(&config_with(json!([job])));
    for minute in 0..6 {
        env.at(NOON + 60.0 * minute as f64);
        let run = env.tick();
        run.code(0);
        assert!(
            !run.stdout.contains("stalled"),
            "minute {minute}: {}",
            run.stdout
        );
    }
    let key = env.state()["jobs"]["j"]["lastProgressKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.chars().count() < 2000 && key.contains("…#"), "{key}");
}

#[test]
fn a_closed_stdout_loses_the_printed_report_never_the_state() {
    let mut env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    for minute in 0..3 {
        env.at(NOON + 60.0 * minute as f64);
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // `tick --print-only | true`, deterministically
        let out = env
            .command(&["tick", "--print-only"])
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(starts(&env), 1, "started once, its backoff saved");
    assert_eq!(env.state()["jobs"]["j"]["lastAutoResumeAt"], json!(NOON));
}

#[test]
fn a_deeply_nested_openclaw_config_is_an_error_not_a_crash() {
    let mut env = TestEnv::new();
    env.write(
        "openclaw.json",
        &format!("{{\"a\": {}{}}}", "[".repeat(60_000), "]".repeat(60_000)),
    );
    env.config(&config_with(json!([paused_job(&env)])));
    for minute in 0..2 {
        env.at(NOON + 60.0 * minute as f64);
        let run = env.run(&["tick"]);
        run.code(3).stderr_has("nested deeper");
    }
    assert_eq!(starts(&env), 1, "the start was saved once, not repeated");
    assert_eq!(
        env.state()["outbox"].as_array().map(Vec::len),
        Some(1),
        "kept"
    );
}

#[test]
fn config_warnings_are_printed_when_the_config_changes_or_with_v() {
    let mut env = TestEnv::new();
    let mut job = paused_job(&env);
    job["polcy"] = json!({});
    env.config(&config_with(json!([job])));
    env.tick()
        .code(0)
        .stderr_has("WARNING:")
        .stderr_has("polcy");
    env.at(NOON + 60.0);
    let quiet = env.tick();
    quiet.code(0);
    assert!(!quiet.stderr.contains("WARNING"), "{}", quiet.stderr);
    env.at(NOON + 120.0);
    env.run(&["tick", "--print-only", "-v"])
        .code(0)
        .stderr_has("polcy");
}

#[test]
fn a_queue_of_twenty_thousand_items_is_trimmed_in_one_pass() {
    let env = TestEnv::new();
    env.config(&config_with(json!([paused_job(&env)])));
    let mut queue: Vec<Value> = (0..20_000)
        .map(|i| {
            json!({"id": format!("q{i}"), "jobId": "gone", "createdAt": NOON - 10.0,
                   "notBefore": NOON - 10.0, "reason": "old", "status": "done", "attempt": 1})
        })
        .collect();
    queue.push(
        json!({"id": "keep", "jobId": "gone", "createdAt": NOON, "notBefore": NOON + 3600.0,
        "reason": "later", "status": "pending", "attempt": 0}),
    );
    env.write(
        "state/ops-monitor.json",
        &json!({"version": 1, "jobs": {}, "queue": queue}).to_string(),
    );
    env.tick().code(0);
    let st = env.state();
    let queue = st["queue"].as_array().unwrap();
    assert_eq!(queue.len(), 200, "the last 200 kept");
    assert_eq!(
        queue.last().unwrap()["id"],
        json!("keep"),
        "pending never dropped"
    );
    assert_eq!(
        queue[0]["id"],
        json!("q19801"),
        "the oldest finished went first"
    );
}

#[test]
fn a_silence_holds_back_the_sections_of_the_jobs_queued_runs() {
    let env = TestEnv::new();
    let check = env.script("check.sh", "echo 'ALERT: archive unreadable'; exit 2");
    env.config(&config_with(json!([
        {"id": "c", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [check]}},
    ])));
    let item = |id: &str| {
        json!({"id": id, "jobId": "c", "createdAt": NOON, "notBefore": NOON,
               "reason": "by hand", "status": "pending", "attempt": 0})
    };
    env.write(
        "state/ops-monitor.json",
        &json!({"version": 1, "jobs": {}, "queue": [item("q1")]}).to_string(),
    );
    env.run(&["silence", "c", "--for", "1h"]).code(0);
    let run = env.tick();
    run.code(0);
    assert!(!run.stdout.contains("queued job failed"), "{}", run.stdout);
    assert_eq!(
        env.state()["queue"][0]["status"],
        json!("failed"),
        "the result is kept"
    );
    env.run(&["unsilence", "c"]).code(0);
    let mut st = env.state();
    st["queue"].as_array_mut().unwrap().push(item("q2"));
    env.write("state/ops-monitor.json", &st.to_string());
    env.tick().code(0).stdout_has("archive unreadable");
}

#[test]
fn delivery_stops_at_the_ticks_budget_and_tries_the_rest_next_tick() {
    let mut env = TestEnv::new();
    // Accepts, reads, never answers.
    let silent = testkit::RawServer::new(|_, stream: &mut std::net::TcpStream| {
        std::thread::sleep(std::time::Duration::from_secs(30));
        let _ = std::io::Write::flush(stream);
    });
    let mut config = config_with(json!([paused_job(&env)]));
    config["defaults"]["notify"] = json!([
        {"type": "webhook", "url": format!("{}/one", silent.url)},
        {"type": "webhook", "url": format!("{}/two", silent.url)},
        {"type": "webhook", "url": format!("{}/three", silent.url)},
    ]);
    env.config(&config);
    // A 2 s request deadline through its test seam: a 3 s budget.
    env.env("OPS_MONITOR_HTTP_TIMEOUT", "2");
    let run = env.run(&["tick"]);
    run.code(3)
        .stderr_has("delivery budget of this tick (3 s) is used up");
    let outbox = env.state()["outbox"].as_array().unwrap().clone();
    assert_eq!(outbox.len(), 3, "every report kept");
    let attempts: Vec<i64> = outbox
        .iter()
        .map(|e| e["attempts"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(
        attempts,
        vec![1, 1, 0],
        "the third was left for the next tick"
    );
}

#[test]
fn slow_status_commands_do_not_use_up_the_delivery_budget() {
    let mut env = TestEnv::new();
    let hook = testkit::Server::always(200, "ok");
    // A status that takes longer than the whole delivery budget below.
    let status = env.script(
        "status.sh",
        r#"sleep 1; echo '{"running":false,"completed":false,"stopReason":"slow"}'"#,
    );
    let mut config = config_with(json!([long_job("j", &status, &status)]));
    config["defaults"]["notify"] =
        json!([{"type": "webhook", "url": format!("{}/hook", hook.url)}]);
    env.config(&config);
    // A 0.4 s request deadline through its test seam: a 0.6 s budget,
    // which only the time spent delivering counts against.
    env.env("OPS_MONITOR_HTTP_TIMEOUT", "0.4");
    let run = env.run(&["tick"]);
    run.code(0);
    assert!(!run.stderr.contains("budget"), "{}", run.stderr);
    assert_eq!(hook.requests().len(), 1, "delivered in the same tick");
    assert!(hook.requests()[0].body.contains("slow"));
    assert!(env.state().get("outbox").is_none());
}

#[test]
fn a_refused_delivery_is_said_once_elsewhere_and_retried_only_after_a_change() {
    let mut env = TestEnv::new();
    let hook = testkit::Server::always(403, "forbidden");
    let mut config = config_with(json!([paused_job(&env)]));
    config["defaults"]["notify"] = json!([
        {"type": "webhook", "url": format!("{}/hook", hook.url)},
        {"type": "file", "path": "alerts.jsonl"},
    ]);
    env.config(&config);
    env.run(&["tick"]).code(0).stderr_has("refused");
    assert_eq!(hook.requests().len(), 1);
    assert_eq!(delivered(&env).len(), 1);

    // The next tick says so through the other channel, and leaves the
    // refused channel alone: nothing changed that could help.
    env.at(NOON + 60.0);
    env.run(&["tick"]).code(0);
    let texts = delivered(&env);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("ALERT: delivery refused — webhook"),
        "{}",
        texts[1]
    );
    assert!(texts[1].contains("webhook HTTP 403"), "{}", texts[1]);
    assert_eq!(hook.requests().len(), 1, "not tried again as it is");
    env.at(NOON + 120.0);
    env.run(&["tick"]).code(0);
    assert_eq!(delivered(&env).len(), 2, "said once");

    // A config change (here: a header) may help: every kept message is tried.
    hook.answer(200, "");
    config["defaults"]["notify"][0]["headers"] = json!({"Authorization": "Bearer new"});
    env.config(&config);
    env.at(NOON + 180.0);
    env.run(&["tick"]).code(0);
    assert!(hook.requests().len() >= 3, "retried after the change");
    assert!(env.state().get("outbox").is_none(), "{}", env.state());
}
