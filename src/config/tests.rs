//! Tests of loading, validation and resolution, on config text built the
//! way a user writes it.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;

const CONFIG: &str = "/etc/ops/ops-jobs.json";
const HOME: &str = "/home/oc/.openclaw";

fn parse_value(v: &Value, strict: bool) -> Result<Config, ConfigError> {
    parse(&v.to_string(), Path::new(CONFIG), Path::new(HOME), strict)
}

fn ok(v: Value) -> Config {
    match parse_value(&v, false) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got: {:#?}", e.problems),
    }
}

fn problems(v: Value) -> Vec<String> {
    match parse_value(&v, false) {
        Ok(c) => panic!(
            "expected problems, got a config with warnings {:?}",
            c.warnings
        ),
        Err(e) => e.problems,
    }
}

fn long(id: &str) -> Value {
    json!({
        "id": id,
        "kind": "long_running_read",
        "risk": "read_only",
        "enabled": true,
        "commands": {"start": ["./start.sh"], "status": ["./status.sh"]}
    })
}

fn read(id: &str) -> Value {
    json!({
        "id": id,
        "kind": "one_shot_read",
        "risk": "read_only",
        "commands": {"run": ["./check.sh", "--all"]}
    })
}

fn write(id: &str, verify: &str) -> Value {
    json!({
        "id": id,
        "kind": "one_shot_write",
        "risk": "write_local",
        "commands": {"run": ["./fix.sh"]},
        "after": [{"jobId": verify}]
    })
}

fn with_jobs(jobs: Vec<Value>) -> Value {
    json!({"version": 1, "jobs": jobs})
}

/// `config` with `f` applied to `jobs[i]`.
fn edit_job(
    mut config: Value,
    i: usize,
    f: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Value {
    f(config["jobs"][i].as_object_mut().unwrap());
    config
}

fn one_problem(v: Value, expected: &str) {
    assert_eq!(problems(v), vec![expected.to_string()]);
}

// ---------------------------------------------------------------- resolution

#[test]
fn a_full_config_resolves_every_fallback() {
    let config = ok(json!({
        "$schema": "./ops-jobs.schema.json",
        "version": 1,
        "defaults": {
            "quietHours": {"start": "22:30", "end": "07:00"},
            "reportEverySeconds": 600,
            "stallSeconds": 1200,
            "autoResume": true,
            "autoResumeBackoffSeconds": 300,
            "onlyOnChange": false,
            "statusTimeoutSeconds": 12.5,
            "language": "zh",
            "notify": [
                {"type": "telegram"},
                {"type": "telegram", "target": -1001234567890_i64},
                {"type": "telegram", "target": "@ops"},
                {"type": "webhook", "url": "https://hooks.example/ops", "headers": {"Authorization": "Bearer x"}},
                {"type": "file", "path": "logs/alerts.jsonl"},
                {"type": "file", "path": "/var/log/ops.jsonl"},
                {"type": "command", "argv": ["apprise", "-b", "-"]}
            ],
            "metricsFile": "/var/lib/node_exporter/ops.prom",
            "heartbeatUrl": "https://hc-ping.com/abc"
        },
        "jobs": [
            {
                "id": "  scan-drive ",
                "name": "Cloud drive scan",
                "kind": "long_running_read",
                "risk": "read_only",
                "enabled": true,
                "cwd": "/srv/scan",
                "commands": {"start": ["./start.sh"], "status": ["./status.sh", "--json"], "stop": ["./stop.sh"]},
                "policy": {
                    "reportEverySeconds": 0,
                    "stallSeconds": 0,
                    "autoResume": false,
                    "quietHours": {"start": "00:00", "end": "00:00"},
                    "reportWhileRunning": false,
                    "onlyOnChange": true
                }
            },
            {
                "id": "verify",
                "kind": "one_shot_read",
                "risk": "read_only",
                "enabled": false,
                "commands": {"run": ["./verify.sh"]},
                "policy": {"everySeconds": 3600, "statusTimeoutSeconds": 5}
            },
            {
                "id": "fix",
                "kind": "one_shot_write",
                "risk": "write_external",
                "cwd": "jobs/fix",
                "commands": {"run": ["./fix.sh"]},
                "approval": {"granted": true},
                "after": [
                    {"jobId": "verify"},
                    {"jobId": "scan-drive", "when": "failure", "delaySeconds": 30}
                ]
            }
        ]
    }));

    // The one warning: a relative cwd, which ops-monitor.py takes from the
    // folder it runs in (the tests run elsewhere than /etc/ops).
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].starts_with(
            "jobs[2].cwd: \"jobs/fix\" is taken from the config file's folder (/etc/ops/jobs/fix); \
             ops-monitor.py would take it from the folder it runs in ("
        ),
        "{:?}",
        config.warnings
    );
    assert_eq!(config.path, PathBuf::from(CONFIG));

    let d = &config.defaults;
    assert_eq!(d.language, Lang::Zh);
    assert_eq!(
        d.notify.as_deref(),
        Some(
            &[
                Channel::Telegram {
                    target: None,
                    account: None
                },
                Channel::Telegram {
                    target: Some("-1001234567890".into()),
                    account: None
                },
                Channel::Telegram {
                    target: Some("@ops".into()),
                    account: None
                },
                Channel::Webhook {
                    url: "https://hooks.example/ops".into(),
                    headers: [("Authorization".to_string(), "Bearer x".to_string())].into(),
                },
                Channel::File {
                    path: "/etc/ops/logs/alerts.jsonl".into()
                },
                Channel::File {
                    path: "/var/log/ops.jsonl".into()
                },
                Channel::Command {
                    argv: vec!["apprise".into(), "-b".into(), "-".into()]
                },
            ][..]
        )
    );
    assert_eq!(
        d.metrics_file,
        Some(PathBuf::from("/var/lib/node_exporter/ops.prom"))
    );
    assert_eq!(d.heartbeat_url.as_deref(), Some("https://hc-ping.com/abc"));

    let scan = config.job("scan-drive").expect("id is trimmed");
    assert_eq!(scan.name, "Cloud drive scan");
    assert_eq!(scan.kind, Kind::LongRunningRead);
    assert_eq!(scan.risk, Risk::ReadOnly);
    assert!(scan.enabled);
    assert_eq!(scan.cwd, PathBuf::from("/srv/scan"));
    assert_eq!(scan.command("status").unwrap(), ["./status.sh", "--json"]);
    assert_eq!(scan.command("stop").unwrap(), ["./stop.sh"]);
    assert_eq!(scan.command("run"), None);
    assert_eq!(
        scan.policy,
        Policy {
            report_every_seconds: 0.0,
            only_on_change: true,
            report_while_running: false,
            stall_seconds: 0.0,
            auto_resume: false,
            auto_resume_backoff_seconds: 300.0,
            quiet_hours: QuietHours {
                start_minute: 0,
                end_minute: 0
            },
            status_timeout_seconds: 12.5,
            timeout_seconds: None,
            every_seconds: None,
        }
    );
    assert_eq!(scan.approval, None);
    assert!(scan.after.is_empty());

    let verify = config.job("verify").unwrap();
    assert_eq!(verify.name, "verify", "name defaults to the id");
    assert!(!verify.enabled);
    assert_eq!(
        verify.cwd,
        PathBuf::from(HOME),
        "cwd defaults to the OpenClaw home"
    );
    assert_eq!(
        verify.policy,
        Policy {
            report_every_seconds: 600.0,
            only_on_change: false,
            report_while_running: true,
            stall_seconds: 1200.0,
            auto_resume: true,
            auto_resume_backoff_seconds: 300.0,
            quiet_hours: QuietHours {
                start_minute: 22 * 60 + 30,
                end_minute: 7 * 60
            },
            status_timeout_seconds: 5.0,
            timeout_seconds: None,
            every_seconds: Some(3600.0),
        }
    );

    let fix = config.job("fix").unwrap();
    assert_eq!(fix.kind, Kind::OneShotWrite);
    assert_eq!(fix.risk, Risk::WriteExternal);
    assert!(!fix.enabled, "enabled only by JSON true");
    assert_eq!(fix.cwd, PathBuf::from("/etc/ops/jobs/fix"));
    assert_eq!(
        fix.approval,
        Some(Approval {
            required: true,
            granted: true
        })
    );
    assert_eq!(
        fix.after,
        vec![
            After {
                job_id: "verify".into(),
                when: When::Success,
                delay_seconds: 0.0
            },
            After {
                job_id: "scan-drive".into(),
                when: When::Failure,
                delay_seconds: 30.0
            },
        ]
    );

    assert_eq!(
        summary(&config),
        "version=1 jobs=3 (long_running_read=1, one_shot_read=1, one_shot_write=1)"
    );
}

