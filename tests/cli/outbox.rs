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

/// Telegram through `api` to chat 42, plus `more` channels; a long job whose
/// status is the file `phase`.
fn telegram_env(api: &Server, more: &[Value]) -> TestEnv {
    let mut env = TestEnv::new();
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    env.env("TELEGRAM_BOT_TOKEN", "123456:ORDER-token");
    let status = env.script("status.sh", r#"cat "$(dirname "$0")/phase""#);
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    let mut channels = vec![json!({"type": "telegram", "target": "42"})];
    channels.extend(more.iter().cloned());
    cfg["defaults"]["notify"] = Value::Array(channels);
    env.config(&cfg);
    env
}

fn texts(api: &Server) -> Vec<String> {
    api.requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect()
}

const DOWN: &str = r#"{"ok":false,"description":"Internal Server Error"}"#;
const UP: &str = r#"{"ok":true,"result":{"message_id":1}}"#;

/// SPEC §7 "(oldest first)", §11 "Order per channel is kept" and the backoff
/// "first retry on the next tick, then 2, 4, 8 … minutes": a report never
/// overtakes an older one of its channel, and one tick tries an entry once.
#[test]
fn a_later_report_never_overtakes_an_earlier_one_and_a_tick_tries_an_entry_once() {
    let api = Server::always(500, DOWN);
    let mut env = telegram_env(&api, &[]);
    let running = r#"{"running":true,"completed":false,"progressKey":"1"}"#;
    env.write("phase", running);
    env.run(&["tick"]).code(3);
    assert_eq!(texts(&api).len(), 1);
    let a = &env.state()["outbox"][0];
    assert_eq!(
        (a["attempts"].clone(), a["nextAttemptAt"].clone()),
        (json!(1), json!(NOON + 60.0))
    );

    // +60: step 3 retries A (fails); the new report B waits behind it — A
    // is not tried a second time for B.
    env.write(
        "phase",
        r#"{"running":false,"completed":true,"progressKey":"2"}"#,
    );
    env.at(NOON + 60.0);
    env.run(&["tick"]).code(3);
    assert_eq!(texts(&api).len(), 2, "{:?}", texts(&api));
    let st = env.state();
    let outbox = st["outbox"].as_array().unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox[0]["text"]
        .as_str()
        .unwrap()
        .contains("state: running"));
    assert_eq!(outbox[0]["attempts"], 2, "one attempt per tick");
    assert_eq!(
        outbox[0]["nextAttemptAt"],
        NOON + 60.0 + 120.0,
        "backoff 2 min"
    );
    assert!(outbox[1]["text"]
        .as_str()
        .unwrap()
        .contains("state: completed"));
    assert_eq!(outbox[1]["attempts"], 0);

    // +120: Telegram is back, but A's backoff runs to +180: B is not sent
    // before it.
    api.answer(200, UP);
    env.at(NOON + 120.0);
    env.run(&["tick"]).code(3);
    assert_eq!(texts(&api).len(), 2, "{:?}", texts(&api));

    // +180: A, then B.
    env.at(NOON + 180.0);
    env.run(&["tick"]).code(0);
    let sent = texts(&api);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(
        sent[2].contains("state: running") && sent[2].contains("delayed)"),
        "{}",
        sent[2]
    );
    assert!(
        sent[3].contains("state: completed") && sent[3].contains("delayed)"),
        "{}",
        sent[3]
    );
    assert!(env.state().get("outbox").is_none());
}

