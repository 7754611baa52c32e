//! `check disk|memory|load|file-age|http` (SPEC §9): each forced to OK,
//! WARNING and CRITICAL by its thresholds against this machine's real
//! figures, a file whose modification time the test sets, and a loopback
//! server that answers late; usage errors are UNKNOWN (exit 3).

use std::fs;
use std::time::{Duration, UNIX_EPOCH};

use testkit::Server;

use crate::util::{TestEnv, NOON};

/// A check's line split at its parts: (label, status, text, perf).
#[track_caller]
fn parts(line: &str) -> (String, String, String, String) {
    let line = line
        .strip_suffix('\n')
        .expect("one line ending in a newline");
    assert!(!line.contains('\n'), "one line: {line:?}");
    let (head, perf) = line.split_once(" | ").unwrap_or((line, ""));
    let (label_status, text) = head.split_once(" - ").expect("`LABEL STATUS - text`");
    let (label, status) = label_status.split_once(' ').expect("`LABEL STATUS`");
    (label.into(), status.into(), text.into(), perf.into())
}

/// Runs `check ARGS` and checks the status word, the exit code and that
/// the performance data carries these thresholds; returns the line's parts.
#[track_caller]
fn expect(env: &TestEnv, args: &[&str], status: &str, code: i32) -> (String, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    run.code(code);
    let (_, got, text, perf) = parts(&run.stdout);
    assert_eq!(got, status, "{}", run.stdout);
    assert_eq!(run.stderr, "", "nothing on stderr");
    (text, perf)
}

/// The value of the first performance figure, `name=VALUE;warn;crit`.
fn perf_value(perf: &str, name: &str, warn: &str, crit: &str) -> f64 {
    let first = perf.split(' ').next().unwrap();
    let rest = first
        .strip_prefix(&format!("{name}="))
        .unwrap_or_else(|| panic!("{perf:?} starts with {name}="));
    let fields: Vec<&str> = rest.split(';').collect();
    assert_eq!(&fields[1..], [warn, crit], "thresholds in {perf:?}");
    fields[0].parse().expect("a number")
}

#[test]
fn disk_of_a_folder_ok_warning_critical() {
    let env = TestEnv::new();
    let dir = env.root().display().to_string();
    let cases = [
        ("100", "100", "OK", 0),
        ("0", "100", "WARNING", 1),
        ("0", "0", "CRITICAL", 2),
    ];
    for (warn, crit, status, code) in cases {
        let args = ["disk", "--path", &dir, "--warn", warn, "--crit", crit];
        let (text, perf) = expect(&env, &args, status, code);
        let used = perf_value(&perf, "used_pct", warn, crit);
        assert!(
            (0.0..100.0).contains(&used),
            "a temp folder's disk is not full"
        );
        assert_eq!(text, format!("{dir} {used}% used"));
    }
    // The defaults are the SPEC's: 80 and 95.
    let run = env.run(&["check", "disk"]);
    let (label, _, text, perf) = parts(&run.stdout);
    assert_eq!(label, "DISK");
    assert!(text.starts_with("/ "), "{text}");
    perf_value(&perf, "used_pct", "80", "95");
}

#[test]
fn memory_ok_warning_critical() {
    let env = TestEnv::new();
    for (warn, crit, status, code) in [
        ("100", "100", "OK", 0),
        ("0", "100", "WARNING", 1),
        ("0%", "0%", "CRITICAL", 2),
    ] {
        let (text, perf) = expect(
            &env,
            &["memory", "--warn", warn, "--crit", crit],
            status,
            code,
        );
        let thresholds = (warn.trim_end_matches('%'), crit.trim_end_matches('%'));
        let used = perf_value(&perf, "used_pct", thresholds.0, thresholds.1);
        assert!(text.starts_with(&format!("{used}% used (")), "{text}");
        assert!(text.ends_with(" GiB)"), "{text}");
    }
    let run = env.run(&["check", "memory"]);
    perf_value(&parts(&run.stdout).3, "used_pct", "75", "90");
}