#[test]
fn without_defaults_the_built_in_policy_applies() {
    let config = ok(with_jobs(vec![
        long("a"),
        read("check"),
        write("w", "check"),
    ]));
    for job in &config.jobs {
        assert_eq!(job.policy, Policy::default(), "{}", job.id);
        assert_eq!(job.cwd, PathBuf::from(HOME));
    }
    assert_eq!(config.defaults, Defaults::default());
    assert_eq!(
        config.defaults.notify, None,
        "absent notify = Telegram only"
    );
    assert_eq!(
        config.job("w").unwrap().approval,
        Some(Approval {
            required: true,
            granted: false
        })
    );
    assert_eq!(
        config
            .jobs
            .iter()
            .map(|j| j.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "check", "w"]
    );
}

#[test]
fn a_blank_name_falls_back_to_the_id() {
    let config = ok(edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert("name".into(), json!("  "));
    }));
    assert_eq!(config.jobs[0].name, "a");
}

#[test]
fn an_empty_config_is_valid() {
    let config = ok(json!({"version": 1, "jobs": []}));
    assert!(config.jobs.is_empty());
    assert_eq!(
        summary(&config),
        "version=1 jobs=0 (long_running_read=0, one_shot_read=0, one_shot_write=0)"
    );
}

#[test]
fn enabled_is_true_only_for_json_true() {
    let mut jobs = Vec::new();
    for (i, enabled) in [
        json!(true),
        json!(false),
        json!("true"),
        json!(1),
        json!(null),
    ]
    .into_iter()
    .enumerate()
    {
        let mut j = long(&format!("j{i}"));
        j["enabled"] = enabled;
        jobs.push(j);
    }
    let mut absent = long("absent");
    absent.as_object_mut().unwrap().remove("enabled");
    jobs.push(absent);
    let config = ok(with_jobs(jobs));
    let enabled: Vec<bool> = config.jobs.iter().map(|j| j.enabled).collect();
    assert_eq!(enabled, [true, false, false, false, false, false]);
    assert_eq!(
        config.warnings,
        [
            "jobs[2].enabled: not true or false (got \"true\"), treated as disabled",
            "jobs[3].enabled: not true or false (got 1), treated as disabled",
            "jobs[4].enabled: not true or false (got null), treated as disabled",
        ]
    );
}

#[test]
fn cwd_tilde_relative_and_absolute() {
    let mut jobs = Vec::new();
    for (i, cwd) in ["~", "~/work", "scripts", "./a/../b", "/abs/dir"]
        .iter()
        .enumerate()
    {
        let mut j = long(&format!("j{i}"));
        j["cwd"] = json!(cwd);
        jobs.push(j);
    }
    let config = ok(with_jobs(jobs));
    let home = crate::paths::home_dir();
    let cwds: Vec<&Path> = config.jobs.iter().map(|j| j.cwd.as_path()).collect();
    assert_eq!(cwds[0], home);
    assert_eq!(cwds[1], home.join("work"));
    assert_eq!(cwds[2], Path::new("/etc/ops/scripts"));
    assert_eq!(cwds[3], Path::new("/etc/ops/a/../b"));
    assert_eq!(cwds[4], Path::new("/abs/dir"));
    assert!(cwds.iter().all(|p| p.is_absolute()));
}

#[test]
fn a_relative_config_path_still_gives_absolute_cwds() {
    let text = with_jobs(vec![edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert("cwd".into(), json!("sub"));
    })["jobs"][0]
        .clone()])
    .to_string();
    let config = parse(
        &text,
        Path::new("conf/ops-jobs.json"),
        Path::new("oc-home"),
        false,
    )
    .unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(config.jobs[0].cwd, cwd.join("conf/sub"));
    assert_eq!(config.path, PathBuf::from("conf/ops-jobs.json"));

    let text = with_jobs(vec![long("a")]).to_string();
    let config = parse(
        &text,
        Path::new("ops-jobs.json"),
        Path::new("oc-home"),
        false,
    )
    .unwrap();
    assert_eq!(
        config.jobs[0].cwd,
        cwd.join("oc-home"),
        "home made absolute too"
    );
}

#[test]
fn notify_paths_and_metrics_file_expand_tilde() {
    let config = ok(json!({
        "version": 1,
        "defaults": {
            "notify": [{"type": "file", "path": "~/.openclaw/logs/ops-alerts.jsonl"}],
            "metricsFile": "~/metrics/ops.prom"
        },
        "jobs": []
    }));
    let home = crate::paths::home_dir();
    assert_eq!(
        config.defaults.notify.unwrap(),
        [Channel::File {
            path: home.join(".openclaw/logs/ops-alerts.jsonl")
        }]
    );
    assert_eq!(
        config.defaults.metrics_file,
        Some(home.join("metrics/ops.prom"))
    );
}

#[test]
fn an_empty_notify_list_means_no_channel() {
    let config = ok(json!({"version": 1, "defaults": {"notify": []}, "jobs": []}));
    assert_eq!(config.defaults.notify, Some(vec![]));
}

