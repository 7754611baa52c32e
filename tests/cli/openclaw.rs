//! A new user's OpenClaw host (SPEC §1, §7, §9 `doctor`): `openclaw.json`
//! in each shape OpenClaw wrote during 2026 (OPENCLAW.md §2), each checked
//! end to end through the binary — against the loopback Bot API (exact
//! chat, thread and token in the request), through a fake `openclaw` CLI at
//! an install location that is not on `PATH` (exact argv), and by `doctor`
//! (the right file, account, chat and token source, and never the token).
//!
//! The layout is a real one: `$HOME/.openclaw` found by rule 5, no
//! `$OPENCLAW_HOME`; the job config and state are given by option.

use std::fs;

use serde_json::{json, Value};

use crate::util::{config_with, long_job, Run, TestEnv, NOON};
use testkit::Server;

/// One `openclaw.json` shape and what it must resolve to.
struct Shape {
    name: &'static str,
    /// Files under `$HOME/.openclaw` (`openclaw.json` among them).
    files: &'static [(&'static str, &'static str)],
    token: &'static str,
    chat: &'static str,
    thread: Option<i64>,
    account: Option<&'static str>,
    /// In `doctor`'s target line: `(from …)`.
    target_from: &'static str,
    /// In `doctor`'s token line.
    token_source: &'static str,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "agents.list, heartbeat to telegram (until 2026-07)",
        files: &[(
            "openclaw.json",
            r#"{
              // written by OpenClaw 2026.3
              agents: { list: [
                { id: "helper", heartbeat: { target: "telegram", to: "111" } },
                { id: "main", heartbeat: { target: "telegram", to: "4242" } },
              ] },
              channels: { telegram: { botToken: "101:SHAPE-TOKEN-list", allowFrom: ["999"] } },
            }"#,
        )],
        token: "101:SHAPE-TOKEN-list",
        chat: "4242",
        thread: None,
        account: None,
        target_from: "agents.list[1].heartbeat.to",
        token_source: "botToken (channels.telegram.botToken)",
    },
    Shape {
        name: "agents.entries over defaults, target owner (2026-08)",
        files: &[(
            "openclaw.json",
            r#"{
              commands: { ownerAllowFrom: ["telegram:123456789"] },
              agents: {
                defaults: { heartbeat: { target: "owner", every: "30m" } },
                entries: { ops: { default: true, heartbeat: { every: "1h" } } },
              },
              channels: { telegram: { botToken: "102:SHAPE-TOKEN-owner", allowFrom: ["555"] } },
            }"#,
        )],
        token: "102:SHAPE-TOKEN-owner",
        chat: "123456789",
        thread: None,
        account: None,
        target_from: "commands.ownerAllowFrom[0]",
        token_source: "botToken (channels.telegram.botToken)",
    },
    Shape {
        name: "accounts with defaultAccount",
        files: &[(
            "openclaw.json",
            r#"{
              channels: { telegram: {
                defaultAccount: "ops-bot",
                botToken: "103:SHAPE-TOKEN-top",
                accounts: {
                  "chat-bot": { botToken: "103:SHAPE-TOKEN-chat", allowFrom: [1] },
                  "ops-bot": { botToken: "103:SHAPE-TOKEN-ops", allowFrom: ["tg:7007"] },
                },
              } },
            }"#,
        )],
        token: "103:SHAPE-TOKEN-ops",
        chat: "7007",
        thread: None,
        account: Some("ops-bot"),
        target_from: "channels.telegram.accounts.ops-bot.allowFrom[0]",
        token_source: "botToken (channels.telegram.accounts.ops-bot.botToken)",
    },
    Shape {
        name: "tokenFile beside botToken",
        files: &[
            (
                "openclaw.json",
                r#"{ channels: { telegram: { tokenFile: "~/.openclaw/secrets/tg", botToken: "104:SHAPE-TOKEN-inline", allowFrom: [8008] } } }"#,
            ),
            ("secrets/tg", "104:SHAPE-TOKEN-file\n"),
        ],
        token: "104:SHAPE-TOKEN-file",
        chat: "8008",
        thread: None,
        account: None,
        target_from: "channels.telegram.allowFrom[0]",
        token_source: "/.openclaw/secrets/tg (channels.telegram.tokenFile)",
    },
    Shape {
        name: "${TELEGRAM_BOT_TOKEN} with the value in <home>/.env",
        files: &[
            (
                "openclaw.json",
                r#"{ channels: { telegram: { botToken: "${TELEGRAM_BOT_TOKEN}", defaultTo: "-1009009" } } }"#,
            ),
            (
                ".env",
                "# OpenClaw's secrets\nTELEGRAM_BOT_TOKEN=105:SHAPE-TOKEN-dotenv\n",
            ),
        ],
        token: "105:SHAPE-TOKEN-dotenv",
        chat: "-1009009",
        thread: None,
        account: None,
        target_from: "channels.telegram.defaultTo",
        token_source: "${TELEGRAM_BOT_TOKEN} from <home>/.env",
    },
    Shape {
        name: "channels moved into an $include file",
        files: &[
            (
                "openclaw.json",
                r#"{ agents: { entries: { main: { heartbeat: { target: "telegram", to: "6006" } } } },
                     channels: { $include: "./config/channels.json5" } }"#,
            ),
            (
                "config/channels.json5",
                r#"{ telegram: { botToken: "106:SHAPE-TOKEN-include" } }"#,
            ),
        ],
        token: "106:SHAPE-TOKEN-include",
        chat: "6006",
        thread: None,
        account: None,
        target_from: "agents.entries.main.heartbeat.to",
        token_source: "botToken (channels.telegram.botToken)",
    },
    Shape {
        name: "allowFrom with tg: and *",
        files: &[(
            "openclaw.json",
            r#"{ channels: { telegram: { botToken: "107:SHAPE-TOKEN-allow", allowFrom: ["*", "@ops", "tg:444"] } } }"#,
        )],
        token: "107:SHAPE-TOKEN-allow",
        chat: "444",
        thread: None,
        account: None,
        target_from: "channels.telegram.allowFrom[2]",
        token_source: "botToken (channels.telegram.botToken)",
    },
    Shape {
        name: "a forum topic in heartbeat.to",
        files: &[(
            "openclaw.json",
            r#"{ agents: { list: [ { id: "main", heartbeat: { target: "telegram", to: "-10012345678:topic:42" } } ] },
                 channels: { telegram: { botToken: "108:SHAPE-TOKEN-topic" } } }"#,
        )],
        token: "108:SHAPE-TOKEN-topic",
        chat: "-10012345678",
        thread: Some(42),
        account: None,
        target_from: "agents.list[0].heartbeat.to",
        token_source: "botToken (channels.telegram.botToken)",
    },
    Shape {
        name: "the General topic (thread 1)",
        files: &[(
            "openclaw.json",
            r#"{ channels: { telegram: { botToken: "109:SHAPE-TOKEN-general", defaultTo: "-10055:topic:1" } } }"#,
        )],
        token: "109:SHAPE-TOKEN-general",
        chat: "-10055",
        thread: None,
        account: None,
        target_from: "channels.telegram.defaultTo",
        token_source: "botToken (channels.telegram.botToken)",
    },
    Shape {
        name: "defaultTo",
        files: &[(
            "openclaw.json",
            r#"{ channels: { telegram: { botToken: "110:SHAPE-TOKEN-defaultto", defaultTo: 3003, allowFrom: [1] } } }"#,
        )],
        token: "110:SHAPE-TOKEN-defaultto",
        chat: "3003",
        thread: None,
        account: None,
        target_from: "channels.telegram.defaultTo",
        token_source: "botToken (channels.telegram.botToken)",
    },
    Shape {
        name: "no heartbeat at all (after openclaw doctor --fix, 2026.9)",
        files: &[(
            "openclaw.json",
            r#"{ agents: { entries: { main: { default: true } } },
                 channels: { telegram: { botToken: "111:SHAPE-TOKEN-noheartbeat", allowFrom: [2002] } } }"#,
        )],
        token: "111:SHAPE-TOKEN-noheartbeat",
        chat: "2002",
        thread: None,
        account: None,
        target_from: "channels.telegram.allowFrom[0]",
        token_source: "botToken (channels.telegram.botToken)",
    },
];

