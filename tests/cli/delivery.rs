//! Delivery through the binary (SPEC §7), against a loopback HTTP server
//! standing in for the Telegram Bot API (`OPS_MONITOR_TELEGRAM_API`) and for
//! a webhook. A sentinel token must never show in any output or file.

use std::fs;

use serde_json::json;
use testkit::Server;

use crate::util::{config_with, long_job, walk, Run, TestEnv, NOON};

const TOKEN: &str = "123456:SENTINEL-TOKEN-xyz";

/// An OpenClaw config in JSON5: comments, trailing commas, unquoted keys.
const OPENCLAW_JSON5: &str = r#"{
  // OpenClaw writes comments like this one
  agents: {
    list: [
      {id: "helper", heartbeat: {target: "telegram", to: "111"}},
      {id: "main", heartbeat: {target: "telegram", to: "4242",},}, // trailing commas
    ],
  },
  channels: {
    telegram: {
      botToken: "123456:SENTINEL-TOKEN-xyz",
      allowFrom: ["999"],
    },
  },
}"#;

/// A paused job, so every first tick has an anomaly to report.
fn env_for(server: &Server) -> TestEnv {
    let mut env = TestEnv::new();
    env.env("OPS_MONITOR_TELEGRAM_API", &server.url);
    env.write("openclaw.json", OPENCLAW_JSON5);
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
    );
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    env
}

fn assert_no_token(env: &TestEnv, runs: &[&Run]) {
    for r in runs {
        assert!(
            !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
            "{r:?}"
        );
        assert!(!r.stdout.contains("SENTINEL") && !r.stderr.contains("SENTINEL"));
    }
    for entry in walk(env.root()) {
        if entry.ends_with("openclaw.json") {
            continue;
        }
        let bytes = fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("SENTINEL"), "token in {}", entry.display());
    }
}

#[test]
fn report_reaches_the_bot_api_with_target_and_token_from_json5_config() {
    let server = Server::start();
    let env = env_for(&server);
    let run = env.run(&["tick"]);
    run.code(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, format!("/bot{TOKEN}/sendMessage"));
    let body = reqs[0].json();
    assert_eq!(body["chat_id"], "4242", "the main agent's heartbeat target");
    assert_eq!(body["link_preview_options"]["is_disabled"], true);
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("🚨 Ops alert (12:00:00)\n\n• Job j (j, long_running_read)"));
    assert!(text.contains("- state: paused (stopReason=rate_limited)"));
    assert!(env.state().get("outbox").is_none());
    assert_no_token(&env, &[&run]);
}

#[test]
fn target_option_wins_and_allow_from_is_the_last_resort() {
    let server = Server::start();
    let env = env_for(&server);
    env.run(&["tick", "--target", "-100777"]).code(0);
    assert_eq!(server.requests()[0].json()["chat_id"], "-100777");

    let server = Server::start();
    let mut env = env_for(&server);
    env.write(
        "openclaw.json",
        "{channels: {telegram: {botToken: '123456:SENTINEL-TOKEN-xyz', allowFrom: [555,],},},}",
    );
    env.at(NOON);
    env.run(&["tick"]).code(0);
    assert_eq!(server.requests()[0].json()["chat_id"], "555");
}

#[test]
fn server_failures_keep_the_report_until_it_is_delivered_once() {
    let server = Server::start();
    let mut env = env_for(&server);
    server.then(500, r#"{"ok":false,"description":"Internal Server Error"}"#);
    let first = env.run(&["tick"]);
    first.code(3);
    let st = env.state();
    assert_eq!(st["outbox"].as_array().unwrap().len(), 1);
    assert_eq!(st["jobs"]["j"]["lastReportAt"], NOON, "state saved anyway");

    // ok:false is a failure too; the outbox entry waits for its backoff.
    server.then(
        200,
        r#"{"ok":false,"description":"Bad Request: chat not found"}"#,
    );
    env.at(NOON + 600.0);
    let second = env.run(&["tick"]);
    second.code(3);
    assert_eq!(server.requests().len(), 2);
    assert!(env.state()["outbox"][0]["lastError"]
        .as_str()
        .unwrap()
        .contains("chat not found"));

    // The server recovers: the kept report is delivered, once.
    env.at(NOON + 1200.0);
    let third = env.run(&["tick"]);
    third.code(0);
    assert!(env.state().get("outbox").is_none());
    let texts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 3);
    // The kept report, unchanged but for the note that it is late.
    assert_eq!(
        texts[2],
        texts[0].replacen(
            "(12:00:00)",
            "(12:00:00) (written 2026-11-21 12:00, delayed)",
            1
        )
    );
    env.at(NOON + 1300.0);
    env.run(&["tick"]).code(0);
    assert_eq!(server.requests().len(), 3, "nothing delivered twice");
    assert_no_token(&env, &[&first, &second, &third]);
}