#[test]
fn quiet_hours_wrap_midnight() {
    let config = ok(json!({
        "version": 1,
        "defaults": {"quietHours": {"start": "22:00", "end": "06:30"}},
        "jobs": [long("a")]
    }));
    let q = config.jobs[0].policy.quiet_hours;
    assert!(q.contains(22 * 60));
    assert!(q.contains(23 * 60 + 59));
    assert!(q.contains(0));
    assert!(q.contains(6 * 60 + 29));
    assert!(!q.contains(6 * 60 + 30));
    assert!(!q.contains(12 * 60));
    assert!(!q.contains(21 * 60 + 59));

    let day = QuietHours {
        start_minute: 9 * 60,
        end_minute: 17 * 60,
    };
    assert!(day.contains(9 * 60) && day.contains(16 * 60 + 59));
    assert!(!day.contains(17 * 60) && !day.contains(8 * 60));
    let none = QuietHours {
        start_minute: 0,
        end_minute: 0,
    };
    assert!((0..1440).all(|m| !none.contains(m)));
}

#[test]
fn an_invalid_quiet_hours_falls_back_with_a_warning() {
    let config = ok(json!({
        "version": 1,
        "defaults": {"quietHours": {"start": "21:00", "end": "07:00"}},
        "jobs": [
            edit_job(with_jobs(vec![long("bad-time")]), 0, |j| {
                j.insert("policy".into(), json!({"quietHours": {"start": "25:00", "end": "07:00"}}));
            })["jobs"][0].clone(),
            edit_job(with_jobs(vec![long("not-object")]), 0, |j| {
                j.insert("policy".into(), json!({"quietHours": "23-8"}));
            })["jobs"][0].clone(),
            edit_job(with_jobs(vec![long("missing-end")]), 0, |j| {
                j.insert("policy".into(), json!({"quietHours": {"start": "01:00"}}));
            })["jobs"][0].clone(),
        ]
    }));
    let fallback = QuietHours {
        start_minute: 21 * 60,
        end_minute: 7 * 60,
    };
    for job in &config.jobs {
        assert_eq!(job.policy.quiet_hours, fallback, "{}", job.id);
    }
    let tail = r#"is not a window of two "HH:MM" times: the defaults' window (21:00–07:00) is used (as ops-monitor.py reads it)"#;
    assert_eq!(
        config.warnings,
        [
            format!(r#"jobs[0].policy.quietHours: {{"end":"07:00","start":"25:00"}} {tail}"#),
            format!(r#"jobs[1].policy.quietHours: "23-8" {tail}"#),
            format!(r#"jobs[2].policy.quietHours: {{"start":"01:00"}} {tail}"#),
        ]
    );
}

/// `defaults.quietHours` the Python way (SPEC §2): a half present but not
/// `HH:MM` means no quiet hours at all, a missing or empty half takes its
/// default, a value that is not an object means 23:00–08:00.
#[test]
fn defaults_quiet_hours_are_read_the_python_way() {
    let none = QuietHours {
        start_minute: 0,
        end_minute: 0,
    };
    let window = |s: u32, e: u32| QuietHours {
        start_minute: s * 60,
        end_minute: e * 60,
    };
    let cases = [
        (
            json!({"start": "8am", "end": "9pm"}),
            none,
            vec![
                r#"defaults.quietHours.end: "9pm" is not "HH:MM" (two-digit hours 00-23 and minutes 00-59): no quiet hours at all (as ops-monitor.py reads it)"#,
                r#"defaults.quietHours.start: "8am" is not "HH:MM" (two-digit hours 00-23 and minutes 00-59): no quiet hours at all (as ops-monitor.py reads it)"#,
            ],
        ),
        (
            json!({"start": "8:00", "end": "23:00"}),
            none,
            vec![
                r#"defaults.quietHours.start: "8:00" is not "HH:MM" (two-digit hours 00-23 and minutes 00-59): no quiet hours at all (as ops-monitor.py reads it)"#,
            ],
        ),
        (
            json!({"start": "25:00", "end": "08:00"}),
            none,
            vec![
                r#"defaults.quietHours.start: "25:00" is not "HH:MM" (two-digit hours 00-23 and minutes 00-59): no quiet hours at all (as ops-monitor.py reads it)"#,
            ],
        ),
        (
            json!({"start": 8, "end": "09:00"}),
            none,
            vec![
                r#"defaults.quietHours.start: 8 is not "HH:MM" (two-digit hours 00-23 and minutes 00-59): no quiet hours at all (as ops-monitor.py reads it)"#,
            ],
        ),
        (
            json!({"start": "11:00"}),
            window(11, 8),
            vec!["defaults.quietHours.end: missing: 08:00 is used (as ops-monitor.py reads it)"],
        ),
        (
            json!({"start": "", "end": "06:00"}),
            window(23, 6),
            vec![
                r#"defaults.quietHours.start: "" is empty: 23:00 is used (as ops-monitor.py reads it)"#,
            ],
        ),
        (
            json!({"start": " 21:00 ", "end": "06:00"}),
            window(21, 6),
            vec![r#"defaults.quietHours.start: " 21:00 " read as "21:00""#],
        ),
        (
            json!("none"),
            QuietHours::DEFAULT,
            vec![
                r#"defaults.quietHours: not an object (got "none"): 23:00–08:00 is used (as ops-monitor.py reads it)"#,
            ],
        ),
        (
            json!({"start": "22:00", "end": "06:00"}),
            window(22, 6),
            vec![],
        ),
    ];
    for (q, want, warnings) in cases {
        let v = json!({"version": 1, "defaults": {"quietHours": q}, "jobs": [long("a")]});
        let config = ok(v.clone());
        assert_eq!(config.jobs[0].policy.quiet_hours, want, "{q}");
        assert_eq!(config.warnings, warnings, "{q}");
        // --strict: what is only tolerated is an error.
        let strict = parse_value(&v, true);
        assert_eq!(strict.is_err(), !warnings.is_empty(), "{q}");
    }
    // A job's own valid window still wins over the defaults'.
    let config = ok(json!({
        "version": 1,
        "defaults": {"quietHours": {"start": "8am", "end": "9pm"}},
        "jobs": [edit_job(with_jobs(vec![long("b")]), 0, |j| {
            j.insert("policy".into(), json!({"quietHours": {"start": "12:00", "end": "13:00"}}));
        })["jobs"][0].clone()]
    }));
    assert_eq!(config.jobs[0].policy.quiet_hours, window(12, 13));
}

#[test]
fn every_seconds_only_for_one_shot_read() {
    let config = ok(json!({
        "version": 1,
        "defaults": {"everySeconds": 900},
        "jobs": [
            read("inherits"),
            edit_job(with_jobs(vec![read("own")]), 0, |j| {
                j.insert("policy".into(), json!({"everySeconds": 60}));
            })["jobs"][0].clone(),
            edit_job(with_jobs(vec![read("unscheduled")]), 0, |j| {
                j.insert("policy".into(), json!({"everySeconds": null}));
            })["jobs"][0].clone(),
            long("long-inherits"),
            edit_job(with_jobs(vec![long("long-own")]), 0, |j| {
                j.insert("policy".into(), json!({"everySeconds": 60}));
            })["jobs"][0].clone(),
        ]
    }));
    let every: Vec<Option<f64>> = config.jobs.iter().map(|j| j.policy.every_seconds).collect();
    assert_eq!(every, [Some(900.0), Some(60.0), None, None, None]);
    assert_eq!(
        config.warnings,
        ["jobs[4].policy.everySeconds: only used by one_shot_read jobs (ignored)"]
    );
}

#[test]
fn a_one_shot_read_with_write_risk_is_a_warning() {
    let config = ok(edit_job(with_jobs(vec![read("r")]), 0, |j| {
        j.insert("risk".into(), json!("write_local"));
    }));
    assert_eq!(
        config.warnings,
        [
            r#"jobs[0].risk: a one_shot_read job with risk "write_local" is never run (run and the queue refuse it)"#
        ]
    );
}

#[test]
fn approval_on_a_read_job_is_ignored_with_a_warning() {
    let config = ok(edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert("approval".into(), json!({"granted": true}));
    }));
    assert_eq!(config.jobs[0].approval, None);
    assert_eq!(
        config.warnings,
        ["jobs[0].approval: only used by one_shot_write jobs (ignored)"]
    );
}

#[test]
fn approval_fields_default_separately() {
    let config = ok(edit_job(
        with_jobs(vec![read("v"), write("w", "v")]),
        1,
        |j| {
            j.insert("approval".into(), json!({"required": false}));
        },
    ));
    assert_eq!(
        config.jobs[1].approval,
        Some(Approval {
            required: false,
            granted: false
        })
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn a_syntax_error_gives_line_and_column() {
    let text = "{\n  \"version\": 1,\n  \"jobs\": [\n    {\"id\": \"a\",}\n  ]\n}\n";
    let err = parse(text, Path::new(CONFIG), Path::new(HOME), false).unwrap_err();
    assert_eq!(err.path, PathBuf::from(CONFIG));
    assert_eq!(err.problems, ["line 4, column 16: trailing comma"]);

    let err = parse("", Path::new(CONFIG), Path::new(HOME), false).unwrap_err();
    assert_eq!(
        err.problems,
        ["line 1, column 0: EOF while parsing a value"]
    );

    let err = parse(
        "{\"version\": 1 \"jobs\": []}",
        Path::new(CONFIG),
        Path::new(HOME),
        false,
    )
    .unwrap_err();
    assert_eq!(err.problems, ["line 1, column 15: expected `,` or `}`"]);
    assert_eq!(err.to_string(), "line 1, column 15: expected `,` or `}`");
}

#[test]
fn a_byte_order_mark_is_not_a_syntax_error() {
    let text = format!("\u{feff}{}", with_jobs(vec![long("a")]));
    assert!(parse(&text, Path::new(CONFIG), Path::new(HOME), false).is_ok());
}

#[test]
fn a_missing_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.json");
    let err = load(&path, Path::new(HOME), false).unwrap_err();
    assert_eq!(err.path, path);
    assert_eq!(err.problems.len(), 1);
    let problem = &err.problems[0];
    assert!(
        problem.starts_with(&format!("cannot read config file {}: ", path.display())),
        "{problem}"
    );
    assert!(problem.contains("--config-file"), "{problem}");

    // A folder is not a file either.
    let err = load(dir.path(), Path::new(HOME), false).unwrap_err();
    assert!(err.problems[0].contains(&dir.path().display().to_string()));
}

#[test]
fn load_reads_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops-jobs.json");
    let mut job = long("a");
    job["cwd"] = json!("work");
    std::fs::write(&path, with_jobs(vec![job]).to_string()).unwrap();
    let config = load(&path, Path::new(HOME), false).unwrap();
    assert_eq!(config.path, path);
    assert_eq!(config.jobs[0].cwd, dir.path().join("work"));
}

#[test]
fn the_top_level_needs_version_1_and_jobs() {
    one_problem(json!([]), "top level: must be an object");
    assert_eq!(
        problems(json!({})),
        ["jobs: is required", "version: is required"]
    );
    one_problem(
        json!({"version": 2, "jobs": []}),
        "version: must be 1 (got 2)",
    );
    one_problem(
        json!({"version": "2", "jobs": []}),
        "version: must be 1 (got \"2\")",
    );
    one_problem(
        json!({"version": 1, "jobs": {}}),
        "jobs: must be a list of jobs",
    );
    one_problem(
        json!({"version": 1, "jobs": [3]}),
        "jobs[0]: must be an object (a job) (got 3)",
    );
}

#[test]
fn a_job_needs_id_kind_risk_and_commands() {
    assert_eq!(
        problems(with_jobs(vec![json!({})])),
        [
            "jobs[0].commands: is required",
            "jobs[0].id: is required",
            "jobs[0].kind: is required",
            "jobs[0].risk: is required",
        ]
    );
}

#[test]
fn kind_and_risk_are_enums() {
    let v = edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert("kind".into(), json!("long_running"));
        j.insert("risk".into(), json!("readonly"));
    });
    assert_eq!(
        problems(v),
        [
            r#"jobs[0] (id "a").kind: must be one of "long_running_read", "one_shot_read", "one_shot_write" (got "long_running")"#,
            r#"jobs[0] (id "a").risk: must be one of "read_only", "write_local", "write_external" (got "readonly")"#,
        ]
    );
}

