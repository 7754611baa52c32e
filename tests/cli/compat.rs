//! Compatibility with the Python `ops-monitor.py`: its recorded reports
//! (`--lang zh`) and the state files it wrote (tests/fixtures/python-reference).

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::{Run, TestEnv};

fn fixture(case: &str, file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python-reference")
        .join(case)
        .join(file);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A TestEnv with the case's config (CASE_DIR = the temp folder) and status script.
fn case_env(case: &str) -> TestEnv {
    let env = TestEnv::new();
    let dir = env.root().display().to_string();
    env.write(
        "ops-jobs.json",
        &fixture(case, "config.json").replace("CASE_DIR", &dir),
    );
    let status = fixture(case, "status.sh");
    env.script("status.sh", status.trim_start_matches("#!/bin/sh\n"));
    env
}

/// `tick --print-only --lang zh` at `now`, which must exit 0.
fn zh_tick(env: &mut TestEnv, now: f64, extra: &[&str]) -> Run {
    env.at(now);
    let mut args = vec!["tick", "--print-only", "--lang", "zh"];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    run.code(0);
    run
}

/// The keys the Python version wrote must hold the same values in ours.
fn assert_python_keys_match(ours: &Value, python: &Value) {
    let py_jobs = python["jobs"].as_object().unwrap();
    for (id, py_job) in py_jobs {
        for (key, py_value) in py_job.as_object().unwrap() {
            assert_eq!(
                &ours["jobs"][id][key], py_value,
                "jobs.{id}.{key} differs from the Python version's"
            );
        }
    }
    assert_eq!(ours["version"], 1);
}

#[test]
fn running_progress_report_and_state_match_python() {
    let mut env = case_env("running_progress");
    zh_tick(&mut env, 1795244048.6720436, &[])
        .stdout_is(&fixture("running_progress", "report.txt"));
    let python: Value =
        serde_json::from_str(&fixture("running_progress", "state.after.json")).unwrap();
    assert_python_keys_match(&env.state(), &python);
}

#[test]
fn completed_report_and_state_match_python() {
    let mut env = case_env("completed");
    zh_tick(&mut env, 1795244049.0105376, &[]).stdout_is(&fixture("completed", "report.txt"));
    let python: Value = serde_json::from_str(&fixture("completed", "state.after.json")).unwrap();
    assert_python_keys_match(&env.state(), &python);
}

#[test]
fn paused_report_and_state_match_python() {
    let mut env = case_env("paused_autoresume_false");
    zh_tick(&mut env, 1795244049.3294313, &[])
        .stdout_is(&fixture("paused_autoresume_false", "report.txt"));
    let python: Value =
        serde_json::from_str(&fixture("paused_autoresume_false", "state.after.json")).unwrap();
    assert_python_keys_match(&env.state(), &python);
}

#[test]
fn stalled_reports_match_python() {
    let mut env = case_env("stalled");
    zh_tick(&mut env, 1795244049.6374493, &[]).stdout_is(&fixture("stalled", "report.tick1.txt"));
    zh_tick(&mut env, 1795244051.8474321, &[]).stdout_is(&fixture("stalled", "report.tick2.txt"));
    let python: Value =
        serde_json::from_str(&fixture("stalled", "state.after.tick2.json")).unwrap();
    assert_python_keys_match(&env.state(), &python);
}

#[test]
fn autoresume_first_tick_matches_python_and_second_is_silent() {
    let mut env = case_env("paused_autoresume_true");
    zh_tick(&mut env, 1795244052.161243, &[])
        .stdout_is(&fixture("paused_autoresume_true", "report.tick1.txt"));
    assert_eq!(env.read("starts.log"), "started\n");
    let python: Value =
        serde_json::from_str(&fixture("paused_autoresume_true", "state.after.tick1.json")).unwrap();
    assert_python_keys_match(&env.state(), &python);
    // The Python version re-sends "AUTORUN: suppressed (backoff)" here.
    // Nothing new within the backoff.
    zh_tick(&mut env, 1795244052.3362815, &[]).stdout_is("");
    assert_eq!(env.read("starts.log"), "started\n", "not started twice");
}

#[test]
fn dry_run_matches_python_text_and_leaves_the_real_tick_free_to_start() {
    let mut env = case_env("paused_autoresume_true_dryrun");
    zh_tick(&mut env, 1795244052.6277878, &["--dry-run"])
        .stdout_is(&fixture("paused_autoresume_true_dryrun", "report.txt"));
    assert!(!env.state_path().exists(), "a dry run writes no state");
    assert_eq!(env.read("starts.log"), "", "a dry run starts nothing");
    // The Python version says "suppressed (backoff)" here and starts nothing.
    zh_tick(&mut env, 1795244055.1779664, &[]).stdout_has("- AUTORUN: started");
    assert_eq!(env.read("starts.log"), "started\n");
}

#[test]
fn python_state_loads_and_unknown_keys_survive() {
    let mut env = case_env("stalled");
    let mut python: Value =
        serde_json::from_str(&fixture("stalled", "state.after.tick1.json")).unwrap();
    python["pythonOnly"] = serde_json::json!({"kept": true});
    python["jobs"]["job1"]["customKey"] = serde_json::json!([1, 2]);
    python["jobs"]["other"] = serde_json::json!({"lastReportAt": 1.5});
    env.write(
        "state/ops-monitor.json",
        &serde_json::to_string_pretty(&python).unwrap(),
    );
    // The Python state's progress key carries on: the stall is detected.
    zh_tick(&mut env, 1795244051.8474321, &[]).stdout_is(&fixture("stalled", "report.tick2.txt"));
    let st = env.state();
    assert_eq!(st["pythonOnly"]["kept"], true);
    assert_eq!(st["jobs"]["job1"]["customKey"][1], 2);
    assert_eq!(st["jobs"]["other"]["lastReportAt"], 1.5);
    let text = fs::read_to_string(env.state_path()).unwrap();
    assert!(text.ends_with("}\n") && text.contains("\n  \"jobs\": {"));
}

/// Issue 9, item 1: a state the Python version can use — every odd field
/// it writes or tolerates at once — is used, never moved aside: the paused
/// job inside its backoff is not started again, every field is named once
/// (not on the next tick), and the fields this run did not rewrite keep
/// their original values in the file.
#[test]
fn a_python_valid_state_with_odd_fields_is_used_named_once_and_kept() {
    let mut env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"exited"}'"#,
    );
    let mut job = crate::util::long_job("j1", &status, "/bin/false");
    job["commands"]["start"] = serde_json::json!(["/bin/sh", "-c", "echo started >> starts.log"]);
    job["policy"] = serde_json::json!({"autoResume": true});
    env.config(&crate::util::config_with(serde_json::json!([job])));
    let t = crate::util::NOON;
    let state = serde_json::json!({
        "version": 1,
        "jobs": {
            "j1": {
                "lastAutoResumeAt": t - 60.0,
                "lastStart": {"exitCode": 0, "durationMs": -1500, "stdoutTail": "", "stderrTail": ""},
                "lastSeen": {"running": null, "completed": false, "progressKey": null, "stopReason": "exited"},
                "lastReportAt": "yesterday",
                "reportedCompleted": "yes",
            },
            "gone": null,
            "other": {"lastRun": {"exitCode": 0.0, "durationMs": 5, "stdoutTail": "", "stderrTail": ""}},
        },
        "queue": [
            {"jobId": "nope", "notBefore": t + 3600.0, "attempt": 1.0},
            {"id": "q2", "jobId": "nope", "status": "cancelled", "notBefore": null, "attempt": 0},
        ],
    });
    env.write(
        "state/ops-monitor.json",
        &serde_json::to_string_pretty(&state).unwrap(),
    );
    env.at(t);
    let first = env.tick();
    first
        .code(0)
        .stderr_has("WARNING: state jobs.j1.lastStart.durationMs: -1500")
        .stderr_has("WARNING: state jobs.gone: null")
        .stderr_has(r#"WARNING: state queue[1].status: "cancelled""#);
    assert!(!first.stdout.contains("corrupt"), "{}", first.stdout);
    assert_eq!(
        env.read("starts.log"),
        "",
        "inside the backoff: not started"
    );
    let dir: Vec<String> = fs::read_dir(env.path("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dir.iter().all(|n| !n.contains("corrupt")),
        "never moved aside: {dir:?}"
    );

    let st = env.state();
    assert_eq!(st["jobs"]["j1"]["lastStart"]["durationMs"], -1500, "kept");
    assert_eq!(st["jobs"]["gone"], Value::Null, "kept");
    assert_eq!(st["jobs"]["other"]["lastRun"]["exitCode"], 0.0, "kept");
    assert_eq!(st["queue"][1]["status"], "cancelled", "kept, never run");
    assert_eq!(st["queue"][1]["notBefore"], Value::Null, "kept");
    assert_eq!(st["queue"][0]["attempt"], 1.0, "not run yet: kept");
    assert!(st["queue"][0]["id"].is_string(), "a missing id is given");

    // The same fields are not named again on the next tick.
    env.at(t + 60.0);
    let second = env.tick();
    second.code(0);
    assert!(!second.stderr.contains("WARNING"), "{}", second.stderr);
    assert_eq!(env.read("starts.log"), "", "still inside the backoff");
    // Past the backoff it starts, once.
    env.at(t + 900.0);
    env.tick().code(0).stdout_has("AUTORUN: started");
    assert_eq!(env.read("starts.log"), "started\n");
}