#[test]
fn load_ok_warning_critical() {
    let env = TestEnv::new();
    for (warn, crit, status, code) in [
        ("1000", "1000", "OK", 0),
        ("0", "1000", "WARNING", 1),
        ("0", "0", "CRITICAL", 2),
    ] {
        let (text, perf) = expect(
            &env,
            &["load", "--warn", warn, "--crit", crit],
            status,
            code,
        );
        let per_core = perf_value(&perf, "load1_per_core", warn, crit);
        assert!(
            text.starts_with(&format!("{per_core:.2} per core (1-minute load ")),
            "{text}"
        );
    }
    let run = env.run(&["check", "load"]);
    perf_value(&parts(&run.stdout).3, "load1_per_core", "0.7", "0.9");
}

#[test]
fn file_age_against_a_set_modification_time() {
    let env = TestEnv::new();
    let file = env.write("heartbeat", "beat");
    let path = file.display().to_string();
    // Modified 200 s before the clock: past the 2 min warning, not the 5 min.
    let mtime = UNIX_EPOCH + Duration::from_secs_f64(NOON - 200.0);
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let run = env.run(&["check", "file-age", "--path", &path]);
    run.code(1).stdout_is(&format!(
        "FILE_AGE WARNING - {path} modified 3m 20s ago | age_s=200;120;300\n"
    ));
    env.run(&[
        "check", "file-age", "--path", &path, "--warn", "5m", "--crit", "1h",
    ])
    .code(0)
    .stdout_is(&format!(
        "FILE_AGE OK - {path} modified 3m 20s ago | age_s=200;300;3600\n"
    ));
    env.run(&[
        "check", "file-age", "--path", &path, "--warn", "60", "--crit", "90s",
    ])
    .code(2)
    .stdout_is(&format!(
        "FILE_AGE CRITICAL - {path} modified 3m 20s ago | age_s=200;60;90\n"
    ));
    let missing = env.path("gone").display().to_string();
    env.run(&["check", "file-age", "--path", &missing])
        .code(2)
        .stdout_is(&format!("FILE_AGE CRITICAL - {missing} does not exist\n"));
}

#[test]
fn http_against_a_loopback_server_that_answers_late() {
    let env = TestEnv::new();
    let slow = Server::new(|_, _| {
        std::thread::sleep(Duration::from_millis(300));
        (200, "{}".into())
    });
    let url = format!("{}/health", slow.url);
    let time = |perf: &str, warn, crit| perf_value(perf, "time_ms", warn, crit);
    let (text, perf) = expect(&env, &["http", "--url", &url], "OK", 0);
    let ms = time(&perf, "5000", "15000");
    assert!(ms >= 300.0, "the delay is measured: {ms}");
    assert_eq!(text, format!("{url} answered 200 in {ms} ms"));
    let (_, perf) = expect(
        &env,
        &["http", "--url", &url, "--warn", "100"],
        "WARNING",
        1,
    );
    assert!(time(&perf, "100", "15000") >= 300.0);
    let args = ["http", "--url", &url, "--warn", "50ms", "--crit", "0.1s"];
    let (_, perf) = expect(&env, &args, "CRITICAL", 2);
    assert!(
        time(&perf, "50", "100") >= 300.0,
        "a late answer is measured, not cut"
    );
    assert_eq!(slow.requests().len(), 3);
    assert_eq!(slow.requests()[0].method, "GET");
    assert_eq!(slow.requests()[0].path, "/health");

    // A wrong status is critical; so is a redirect, which is not followed.
    let server = Server::always(503, "down");
    let (text, _) = expect(&env, &["http", "--url", &server.url], "CRITICAL", 2);
    assert!(text.contains(" answered 503 (expected 200) in "), "{text}");
    let (_, _) = expect(
        &env,
        &["http", "--url", &server.url, "--expect-status", "503"],
        "OK",
        0,
    );
    let moved = Server::always(302, "");
    let (text, _) = expect(&env, &["http", "--url", &moved.url], "CRITICAL", 2);
    assert!(text.contains(" answered 302 (expected 200)"), "{text}");
    assert_eq!(moved.requests().len(), 1, "the redirect is not followed");

    // Nobody listening.
    let refused = testkit::refused_url();
    let (text, perf) = expect(&env, &["http", "--url", &refused], "CRITICAL", 2);
    assert!(
        text.starts_with(&format!("{refused}: no answer: ")),
        "{text}"
    );
    assert_eq!(perf, "");
}