#[test]
fn each_command_is_a_non_empty_list_of_non_empty_strings() {
    let base = with_jobs(vec![long("a"), long("b"), long("c")]);
    let v = edit_job(base.clone(), 2, |j| {
        j["commands"]["status"] = json!([]);
    });
    one_problem(
        v,
        "jobs[2] (id \"c\").commands.status: must be a non-empty list of strings",
    );

    let v = edit_job(base.clone(), 2, |j| {
        j["commands"]["status"] = json!("./status.sh --json");
    });
    one_problem(
        v,
        "jobs[2] (id \"c\").commands.status: must be a non-empty list of strings (got \"./status.sh --json\")",
    );

    let v = edit_job(base.clone(), 1, |j| {
        j["commands"]["start"] = json!(["./start.sh", "", 5]);
    });
    assert_eq!(
        problems(v),
        [
            "jobs[1] (id \"b\").commands.start[1]: must be a non-empty string (got \"\")",
            "jobs[1] (id \"b\").commands.start[2]: must be a non-empty string (got 5)",
        ]
    );

    let v = edit_job(base.clone(), 0, |j| {
        j["commands"]["my check"] = json!(null);
    });
    one_problem(
        v,
        "jobs[0] (id \"a\").commands[\"my check\"]: must be a non-empty list of strings (got null)",
    );

    let v = edit_job(base, 0, |j| {
        j.insert("commands".into(), json!(["./start.sh"]));
    });
    one_problem(
        v,
        "jobs[0] (id \"a\").commands: must be an object of command name to argv list",
    );
}

