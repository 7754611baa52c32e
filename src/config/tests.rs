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
            "quietHours": {"start": "22:30", "end": "7:00"},
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

    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
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
    assert_eq!(
        config.warnings,
        [
            r#"jobs[0].policy.quietHours: invalid (must be {"start": "HH:MM", "end": "HH:MM"}, got {"end":"07:00","start":"25:00"}); using the defaults' 21:00–07:00"#,
            r#"jobs[1].policy.quietHours: invalid (must be {"start": "HH:MM", "end": "HH:MM"}, got "23-8"); using the defaults' 21:00–07:00"#,
            r#"jobs[2].policy.quietHours: invalid (must be {"start": "HH:MM", "end": "HH:MM"}, got {"start":"01:00"}); using the defaults' 21:00–07:00"#,
        ]
    );
}

#[test]
fn an_invalid_defaults_quiet_hours_falls_back_to_the_built_in() {
    let config = ok(json!({
        "version": 1,
        "defaults": {"quietHours": {"start": "8am", "end": "9pm"}},
        "jobs": [long("a"), edit_job(with_jobs(vec![long("b")]), 0, |j| {
            j.insert("policy".into(), json!({"quietHours": {"start": "12:00", "end": "13:00"}}));
        })["jobs"][0].clone()]
    }));
    assert_eq!(config.jobs[0].policy.quiet_hours, QuietHours::DEFAULT);
    assert_eq!(config.jobs[1].policy.quiet_hours.start_minute, 12 * 60);
    assert_eq!(
        config.warnings,
        [
            r#"defaults.quietHours: invalid (must be {"start": "HH:MM", "end": "HH:MM"}, got {"end":"9pm","start":"8am"}); using the built-in 23:00–08:00"#
        ]
    );
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
        json!({"version": "1", "jobs": []}),
        "version: must be 1 (got \"1\")",
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
            r#"jobs[0].kind: must be one of "long_running_read", "one_shot_read", "one_shot_write" (got "long_running")"#,
            r#"jobs[0].risk: must be one of "read_only", "write_local", "write_external" (got "readonly")"#,
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
        "jobs[2].commands.status: must be a non-empty list of strings",
    );

    let v = edit_job(base.clone(), 2, |j| {
        j["commands"]["status"] = json!("./status.sh --json");
    });
    one_problem(
        v,
        "jobs[2].commands.status: must be a non-empty list of strings (got \"./status.sh --json\")",
    );

    let v = edit_job(base.clone(), 1, |j| {
        j["commands"]["start"] = json!(["./start.sh", "", 5]);
    });
    assert_eq!(
        problems(v),
        [
            "jobs[1].commands.start[1]: must be a non-empty string (got \"\")",
            "jobs[1].commands.start[2]: must be a non-empty string (got 5)",
        ]
    );

    let v = edit_job(base.clone(), 0, |j| {
        j["commands"]["my check"] = json!(null);
    });
    one_problem(
        v,
        "jobs[0].commands[\"my check\"]: must be a non-empty list of strings (got null)",
    );

    let v = edit_job(base, 0, |j| {
        j.insert("commands".into(), json!(["./start.sh"]));
    });
    one_problem(
        v,
        "jobs[0].commands: must be an object of command name to argv list",
    );
}

#[test]
fn commands_per_kind() {
    let v = edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j["commands"].as_object_mut().unwrap().remove("status");
    });
    one_problem(
        v,
        "jobs[0].commands.status: is required for a long_running_read job",
    );

    let v = edit_job(with_jobs(vec![long("a")]), 0, |j| {
        j.insert("commands".into(), json!({"run": ["x"]}));
    });
    assert_eq!(
        problems(v),
        [
            "jobs[0].commands.start: is required for a long_running_read job",
            "jobs[0].commands.status: is required for a long_running_read job",
        ]
    );

    let v = edit_job(with_jobs(vec![read("r"), write("w", "r")]), 1, |j| {
        j.insert("commands".into(), json!({"start": ["x"]}));
    });
    one_problem(v, "jobs[1].commands.run: is required for a one_shot job");

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
            "jobs[1].id: duplicate id \"a\" (already used by jobs[0]; ids must be unique after trimming)",
            "jobs[3].id: must be a non-empty string (got \"   \")",
            "jobs[4].id: must be a non-empty string (got \"\")",
            "jobs[5].id: duplicate id \"a\" (already used by jobs[0]; ids must be unique after trimming)",
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
    one_problem(
        v,
        "jobs[1].after[1].jobId: no job with id \"chek\" in this file",
    );

    // Trimmed like the ids.
    ok(with_jobs(vec![read("check"), write("w", " check ")]));
}

