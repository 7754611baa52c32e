//! Replays of the Python reference corpus (`tests/fixtures/python-reference/
//! cases`, recorded by its `record.py`): every case's ticks run through the
//! port with the same files, clock and `--lang zh`, and are compared word for
//! word with what the Python version printed, its exit codes, the starts it
//! made and the state keys it reads.
//!
//! Each case is replayed from every switch point: from its initial state
//! (the port all along), and from the state the Python version left after
//! each tick (Python until then, the port from there on). Where the port
//! deliberately differs, the case holds the port's expectation beside the
//! recording — `tickN.port.out.txt` (and `tickN.fromK.out.txt` for the
//! replay that switched at tick K), `tickN.port.json` — and the README's
//! Differences table names the case.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::util::{walk, Run, TestEnv};

const PLACEHOLDER: &str = "CASE_DIR";

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python-reference/cases")
}

/// One recorded case.
struct Case {
    name: String,
    dir: PathBuf,
    spec: Value,
}

impl Case {
    fn load(name: &str) -> Case {
        let dir = cases_dir().join(name);
        let spec = serde_json::from_str(&read(&dir.join("case.json")).expect("case.json"))
            .unwrap_or_else(|e| panic!("{name}/case.json: {e}"));
        Case {
            name: name.to_string(),
            dir,
            spec,
        }
    }

    fn file(&self, name: &str) -> Option<String> {
        read(&self.dir.join(name))
    }