#[test]
fn commands_per_kind() {
    let v = edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j["commands"].as_object_mut().unwrap().remove("status");
    });
    one_problem(
        v,
        "jobs[0] (id \"a\").commands.status: is required for a long_running_read job",
    );

    let v = edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert("commands".into(), json!({"run": ["x"]}));
    });
    assert_eq!(
        problems(v),
        [
            "jobs[0] (id \"a\").commands.start: is required for a long_running_read job",
            "jobs[0] (id \"a\").commands.status: is required for a long_running_read job",
        ]
    );

    let v = edit_job(with_jobs(vec![read("r"), write("w", "r")]), 1, |j| {
        j.insert("commands".into(), json!({"start": ["x"]}));
    });
    one_problem(
        v,
        "jobs[1] (id \"w\").commands.run: is required for a one_shot job",
    );

    // `stop` is optional, extra commands are allowed.
    let v = edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j["commands"]["stop"] = json!(["./stop.sh"]);
        j["commands"]["logs"] = json!(["tail", "log"]);
    });
    ok(v);
}

#[test]
fn ids_are_non_empty_and_unique_after_trimming() {
    let v = with_jobs(vec![
        long("a"),
        long(" a "),
        long("b"),
        long("   "),
        long(""),
        long("a"),
    ]);
    assert_eq!(
        problems(v),
        [
            "jobs[1] (id \"a\").id: duplicate id \"a\" (already used by jobs[0]; ids must be unique after trimming)",
            "jobs[3].id: must be a non-empty string (got \"   \")",
            "jobs[4].id: must be a non-empty string (got \"\")",
            "jobs[5] (id \"a\").id: duplicate id \"a\" (already used by jobs[0]; ids must be unique after trimming)",
        ]
    );
    one_problem(
        edit_job(with_jobs(vec![long("a")]), 0, |j| {
            j.insert("id".into(), json!(7));
        }),
        "jobs[0].id: must be a non-empty string (got 7)",
    );
}

#[test]
fn after_must_name_a_job_in_the_file() {
    // On a read job the Python version accepts it: a warning, the entry
    // ignored; an error with --strict.
    let v = with_jobs(vec![
        read("check"),
        edit_job(with_jobs(vec![read("r")]), 0, |j| {
            j.insert(
                "after".into(),
                json!([{"jobId": "check"}, {"jobId": "chek"}]),
            );
        })["jobs"][0]
            .clone(),
    ]);
    let config = ok(v.clone());
    assert_eq!(
        config.warnings,
        ["jobs[1].after[1].jobId: no job with id \"chek\" in this file: the entry is ignored"]
    );
    assert_eq!(config.jobs[1].after.len(), 1);
    assert_eq!(config.jobs[1].after[0].job_id, "check");
    assert_eq!(
        parse_value(&v, true).unwrap_err().problems,
        ["jobs[1] (id \"r\").after[1].jobId: no job with id \"chek\" in this file: the entry is ignored"]
    );
    // On a write job it is an error.
    let v = with_jobs(vec![read("check"), write("w", "check")]);
    let v = edit_job(v, 1, |j| {
        j["after"] = json!([{"jobId": "check"}, {"jobId": "chek"}]);
    });
    one_problem(
        v,
        "jobs[1] (id \"w\").after[1].jobId: no job with id \"chek\" in this file",
    );

    // Trimmed like the ids.
    ok(with_jobs(vec![read("check"), write("w", " check ")]));
}

/// `after` the way the Python version reads it: what it ignores is ignored
/// with a warning (an error with --strict).
#[test]
fn after_entries_are_read_the_python_way() {
    let v = edit_job(with_jobs(vec![read("check"), read("r")]), 1, |j| {
        j.insert(
            "after".into(),
            json!([
                {"when": "always", "delaySeconds": -5},
                "check",
                {"jobId": ""},
                {"jobId": "check", "when": "always"},
                {"jobId": "check", "when": null, "delaySeconds": -5},
                {"jobId": "check", "when": "failure", "delaySeconds": true}
            ]),
        );
    });
    let config = ok(v.clone());
    assert_eq!(
        config.warnings,
        [
            "jobs[1].after[0].jobId: missing: the entry is ignored (as ops-monitor.py ignores it)",
            r#"jobs[1].after[1]: not an object (got "check"): ignored (as ops-monitor.py ignores it)"#,
            r#"jobs[1].after[2].jobId: "" is not a job id: the entry is ignored (as ops-monitor.py ignores it)"#,
            r#"jobs[1].after[3].when: "always" never matches (only "success" and "failure" do): the entry is ignored, as ops-monitor.py ignores it"#,
            "jobs[1].after[4].delaySeconds: -5 read as 0 (as ops-monitor.py reads it)",
            r#"jobs[1].after[4].when: null read as "success" (as ops-monitor.py reads it)"#,
            "jobs[1].after[5].delaySeconds: true read as 1 (as ops-monitor.py reads it)",
        ]
    );
    assert_eq!(
        config.jobs[1].after,
        [
            After {
                job_id: "check".into(),
                when: When::Success,
                delay_seconds: 0.0
            },
            After {
                job_id: "check".into(),
                when: When::Failure,
                delay_seconds: 1.0
            },
        ]
    );
    assert_eq!(parse_value(&v, true).unwrap_err().problems.len(), 7);

    // Not a list: nothing is queued.
    let config = ok(edit_job(with_jobs(vec![read("r")]), 0, |j| {
        j.insert("after".into(), json!({"jobId": "r"}));
    }));
    assert!(config.jobs[0].after.is_empty());
    assert_eq!(
        config.warnings,
        [
            r#"jobs[0].after: not a list (got {"jobId":"r"}): nothing is queued after this job (as ops-monitor.py reads it)"#
        ]
    );
}

#[test]
fn a_one_shot_write_needs_a_read_only_verification_on_success() {
    let rule = "jobs[1] (id \"w\").after: a one_shot_write job needs a verification step: an entry with \
                \"when\": \"success\" whose job is a one_shot_read or long_running_read with risk \"read_only\"";

    // No after at all.
    let v = edit_job(
        with_jobs(vec![read("check"), write("w", "check")]),
        1,
        |j| {
            j.remove("after");
        },
    );
    one_problem(v, rule);

    // Only on failure.
    let v = edit_job(
        with_jobs(vec![read("check"), write("w", "check")]),
        1,
        |j| {
            j["after"] = json!([{"jobId": "check", "when": "failure"}]);
        },
    );
    one_problem(v, rule);

    // The check has write risk: a warning for it, and no verification.
    let v = edit_job(
        with_jobs(vec![read("check"), write("w", "check")]),
        0,
        |j| {
            j.insert("risk".into(), json!("write_local"));
        },
    );
    one_problem(v, rule);

    // Another write job is no verification.
    let v = with_jobs(vec![write("w2", "check"), write("w", "w2"), read("check")]);
    one_problem(v, rule);

    // A long_running_read read_only job is one.
    ok(with_jobs(vec![long("scan"), write("w", "scan")]));
    // One good entry among others is enough.
    ok(edit_job(
        with_jobs(vec![read("check"), write("w", "check")]),
        1,
        |j| {
            j["after"] = json!([{"jobId": "check", "when": "failure"}, {"jobId": "check", "delaySeconds": 60}]);
        },
    ));
}

#[test]
fn a_self_reference_in_after_is_a_warning() {
    let config = ok(edit_job(with_jobs(vec![read("r")]), 0, |j| {
        j.insert("after".into(), json!([{"jobId": "r", "when": "failure"}]));
    }));
    assert_eq!(
        config.warnings,
        ["jobs[0].after[0].jobId: names the job itself, so every run queues another"]
    );
}