/// A host with `$HOME/.openclaw` holding `files`, no `$OPENCLAW_HOME`, the
/// Bot API at `server`, and a paused job so every first tick reports.
fn host(server: &Server, files: &[(&str, &str)]) -> TestEnv {
    let mut env = TestEnv::new();
    env.env("OPENCLAW_HOME", "");
    env.env("OPS_MONITOR_TELEGRAM_API", &server.url);
    for (rel, text) in files {
        env.write(&format!("home/.openclaw/{rel}"), text);
    }
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
    );
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    env
}

/// A fake `openclaw` at the installer's default place (`~/.openclaw/bin`,
/// not on `PATH`): it records its argv (NUL-separated) and answers `answer`
/// on stdout with `exit`.
fn fake_cli(env: &TestEnv, answer: &str, exit: i32) {
    env.script(
        "home/.openclaw/bin/openclaw",
        &format!(
            "printf '%s\\0' \"$@\" >> \"$HOME/cli-argv\"\nprintf '%s\\n' '{answer}'\nexit {exit}"
        ),
    );
}

/// Every argv the fake CLI was called with.
fn cli_calls(env: &TestEnv) -> Vec<Vec<String>> {
    let text = env.read("home/cli-argv");
    let mut calls = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for arg in text.split('\0') {
        if arg == "message" && !current.is_empty() {
            calls.push(std::mem::take(&mut current));
        }
        if !(arg.is_empty() && current.is_empty()) {
            current.push(arg.to_string());
        }
    }
    if current.last().is_some_and(String::is_empty) {
        current.pop();
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}

/// The argv SPEC §7 step 5 asks for, the message aside.
fn expected_argv(shape_chat: &str, account: Option<&str>, thread: Option<i64>) -> Vec<String> {
    let mut argv: Vec<String> = [
        "message",
        "send",
        "--channel",
        "telegram",
        "--target",
        shape_chat,
        "--message",
        "<report>",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(a) = account {
        argv.extend(["--account".to_string(), a.to_string()]);
    }
    if let Some(t) = thread {
        argv.extend(["--thread-id".to_string(), t.to_string()]);
    }
    argv
}

fn with_report_elided(mut argv: Vec<String>) -> Vec<String> {
    if argv.len() > 7 {
        assert!(
            argv[7].starts_with("🚨 Ops alert (12:00:00)"),
            "the message: {}",
            argv[7]
        );
        argv[7] = "<report>".to_string();
    }
    argv
}

fn assert_bot_api_request(server: &Server, shape: &Shape) {
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{}: {reqs:?}", shape.name);
    assert_eq!(
        reqs[0].path,
        format!("/bot{}/sendMessage", shape.token),
        "{}",
        shape.name
    );
    let body = reqs[0].json();
    assert_eq!(body["chat_id"], shape.chat, "{}", shape.name);
    match shape.thread {
        Some(t) => assert_eq!(body["message_thread_id"], t, "{}", shape.name),
        None => assert!(
            body.get("message_thread_id").is_none(),
            "{}: {body}",
            shape.name
        ),
    }
    assert!(body["text"].as_str().unwrap().contains("rate_limited"));
}

/// No token, nor any part that marks one, in what the runs printed or in
/// any file but OpenClaw's own.
fn assert_no_token(env: &TestEnv, runs: &[&Run]) {
    for r in runs {
        for text in [&r.stdout, &r.stderr] {
            assert!(!text.contains("SHAPE-TOKEN"), "token in output:\n{text}");
        }
    }
    let state = fs::read_to_string(env.state_path()).unwrap_or_default();
    assert!(!state.contains("SHAPE-TOKEN"), "token in the state");
}

#[test]
fn every_2026_shape_through_the_bot_api() {
    for shape in SHAPES {
        let server = Server::start();
        let env = host(&server, shape.files);
        let run = env.run(&["tick"]);
        run.code(0);
        assert_bot_api_request(&server, shape);
        assert!(env.state().get("outbox").is_none(), "{}", shape.name);
        assert_no_token(&env, &[&run]);
    }
}

#[test]
fn every_2026_shape_through_the_cli_at_its_install_location() {
    for shape in SHAPES {
        let server = Server::start();
        let env = host(&server, shape.files);
        fake_cli(
            &env,
            r#"{"action":"send","channel":"telegram","dryRun":false,"handledBy":"telegram","payload":{}}"#,
            0,
        );
        let run = env.run(&["tick"]);
        run.code(0);
        let calls = cli_calls(&env);
        assert_eq!(calls.len(), 1, "{}: {calls:?}", shape.name);
        assert_eq!(
            with_report_elided(calls[0].clone()),
            expected_argv(shape.chat, shape.account, shape.thread),
            "{}",
            shape.name
        );
        assert!(
            server.requests().is_empty(),
            "{}: the Bot API was not used",
            shape.name
        );
        assert_no_token(&env, &[&run]);
    }
}

#[test]
fn doctor_names_file_account_chat_and_token_source_for_every_shape() {
    for shape in SHAPES {
        let server = Server::start();
        let env = host(&server, shape.files);
        let run = env.run(&["doctor"]);
        run.code(0);
        let home = env.path("home/.openclaw");
        run.stdout_has(&format!(
            "home          {} (rule 5: ~/.openclaw",
            home.display()
        ))
        .stdout_has(&format!(
            "OpenClaw      {} (<home>/openclaw.json) — read",
            home.join("openclaw.json").display()
        ))
        .stdout_has("channel 1     telegram")
        .stdout_has(&format!("(from {})", shape.target_from))
        .stdout_has(shape.token_source)
        .stdout_has("result: OK — every channel resolves");
        let target_line = run
            .stdout
            .lines()
            .find(|l| l.starts_with("  target"))
            .unwrap();
        assert!(
            target_line.contains(&format!("target      {}", shape.chat)),
            "{}: {target_line}",
            shape.name
        );
        match shape.account {
            Some(a) => run.stdout_has(&format!("  account     {a} (")),
            None => run.stdout_has("  account     none: channels.telegram is the account"),
        };
        assert!(server.requests().is_empty(), "doctor sends nothing");
        assert_no_token(&env, &[&run]);
    }
}

#[test]
fn a_failing_or_silent_cli_is_followed_by_the_bot_api_at_once() {
    let shape = &SHAPES[2]; // accounts: the same account on both paths
    for (answer, exit, why) in [
        ("gateway not running", 1, "exit=1"),
        (
            r#"{"action":"send","channel":"telegram","dryRun":false,"handledBy":"silent","payload":{}}"#,
            0,
            "handledBy: \"silent\"",
        ),
    ] {
        let server = Server::start();
        let env = host(&server, shape.files);
        fake_cli(&env, answer, exit);
        let run = env.run(&["tick"]);
        run.code(0)
            .stderr_has(why)
            .stderr_has("sent by the Bot API instead");
        assert_eq!(cli_calls(&env).len(), 1);
        assert_eq!(
            with_report_elided(cli_calls(&env)[0].clone()),
            expected_argv("7007", Some("ops-bot"), None)
        );
        assert_bot_api_request(&server, shape);
        assert!(env.state().get("outbox").is_none());
        assert_no_token(&env, &[&run]);
    }
}

#[test]
fn a_failing_cli_without_a_token_keeps_the_report() {
    let server = Server::start();
    // A SecretRef the gateway resolves: only the CLI can send.
    let env = host(
        &server,
        &[(
            "openclaw.json",
            r#"{ channels: { telegram: { botToken: { source: "file", provider: "vault", id: "/tg" }, allowFrom: [5] } } }"#,
        )],
    );
    fake_cli(&env, "gateway not running", 1);
    let run = env.run(&["tick"]);
    run.code(3)
        .stderr_has("openclaw message send: exit=1")
        .stderr_has("no token for the Bot API")
        .stderr_has("only the openclaw CLI");
    assert!(server.requests().is_empty());
    assert_eq!(env.state()["outbox"].as_array().unwrap().len(), 1);

    // doctor: it resolves through the CLI, and says there is no fallback.
    let doc = env.run(&["doctor"]);
    doc.code(0)
        .stdout_has("(no token: no Bot API if it fails)")
        .stdout_has("source \"file\": only the openclaw CLI");
}

#[test]
fn a_channel_account_picks_the_bot_on_both_paths() {
    let server = Server::start();
    let env = host(&server, SHAPES[2].files);
    let status = env.path("status.sh").display().to_string();
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    cfg["defaults"]["notify"] = json!([{"type": "telegram", "account": "chat-bot"}]);
    env.config(&cfg);
    env.run(&["tick"]).code(0);
    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/bot103:SHAPE-TOKEN-chat/sendMessage");
    assert_eq!(reqs[0].json()["chat_id"], "1");

    let server = Server::start();
    let env = host(&server, SHAPES[2].files);
    env.config(&cfg);
    fake_cli(&env, "{}", 0);
    env.run(&["tick"]).code(0);
    assert_eq!(
        with_report_elided(cli_calls(&env)[0].clone()),
        expected_argv("1", Some("chat-bot"), None)
    );
    let doc = env.run(&["doctor"]);
    doc.code(0)
        .stdout_has("channel 1     telegram (account chat-bot) — OK")
        .stdout_has("  account     chat-bot (the channel's account in defaults.notify)");
    assert_no_token(&env, &[&doc]);

    // An account the OpenClaw config does not have: doctor says so, exit 1.
    cfg["defaults"]["notify"] = json!([{"type": "telegram", "account": "nobody"}]);
    env.config(&cfg);
    env.run(&["doctor"])
        .code(1)
        .stdout_has("channel 1     telegram (account nobody) — CANNOT DELIVER")
        .stdout_has("names account \"nobody\", which channels.telegram.accounts does not have");
}

#[test]
fn missing_target_names_where_it_looked_and_the_file_read() {
    let server = Server::start();
    let env = host(
        &server,
        &[(
            "openclaw.json",
            r#"{ channels: { telegram: { botToken: "1:SHAPE-TOKEN-x", allowFrom: ["*"] } } }"#,
        )],
    );
    let run = env.run(&["tick"]);
    run.code(3)
        .stderr_has("ERROR: missing Telegram target. Pass --target <chat_id>. Looked at: --target (not given); the channel's target in defaults.notify (none); the default agent's heartbeat (none); channels.telegram.defaultTo (not set); commands.ownerAllowFrom (not set); channels.telegram.allowFrom (no chat id: \"*\" and @names are skipped).")
        .stderr_has(&format!(
            "OpenClaw config read: {}.",
            env.path("home/.openclaw/openclaw.json").display()
        ));
    assert_no_token(&env, &[&run]);

    // No OpenClaw config at all: it says so, and where it looked.
    fs::remove_file(env.path("home/.openclaw/openclaw.json")).unwrap();
    let mut env = env;
    env.at(NOON + 7200.0);
    env.run(&["tick"]).code(3).stderr_has(&format!(
        "no OpenClaw config found (looked for {})",
        env.path("home/.openclaw/openclaw.json").display()
    ));
    let doc = env.run(&["doctor"]);
    doc.code(1)
        .stdout_has("(none found: looked for <home>/openclaw.json, clawdbot.json, moldbot.json, moltbot.json) — not found")
        .stdout_has("CANNOT DELIVER")
        .stdout_has("result: 1 of 1 channel(s) cannot deliver");
}

#[test]
fn api_root_and_the_channel_proxy_are_honoured() {
    // apiRoot: a self-hosted Bot API server (here the loopback one).
    let server = Server::start();
    let mut env = host(&server, &[]);
    env.env("OPS_MONITOR_TELEGRAM_API", "");
    env.write(
        "home/.openclaw/openclaw.json",
        &format!(
            r#"{{ channels: {{ telegram: {{ botToken: "1:SHAPE-TOKEN-root", allowFrom: [5], apiRoot: "{}/tgapi/" }} }} }}"#,
            server.url
        ),
    );
    env.run(&["tick"]).code(0);
    assert_eq!(
        server.requests()[0].path,
        "/tgapi/bot1:SHAPE-TOKEN-root/sendMessage"
    );
    env.run(&["doctor"])
        .code(0)
        .stdout_has(&format!("the Bot API at {}/tgapi (apiRoot)", server.url));

    // The channel's proxy: a request for a host that is not loopback goes
    // to the proxy (here the loopback server), never anywhere else.
    let proxy = Server::start();
    let mut env = host(&proxy, &[]);
    env.env("OPS_MONITOR_TELEGRAM_API", "");
    env.write(
        "home/.openclaw/openclaw.json",
        &format!(
            r#"{{ channels: {{ telegram: {{ botToken: "1:SHAPE-TOKEN-proxy", allowFrom: [5], apiRoot: "http://telegram.invalid", proxy: "{}" }} }} }}"#,
            proxy.url
        ),
    );
    env.run(&["tick"]).code(0);
    let reqs = proxy.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].path,
        "http://telegram.invalid/bot1:SHAPE-TOKEN-proxy/sendMessage"
    );
    assert_eq!(reqs[0].json()["chat_id"], "5");

    // ALL_PROXY from the environment, when the channel has none.
    let proxy = Server::start();
    let mut env = host(&proxy, &[]);
    env.env("OPS_MONITOR_TELEGRAM_API", "");
    env.env("ALL_PROXY", &proxy.url);
    env.write(
        "home/.openclaw/openclaw.json",
        r#"{ channels: { telegram: { botToken: "1:SHAPE-TOKEN-env", allowFrom: [6], apiRoot: "http://telegram.invalid" } } }"#,
    );
    env.run(&["tick"]).code(0);
    assert_eq!(
        proxy.requests()[0].path,
        "http://telegram.invalid/bot1:SHAPE-TOKEN-env/sendMessage"
    );
}

