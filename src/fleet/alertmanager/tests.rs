use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::config::Config;
use crate::outbox::OutboxMessage;
use crate::state::{LastSeen, QueueItem, RunRecord};
use crate::status::parse;

use crate::fleet::test_config as config;

const NOW: f64 = 1_795_262_400.0;

fn long(id: &str) -> serde_json::Value {
    json!({"id": id, "kind": "long_running_read", "risk": "read_only", "enabled": true,
           "commands": {"start": ["true"], "status": ["true"]}, "policy": {"stallSeconds": 60}})
}

fn check(id: &str) -> serde_json::Value {
    json!({"id": id, "kind": "one_shot_read", "risk": "read_only", "enabled": true,
           "commands": {"run": ["true"]}, "policy": {"everySeconds": 300}})
}

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
        host: "mini-1".into(),
    }
}

fn names(found: &[Problem]) -> Vec<(String, String, String)> {
    found
        .iter()
        .map(|p| {
            (
                p.alertname().to_string(),
                p.subject().unwrap_or("").to_string(),
                p.labels["severity"].clone(),
            )
        })
        .collect()
}

fn triple(a: &str, s: &str, sev: &str) -> (String, String, String) {
    (a.into(), s.into(), sev.into())
}

#[test]
fn every_job_state_that_needs_a_person_is_a_problem() {
    let cfg = config(json!([
        long("stalled"),
        long("paused"),
        long("unknown"),
        long("asks"),
        long("fine"),
        long("done")
    ]));
    let mut st = State::default();
    st.job_mut("stalled").last_progress_key = Some("k".into());
    st.job_mut("stalled").last_progress_at = Some(NOW - 120.0);
    let observed: BTreeMap<String, Observation> = [
        (
            "stalled",
            r#"{"running":true,"completed":false,"progressKey":"k","message":"scanning"}"#,
        ),
        (
            "paused",
            r#"{"running":false,"completed":false,"stopReason":"rate_limited"}"#,
        ),
        ("unknown", "not json"),
        (
            "asks",
            r#"{"running":true,"completed":false,"level":"alert","message":"disk 99%"}"#,
        ),
        (
            "fine",
            r#"{"running":true,"completed":false,"progressKey":"new"}"#,
        ),
        ("done", r#"{"running":false,"completed":true}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), parse(v)))
    .collect();
    let found = problems(&facts(Some(&cfg), &observed), &st);
    assert_eq!(
        names(&found),
        vec![
            triple("OpsJobStalled", "stalled", "critical"),
            triple("OpsJobPaused", "paused", "warning"),
            triple("OpsJobUnknown", "unknown", "critical"),
            triple("OpsJobAlert", "asks", "critical"),
        ]
    );
    assert_eq!(
        found[0].annotations["summary"],
        "stalled (stalled) is stalled: no progress for 2m"
    );
    assert_eq!(
        found[1].annotations["summary"],
        "paused (paused) is paused (stopReason=rate_limited)"
    );
    assert_eq!(
        found[2].annotations["summary"],
        "unknown (unknown): status unknown — status output is not JSON"
    );
    assert_eq!(
        found[3].annotations["summary"],
        "asks (asks) asks for attention: disk 99%"
    );
    // Labels never carry text that changes while the problem lasts.
    assert_eq!(
        found[0].labels.keys().collect::<Vec<_>>(),
        vec!["alertname", "job_id", "severity"]
    );
}

#[test]
fn a_held_job_is_no_problem() {
    let cfg = config(json!([long("j")]));
    let mut st = State::default();
    st.job_mut("j").hold = Some(crate::state::Hold {
        at: NOW,
        by: "ops".into(),
        extra: Default::default(),
    });
    let observed: BTreeMap<String, Observation> = [(
        "j".to_string(),
        parse(r#"{"running":false,"completed":false}"#),
    )]
    .into();
    assert!(problems(&facts(Some(&cfg), &observed), &st).is_empty());
}

#[test]
fn checks_follow_nagios_severities() {
    let cfg = config(json!([
        check("w"),
        check("c"),
        check("t"),
        check("ok"),
        check("attention"),
        check("never")
    ]));
    let mut st = State::default();
    let run = |code: i64, out: &str| RunRecord {
        exit_code: Some(code),
        stdout_tail: out.into(),
        ..RunRecord::default()
    };
    st.job_mut("w").last_run = Some(Box::new(run(1, "DISK WARNING - / 85% used")));
    st.job_mut("c").last_run = Some(Box::new(run(2, "DISK CRITICAL - / 97% used")));
    st.job_mut("t").last_run = Some(Box::new(run(-1, "")));
    st.job_mut("ok").last_run = Some(Box::new(run(0, "DISK OK")));
    st.job_mut("attention").last_run = Some(Box::new(run(0, "ACTION REQUIRED: rotate the key")));
    let observed = BTreeMap::new();
    let found = problems(&facts(Some(&cfg), &observed), &st);
    assert_eq!(
        names(&found),
        vec![
            triple("OpsCheckFailed", "w", "warning"),
            triple("OpsCheckFailed", "c", "critical"),
            triple("OpsCheckFailed", "t", "critical"),
            triple("OpsCheckFailed", "attention", "warning"),
        ]
    );
    assert_eq!(found[1].annotations["summary"], "c (c): CRITICAL (exit=2)");
    assert_eq!(
        found[1].annotations["description"],
        "DISK CRITICAL - / 97% used"
    );
}

#[test]
fn a_failed_queued_run_fires_until_the_job_runs_again() {
    let mut verify = check("verify");
    verify["policy"] = json!({});
    let cfg = config(json!([verify]));
    let mut st = State::default();
    let mut item = QueueItem::new(
        "verify",
        NOW - 100.0,
        NOW - 100.0,
        "after apply (success)".into(),
    );
    item.status = QueueStatus::Failed;
    item.last_run_at = Some(NOW - 50.0);
    item.exit_code = Some(4);
    st.queue.push(item);
    st.job_mut("verify").last_run_at = Some(NOW - 50.0);
    let observed = BTreeMap::new();
    let found = problems(&facts(Some(&cfg), &observed), &st);
    assert_eq!(
        names(&found),
        vec![triple("OpsQueuedJobFailed", "verify", "critical")]
    );
    assert_eq!(
        found[0].annotations["summary"],
        "Queued run of verify (verify) failed (exit=4)"
    );
    st.job_mut("verify").last_run_at = Some(NOW - 10.0);
    assert!(problems(&facts(Some(&cfg), &observed), &st).is_empty());
}

#[test]
fn undelivered_reports_and_failed_posts_are_delivery_problems_without_secrets() {
    let mut st = State::default();
    for spec in [
        Channel::Webhook {
            url: "https://hooks.example/T0123/SECRETPATH".into(),
            headers: BTreeMap::from([("Authorization".into(), "Bearer SECRETHEADER".into())]),
        },
        Channel::Command {
            argv: vec!["apprise".into(), "tgram://SECRETTOKEN".into()],
        },
    ] {
        let mut m = OutboxMessage::new(spec, "h", &[], NOW, NOW);
        m.last_error = Some("webhook HTTP 503".into());
        st.outbox.entries.push(m);
    }
    st.alertmanager = Some(AlertmanagerRecord {
        failing: BTreeMap::from([("http://am:9093/".to_string(), NOW - 60.0)]),
        ..AlertmanagerRecord::default()
    });
    let observed = BTreeMap::new();
    let found = problems(&facts(None, &observed), &st);
    assert_eq!(
        names(&found),
        vec![
            triple("OpsConfigInvalid", "", "critical"),
            triple("OpsDeliveryFailing", "command", "warning"),
            triple(
                "OpsDeliveryFailing",
                "webhook:https://hooks.example",
                "warning"
            ),
            triple(
                "OpsDeliveryFailing",
                "alertmanager:http://am:9093/",
                "warning"
            ),
        ]
    );
    let all = format!("{found:?}");
    assert!(!all.contains("SECRET"), "{all}");
}

fn problem(name: &str, job: &str) -> Problem {
    Problem::new(name, "critical", format!("{name} {job}"), String::new()).with("job_id", job)
}

#[test]
fn firing_alerts_keep_their_start_and_end_four_intervals_ahead() {
    let (alerts, rec) = plan(
        &AlertmanagerRecord::default(),
        &[problem("OpsJobStalled", "a")],
        NOW,
        None,
        |_| true,
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].starts_at, alerts[0].ends_at),
        (NOW, NOW + 240.0),
        "60 s when unknown"
    );
    let later = NOW + 120.0;
    let (alerts, rec) = plan(
        &rec,
        &[problem("OpsJobStalled", "a")],
        later,
        Some(NOW),
        |_| true,
    );
    assert_eq!(
        (alerts[0].starts_at, alerts[0].ends_at),
        (NOW, later + 480.0)
    );
    assert_eq!(rec.firing.len(), 1);
    // The interval is clamped to 60–600 s.
    assert_eq!(firing_window(NOW, Some(NOW - 5.0)), 240.0);
    assert_eq!(firing_window(NOW, Some(NOW - 86400.0)), 2400.0);
    assert_eq!(
        firing_window(NOW, Some(NOW + 999.0)),
        240.0,
        "a clock that went back"
    );
}

#[test]
fn a_cleared_alert_is_posted_resolved_for_five_minutes_with_the_same_labels() {
    let p = problem("OpsJobPaused", "a");
    let (_, rec) = plan(
        &AlertmanagerRecord::default(),
        std::slice::from_ref(&p),
        NOW,
        None,
        |_| true,
    );
    let t1 = NOW + 60.0;
    let (alerts, rec) = plan(&rec, &[], t1, Some(NOW), |_| true);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels, p.labels);
    assert_eq!(
        (alerts[0].starts_at, alerts[0].ends_at),
        (NOW, t1),
        "endsAt = now"
    );
    let t2 = t1 + 299.0;
    let (alerts, rec) = plan(&rec, &[], t2, Some(t1), |_| true);
    assert_eq!(
        (alerts.len(), alerts[0].ends_at),
        (1, t2),
        "still posted on every tick"
    );
    let (alerts, rec) = plan(&rec, &[], t1 + 300.0, Some(t2), |_| true);
    assert!(alerts.is_empty(), "not after 5 minutes");
    assert_eq!(rec, AlertmanagerRecord::default());
}