#[test]
fn this_ports_own_policy_durations_are_checked() {
    let v = json!({
        "version": 1,
        "jobs": [edit_job(with_jobs(vec![long("a")]), 0, |j| {
            j.insert("policy".into(), json!({
                "statusTimeoutSeconds": -3,
                "everySeconds": "1h",
            }));
        })["jobs"][0].clone()]
    });
    assert_eq!(
        problems(v),
        [
            "jobs[0] (id \"a\").policy.everySeconds: must be a number of seconds, 0 or more (or null) (got \"1h\")",
            "jobs[0] (id \"a\").policy.statusTimeoutSeconds: must be a number of seconds greater than 0 (got -3)",
        ]
    );
}

/// A number in `defaults` is `int(x or built-in)` (SPEC §2); this port's
/// own keys there must be positive, else the built-in value.
#[test]
fn defaults_numbers_are_read_the_python_way() {
    let config = ok(json!({
        "version": 1,
        "defaults": {
            "reportEverySeconds": "60",
            "stallSeconds": -5,
            "autoResumeBackoffSeconds": 0,
            "statusTimeoutSeconds": 0,
            "everySeconds": -1,
            "autoResume": "yes"
        },
        "jobs": [long("a")]
    }));
    let p = &config.jobs[0].policy;
    assert_eq!(p.report_every_seconds, 60.0);
    assert_eq!(p.stall_seconds, -5.0, "used as given: no stall detection");
    assert_eq!(p.auto_resume_backoff_seconds, 900.0, "0 means the built-in");
    assert_eq!(p.status_timeout_seconds, 30.0);
    assert!(!p.auto_resume);
    assert_eq!(
        config.warnings,
        [
            "defaults.autoResume: \"yes\" is not true: automatic resume is off (only JSON true turns it on, as in ops-monitor.py)",
            "defaults.autoResumeBackoffSeconds: 0 means the built-in 900 (as ops-monitor.py reads it); leave it out or write 900",
            "defaults.everySeconds: must be a number of seconds greater than 0 (got -1): the built-in value is used",
            "defaults.reportEverySeconds: \"60\" read as 60 (as ops-monitor.py reads it); write 60",
            "defaults.stallSeconds: -5 is used as given (as ops-monitor.py reads it): no stall detection",
            "defaults.statusTimeoutSeconds: must be a number of seconds greater than 0 (got 0): the built-in value is used",
        ]
    );
    let config = ok(json!({
        "version": 1,
        "defaults": {"reportEverySeconds": 60.9, "stallSeconds": true, "autoResumeBackoffSeconds": 300},
        "jobs": [long("a")]
    }));
    let p = &config.jobs[0].policy;
    assert_eq!(
        (
            p.report_every_seconds,
            p.stall_seconds,
            p.auto_resume_backoff_seconds
        ),
        (60.0, 1.0, 300.0)
    );
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    // What int() cannot read is an error, as it is for the Python version.
    assert_eq!(
        problems(json!({"version": 1, "defaults": {"stallSeconds": "60.5"}, "jobs": []})),
        ["defaults.stallSeconds: must be a whole number of seconds (got \"60.5\"; ops-monitor.py cannot read it either)"]
    );
}

/// A number in `policy` counts only as a whole number 0 or more, a flag
/// only as true/false; anything else falls back (SPEC §2).
#[test]
fn policy_values_are_read_the_python_way() {
    let v = json!({
        "version": 1,
        "defaults": {"stallSeconds": 60, "autoResume": true},
        "jobs": [edit_job(with_jobs(vec![long("a")]), 0, |j| {
            j.insert("policy".into(), json!({
                "stallSeconds": 120.0,
                "reportEverySeconds": -1,
                "autoResumeBackoffSeconds": true,
                "autoResume": "no",
                "onlyOnChange": 0,
            }));
        })["jobs"][0].clone()]
    });
    let config = ok(v.clone());
    let p = &config.jobs[0].policy;
    assert_eq!(p.stall_seconds, 60.0, "120.0 is ignored: the defaults' 60");
    assert_eq!(p.report_every_seconds, 1800.0);
    assert_eq!(p.auto_resume_backoff_seconds, 1.0);
    assert!(p.auto_resume, "the defaults' value");
    assert!(p.only_on_change);
    assert_eq!(config.warnings.len(), 5, "{:?}", config.warnings);
    assert!(config.warnings.contains(&
        "jobs[0].policy.stallSeconds: 120.0 is ignored (ops-monitor.py counts only a whole number 0 or more here): the defaults' 60 is used".to_string()));
    assert_eq!(
        config.warnings[0],
        "jobs[0].policy.autoResume: \"no\" is ignored (only true or false count, as in ops-monitor.py): the defaults' true is used"
    );
    assert_eq!(parse_value(&v, true).unwrap_err().problems.len(), 5);
}

/// The rest of what the Python version accepts (issue 9's list): each
/// validates with a warning and means what it meant there.
#[test]
fn python_tolerated_forms_validate_with_warnings() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"version": "1", "jobs": [long("a")]}), r#"version: "1" read as 1 (as ops-monitor.py reads it); write 1"#),
        (json!({"version": true, "jobs": [long("a")]}), "version: true read as 1 (as ops-monitor.py reads it); write 1"),
        (json!({"version": 1.9, "jobs": [long("a")]}), "version: 1.9 read as 1 (as ops-monitor.py reads it); write 1"),
        (json!({"version": 1, "defaults": [], "jobs": [long("a")]}), "defaults: not an object (got []): the built-in defaults are used, with quiet hours 23:00–08:00 (as ops-monitor.py reads it)"),
        (edit_job(with_jobs(vec![long("a")]), 0, |j| { j.insert("policy".into(), json!([])); }), "jobs[0].policy: not an object (got []): no per-job policy (as ops-monitor.py reads it)"),
        (edit_job(with_jobs(vec![long("a")]), 0, |j| { j.insert("name".into(), json!(5)); }), "jobs[0].name: 5 is not a string: the id is shown (as ops-monitor.py does)"),
        (edit_job(with_jobs(vec![long("a")]), 0, |j| { j.insert("cwd".into(), json!(null)); }), "jobs[0].cwd: null: the OpenClaw home is used (as ops-monitor.py reads it)"),
    ];
    for (v, warning) in cases {
        let config = ok(v.clone());
        assert_eq!(config.warnings, [warning], "{v}");
        let job = &config.jobs[0];
        assert_eq!(job.name, "a");
        assert_eq!(job.cwd, PathBuf::from(HOME));
        assert_eq!(job.policy, Policy::default());
        // An error names the job by id too (SPEC §2).
        let error = warning.replacen("jobs[0]", "jobs[0] (id \"a\")", 1);
        assert_eq!(
            parse_value(&v, true).unwrap_err().problems,
            [error],
            "--strict makes it an error"
        );
    }
    // Still refused, as the Python version refuses them.
    for bad in [json!("2"), json!("1.0"), json!(0), json!(null), json!([1])] {
        assert!(
            parse_value(&json!({"version": bad, "jobs": []}), false).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn names_are_trimmed() {
    let config = ok(edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert("name".into(), json!("  Nightly crawl  "));
    }));
    assert_eq!(config.jobs[0].name, "Nightly crawl");
}