#[test]
fn after_entries_are_checked_by_the_schema() {
    let v = edit_job(with_jobs(vec![read("check"), read("r")]), 1, |j| {
        j.insert(
            "after".into(),
            json!([{"when": "always", "delaySeconds": -5}, "check", {"jobId": ""}]),
        );
    });
    assert_eq!(
        problems(v),
        [
            "jobs[1].after[0].delaySeconds: must be a number of seconds, 0 or more (got -5)",
            "jobs[1].after[0].jobId: is required",
            r#"jobs[1].after[0].when: must be one of "success", "failure" (got "always")"#,
            r#"jobs[1].after[1]: must be an object such as {"jobId": "verify"} (got "check")"#,
            "jobs[1].after[2].jobId: must be a non-empty string (got \"\")",
        ]
    );
}

#[test]
fn a_one_shot_write_needs_a_read_only_verification_on_success() {
    let rule = "jobs[1].after: a one_shot_write job needs a verification step: an entry with \
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
fn durations_must_not_be_negative_and_the_status_timeout_positive() {
    let v = json!({
        "version": 1,
        "defaults": {"stallSeconds": -1, "reportEverySeconds": "1800", "statusTimeoutSeconds": 0},
        "jobs": [edit_job(with_jobs(vec![long("a")]), 0, |j| {
            j.insert("policy".into(), json!({
                "autoResumeBackoffSeconds": -0.5,
                "statusTimeoutSeconds": -3,
                "everySeconds": "1h",
                "autoResume": "yes"
            }));
        })["jobs"][0].clone()]
    });
    assert_eq!(
        problems(v),
        [
            "defaults.reportEverySeconds: must be a number of seconds, 0 or more (got \"1800\")",
            "defaults.stallSeconds: must be a number of seconds, 0 or more (got -1)",
            "defaults.statusTimeoutSeconds: must be a number of seconds greater than 0 (got 0)",
            "jobs[0].policy.autoResume: must be true or false (got \"yes\")",
            "jobs[0].policy.autoResumeBackoffSeconds: must be a number of seconds, 0 or more (got -0.5)",
            "jobs[0].policy.everySeconds: must be a number of seconds, 0 or more (or null) (got \"1h\")",
            "jobs[0].policy.statusTimeoutSeconds: must be a number of seconds greater than 0 (got -3)",
        ]
    );
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
        json!({"version": 1, "defaults": [], "jobs": []}),
        "defaults: must be an object",
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
            "defaults.stallSeconds: must be a number of seconds, 0 or more (got -5)",
            "jobs[0].commands.status: must be a non-empty list of strings",
            "jobs[1].id: duplicate id \"a\" (already used by jobs[0]; ids must be unique after trimming)",
            "jobs[2].after[0].jobId: no job with id \"ghost\" in this file",
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
            "jobs[0].Enabled: unknown key (did you mean \"enabled\"?)",
            "jobs[0].after[0].whenn: unknown key (did you mean \"when\"?)",
            "jobs[0].policy.autoresume: unknown key (did you mean \"autoResume\"?)",
            "jobs[1].approval.grantedBy: unknown key",
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
            json!({"stallSeconds": -1, "stalSeconds": 5}),
        );
    });
    let err = parse_value(&v, false).unwrap_err();
    assert_eq!(
        err.problems,
        ["jobs[0].policy.stallSeconds: must be a number of seconds, 0 or more (got -1)"]
    );
    let err = parse_value(&v, true).unwrap_err();
    assert_eq!(
        err.problems,
        [
            "jobs[0].policy.stalSeconds: unknown key (did you mean \"stallSeconds\"?)",
            "jobs[0].policy.stallSeconds: must be a number of seconds, 0 or more (got -1)",
        ]
    );
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
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
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