#[test]
fn doctor_send_test_goes_through_every_channel() {
    let server = Server::start();
    let env = host(&server, SHAPES[0].files);
    let status = env.path("status.sh").display().to_string();
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    cfg["defaults"]["notify"] = json!([
        {"type": "telegram"},
        {"type": "webhook", "url": format!("{}/hook?key=SHAPE-TOKEN-hook", server.url), "headers": {"Authorization": "Bearer SHAPE-TOKEN-header"}},
        {"type": "file", "path": "logs/alerts.jsonl"},
    ]);
    env.config(&cfg);
    let run = env.run(&["doctor", "--send-test"]);
    run.code(0)
        .stdout_has("send-test     telegram: sent")
        .stdout_has(&format!(
            "send-test     webhook {}/hook?<redacted>: sent",
            server.url
        ))
        .stdout_has("  headers     Authorization (values not shown)");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let tg = reqs.iter().find(|r| r.path.starts_with("/bot")).unwrap();
    assert_eq!(tg.json()["chat_id"], "4242");
    assert!(tg.json()["text"]
        .as_str()
        .unwrap()
        .contains("doctor --send-test"));
    let line: Value = serde_json::from_str(env.read("logs/alerts.jsonl").trim()).unwrap();
    assert!(line["text"].as_str().unwrap().contains("test message"));
    assert!(!env.state_path().exists(), "nothing kept, nothing written");
    assert_no_token(&env, &[&run]);

    // A channel that cannot take it: exit 1, and the reason.
    server.then(500, r#"{"ok":false,"description":"Internal Server Error"}"#);
    let run = env.run(&["doctor", "--send-test"]);
    run.code(1)
        .stdout_has("send-test     telegram: FAILED: Telegram HTTP 500: Internal Server Error");
    assert_no_token(&env, &[&run]);
}

#[test]
fn doctor_reports_the_home_rule_and_a_sticky_home() {
    // Rule 2: $OPENCLAW_HOME as OpenClaw means it.
    let env = TestEnv::new();
    fs::create_dir_all(env.path(".openclaw")).unwrap();
    let run = env.run(&["doctor"]);
    run.stdout_has(&format!(
        "home          {} (rule 2: $OPENCLAW_HOME/.openclaw (OpenClaw's meaning of $OPENCLAW_HOME))",
        env.path(".openclaw").display()
    ));
    // Rule 3: a Python-era layout under $OPENCLAW_HOME keeps its files.
    fs::create_dir_all(env.path("net")).unwrap();
    env.run(&["doctor"]).stdout_has(&format!(
        "home          {} (rule 3: $OPENCLAW_HOME itself (the Python version's meaning))",
        env.root().display()
    ));
    // Rule 4: a profile under the user's home.
    let mut env = TestEnv::new();
    env.env("OPENCLAW_HOME", "").env("OPENCLAW_PROFILE", "work");
    env.run(&["doctor"]).stdout_has(&format!(
        "home          {} (rule 4: ~/.openclaw-work ($OPENCLAW_PROFILE))",
        env.path("home/.openclaw-work").display()
    ));
    // Rule 5: a legacy folder and config name when ~/.openclaw is missing.
    let mut env = TestEnv::new();
    env.env("OPENCLAW_HOME", "");
    env.write(
        "home/.clawdbot/clawdbot.json",
        "{ channels: { telegram: { botToken: '1:SHAPE-TOKEN-legacy', allowFrom: [77] } } }",
    );
    let run = env.run(&["doctor"]);
    run.code(0)
        .stdout_has(&format!(
            "home          {} (rule 5:",
            env.path("home/.clawdbot").display()
        ))
        .stdout_has(&format!(
            "OpenClaw      {} (<home>/clawdbot.json) — read",
            env.path("home/.clawdbot/clawdbot.json").display()
        ))
        .stdout_has("  target      77 (from channels.telegram.allowFrom[0])");
    assert_no_token(&env, &[&run]);

    // Rule 1 over everything — unless a state elsewhere keeps the home.
    let mut env = TestEnv::new();
    let sd = env.path("sd").display().to_string();
    env.env("OPENCLAW_STATE_DIR", &sd);
    env.run(&["doctor"])
        .stdout_has(&format!("home          {sd} (rule 1: $OPENCLAW_STATE_DIR)"));
    env.write("net/state/ops-monitor.json", "{}");
    env.write("sd/net/config/ops-jobs.json", "{}");
    let run = env.run(&["doctor"]);
    run.stdout_has(&format!(
        "home          {} (rule 3: $OPENCLAW_HOME itself",
        env.root().display()
    ))
    .stdout_has(&format!(
        "home: kept at {} because it holds the ops-monitor state; the rules alone would choose {sd}",
        env.root().display()
    ))
    .stdout_has(&format!(
        "home: ops-monitor files in more than one folder: {sd}, {}",
        env.root().display()
    ));
}

#[test]
fn doctor_lists_config_lints_and_an_invalid_config() {
    let server = Server::start();
    let env = host(&server, SHAPES[0].files);
    env.config(&json!({
        "version": 1,
        "jobs": [
            {"id": "w", "kind": "one_shot_write", "risk": "write_local",
             "approval": {"required": false}, "cwd": "nowhere",
             "commands": {"run": ["./apply.sh"]}, "after": [{"jobId": "v"}]},
            {"id": "v", "kind": "one_shot_read", "risk": "read_only",
             "commands": {"run": ["/bin/true"], "stop": ["/bin/true"]}},
        ]
    }));
    let run = env.run(&["doctor"]);
    run.code(0)
        .stdout_has("warnings (")
        .stdout_has(&format!(
            "config: jobs[0] (id \"w\").cwd: {} does not exist",
            env.path("nowhere").display()
        ))
        .stdout_has("config: jobs[0] (id \"w\").approval.required: false turns the approval gate off")
        .stdout_has("config: jobs[1] (id \"v\").commands.stop: a one_shot_read job never runs a \"stop\" command");
    // validate-config shows the same lints.
    env.run(&["validate-config"])
        .code(0)
        .stdout_has("WARNING: jobs[0] (id \"w\").approval.required: false");

    env.write("ops-jobs.json", r#"{"version": 1, "jobs": [{"id": 3}]}"#);
    env.run(&["doctor"])
        .code(1)
        .stdout_has("— INVALID (")
        .stdout_has("result: the job config is invalid");
}

/// Run with only the environment choosing the files: HOME, no OpenClaw
/// variables.
fn home_only(env: &TestEnv, args: &[&str]) -> Run {
    let mut cmd = env.bare_command();
    cmd.env_remove("OPENCLAW_HOME")
        .env("TZ", "UTC")
        .env("OPS_MONITOR_NOW", NOON.to_string())
        .env("OPS_MONITOR_TELEGRAM_API", "http://127.0.0.1:9")
        .args(args);
    Run::from(cmd.output().expect("binary runs"))
}

#[test]
fn a_legacy_home_with_a_state_stays_the_home_when_dot_openclaw_appears() {
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":false,"completed":false}'"#);
    let cfg = config_with(json!([long_job("j", &status, &status)]));
    env.write(
        "home/.moltbot/net/config/ops-jobs.json",
        &serde_json::to_string(&cfg).unwrap(),
    );
    home_only(&env, &["tick", "--print-only"])
        .code(0)
        .stdout_has("(j, long_running_read)");
    assert!(env
        .path("home/.moltbot/net/state/ops-monitor.json")
        .is_file());

    // OpenClaw (or its installer) creates ~/.openclaw: the monitor keeps
    // watching where its state is, and doctor says why.
    fs::create_dir_all(env.path("home/.openclaw")).unwrap();
    let tick = home_only(&env, &["tick", "--print-only", "-v"]);
    tick.code(0);
    assert!(!tick.stderr.contains("nothing to watch"), "{}", tick.stderr);
    assert!(tick.stderr.contains("tick: 1 job(s)"), "{}", tick.stderr);
    home_only(&env, &["doctor"])
        .stdout_has(&format!(
            "home          {} (rule 5:",
            env.path("home/.moltbot").display()
        ))
        .stdout_has(&format!(
            "home: kept at {} because it holds the ops-monitor state; the rules alone would choose {}",
            env.path("home/.moltbot").display(),
            env.path("home/.openclaw").display()
        ));
}
