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

/// The keys the Python version wrote must hold the same values in ours
/// (inside an object, its keys; ours may hold new ones beside them, such
/// as `lastSeen.level`).
fn assert_python_keys_match(ours: &Value, python: &Value) {
    fn same(ours: &Value, python: &Value, at: &str) {
        match python {
            Value::Object(m) => {
                for (k, v) in m {
                    same(&ours[k], v, &format!("{at}.{k}"));
                }
            }
            _ => assert_eq!(ours, python, "{at} differs from the Python version's"),
        }
    }
    same(&ours["jobs"], &python["jobs"], "jobs");
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

/// Issue 9, item 7, going back and forth: a report this port could not
/// deliver waits in the outbox; the Python version runs for a while and
/// keeps the outbox as it is (recorded: `state_port_outbox_kept`); when this
/// port runs again two days later it delivers the kept report marked with
/// the date and time it was written — never as if it were new.
#[test]
fn a_report_kept_while_python_ran_is_delivered_later_marked_delayed() {
    let case = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python-reference/cases/state_port_outbox_kept");
    let python_state = fs::read_to_string(case.join("tick1.state.json")).unwrap();
    let recorded_before: Value =
        serde_json::from_str(&fs::read_to_string(case.join("state.json")).unwrap()).unwrap();
    let after_python: Value = serde_json::from_str(&python_state).unwrap();
    assert_eq!(
        after_python["outbox"], recorded_before["outbox"],
        "the Python version keeps the outbox"
    );

    let server = testkit::Server::start();
    let mut env = TestEnv::new();
    env.env("OPS_MONITOR_TELEGRAM_API", &server.url);
    let root = env.root().display().to_string();
    env.write(
        "openclaw.json",
        &fs::read_to_string(case.join("files/openclaw.json")).unwrap(),
    );
    env.write(
        "ops-jobs.json",
        &fs::read_to_string(case.join("config.json"))
            .unwrap()
            .replace("CASE_DIR", &root),
    );
    env.script(
        "status.sh",
        r#"echo '{"running": true, "completed": false, "pid": 4242}'"#,
    );
    env.write(
        "state/ops-monitor.json",
        &python_state.replace("CASE_DIR", &root),
    );
    // Two days after the report was written; the job runs again meanwhile.
    env.at(1_795_262_400.5 + 2.0 * 86_400.0);
    env.run(&["tick", "--lang", "zh"]).code(0);
    let texts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(
        texts[0],
        "🛠️ Ops 快报（12:00:00） (written 2026-11-21 12:00, delayed)\n\n• j1 (j1, long_running_read)\n- 状态: paused stopReason=exited\n- ACTION REQUIRED: 需要你确认下一步（或启用 autoResume）",
        "the kept report, with the time it was written"
    );
    assert!(
        texts[1].starts_with("🛠️ Ops 快报（12:00:00）\n"),
        "{}",
        texts[1]
    );
    assert!(
        texts[1].contains("- 状态: running (pid=4242)"),
        "{}",
        texts[1]
    );
    assert!(env.state().get("outbox").is_none(), "delivered, once");
}

/// A long job `j` whose status prints `status.json`, reported on every
/// progress change (the benchmark's policy).
fn progress_env() -> TestEnv {
    let env = TestEnv::new();
    let status = env.script("status.sh", "cat status.json");
    env.config(&crate::util::config_with(serde_json::json!([{
        "id": "j", "name": "Job j", "kind": "long_running_read", "risk": "read_only",
        "enabled": true, "commands": {"start": ["/bin/true"], "status": [status]},
        "policy": {"reportEverySeconds": 0, "onlyOnChange": true},
    }])));
    env
}

fn tick_en(env: &mut TestEnv, now: f64, status: &str) -> String {
    env.write("status.json", status);
    env.at(now);
    let run = env.tick();
    run.code(0);
    run.stdout
}

/// README "Performance": per job, the state leaves out what every reader of
/// this version infers from the rest of the file — `lastReportedProgressKey`
/// equal to `lastSeen.progressKey`, the decision's time when it is the last
/// tick's and `reported` when the rule says it, `lastSeen.level` when ok —
/// and reads it back with the same meaning; the Python version's keys are
/// all there.
#[test]
fn the_state_leaves_out_what_it_infers_and_means_the_same() {
    use crate::util::NOON;
    let mut env = progress_env();
    let at = |done: u32, level: &str| {
        format!(
            r#"{{"running":true,"completed":false,"level":"{level}","progress":{{"done":{done}}}}}"#
        )
    };
    assert_ne!(tick_en(&mut env, NOON, &at(1, "ok")), "");
    assert_eq!(
        tick_en(&mut env, NOON + 60.0, &at(2, "ok")),
        "🛠️ Ops report (12:01:00)\n\n• Job j (j, long_running_read)\n- state: running\n- progress: done=2\n"
    );
    let st = env.state();
    let j = &st["jobs"]["j"];
    assert_eq!(j["lastDecision"], serde_json::json!({"rule": "progress"}));
    assert!(j.get("lastReportedProgressKey").is_none(), "{j}");
    assert_eq!(
        j["lastSeen"],
        serde_json::json!({"completed": false, "progressKey": "{\"done\": 2}", "running": true, "stopReason": null}),
        "the Python version's four keys, null included; level ok left out"
    );
    assert_eq!(j["lastProgressKey"], "{\"done\": 2}");
    assert_eq!(j["lastReportAt"], NOON + 60.0);
    assert_eq!(st["levelOkOmittedAt"], st["updatedAt"]);
    assert_eq!(st["monitor"]["lastTickAt"], NOON + 60.0);

    // Read back whole: the decision as explain and status show it...
    let run = env.run(&["status", "--json"]);
    run.code(0);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc["jobs"][0]["lastDecision"],
        serde_json::json!({"at": NOON + 60.0, "reported": true, "rule": "progress"})
    );
    // ...the same progress is not reported again (onlyOnChange: the key
    // of the last report is lastSeen.progressKey)...
    assert_eq!(tick_en(&mut env, NOON + 120.0, &at(2, "ok")), "");
    let st = env.state();
    assert_eq!(
        st["jobs"]["j"]["lastDecision"],
        serde_json::json!({"rule": "onlyOnChange"})
    );
    // ...and a level that leaves ok is a change (the level left out was ok).
    assert_eq!(
        tick_en(&mut env, NOON + 180.0, &at(2, "warn")),
        "🛠️ Ops report (12:03:00)\n\n• Job j (j, long_running_read)\n- state: running [warn]\n- progress: done=2\n"
    );
    assert_eq!(env.state()["jobs"]["j"]["lastSeen"]["level"], "warn");
}