#[test]
fn a_problem_back_within_the_window_fires_again_from_now() {
    let p = problem("OpsJobPaused", "a");
    let (_, rec) = plan(
        &AlertmanagerRecord::default(),
        std::slice::from_ref(&p),
        NOW,
        None,
        |_| true,
    );
    let (_, rec) = plan(&rec, &[], NOW + 60.0, Some(NOW), |_| true);
    let (alerts, rec) = plan(&rec, &[p], NOW + 120.0, Some(NOW + 60.0), |_| true);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].starts_at, NOW + 120.0);
    assert!(alerts[0].ends_at > NOW + 120.0);
    assert!(rec.resolved.is_empty());
}

#[test]
fn alerts_that_cannot_be_judged_are_neither_posted_nor_resolved() {
    let (_, rec) = plan(
        &AlertmanagerRecord::default(),
        &[problem("OpsJobStalled", "a")],
        NOW,
        None,
        |_| true,
    );
    let invalid = Problem::new("OpsConfigInvalid", "critical", "bad".into(), String::new());
    let (alerts, rec) = plan(&rec, &[invalid], NOW + 60.0, Some(NOW), |l| {
        !l.contains_key("job_id")
    });
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels["alertname"], "OpsConfigInvalid");
    assert_eq!(rec.firing.len(), 2, "the job's alert is kept as it was");
    assert_eq!(rec.firing[&problem("OpsJobStalled", "a").key()].since, NOW);
}