#[test]
fn network_down_loses_nothing() {
    let server = Server::start();
    let mut env = env_for(&server);
    // A port nothing listens on: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.env("OPS_MONITOR_TELEGRAM_API", &dead);
    let down = env.run(&["tick"]);
    down.code(3).stderr_has("<redacted>");
    env.env("OPS_MONITOR_TELEGRAM_API", &server.url);
    env.at(NOON + 3600.0);
    let up = env.run(&["tick"]);
    up.code(0);
    let reqs = server.requests();
    assert!(!reqs.is_empty());
    assert!(reqs[0].json()["text"]
        .as_str()
        .unwrap()
        .contains("rate_limited"));
    assert_no_token(&env, &[&down, &up]);
}

#[test]
fn short_429_is_waited_out_and_long_429_goes_to_the_outbox() {
    let server = Server::start();
    let env = env_for(&server);
    server.then(429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#);
    env.run(&["tick"]).code(0);
    assert_eq!(server.requests().len(), 2, "retried once after 1 s");

    let server = Server::start();
    let env = env_for(&server);
    server.then(429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 120","parameters":{"retry_after":120}}"#);
    env.run(&["tick"]).code(3);
    assert_eq!(server.requests().len(), 1, "not waited for two minutes");
    let next = env.state()["outbox"][0]["nextAttemptAt"].as_f64().unwrap();
    assert!(next >= NOON + 120.0 - 5.0, "retry_after honoured: {next}");
}

#[test]
fn migrated_group_is_followed_and_reported() {
    let server = Server::start();
    let env = env_for(&server);
    server.then(400, r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}"#);
    let run = env.run(&["tick"]);
    run.code(0).stderr_has("-1001234");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].json()["chat_id"], "-1001234");
}