#[test]
fn defaults_settings_are_checked() {
    let v = json!({
        "version": 1,
        "defaults": {
            "language": "fr",
            "notify": [
                {"type": "webhook"},
                {"type": "webhook", "url": "ftp://x", "headers": {"X": 1}},
                {"type": "file", "path": ""},
                {"type": "command", "argv": []},
                {"type": "command"},
                {"type": "sms"},
                {"target": "1"},
                {"type": "telegram", "target": true},
                "telegram"
            ],
            "metricsFile": "",
            "heartbeatUrl": "hc-ping.com/abc"
        },
        "jobs": []
    });
    assert_eq!(
        problems(v),
        [
            "defaults.heartbeatUrl: must be an http:// or https:// URL (got \"hc-ping.com/abc\")",
            r#"defaults.language: must be one of "en", "zh" (got "fr")"#,
            "defaults.metricsFile: must be a non-empty string (got \"\")",
            "defaults.notify[0].url: is required for a webhook channel",
            "defaults.notify[1].headers.X: must be a string (got 1)",
            "defaults.notify[1].url: must be an http:// or https:// URL (got \"ftp://x\")",
            "defaults.notify[2].path: must be a non-empty string (got \"\")",
            "defaults.notify[3].argv: must be a non-empty list of strings",
            "defaults.notify[4].argv: is required for a command channel",
            r#"defaults.notify[5].type: must be one of "telegram", "webhook", "file", "command", "alertmanager" (got "sms")"#,
            "defaults.notify[6].type: is required",
            "defaults.notify[7].target: must be a chat id (a non-empty string or an integer) (got true)",
            r#"defaults.notify[8]: must be an object such as {"type": "telegram"} (got "telegram")"#,
        ]
    );
    one_problem(
        json!({"version": 1, "defaults": {"notify": 3}, "jobs": []}),
        "defaults.notify: must be a list of channels (got 3)",
    );
}

#[test]
fn many_mistakes_are_all_reported_at_once() {
    let v = json!({
        "version": 1,
        "defaults": {"stallSeconds": -5},
        "jobs": [
            {"id": "a", "kind": "long_running_read", "risk": "read_only",
             "commands": {"start": ["x"], "status": []}},
            {"id": "a", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": ["y"]}},
            {"id": "w", "kind": "one_shot_write", "risk": "write_local",
             "commands": {"run": ["z"]}, "after": [{"jobId": "ghost"}]},
            {"kind": "one_shot_read", "risk": "nope", "commands": {}}
        ]
    });
    assert_eq!(
        problems(v),
        [
            "jobs[0] (id \"a\").commands.status: must be a non-empty list of strings",
            "jobs[1] (id \"a\").id: duplicate id \"a\" (already used by jobs[0]; ids must be unique after trimming)",
            "jobs[2] (id \"w\").after[0].jobId: no job with id \"ghost\" in this file",
            "jobs[3].commands.run: is required for a one_shot job",
            "jobs[3].id: is required",
            r#"jobs[3].risk: must be one of "read_only", "write_local", "write_external" (got "nope")"#,
        ]
    );
}

// ---------------------------------------------------------------- unknown keys

fn with_typos() -> Value {
    json!({
        "$schema": "https://example.invalid/ops-jobs.schema.json",
        "version": 1,
        "comment": "top",
        "defaults": {
            "quietHours": {"start": "23:00", "end": "08:00", "tz": "UTC"},
            "stallSecond": 60,
            "notify": [{"type": "webhook", "url": "http://127.0.0.1:9/x", "header": {}}]
        },
        "jobs": [
            {
                "id": "a", "kind": "long_running_read", "risk": "read_only",
                "commands": {"start": ["x"], "status": ["y"]},
                "policy": {"autoresume": true},
                "Enabled": true,
                "after": [{"jobId": "a", "whenn": "success"}]
            },
            {
                "id": "w", "kind": "one_shot_write", "risk": "write_local",
                "commands": {"run": ["z"]},
                "approval": {"granted": true, "grantedBy": "me"},
                "after": [{"jobId": "a"}]
            }
        ]
    })
}

#[test]
fn unknown_keys_are_warnings_with_their_path() {
    let config = ok(with_typos());
    assert_eq!(
        config.warnings,
        [
            "comment: unknown key (ignored)",
            "defaults.notify[0].header: unknown key (ignored; did you mean \"headers\"?)",
            "defaults.quietHours.tz: unknown key (ignored)",
            "defaults.stallSecond: unknown key (ignored; did you mean \"stallSeconds\"?)",
            "jobs[0].Enabled: unknown key (ignored; did you mean \"enabled\"?)",
            "jobs[0].after[0].jobId: names the job itself, so every run queues another",
            "jobs[0].after[0].whenn: unknown key (ignored; did you mean \"when\"?)",
            "jobs[0].policy.autoresume: unknown key (ignored; did you mean \"autoResume\"?)",
            "jobs[1].approval.grantedBy: unknown key (ignored)",
        ]
    );
    assert!(!config.jobs[0].enabled, "a misspelt key does not enable");
    assert!(!config.jobs[0].policy.auto_resume);
    assert_eq!(config.defaults.notify.as_ref().unwrap().len(), 1);
}

#[test]
fn with_strict_unknown_keys_are_errors() {
    let err = parse_value(&with_typos(), true).unwrap_err();
    assert_eq!(
        err.problems,
        [
            "comment: unknown key",
            "defaults.notify[0].header: unknown key (did you mean \"headers\"?)",
            "defaults.quietHours.tz: unknown key",
            "defaults.stallSecond: unknown key (did you mean \"stallSeconds\"?)",
            "jobs[0] (id \"a\").Enabled: unknown key (did you mean \"enabled\"?)",
            "jobs[0] (id \"a\").after[0].whenn: unknown key (did you mean \"when\"?)",
            "jobs[0] (id \"a\").policy.autoresume: unknown key (did you mean \"autoResume\"?)",
            "jobs[1] (id \"w\").approval.grantedBy: unknown key",
        ]
    );
    // Strict changes nothing for a config without unknown keys.
    let clean = with_jobs(vec![long("a")]);
    assert!(parse_value(&clean, true).unwrap().warnings.is_empty());
}

#[test]
fn free_form_maps_have_no_unknown_keys() {
    let config = ok(json!({
        "version": 1,
        "defaults": {"notify": [{"type": "webhook", "url": "https://x.example", "headers": {"X-Any": "1"}}]},
        "jobs": [edit_job(with_jobs(vec![long("a")]), 0, |j| {
            j["commands"]["anything-goes"] = json!(["true"]);
        })["jobs"][0].clone()]
    }));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn unknown_keys_inside_invalid_parts_are_still_found() {
    let v = edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert(
            "policy".into(),
            json!({"statusTimeoutSeconds": -1, "stalSeconds": 5}),
        );
    });
    let err = parse_value(&v, false).unwrap_err();
    assert_eq!(
        err.problems,
        ["jobs[0] (id \"a\").policy.statusTimeoutSeconds: must be a number of seconds greater than 0 (got -1)"]
    );
    // SPEC §2: the warnings come with the errors.
    assert_eq!(
        err.warnings,
        ["jobs[0].policy.stalSeconds: unknown key (ignored; did you mean \"stallSeconds\"?)"]
    );
    let err = parse_value(&v, true).unwrap_err();
    assert_eq!(
        err.problems,
        [
            "jobs[0] (id \"a\").policy.stalSeconds: unknown key (did you mean \"stallSeconds\"?)",
            "jobs[0] (id \"a\").policy.statusTimeoutSeconds: must be a number of seconds greater than 0 (got -1)",
        ]
    );
    assert!(err.warnings.is_empty(), "strict: {:?}", err.warnings);
}