#[test]
fn start_never_after_end_when_the_clock_went_back() {
    let (_, rec) = plan(
        &AlertmanagerRecord::default(),
        &[problem("OpsJobStalled", "a")],
        NOW,
        None,
        |_| true,
    );
    let back = NOW - 3600.0;
    let (alerts, _) = plan(&rec, &[], back, Some(NOW), |_| true);
    assert!(
        alerts.iter().all(|a| a.starts_at <= a.ends_at),
        "{alerts:?}"
    );
}

#[test]
fn payload_adds_host_and_channel_labels_and_never_headers() {
    let channel = AlertmanagerChannel {
        url: "http://am:9093".into(),
        labels: BTreeMap::from([
            ("team".into(), "ops".into()),
            ("alertname".into(), "Overridden".into()),
            ("host".into(), "mac-mini-kitchen".into()),
        ]),
        headers: BTreeMap::from([("Authorization".into(), "Bearer SECRET".into())]),
    };
    let a = Alert {
        labels: problem("OpsJobStalled", "scan").labels,
        annotations: BTreeMap::from([("summary".into(), "s".into())]),
        starts_at: NOW,
        ends_at: NOW + 240.5,
    };
    let body = payload(&[a], &channel, "mini-1");
    assert_eq!(
        body,
        json!([{
            "labels": {"alertname": "OpsJobStalled", "host": "mac-mini-kitchen", "job_id": "scan", "severity": "critical", "team": "ops"},
            "annotations": {"summary": "s"},
            "startsAt": "2026-11-21T12:00:00.000Z",
            "endsAt": "2026-11-21T12:04:00.500Z",
        }])
    );
}

#[test]
fn endpoint_is_the_v2_alerts_api() {
    assert_eq!(endpoint("http://am:9093"), "http://am:9093/api/v2/alerts");
    assert_eq!(endpoint("http://am:9093/"), "http://am:9093/api/v2/alerts");
    assert_eq!(
        endpoint("http://h/am/api/v2/alerts"),
        "http://h/am/api/v2/alerts"
    );
}

#[test]
fn last_seen_alone_is_not_a_problem_for_an_unobserved_job() {
    // A disabled job is not watched: nothing fires for it.
    let mut j = long("j");
    j["enabled"] = json!(false);
    let cfg = config(json!([j]));
    let mut st = State::default();
    st.job_mut("j").last_seen = Some(LastSeen::default());
    let observed = BTreeMap::new();
    assert!(problems(&facts(Some(&cfg), &observed), &st).is_empty());
}
