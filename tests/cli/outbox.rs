//! The outbox through the binary (SPEC §7, §11): entries go only through a
//! channel of the current config with the same identity — the state file
//! never decides what is run or where anything is posted — and `outbox`
//! lists, retries and drops them.

use serde_json::{json, Value};
use testkit::Server;

use crate::util::{config_with, long_job, TestEnv, NOON};

/// A paused job, so every first tick has something to report; reports go
/// to `channels`.
fn env_with(channels: Value) -> TestEnv {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
    );
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    cfg["defaults"]["notify"] = channels;
    env.config(&cfg);
    env
}

fn file_channel(env: &TestEnv) -> Value {
    json!({"type": "file", "path": env.path("alerts.jsonl").display().to_string()})
}

#[test]
fn a_crafted_state_never_runs_a_command_or_posts_anywhere() {
    let server = Server::always(200, "ok");
    let env = TestEnv::new();
    let mut cfg = config_with(json!([]));
    cfg["defaults"]["notify"] = json!([file_channel(&env)]);
    env.config(&cfg);
    let pwned = env.path("PWNED");
    let state = json!({
        "version": 1,
        "jobs": {},
        "outbox": [
            {"text": "x", "channel": "command:sh -c id", "createdAt": 1.0, "nextAttemptAt": 0.0,
             "channelSpec": {"type": "command", "argv": ["/bin/sh", "-c", format!("id > {}", pwned.display())]}},
            {"text": "y", "channel": format!("webhook:{}/steal", server.url), "createdAt": 2.0,
             "channelSpec": {"type": "webhook", "url": format!("{}/steal", server.url),
                             "headers": {"Authorization": "Bearer SECRET-HEADER"}},
             "someFutureKey": {"kept": true}},
        ],
    });
    env.write("state/ops-monitor.json", &state.to_string());
    let run = env.run(&["tick"]);
    run.code(0).stderr_has("no longer in the config");
    assert!(!pwned.exists(), "the state file ran a command");
    assert!(server.requests().is_empty(), "the state file posted");
    let st = env.state();
    let text = st.to_string();
    assert!(
        !text.contains("channelSpec")
            && !text.contains("SECRET-HEADER")
            && !text.contains("/steal"),
        "{text}"
    );
    assert_eq!(st["outbox"].as_array().unwrap().len(), 2, "kept: {st}");
    assert_eq!(st["outbox"][0]["channelGone"], true);
    assert_eq!(
        st["outbox"][1]["someFutureKey"]["kept"], true,
        "unknown keys stay"
    );
    assert!(
        !env.path("alerts.jsonl").exists(),
        "not sent to another channel either"
    );
    // Listed; said once; never counted for exit 3.
    env.run(&["outbox"])
        .code(0)
        .stdout_has("outbox: 2 undelivered")
        .stdout_has("command  made")
        .stdout_has(&format!("webhook:{}", server.url))
        .stdout_has("not sent: its channel is no longer in the config");
    env.run(&["status"])
        .code(0)
        .stdout_has("outbox: 2 kept for channels no longer in the config");
    let again = env.run(&["tick"]);
    again.code(0);
    assert!(
        !again.stderr.contains("no longer in the config"),
        "{again:?}"
    );
    assert!(!pwned.exists());
}

#[test]
fn a_command_channel_removed_from_the_config_is_not_run_again() {
    let mut env = env_with(json!([]));
    let failing = env.script("notify.sh", "cat >/dev/null; echo ran >> runs.log; exit 1");
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(env.config_path()).unwrap()).unwrap();
    cfg["defaults"]["notify"] = json!([{"type": "command", "argv": [failing]}]);
    env.config(&cfg);
    env.run(&["tick"]).code(3);
    assert_eq!(env.read("runs.log"), "ran\n");
    // The channel is replaced by a file: the waiting entry is not run again.
    cfg["defaults"]["notify"] = json!([file_channel(&env)]);
    env.config(&cfg);
    env.at(NOON + 3600.0);
    env.run(&["tick"]).code(0);
    assert_eq!(env.read("runs.log"), "ran\n");
    assert_eq!(env.state()["outbox"][0]["channelGone"], true);
}

#[test]
fn outbox_lists_retries_and_drops() {
    let server = Server::always(500, "down");
    let url = format!("{}/hook/SECRET-PATH", server.url);
    let env = env_with(json!([
        {"type": "webhook", "url": url, "headers": {"X-Key": "SECRET-HEADER"}},
    ]));
    env.run(&["tick"]).code(3);
    let listed = env.run(&["outbox"]);
    listed
        .code(0)
        .stdout_has("outbox: 1 undelivered")
        .stdout_has(&format!("webhook:{}", server.url))
        .stdout_has("HTTP 500");
    assert!(!listed.stdout.contains("SECRET"), "{listed:?}");
    assert!(!env.read("state/ops-monitor.json").contains("SECRET"));
    // Retried now, backoff or not.
    env.run(&["outbox", "retry"])
        .code(3)
        .stdout_has("0 delivered, 1 left");
    server.answer(200, "ok");
    env.run(&["outbox", "retry"])
        .code(0)
        .stdout_has("1 delivered, 0 left");
    assert_eq!(server.requests().len(), 3);
    assert!(env.state().get("outbox").is_none());
    // Dropped by id, or all at once.
    server.answer(500, "down");
    let mut env = env;
    env.at(NOON + 7200.0);
    env.run(&["notify", "one"]).code(3);
    env.run(&["notify", "two"]).code(3);
    let id = env.state()["outbox"][0]["id"].as_str().unwrap()[..8].to_string();
    env.run(&["outbox", "drop", &id])
        .code(0)
        .stdout_has(&format!("dropped {id}"));
    assert_eq!(env.state()["outbox"].as_array().unwrap().len(), 1);
    env.run(&["outbox", "drop", "nope"])
        .code(2)
        .stderr_has("no entry nope");
    env.run(&["outbox", "drop"]).code(2);
    env.run(&["outbox", "drop", "--all"])
        .code(0)
        .stdout_has("dropped");
    assert!(env.state().get("outbox").is_none());
    env.run(&["outbox"]).code(0).stdout_has("outbox: empty");
}

#[test]
fn a_huge_retry_after_waits_an_hour_at_most() {
    let api = Server::always(
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":1000000000}}"#,
    );
    let mut env = env_with(json!([{"type": "telegram", "target": "42"}]));
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    env.env("TELEGRAM_BOT_TOKEN", "123456:RETRY-AFTER-token");
    env.run(&["tick"]).code(3);
    assert_eq!(env.state()["outbox"][0]["nextAttemptAt"], NOON + 3600.0);
    env.at(NOON + 3600.0);
    api.answer(200, r#"{"ok":true,"result":{}}"#);
    env.run(&["tick"]).code(0);
    assert!(api.requests().len() >= 2, "tried again after the hour");
    assert!(env.state().get("outbox").is_none(), "delivered");
}