/// SPEC §7/§11: "at most 50 messages per channel"; "The cap of 50 is per
/// channel" — beyond it that channel's oldest is dropped, and the next
/// message delivered on that channel says how many.
#[test]
fn the_outbox_keeps_fifty_per_channel_and_drops_each_channels_oldest() {
    let api = Server::always(500, DOWN);
    let env = telegram_env(&api, &[json!({"type": "command", "argv": ["false"]})]);
    for i in 0..30 {
        env.run(&["notify", &format!("n{i:02}")]).code(3);
    }
    let st = env.state();
    assert_eq!(
        st["outbox"].as_array().unwrap().len(),
        60,
        "30 per channel, all kept"
    );
    assert!(st.get("outboxDropped").is_none(), "{}", st["outboxDropped"]);
    for i in 30..51 {
        env.run(&["notify", &format!("n{i:02}")]).code(3);
    }
    let st = env.state();
    let outbox = st["outbox"].as_array().unwrap();
    assert_eq!(outbox.len(), 100);
    assert_eq!(st["outboxDropped"], 2, "one per channel");
    let by_channel = st["outboxDroppedByChannel"].as_object().unwrap();
    assert_eq!(by_channel.len(), 2);
    assert!(by_channel.values().all(|n| *n == 1), "{by_channel:?}");
    for kind in ["telegram", "command"] {
        let first = outbox
            .iter()
            .find(|e| e["label"].as_str().unwrap().starts_with(kind))
            .unwrap();
        assert!(
            first["text"].as_str().unwrap().starts_with("n01"),
            "{kind}: {first}"
        );
    }

    // Telegram comes back: its first message says what it lost; the
    // command channel keeps its own count.
    api.answer(200, UP);
    let failed = texts(&api).len();
    let run = env.run(&["notify", "n51"]);
    run.code(3)
        .stderr_has("outbox full for command (50 kept per channel)");
    let sent = texts(&api)[failed..].to_vec();
    // n00 and n01 were dropped; n02 … n51 arrive in order.
    assert_eq!(sent.len(), 50);
    for (i, t) in sent.iter().enumerate() {
        assert!(t.starts_with(&format!("n{:02}", i + 2)), "{i}: {t}");
    }
    let told: Vec<&String> = sent
        .iter()
        .filter(|t| t.contains("earlier message(s) for this channel"))
        .collect();
    assert_eq!(told.len(), 1, "said once");
    assert!(
        told[0].contains("• ALERT: 2 earlier message(s)"),
        "{}",
        told[0]
    );
    assert_eq!(sent.last().unwrap(), "n51");
    let st = env.state();
    let outbox = st["outbox"].as_array().unwrap();
    assert_eq!(outbox.len(), 50);
    assert!(outbox.iter().all(|e| e["label"] == "command"));
    assert_eq!(
        st["outboxDropped"], 2,
        "the command channel's, not yet told"
    );
}

/// SPEC §7: an undelivered message "is retried at the start of every later
/// tick"; §11: a deleted config is not invalid, its last good copy is not
/// used, and exit 3 means "an entry that will be retried". Without a config
/// the channels are Telegram only: its entries are retried, the others kept.
#[test]
fn without_a_config_the_telegram_entries_are_retried_and_the_others_kept() {
    let api = Server::always(500, DOWN);
    let mut env = TestEnv::new();
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    env.env("TELEGRAM_BOT_TOKEN", "123456:NO-CONFIG-token");
    env.write("openclaw.json", "{channels: {telegram: {allowFrom: [42]}}}");
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
    );
    let notify = env.script("notify.sh", "cat >/dev/null; echo ran >> runs.log; exit 1");
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    // Telegram as it is without `defaults.notify` (the same channel), and a
    // command channel that fails.
    cfg["defaults"]["notify"] =
        json!([{"type": "telegram"}, {"type": "command", "argv": [notify]}]);
    env.config(&cfg);
    env.run(&["tick"]).code(3);
    assert_eq!(
        (api.requests().len(), env.read("runs.log").lines().count()),
        (1, 1)
    );
    assert_eq!(env.state()["outbox"].as_array().unwrap().len(), 2);

    // The config is deleted. Telegram still fails: its entry is retried and
    // will be again (exit 3); the command channel is no longer configured:
    // kept, not run.
    std::fs::remove_file(env.config_path()).unwrap();
    env.at(NOON + 60.0);
    env.run(&["tick"])
        .code(3)
        .stderr_has("nothing to watch")
        .stderr_has("no longer in the config");
    assert_eq!(api.requests().len(), 2);
    assert_eq!(
        env.read("runs.log").lines().count(),
        1,
        "the command is not run"
    );
    let st = env.state();
    let outbox = st["outbox"].as_array().unwrap();
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0]["attempts"], 2);
    assert_eq!(outbox[1]["channelGone"], true);
    // `outbox` says the same: Telegram's entry waits for its next try, the
    // other one for a config.
    let list = env.run(&["outbox"]);
    list.code(0).stdout_has("next try: ").stdout_has(
        "not sent: there is no config (without one only Telegram's entries are retried)",
    );
    assert!(
        !list.stdout.contains("no longer in the config"),
        "{}",
        list.stdout
    );

    // Telegram is back: its entry is delivered at its next try; what is
    // left will never be retried without a config, so exit 0.
    api.answer(200, UP);
    env.at(NOON + 180.0);
    env.run(&["tick"]).code(0);
    let reqs = api.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].json()["chat_id"], "42");
    assert!(reqs[2].json()["text"]
        .as_str()
        .unwrap()
        .contains("rate_limited"));
    let st = env.state();
    let outbox = st["outbox"].as_array().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["label"], "command");
    env.at(NOON + 240.0);
    env.run(&["tick"]).code(0);
    assert_eq!(api.requests().len(), 3);
    assert_eq!(env.read("runs.log").lines().count(), 1);

    // The config comes back: the command channel's entry goes again.
    env.config(&cfg);
    env.at(NOON + 300.0);
    env.run(&["tick"]).code(3);
    assert_eq!(env.read("runs.log").lines().count(), 2);
}