#[test]
fn usage_errors_are_unknown_and_help_is_not_an_error() {
    let env = TestEnv::new();
    for args in [
        &["check", "disk", "--warn", "abc"][..],
        &["check", "disk", "--warn", "101"],
        &["check", "nope"],
        &["check"],
        &["check", "file-age"],
        &["check", "load", "--bogus"],
        &["-q", "check", "memory", "--crit", "-1"],
    ] {
        let run = env.run(args);
        run.code(3);
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(!run.stderr.is_empty(), "{args:?} says why");
    }
    // Thresholds the wrong way round, and a URL that is not http(s): the
    // check's own line, UNKNOWN.
    env.run(&["check", "disk", "--warn", "90", "--crit", "80"])
        .code(3)
        .stdout_is("DISK UNKNOWN - --warn 90% is above --crit 80%\n");
    env.run(&["check", "http", "--url", "ftp://example.invalid/x"])
        .code(3)
        .stdout_is("HTTP UNKNOWN - not an http(s) URL: ftp://example.invalid/x\n");
    let missing = env.path("no/such/dir").display().to_string();
    let run = env.run(&["check", "disk", "--path", &missing]);
    run.code(3);
    assert!(
        run.stdout
            .starts_with(&format!("DISK UNKNOWN - {missing}: ")),
        "{}",
        run.stdout
    );
    // Other commands keep exit 2 for usage errors.
    env.run(&["status", "--bogus"]).code(2);
    env.run(&["check", "disk", "--help"])
        .code(0)
        .stdout_has("--warn <PERCENT>");
}

#[test]
fn check_never_reads_the_config_or_the_state() {
    let env = TestEnv::new();
    env.write("ops-jobs.json", "{ not json");
    env.write("state/ops-monitor.json", "[]");
    env.run(&[
        "check", "disk", "--path", "/", "--warn", "100", "--crit", "100",
    ])
    .code(0);
    assert_eq!(
        env.read("state/ops-monitor.json"),
        "[]",
        "the state is untouched"
    );
    let names: Vec<_> = fs::read_dir(env.path("state")).unwrap().collect();
    assert_eq!(names.len(), 1, "no lock, no moved-aside copy: {names:?}");
}

/// A check as a scheduled `one_shot_read` job (SPEC §5.5, §11): in quiet
/// hours a WARNING waits for the end of the window, a CRITICAL is sent at
/// once; the output line is in the report.
#[test]
fn a_scheduled_check_warning_waits_for_the_morning_a_critical_does_not() {
    let mut env = TestEnv::new();
    let job = |id: &str, crit: &str| {
        serde_json::json!({
            "id": id, "name": format!("Disk {id}"), "kind": "one_shot_read", "risk": "read_only",
            "enabled": true, "policy": {"everySeconds": 60},
            "commands": {"run": [crate::util::BIN, "check", "disk", "--path", "/", "--warn", "0", "--crit", crit]},
        })
    };
    let mut config =
        crate::util::config_with(serde_json::json!([job("warn", "100"), job("crit", "0")]));
    // Quiet from 11:00 to 13:00 UTC; the clock says 12:00.
    config["defaults"]["quietHours"] = serde_json::json!({"start": "11:00", "end": "13:00"});
    env.config(&config);
    let night = env.tick();
    night
        .code(0)
        .stdout_has("• Disk crit (crit, one_shot_read)")
        .stdout_has("DISK CRITICAL - / ");
    assert!(
        !night.stdout.contains("(warn, one_shot_read)"),
        "{}",
        night.stdout
    );
    env.run(&["explain", "warn"])
        .code(0)
        .stdout_has("quiet hours");
    env.at(NOON + 3600.0);
    let morning = env.tick();
    morning
        .code(0)
        .stdout_has("• Disk warn (warn, one_shot_read)")
        .stdout_has("DISK WARNING - / ");
}
