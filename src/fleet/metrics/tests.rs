use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::state::{MonitorRecord, QueueItem, RunRecord};
use crate::status::parse;

use crate::fleet::test_config as config;

const NOW: f64 = 1_795_262_400.0;

fn facts<'a>(
    config: Option<&'a Config>,
    observed: &'a BTreeMap<String, Observation>,
) -> TickFacts<'a> {
    TickFacts {
        config,
        config_valid: config.is_some(),
        config_error: None,
        observed: observed.clone(),
        now: NOW,
        previous_tick_at: None,
        host: "h".into(),
    }
}

#[test]
fn the_whole_file_for_one_long_job_and_one_check() {
    let cfg = config(json!([
        {"id": "scan \"photos\" \\ 1", "kind": "long_running_read", "risk": "read_only", "enabled": true,
         "commands": {"start": ["true"], "status": ["true"]}},
        {"id": "disk", "kind": "one_shot_read", "risk": "read_only", "enabled": true,
         "commands": {"run": ["true"]}, "policy": {"everySeconds": 300}},
    ]));
    let mut st = State {
        monitor: Some(MonitorRecord {
            last_success_at: Some(NOW - 60.0),
            ..MonitorRecord::default()
        }),
        ..State::default()
    };
    st.job_mut("scan \"photos\" \\ 1").last_progress_at = Some(NOW - 30.5);
    st.job_mut("disk").last_run_at = Some(NOW - 10.0);
    st.job_mut("disk").last_run = Some(Box::new(RunRecord {
        exit_code: Some(2),
        ..RunRecord::default()
    }));
    let mut item = QueueItem::new("disk", NOW, NOW, String::new());
    item.status = QueueStatus::Failed;
    st.queue.push(item);
    let observed: BTreeMap<String, Observation> = [(
        "scan \"photos\" \\ 1".to_string(),
        parse(r#"{"running":true,"completed":false,"progressKey":"k"}"#),
    )]
    .into();
    let text = render(&facts(Some(&cfg), &observed), &st, Code::Ok, 0.25);
    let id = r#"job_id="scan \"photos\" \\ 1""#;
    let expected = format!(
        r#"# HELP ops_monitor_build_info The ops-monitor version that wrote this file.
# TYPE ops_monitor_build_info gauge
ops_monitor_build_info{{version="{version}"}} 1
# HELP ops_monitor_config_valid 1 when the last tick read a valid job config; 0 when it was invalid (the tick then watched with the last good config, or nothing).
# TYPE ops_monitor_config_valid gauge
ops_monitor_config_valid 1
# HELP ops_monitor_tick_last_timestamp_seconds When the last tick ran (Unix seconds).
# TYPE ops_monitor_tick_last_timestamp_seconds gauge
ops_monitor_tick_last_timestamp_seconds 1795262400
# HELP ops_monitor_tick_last_success_timestamp_seconds When a tick last watched the jobs with a valid config and ran to its end (Unix seconds; 0 never).
# TYPE ops_monitor_tick_last_success_timestamp_seconds gauge
ops_monitor_tick_last_success_timestamp_seconds 1795262340
# HELP ops_monitor_tick_duration_seconds How long the last tick took.
# TYPE ops_monitor_tick_duration_seconds gauge
ops_monitor_tick_duration_seconds 0.25
# HELP ops_monitor_tick_exit_code The exit code of the last tick (0 ok, 2 config invalid, 3 undelivered, see the README).
# TYPE ops_monitor_tick_exit_code gauge
ops_monitor_tick_exit_code 0
# HELP ops_monitor_job_enabled 1 when the job is enabled in the config.
# TYPE ops_monitor_job_enabled gauge
ops_monitor_job_enabled{{{id},kind="long_running_read"}} 1
ops_monitor_job_enabled{{job_id="disk",kind="one_shot_read"}} 1
# HELP ops_monitor_job_running 1 when the job's status said running on the last tick (enabled long_running_read jobs).
# TYPE ops_monitor_job_running gauge
ops_monitor_job_running{{{id}}} 1
# HELP ops_monitor_job_completed 1 when the job's status said completed on the last tick.
# TYPE ops_monitor_job_completed gauge
ops_monitor_job_completed{{{id}}} 0
# HELP ops_monitor_job_state 1 for the job's state word (held, unknown, completed, stalled, running, paused: the words of status --json), 0 for the others.
# TYPE ops_monitor_job_state gauge
ops_monitor_job_state{{{id},state="held"}} 0
ops_monitor_job_state{{{id},state="unknown"}} 0
ops_monitor_job_state{{{id},state="completed"}} 0
ops_monitor_job_state{{{id},state="stalled"}} 0
ops_monitor_job_state{{{id},state="running"}} 1
ops_monitor_job_state{{{id},state="paused"}} 0
# HELP ops_monitor_job_last_progress_change_timestamp_seconds When the job's progress last changed (Unix seconds; 0 never).
# TYPE ops_monitor_job_last_progress_change_timestamp_seconds gauge
ops_monitor_job_last_progress_change_timestamp_seconds{{{id}}} 1795262369.5
# HELP ops_monitor_check_last_exit_code Exit code of the one_shot_read job's last run (Nagios: 1 warning, 2 critical, 3 unknown; -1 timed out or could not start; 0 also when it never ran).
# TYPE ops_monitor_check_last_exit_code gauge
ops_monitor_check_last_exit_code{{job_id="disk"}} 2
# HELP ops_monitor_check_last_run_timestamp_seconds When the one_shot_read job last ran (Unix seconds; 0 never).
# TYPE ops_monitor_check_last_run_timestamp_seconds gauge
ops_monitor_check_last_run_timestamp_seconds{{job_id="disk"}} 1795262390
# HELP ops_monitor_queue_items Items in the queue by status.
# TYPE ops_monitor_queue_items gauge
ops_monitor_queue_items{{status="pending"}} 0
ops_monitor_queue_items{{status="running"}} 0
ops_monitor_queue_items{{status="done"}} 0
ops_monitor_queue_items{{status="failed"}} 1
ops_monitor_queue_items{{status="blocked"}} 0
# HELP ops_monitor_outbox_messages Undelivered messages waiting in the outbox, by channel.
# TYPE ops_monitor_outbox_messages gauge
ops_monitor_outbox_messages{{channel="telegram"}} 0
"#,
        version = env!("CARGO_PKG_VERSION")
    );
    assert_eq!(text, expected);
}

#[test]
fn without_a_config_only_the_monitor_itself_is_described() {
    let observed = BTreeMap::new();
    let mut f = facts(None, &observed);
    f.config_valid = false;
    let text = render(&f, &State::default(), Code::Usage, 0.01);
    assert!(text.contains("\nops_monitor_config_valid 0\n"), "{text}");
    assert!(text.contains("\nops_monitor_tick_exit_code 2\n"), "{text}");
    assert!(text.contains("\nops_monitor_tick_last_success_timestamp_seconds 0\n"));
    assert!(!text.contains("job_id"), "{text}");
    assert!(
        !text.contains("ops_monitor_outbox_messages"),
        "no channel known, none waiting"
    );
    assert!(text.ends_with('\n'));
}

#[test]
fn escaping_follows_the_text_format() {
    assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    assert_eq!(escape("照片 ok"), "照片 ok");
    assert_eq!(number(1.0), "1");
    assert_eq!(number(-1.0), "-1");
    assert_eq!(number(0.5), "0.5");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(number(f64::INFINITY), "+Inf");
}

#[test]
fn write_replaces_the_file_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("textfile/ops-monitor.prom");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path.parent().unwrap().join(".ops-monitor.prom.stray.tmp"),
        "x",
    )
    .unwrap();
    write(&path, "a 1\n").unwrap();
    write(&path, "a 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["ops-monitor.prom".to_string()]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "node_exporter reads it as its own user");
}
