//! A tick that survives real life (SPEC §8): overlapping runs, a held lock,
//! parallel status commands, signals, and SIGKILL at any moment.

use std::fs::{self, File, OpenOptions};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[cfg(target_os = "linux")]
use crate::util::alive;
use crate::util::{config_with, long_job, TestEnv, NOON};

#[cfg(target_os = "linux")]
fn wait_for_file(env: &TestEnv, rel: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = env.read(rel);
        if !text.trim().is_empty() {
            return text;
        }
        assert!(Instant::now() < deadline, "{rel} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_tick(env: &TestEnv, extra: &[&str]) -> Child {
    let mut args = vec!["tick", "--print-only"];
    args.extend_from_slice(extra);
    env.command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[cfg(target_os = "linux")]
fn signal(child: &Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn overlapping_ticks_start_once_and_run_a_queued_item_once() {
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    let start = env.script("start.sh", "echo started >> starts.log");
    let check = env.script("check.sh", "echo ran >> queue.log");
    let mut job = long_job("j", &status, &start);
    job["policy"] = json!({"autoResume": true});
    env.config(&config_with(json!([
        job,
        {"id": "c", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [check]}},
    ])));
    env.write(
        "state/ops-monitor.json",
        &json!({"version": 1, "jobs": {}, "queue": [{"id": "q1", "jobId": "c", "createdAt": NOON,
            "notBefore": NOON, "reason": "t", "status": "pending", "attempt": 0}]})
        .to_string(),
    );
    let children: Vec<Child> = (0..8)
        .map(|_| spawn_tick(&env, &["--lock-timeout", "60s"]))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        env.read("starts.log"),
        "started\n",
        "the paused job started once"
    );
    assert_eq!(env.read("queue.log"), "ran\n", "the queued item ran once");
    let st = env.state();
    assert_eq!(st["queue"][0]["status"], "done");
    assert_eq!(st["queue"][0]["attempt"], 1);
}

#[test]
fn a_held_lock_makes_tick_exit_75_and_change_nothing() {
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":true,"completed":false}'"#);
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    env.tick().code(0);
    let before = fs::read(env.state_path()).unwrap();
    let lock_path = env.path("state/ops-monitor.json.lock");
    let holder: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    holder.lock().unwrap();
    let run = env.run(&["tick", "--print-only", "--lock-timeout", "300ms"]);
    run.code(75).stderr_has(&format!(
        "another ops-monitor is running (lock: {})",
        lock_path.display()
    ));
    assert_eq!(
        fs::read(env.state_path()).unwrap(),
        before,
        "state untouched"
    );
    drop(holder);
    env.tick().code(0);
}

#[test]
// Reads /proc (`alive`).
#[cfg(target_os = "linux")]
fn hanging_status_commands_time_out_together_not_one_after_another() {
    let env = TestEnv::new();
    let hang = env.script("hang.sh", "echo $$ >> pids.log; sleep 300");
    let jobs: Vec<Value> = (0..3)
        .map(|i| {
            let mut j = long_job(&format!("h{i}"), &hang, &hang);
            j["policy"] = json!({"statusTimeoutSeconds": 2});
            j
        })
        .collect();
    env.config(&config_with(Value::Array(jobs)));
    let began = Instant::now();
    let run = env.tick();
    let took = began.elapsed();
    run.code(0);
    assert_eq!(run.stdout.matches("status timed out after 2s").count(), 3);
    // In sequence they would take at least 6 s.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    for pid in env.read("pids.log").lines() {
        assert!(!alive(pid.parse().unwrap()), "status {pid} stopped");
    }
    // Sections in config order whatever finished first.
    let order: Vec<usize> = ["(h0,", "(h1,", "(h2,"]
        .iter()
        .map(|k| run.stdout.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
}

#[cfg(target_os = "linux")]
fn interrupted_tick(sig: &str, code: i32) {
    let env = TestEnv::new();
    let slow = env.script("slow.sh", "echo $$ > status.pid; sleep 300");
    let fast = env.script("fast.sh", r#"echo '{"running":true,"completed":false}'"#);
    let jobs = json!([
        long_job("fast", &fast, &fast),
        long_job("slow", &slow, &slow)
    ]);
    // A first, whole tick: the slow status times out after a short limit
    // (not the default 30 s, which only costs time here).
    let mut short = jobs.clone();
    short[1]["policy"] = json!({"statusTimeoutSeconds": 1});
    // Every tick but --dry-run writes the metrics, an interrupted one too.
    let with_metrics = |jobs: Value| {
        let mut cfg = config_with(jobs);
        cfg["defaults"]["metricsFile"] = json!("metrics.prom");
        cfg
    };
    env.config(&with_metrics(short));
    env.tick()
        .code(0)
        .stdout_has("(slow,")
        .stdout_has("status timed out after 1s");
    fs::remove_file(env.path("status.pid")).unwrap();
    fs::remove_file(env.path("metrics.prom")).unwrap();
    // The interrupted tick has the default limit, so the signal surely
    // comes while the status command runs.
    env.config(&with_metrics(jobs));
    let child = spawn_tick(&env, &[]);
    let pid: i32 = wait_for_file(&env, "status.pid").trim().parse().unwrap();
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!alive(pid), "the running status command was stopped");
    let st = env.state();
    assert_eq!(st["monitor"]["lastTickOutcome"], "interrupted");
    let metrics = env.read("metrics.prom");
    assert!(
        metrics.contains(&format!("\nops_monitor_tick_exit_code {code}\n")),
        "{metrics}"
    );
}

#[test]
// Reads /proc (`alive`).
#[cfg(target_os = "linux")]
fn sigterm_mid_tick_stops_children_saves_state_exits_143() {
    interrupted_tick("-TERM", 143);
}

#[test]
// Reads /proc (`alive`).
#[cfg(target_os = "linux")]
fn sigint_mid_tick_exits_130() {
    interrupted_tick("-INT", 130);
}

#[test]
// Reads /proc (`alive`).
#[cfg(target_os = "linux")]
fn sighup_mid_tick_exits_129() {
    // An SSH session dropped under a tick run by hand.
    interrupted_tick("-HUP", 129);
}

#[test]
fn sigkill_at_any_moment_never_leaves_an_invalid_state() {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"echo "{\"running\":true,\"completed\":false,\"progress\":{\"n\":$$}}""#,
    );
    let jobs: Vec<Value> = (0..30)
        .map(|i| long_job(&format!("j{i}"), &status, &status))
        .collect();
    let mut cfg = config_with(Value::Array(jobs));
    cfg["defaults"]["reportEverySeconds"] = json!(0);
    env.config(&cfg);
    env.tick().code(0);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..25 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = spawn_tick(&env, &["--lock-timeout", "20s"]);
        std::thread::sleep(Duration::from_millis(seed % 60));
        let _ = child.kill();
        let _ = child.wait();
        let text = fs::read_to_string(env.state_path()).expect("state still there");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("round {round}: invalid state ({e}): {text:.200}"));
        assert_eq!(v["version"], 1);
    }
    // A clean tick afterwards works and leaves no stray temp files.
    env.tick().code(0);
    let strays: Vec<String> = fs::read_dir(env.path("state"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(strays.is_empty(), "{strays:?}");
}

#[test]
fn one_odd_field_of_the_outbox_a_grant_or_a_silence_never_discards_the_state() {
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":true,"completed":false}'"#);
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    let odd = json!({
        "version": 1,
        "jobs": {"j": {"lastReportAt": NOON - 60.0, "lastProgressKey": "kept-progress"}},
        "outbox": 5,
        "outboxDropped": "many",
        "approvals": {"j": {"grantedAt": NOON - 10.0, "expiresAt": NOON + 3600.0, "by": 5}},
        "silences": {"j": {"until": NOON + 3600.0, "createdAt": NOON - 10.0, "reason": 7}},
    });
    for state in [
        odd.clone(),
        json!({"version": 1, "jobs": {"j": {"lastProgressKey": "kept-progress"}},
               "outbox": [5, {"x": 1}]}),
    ] {
        env.write("state/ops-monitor.json", &state.to_string());
        let run = env.run(&["tick", "--print-only"]);
        run.code(0).stderr_has("WARNING: state outbox");
        assert!(!run.stderr.contains("moved aside"), "{}", run.stderr);
        let st = env.state();
        assert_eq!(
            st["jobs"]["j"]["lastProgressKey"], "kept-progress",
            "the job's record survived: {st}"
        );
        let moved: Vec<_> = fs::read_dir(env.path("state"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
            .collect();
        assert!(moved.is_empty(), "nothing moved aside");
    }
    // The silence still holds (its reason unread); the odd grant grants
    // nothing.
    env.write("state/ops-monitor.json", &odd.to_string());
    let run = env.run(&["tick", "--print-only"]);
    run.stderr_has("silences.j.reason: 7 is not a string; read as absent")
        .stderr_has("approvals.j: ");
    assert!(env.state().get("approvals").is_none());
    assert_eq!(env.state()["silences"]["j"]["until"], NOON + 3600.0);
}