    fn json(&self, name: &str) -> Option<Value> {
        self.file(name).map(|t| {
            serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}/{name}: {e}", self.name))
        })
    }

    fn ticks(&self) -> &[Value] {
        self.spec["ticks"].as_array().expect("ticks")
    }

    /// What the port prints at tick `j` of the replay that switched at `k`.
    fn expected_out(&self, k: usize, j: usize) -> String {
        self.file(&format!("tick{j}.from{k}.out.txt"))
            .or_else(|| self.file(&format!("tick{j}.port.out.txt")))
            .or_else(|| self.file(&format!("tick{j}.out.txt")))
            .unwrap_or_else(|| panic!("{}: no recording of tick {j}", self.name))
    }

    /// The recorded facts of tick `j`, with the port's deliberate
    /// differences (`tickN.port.json`) laid over them.
    fn expected_meta(&self, j: usize) -> Value {
        let mut meta = self
            .json(&format!("tick{j}.json"))
            .unwrap_or_else(|| panic!("{}: no tick{j}.json", self.name));
        if let Some(Value::Object(port)) = self.json(&format!("tick{j}.port.json")) {
            for (k, v) in port {
                meta[k] = v;
            }
        }
        meta
    }

    /// A fresh folder with the case's config, files and `state` (when given).
    fn env(&self, state: Option<&str>) -> TestEnv {
        let mut env = TestEnv::new();
        // A case may shorten a limit through its test seam (`"env"`), so a
        // start that outlives its 60 s is seen in 2 s.
        if let Some(vars) = self.spec["env"].as_object() {
            for (k, v) in vars {
                env.env(k, v.as_str().unwrap_or_default());
            }
        }
        let root = env.root().display().to_string();
        let fill = |t: &str| t.replace(PLACEHOLDER, &root);
        let files = self.dir.join("files");
        for path in walk(&files) {
            let rel = path
                .strip_prefix(&files)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            write_file(&env, &rel, &fill(&read(&path).unwrap()));
        }
        env.write(
            "ops-jobs.json",
            &fill(&self.file("config.json").expect("config.json")),
        );
        if let Some(state) = state {
            let p = env.write("state/ops-monitor.json", &fill(state));
            if let Some(mode) = self.spec["stateMode"].as_str() {
                let mode = u32::from_str_radix(mode, 8).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        env
    }
}

fn read(path: &std::path::Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Write a file of the case; one that starts with `#!` is made executable.
fn write_file(env: &TestEnv, rel: &str, text: &str) {
    let p = env.write(rel, text);
    if text.starts_with("#!") {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The keys the Python version reads (or writes and shows) per job, as
/// JSON pointers; a port state must hold the same values there, so that
/// going back to Python means the same thing.
const JOB_KEYS: &[&str] = &[
    "/lastSeen/running",
    "/lastSeen/completed",
    "/lastSeen/progressKey",
    "/lastSeen/stopReason",
    "/lastReportAt",
    "/reportedCompleted",
    "/lastAnomalyKey",
    "/lastAnomalyReportAt",
    "/lastProgressKey",
    "/lastProgressAt",
    "/lastAutoResumeAt",
    "/lastRunAt",
    "/lastRun/exitCode",
    "/lastRun/stdoutTail",
    "/lastRun/stderrTail",
];

/// The same for each queue item.
const QUEUE_KEYS: &[&str] = &[
    "/id",
    "/jobId",
    "/status",
    "/attempt",
    "/notBefore",
    "/createdAt",
    "/lastRunAt",
    "/exitCode",
    "/stdoutTail",
    "/stderrTail",
];

/// Differences between the port's state and the Python version's, in the
/// keys the Python version reads. `skip` lists pointers that deliberately
/// differ (from `tickN.port.json`'s `stateDiffers`).
fn state_differences(ours: &Value, python: &Value, skip: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |ptr: String, a: Option<&Value>, b: Option<&Value>| {
        if skip.contains(&ptr) {
            return;
        }
        // Python writes null where the port leaves a key out; both read as
        // absent. Numbers are compared as numbers (`0` and `0.0` are one).
        let norm = |v: Option<&Value>| {
            v.filter(|v| !v.is_null()).map(|v| match v.as_f64() {
                Some(f) => Value::from(f),
                None => v.clone(),
            })
        };
        if norm(a) != norm(b) {
            out.push(format!(
                "{ptr}: port {} / python {}",
                a.map_or("(absent)".into(), Value::to_string),
                b.map_or("(absent)".into(), Value::to_string)
            ));
        }
    };
    let empty = Map::new();
    let py_jobs = python["jobs"].as_object().unwrap_or(&empty);
    let our_jobs = ours["jobs"].as_object().unwrap_or(&empty);
    let ids: std::collections::BTreeSet<&String> = py_jobs.keys().chain(our_jobs.keys()).collect();
    for id in ids {
        for key in JOB_KEYS {
            let ptr = format!("/jobs/{id}{key}");
            check(ptr.clone(), ours.pointer(&ptr), python.pointer(&ptr));
        }
    }
    let py_queue = python["queue"].as_array().map_or(&[][..], |v| v);
    let our_queue = ours["queue"].as_array().map_or(&[][..], |v| v);
    if py_queue.len() != our_queue.len() {
        check(
            "/queue (length)".into(),
            Some(&our_queue.len().into()),
            Some(&py_queue.len().into()),
        );
    }
    for (i, (a, b)) in our_queue.iter().zip(py_queue).enumerate() {
        for key in QUEUE_KEYS {
            check(format!("/queue/{i}{key}"), a.pointer(key), b.pointer(key));
        }
    }
    check(
        "/lastConfigErrorAt".into(),
        ours.get("lastConfigErrorAt"),
        python.get("lastConfigErrorAt"),
    );
    out
}

/// Run ticks `k..=N` of `case`, starting from the Python version's state
/// after tick `k - 1` (the case's initial state for `k == 1`); every
/// difference from the expectations is added to `failures`.
fn replay_from(case: &Case, k: usize, failures: &mut Vec<String>) {
    let state = if k == 1 {
        case.file("state.json")
    } else {
        case.file(&format!("tick{}.state.json", k - 1))
    };
    let mut env = case.env(state.as_deref());
    let root = env.root().display().to_string();
    let fill = |t: &str| t.replace(PLACEHOLDER, &root);
    let process_cwd = env.path(case.spec["processCwd"].as_str().unwrap_or("."));
    fs::create_dir_all(&process_cwd).unwrap();
    let at = |what: &str, j: usize| format!("{} (switch at tick {k}) tick {j}: {what}", case.name);

    for (j, tick) in case.ticks().iter().enumerate().map(|(i, t)| (i + 1, t)) {
        if j < k {
            continue;
        }
        if let Some(files) = tick["files"].as_object() {
            for (name, text) in files {
                write_file(&env, name, &fill(text.as_str().unwrap()));
            }
        }
        env.at(tick["at"].as_f64().unwrap());
        let before = env.read("starts.log");
        let mut args = vec!["tick", "--print-only", "--lang", "zh"];
        let extra: Vec<String> = tick["args"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        args.extend(extra.iter().map(String::as_str));
        let run = Run::from(
            env.command(&args)
                .current_dir(&process_cwd)
                .output()
                .expect("binary runs"),
        );
        let after = env.read("starts.log");

        let expected = fill(&case.expected_out(k, j));
        // `PYREF_BLESS_PORT=1` with `named_cases`: write the port's report as
        // its expectation where it differs (a deliberate difference, to be
        // reviewed with git diff and named in the README).
        if k == 1 && run.stdout != expected && std::env::var_os("PYREF_BLESS_PORT").is_some() {
            fs::write(
                case.dir.join(format!("tick{j}.port.out.txt")),
                run.stdout.replace(&root, PLACEHOLDER),
            )
            .unwrap();
        } else if run.stdout != expected {
            failures.push(format!(
                "{}\n--- expected:\n{expected}\n--- port:\n{}\n--- stderr:\n{}",
                at("report", j),
                run.stdout,
                run.stderr
            ));
        }
        let meta = case.expected_meta(j);
        if Some(run.code as i64) != meta["exit"].as_i64() {
            failures.push(format!(
                "{}: port {} / expected {}\n{}",
                at("exit code", j),
                run.code,
                meta["exit"],
                run.stderr
            ));
        }
        let starts: Vec<&str> = after[before.len().min(after.len())..].lines().collect();
        let expected_starts: Vec<&str> = meta["starts"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if starts != expected_starts {
            failures.push(format!(
                "{}: port {starts:?} / expected {expected_starts:?}",
                at("starts", j)
            ));
        }
        if let Some(files) = meta["files"].as_object() {
            for (name, want) in files {
                let got = env.read(name);
                let want = want.as_str().map(&fill).unwrap_or_default();
                if got != want {
                    failures.push(format!(
                        "{}: port {got:?} / expected {want:?}",
                        at(&format!("file {name}"), j)
                    ));
                }
            }
        }
        if let Some(mode) = meta["mode"]
            .as_str()
            .filter(|_| case.spec["checkMode"] == true)
        {
            let got = fs::metadata(env.state_path())
                .map(|m| format!("{:04o}", m.permissions().mode() & 0o7777))
                .unwrap_or_default();
            if got != mode {
                failures.push(format!(
                    "{}: port {got} / expected {mode}",
                    at("state file mode", j)
                ));
            }
        }
        if let Some(python) = case.json(&format!("tick{j}.state.json")) {
            let python: Value = serde_json::from_str(&fill(&python.to_string())).unwrap();
            let skip: Vec<String> = meta["stateDiffers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            match fs::read_to_string(env.state_path())
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                Some(ours) => {
                    let diffs = state_differences(&ours, &python, &skip);
                    if !diffs.is_empty() {
                        failures.push(format!("{}:\n{}", at("state", j), diffs.join("\n")));
                    }
                }
                None => failures.push(at("no readable state file", j)),
            }
        }
    }
}

/// `validate-config` accepts every config the Python version accepted
/// (exit 0, with warnings for what it only tolerates).
fn validate(case: &Case, failures: &mut Vec<String>) {
    let Some(python) = case.json("validate.json") else {
        return;
    };
    let env = case.env(None);
    let cwd = env.path(case.spec["processCwd"].as_str().unwrap_or("."));
    fs::create_dir_all(&cwd).unwrap();
    let run = Run::from(
        env.command(&["validate-config"])
            .current_dir(&cwd)
            .output()
            .expect("binary runs"),
    );
    let expected = case
        .json("validate.port.json")
        .and_then(|v| v["exit"].as_i64())
        .or_else(|| python["exit"].as_i64().map(|c| if c == 0 { 0 } else { 2 }));
    if Some(run.code as i64) != expected {
        failures.push(format!(
            "{}: validate-config exit {} / expected {expected:?}\n{}{}",
            case.name, run.code, run.stdout, run.stderr
        ));
    }
    let root = env.root().display().to_string();
    let got = format!("{}{}", run.stdout, run.stderr).replace(&root, PLACEHOLDER);
    // `PYREF_BLESS=1 cargo test --test cli pyref::` writes the port's own
    // validate-config output for review (git diff) instead of comparing.
    if std::env::var_os("PYREF_BLESS").is_some() {
        fs::write(case.dir.join("validate.port.txt"), &got).unwrap();
        return;
    }
    if let Some(want) = case.file("validate.port.txt") {
        if got != want {
            failures.push(format!(
                "{}: validate-config output\n--- expected:\n{want}\n--- port:\n{got}",
                case.name
            ));
        }
    }
}

fn replay(name: &str) {
    let case = Case::load(name);
    let mut failures = Vec::new();
    validate(&case, &mut failures);
    for k in 1..=case.ticks().len() {
        replay_from(&case, k, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} difference(s) from the Python reference:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*

        /// Every recorded case is replayed by a test of its own.
        #[test]
        fn every_case_is_replayed() {
            let listed = [$(stringify!($name)),*];
            let mut missing = Vec::new();
            for entry in fs::read_dir(cases_dir()).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().join("case.json").exists() && !listed.contains(&name.as_str()) {
                    missing.push(name);
                }
            }
            assert!(missing.is_empty(), "cases without a test: {missing:?}");
        }
    };
}

cases!(
    autorun_blocked_write_risk,
    autorun_start_error,
    autorun_start_failed,
    autorun_start_signal,
    autorun_start_timeout,
    config_after_missing_job_on_read_job,
    config_after_not_a_list,
    config_after_when_always,
    config_cwd_relative,
    config_cwd_tilde_user,
    config_defaults_list,
    config_defaults_report_every_string,
    config_defaults_stall_negative,
    config_defaults_zero_backoff,
    config_defaults_zero_report_every,
    config_invalid_kind,
    config_name_number,
    config_policy_auto_resume_yes,
    config_policy_list,
    config_policy_report_every_negative,
    config_stall_seconds_float,
    config_version_string,
    config_version_true,
    level_alert_running,
    level_warn_running,
    long_message_and_progress,
    name_trimmed,
    progress_change_every_tick,
    progress_first_six_keys,
    queue_cannot_start,
    queue_failed_exit,
    queue_failed_signal,
    queue_job_missing,
    queue_output_alert_early,
    queue_output_alert_last_line,
    queue_output_both_long,
    queue_output_stderr_action,
    queue_timeout,
    queue_write_job_blocked,
    quiet_defaults_hour_25,
    quiet_defaults_missing_end,
    quiet_defaults_single_digit_hour,
    quiet_policy_partial_or_invalid,
    report_every_zero_only_on_change_false,
    running_no_progress_periodic,
    stall_then_progress,
    state_duration_ms_negative,
    state_job_null,
    state_last_report_at_text,
    state_last_run_exit_code_float,
    state_last_seen_running_null,
    state_mode_kept,
    state_mode_new,
    state_port_outbox_kept,
    state_queue_attempt_float,
    state_queue_item_without_status_or_id,
    state_queue_not_before_null,
    state_queue_status_cancelled,
    state_reported_completed_text,
    status_big_integers,
    status_blank_fields,
    status_blank_progress_key,
    status_failing_counter,
    status_message_newline,
    status_missing_booleans,
    status_nan_infinity,
    status_pid_true,
    switch_level_info_paused,
    switch_level_warn,
    switch_paused_anomaly_reminder,
    switch_progress_reported,
    switch_reported_completed_stale,
    switch_status_failing,
);

/// Replay the cases named in `PYREF_CASE` (comma-separated):
/// `PYREF_CASE=status_nan_infinity cargo test --test cli
/// pyref::named_cases -- --ignored`.
#[test]
#[ignore = "run by hand with PYREF_CASE"]
fn named_cases() {
    let names = std::env::var("PYREF_CASE").expect("PYREF_CASE");
    for name in names.split(',') {
        replay(name.trim());
    }
}

/// The README's "Differences from ops-monitor.py" table names every case
/// that holds a deliberate difference of the port, and every case it names
/// exists.
#[test]
fn the_differences_table_names_every_deliberate_difference() {
    let readme =
        fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Differences from ops-monitor.py")
        .expect("the Differences section");
    let rest = &readme[start + 3..];
    let table = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let reference = cases_dir().parent().unwrap().to_path_buf();

    let mut unnamed = Vec::new();
    for entry in fs::read_dir(cases_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let deliberate = fs::read_dir(entry.path()).unwrap().flatten().any(|f| {
            let f = f.file_name().to_string_lossy().into_owned();
            f.starts_with("tick") && (f.contains(".port.") || f.contains(".from"))
        });
        if deliberate && !table.contains(&format!("`{name}`")) {
            unnamed.push(name);
        }
    }
    assert!(
        unnamed.is_empty(),
        "cases with a deliberate difference the table does not name: {unnamed:?}"
    );

    let mut missing = Vec::new();
    for token in table.split('`').skip(1).step_by(2) {
        let case_like = token.contains('_')
            && token
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if case_like && !cases_dir().join(token).is_dir() && !reference.join(token).is_dir() {
            missing.push(token.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "the table names cases that do not exist: {missing:?}"
    );
}