#[test]
fn an_error_names_the_job_by_id_when_it_has_a_usable_one() {
    let mut odd = long(" say \"hi\"\u{1b} ");
    odd["commands"]["status"] = json!([]);
    let mut numbered = long("x");
    numbered["id"] = json!(7);
    let v = with_jobs(vec![odd, numbered, json!(3)]);
    assert_eq!(
        problems(v),
        [
            // Trimmed, and written as a JSON string: quotes and control
            // characters in an id cannot blur the line.
            "jobs[0] (id \"say \\\"hi\\\"\\u001b\").commands.status: must be a non-empty list of strings",
            // No usable id: the path alone.
            "jobs[1].id: must be a non-empty string (got 7)",
            "jobs[2]: must be an object (a job) (got 3)",
        ]
    );
    // Not a job's path: unchanged.
    let v = json!({"version": 1, "defaults": {"stallSeconds": "x"}, "jobs": [long("a")]});
    assert!(problems(v)[0].starts_with("defaults.stallSeconds"));
}

// ---------------------------------------------------------------- fixtures, scale

#[test]
fn the_python_reference_configs_load() {
    let root = Path::new("/work/shared/fixtures/python-reference");
    let Ok(cases) = std::fs::read_dir(root) else {
        crate::out::errln!("no fixtures at {}, skipped", root.display());
        return;
    };
    let mut loaded = 0;
    for case in cases {
        let path = case.unwrap().path().join("config.json");
        if !path.is_file() {
            continue;
        }
        let config = load(&path, Path::new(HOME), true)
            .unwrap_or_else(|e| panic!("{}: {:?}", path.display(), e.problems));
        // Only the note that ops-monitor.py would take the relative cwd
        // "CASE_DIR" from the folder it runs in.
        assert!(
            config
                .warnings
                .iter()
                .all(|w| w.starts_with("jobs[0].cwd: ")),
            "{:?}",
            config.warnings
        );
        let job = config.job("job1").unwrap();
        assert_eq!(job.name, "Nightly crawl");
        assert!(job.enabled);
        assert_eq!(job.cwd, path.parent().unwrap().join("CASE_DIR"));
        assert_eq!(
            job.policy.quiet_hours,
            QuietHours {
                start_minute: 0,
                end_minute: 0
            }
        );
        assert_eq!(job.policy.report_every_seconds, 1800.0);
        assert_eq!(
            summary(&config),
            "version=1 jobs=1 (long_running_read=1, one_shot_read=0, one_shot_write=0)"
        );
        loaded += 1;
    }
    assert!(loaded >= 6, "only {loaded} fixture configs");
}

#[test]
fn a_thousand_jobs_validate() {
    let mut jobs = Vec::new();
    for i in 0..500 {
        let mut j = long(&format!("long-{i}"));
        j["policy"] = json!({"stallSeconds": 60, "quietHours": {"start": "22:00", "end": "06:00"}});
        jobs.push(j);
        let mut r = read(&format!("read-{i}"));
        r["after"] = json!([{"jobId": format!("long-{i}"), "delaySeconds": 5}]);
        jobs.push(r);
    }
    let text = json!({"version": 1, "defaults": {"stallSeconds": 10}, "jobs": jobs}).to_string();
    let started = std::time::Instant::now();
    let config = parse(&text, Path::new(CONFIG), Path::new(HOME), true).unwrap();
    // A generous bound for a debug build on a shared machine; a release
    // build takes about 4 ms here (3 ms more on first use, to compile the
    // schema).
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(config.jobs.len(), 1000);
    assert_eq!(config.job("read-499").unwrap().after[0].job_id, "long-499");
}

#[test]
fn the_schema_is_printed_as_shipped() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["required"], json!(["version", "jobs"]));
}

#[test]
fn jobs_sharing_a_relative_cwd_get_one_warning_naming_them_all() {
    let with_cwd = |id: &str, cwd: &str| {
        let mut job = long(id);
        job["cwd"] = json!(cwd);
        job
    };
    let config = ok(json!({"version": 1, "jobs": [
        with_cwd("a", "scripts"), with_cwd("b", "scripts"), with_cwd("c", "other"),
        with_cwd("d", "scripts"),
    ]}));
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    assert!(
        config.warnings[0].starts_with(
            "jobs[0].cwd: \"scripts\" is taken from the config file's folder (/etc/ops/scripts)"
        ),
        "{:?}",
        config.warnings
    );
    assert!(
        config.warnings[0].ends_with(" (the same for jobs[1].cwd, jobs[3].cwd)"),
        "{:?}",
        config.warnings
    );
    assert!(
        config.warnings[1].starts_with("jobs[2].cwd: \"other\" is taken"),
        "{:?}",
        config.warnings
    );
    assert!(
        !config.warnings[1].contains("the same for"),
        "{:?}",
        config.warnings
    );
}

#[test]
fn the_config_names_its_own_secrets() {
    let config = ok(json!({"version": 1, "defaults": {
        "heartbeatUrl": "https://hc.example/ping/abc-123-check",
        "notify": [
            {"type": "webhook", "url": "https://hook.example/in?key=k-secret-1",
             "headers": {"Authorization": "Bearer tok-secret-2"}},
            {"type": "alertmanager", "url": "http://am:9093", "headers": {"X-Org": "org-secret-3"}},
            {"type": "command", "argv": ["/usr/local/bin/notify", "--token=arg-secret-4"]},
        ]}, "jobs": []}));
    let secrets = config.defaults.secrets();
    for expected in [
        "Bearer tok-secret-2",
        "tok-secret-2",
        "org-secret-3",
        "key=k-secret-1",
        "https://hc.example/ping/abc-123-check",
        "/ping/abc-123-check",
        "--token=arg-secret-4",
    ] {
        assert!(
            secrets.iter().any(|s| s == expected),
            "{expected}: {secrets:?}"
        );
    }
    // Not secrets: where a webhook or Alertmanager is, and a command's program.
    for shown in [
        "https://hook.example/in",
        "http://am:9093",
        "/usr/local/bin/notify",
    ] {
        assert!(
            !secrets.iter().any(|s| s.contains(shown)),
            "{shown}: {secrets:?}"
        );
    }
}