#[test]
fn long_reports_are_split_between_sections_in_order() {
    let server = Server::start();
    let env = env_for(&server);
    // 12 paused jobs whose messages are long and not ASCII.
    let long = "扫描".repeat(350);
    let status = env.script(
        "long.sh",
        &format!(r#"echo '{{"running":false,"completed":false,"message":"{long}"}}'"#),
    );
    let jobs: Vec<_> = (0..12)
        .map(|i| long_job(&format!("j{i:02}"), &status, &status))
        .collect();
    env.config(&config_with(serde_json::Value::Array(jobs)));
    env.run(&["tick"]).code(0);
    let texts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert!(texts.len() >= 2, "split into {} parts", texts.len());
    for t in &texts {
        let units = t.encode_utf16().count();
        assert!(units <= 4096, "{units} UTF-16 units");
    }
    let all = texts.join("\n");
    let order: Vec<usize> = (0..12)
        .map(|i| all.find(&format!("(j{i:02},")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "sections in order");
}

/// Like Telegram: a message over 4096 UTF-16 code units is refused (400).
fn strict_telegram() -> Server {
    Server::new(|_, r| {
        let units = r.json()["text"]
            .as_str()
            .unwrap_or("")
            .encode_utf16()
            .count();
        if units > 4096 {
            (
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}"#
                    .into(),
            )
        } else {
            (200, r#"{"ok":true,"result":{"message_id":1}}"#.into())
        }
    })
}

/// SPEC §11: Telegram counts its 4096 characters in UTF-16 code units, so an
/// emoji is two. A report of 3000 emoji (6000 units) fits in 4096
/// characters but not in one message: it is split and cut by units, and
/// delivered rather than refused.
#[test]
fn emoji_reports_are_split_by_utf16_units_and_delivered() {
    let server = strict_telegram();
    let env = env_for(&server);
    let long = "😀".repeat(3000);
    let short = "🛠".repeat(1500);
    let a = env.script(
        "a.sh",
        &format!(r#"echo '{{"running":false,"completed":false,"message":"{long}"}}'"#),
    );
    let b = env.script(
        "b.sh",
        &format!(r#"echo '{{"running":false,"completed":false,"message":"{short}"}}'"#),
    );
    env.config(&config_with(json!([
        long_job("a", &a, &a),
        long_job("b", &b, &b)
    ])));
    let run = env.run(&["tick"]);
    run.code(0);
    assert!(
        env.state().get("outbox").is_none(),
        "nothing refused or kept"
    );
    let texts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 3, "header, job a (cut), job b: {texts:?}");
    for t in &texts {
        let units = t.encode_utf16().count();
        assert!(units <= 4096, "{units} UTF-16 units");
    }
    assert!(
        texts[0].starts_with("🚨 Ops alert (12:00:00)"),
        "{}",
        texts[0]
    );
    // Job a's section alone is over the limit: cut, at a whole emoji.
    assert!(texts[1].contains("(a, long_running_read)"));
    assert!(texts[1].ends_with("😀\n… [cut]"), "{}", texts[1]);
    assert!(texts[1].encode_utf16().count() >= 4095);
    // Job b's section fits a message of its own and arrives whole.
    assert!(texts[2].contains("(b, long_running_read)") && texts[2].contains(&short));
}

#[test]
fn openclaw_cli_on_path_is_used_first() {
    let server = Server::start();
    let mut env = env_for(&server);
    env.script(
        "bin/openclaw",
        r#"printf '%s\n' "$@" > "$(dirname "$0")/../openclaw-args.txt""#,
    );
    let path = format!("{}:/usr/bin:/bin", env.path("bin").display());
    env.env("PATH", &path);
    env.run(&["tick"]).code(0);
    let args = env.read("openclaw-args.txt");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        &args[..6],
        [
            "message",
            "send",
            "--channel",
            "telegram",
            "--target",
            "4242"
        ]
    );
    assert_eq!(args[6], "--message");
    assert!(args[7].starts_with("🚨 Ops alert"));
    assert!(server.requests().is_empty(), "the Bot API was not used");
}

/// SPEC §7 step 5 (changed from "kept in the outbox"): when the CLI fails
/// and a token resolves, the Bot API is used at once; only when both fail
/// is the report kept.
#[test]
fn failing_openclaw_cli_falls_back_to_the_bot_api_else_keeps_the_report() {
    let server = Server::start();
    let mut env = env_for(&server);
    env.script("bin/openclaw", "echo 'gateway not running' >&2; exit 2");
    let path = format!("{}:/usr/bin:/bin", env.path("bin").display());
    env.env("PATH", &path);
    let run = env.run(&["tick"]);
    run.code(0)
        .stderr_has("gateway not running; sent by the Bot API instead");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, format!("/bot{TOKEN}/sendMessage"));
    assert!(env.state().get("outbox").is_none());
    assert_no_token(&env, &[&run]);

    // No token anywhere: the report is kept.
    env.write(
        "openclaw.json",
        "{channels: {telegram: {allowFrom: [4242]}}}",
    );
    env.at(NOON + 3600.0);
    env.run(&["tick"]).code(3).stderr_has("gateway not running");
    assert_eq!(env.state()["outbox"].as_array().unwrap().len(), 1);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn webhook_file_and_command_channels_each_deliver_on_their_own() {
    let server = Server::start();
    let env = env_for(&server);
    let status = env.path("status.sh").display().to_string();
    let sink = env.script("sink.sh", "cat > command-got.txt");
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    cfg["defaults"]["notify"] = json!([
        {"type": "webhook", "url": format!("{}/hook", server.url), "headers": {"X-Test": "1"}},
        {"type": "file", "path": "logs/alerts.jsonl"},
        {"type": "command", "argv": [sink]},
        {"type": "webhook", "url": "http://127.0.0.1:9/broken"},
    ]);
    env.config(&cfg);
    let run = env.run(&["tick"]);
    run.code(3);
    let hook: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/hook")
        .collect();
    assert_eq!(hook.len(), 1);
    let body = hook[0].json();
    assert!(body["text"].as_str().unwrap().contains("rate_limited"));
    assert_eq!(body["sections"].as_array().unwrap().len(), 1);
    assert!(body["host"].is_string() && body["time"].is_string());
    let line = env.read("logs/alerts.jsonl");
    let rec: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert!(rec["text"].as_str().unwrap().contains("rate_limited"));
    assert!(env.read("command-got.txt").contains("rate_limited"));
    // Only the broken webhook waits in the outbox; the next tick does not
    // repeat the channels that delivered.
    let outbox = env.state()["outbox"].as_array().unwrap().clone();
    assert_eq!(outbox.len(), 1);
    // Still undelivered (the broken webhook is not due yet): exit 3.
    env.run(&["tick"]).code(3);
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path == "/hook")
            .count(),
        1
    );
    assert_eq!(env.read("logs/alerts.jsonl").lines().count(), 1);
}

#[test]
fn notify_sends_a_one_off_message() {
    let server = Server::start();
    let env = env_for(&server);
    env.run(&["notify", "deployment started"]).code(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].json()["text"], "deployment started");
    server.then(500, "{}");
    env.run(&["notify", "second"]).code(3);
    assert_eq!(env.state()["outbox"][0]["text"], "second");
}