/// The marker that a `lastSeen` without `level` is ok holds only while this
/// version wrote the file last: after another program rewrote it (the
/// Python version writes its own `updatedAt` and a `lastSeen` without
/// `level`), such a `lastSeen` is the Python version's again — its level is
/// not known, so a warning is not taken for a change.
#[test]
fn a_state_another_program_wrote_last_has_no_level_taken_for_ok() {
    use crate::util::NOON;
    let mut env = progress_env();
    let status = |level: &str| {
        format!(r#"{{"running":true,"completed":false,"level":"{level}","progress":{{"done":1}}}}"#)
    };
    assert_ne!(tick_en(&mut env, NOON, &status("ok")), "");
    let mut st = env.state();
    assert!(st["jobs"]["j"]["lastSeen"].get("level").is_none());
    st["updatedAt"] = Value::from("2026-11-21T12:00:30.000000+00:00");
    env.write(
        "state/ops-monitor.json",
        &serde_json::to_string_pretty(&st).unwrap(),
    );
    assert_eq!(tick_en(&mut env, NOON + 60.0, &status("warn")), "");
    // From now on the level is known again.
    assert_eq!(env.state()["jobs"]["j"]["lastSeen"]["level"], "warn");
    assert_ne!(tick_en(&mut env, NOON + 120.0, &status("ok")), "");
}

/// Times from the system clock are stored to the millisecond (README
/// "Performance": finer digits only lengthened every time stamp).
#[test]
fn times_from_the_system_clock_are_stored_to_the_millisecond() {
    let mut env = progress_env();
    env.env("OPS_MONITOR_NOW", "");
    env.write(
        "status.json",
        r#"{"running":true,"completed":false,"progress":{"done":1}}"#,
    );
    env.tick().code(0);
    let st = env.state();
    for t in [
        &st["monitor"]["lastTickAt"],
        &st["jobs"]["j"]["lastReportAt"],
        &st["jobs"]["j"]["lastProgressAt"],
    ] {
        let t = t.as_f64().expect("a time");
        assert!(t > 1.7e9, "{t} is now");
        assert_eq!((t * 1000.0).round() / 1000.0, t, "{t}");
    }
}
