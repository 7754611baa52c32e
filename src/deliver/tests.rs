//! Delivery against real things: the loopback server of `testkit` (shared
//! with the integration tests) standing in for the Bot API and the webhook,
//! real files, real `/bin/sh` scripts. Nothing here reaches any address but
//! loopback, and no test waits out a delay: delivery's pause is recorded,
//! and a server too slow to answer is left behind when the test ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Value};
use testkit::{refused_url, Server, OK};

use super::split::{units, CUT_MARKER, TELEGRAM_LIMIT};
use super::*;
use crate::outbox::OUTBOX_KEEP;
use crate::state::State;

const SENTINEL: &str = "123456:SENTINEL-TOKEN-xyz";

/// A context for tests: Telegram through `api`, the sentinel token from the
/// environment slot, no `openclaw` on PATH, an OpenClaw config that does not
/// exist unless a test writes it.
fn ctx(dir: &Path, api: &str, channels: Option<Vec<Channel>>, target: Option<&str>) -> Context {
    let mut c = Context::new(
        channels,
        target.map(str::to_string),
        dir.join("openclaw.json"),
    );
    c.telegram_api = Some(api.to_string());
    c.env_token = Some(SENTINEL.to_string());
    c.http_timeout = Duration::from_secs(5);
    c.command_timeout = Duration::from_secs(10);
    c.host = "testhost".to_string();
    c.cwd = dir.to_path_buf();
    c.pause = Arc::new(|d| panic!("delivery paused {d:?} where no test expects it"));
    c
}

/// Make `c` record its pauses instead of sleeping; the record.
fn record_pauses(c: &mut Context) -> Arc<Mutex<Vec<Duration>>> {
    let paused = Arc::new(Mutex::new(Vec::new()));
    let record = paused.clone();
    c.pause = Arc::new(move |d| record.lock().unwrap().push(d));
    paused
}

fn msg(header: &str, sections: &[&str], time: f64) -> Message {
    Message {
        header: header.to_string(),
        sections: sections.iter().map(|s| s.to_string()).collect(),
        time,
    }
}

/// The sentinel token appears nowhere the program shows or keeps.
fn assert_no_token(state: &State, outcome: &Outcome) {
    for n in &outcome.notices {
        assert!(!n.contains(SENTINEL), "token in notice: {n}");
        assert!(!n.contains("SENTINEL"), "token part in notice: {n}");
    }
    let text = state.to_file_text();
    assert!(!text.contains("SENTINEL"), "token in state: {text}");
    for e in &state.outbox.entries {
        let err = e.last_error.as_deref().unwrap_or("");
        assert!(!err.contains("SENTINEL"), "token in stored error: {err}");
    }
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    testkit::script(&dir.join(name), body)
}

// ---------------------------------------------------------------- Bot API

#[test]
fn bot_api_request_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(OK.0, OK.1);
    let c = ctx(dir.path(), &server.url, None, Some("12345"));
    let mut state = State::default();
    let out = deliver(
        &mut state.outbox,
        &c,
        &msg("🛠️ Ops report", &["• a"], 1.0),
        100.0,
    );
    assert_eq!(
        out,
        Outcome {
            undelivered: 0,
            notices: vec![],
            delivered: 1
        }
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, format!("/bot{SENTINEL}/sendMessage"));
    assert!(reqs[0]
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        reqs[0].json(),
        json!({
            "chat_id": "12345",
            "text": "🛠️ Ops report\n\n• a",
            "link_preview_options": {"is_disabled": true}
        })
    );
    assert!(state.outbox.is_empty());
}

#[test]
fn a_thread_target_sends_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(OK.0, OK.1);
    let c = ctx(dir.path(), &server.url, None, Some("-100500:42"));
    let out = deliver(&mut Outbox::default(), &c, &msg("h", &[], 1.0), 1.0);
    assert_eq!(out.delivered, 1);
    let body = server.requests()[0].json();
    assert_eq!(body["chat_id"], "-100500");
    assert_eq!(body["message_thread_id"], 42);
}

#[test]
fn target_sources_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(OK.0, OK.1);
    std::fs::write(dir.path().join("token.txt"), format!("  {SENTINEL}\n")).unwrap();
    std::fs::write(
        dir.path().join("openclaw.json"),
        r#"{
          // JSON5: comments, trailing commas, bare keys
          agents: {
            list: [
              { id: "other", heartbeat: { target: "telegram", to: "1" } },
              { id: "main", heartbeat: { target: "telegram", to: "-100777", }, },
            ],
          },
          channels: { telegram: { allowFrom: [555, ], tokenFile: "token.txt", }, },
        }"#,
    )
    .unwrap();
    let chat = |channels: Option<Vec<Channel>>, target: Option<&str>| {
        let mut c = ctx(dir.path(), &server.url, channels, target);
        c.env_token = None; // the token must come from tokenFile
        let before = server.requests().len();
        let out = deliver(&mut Outbox::default(), &c, &msg("h", &[], 1.0), 1.0);
        assert_eq!(out.delivered, 1, "{:?}", out.notices);
        let reqs = server.requests();
        assert_eq!(reqs.len(), before + 1);
        assert_eq!(reqs[before].path, format!("/bot{SENTINEL}/sendMessage"));
        reqs[before].json()["chat_id"].as_str().unwrap().to_string()
    };
    let channel = Some(vec![Channel::Telegram {
        target: Some("888".into()),
        account: None,
    }]);
    assert_eq!(chat(channel.clone(), Some("999")), "999", "--target wins");
    assert_eq!(chat(channel, None), "888", "then the channel's target");
    assert_eq!(
        chat(None, None),
        "-100777",
        "then the main agent's heartbeat"
    );

    std::fs::write(
        dir.path().join("openclaw.json"),
        r#"{agents: {list: [{id: "main", heartbeat: {target: "slack", to: "x"}}]},
            channels: {telegram: {allowFrom: [555], botToken: "123456:SENTINEL-TOKEN-xyz"}}}"#,
    )
    .unwrap();
    assert_eq!(chat(None, None), "555", "else the first allowFrom entry");
}

#[test]
fn missing_target_is_an_error_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openclaw.json"), "{ broken: ").unwrap();
    let server = Server::always(OK.0, OK.1);
    let c = ctx(dir.path(), &server.url, None, None);
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("h", &["s"], 1.0), 10.0);
    assert_eq!(out.undelivered, 1);
    // SPEC §7 step 3: the error names where it looked and the config read.
    assert!(
        out.notices.iter().any(|n| n.starts_with(MISSING_TARGET)
            && n.contains("Looked at: --target (not given)")
            && n.contains("could not be read")),
        "{:?}",
        out.notices
    );
    assert!(out
        .notices
        .iter()
        .any(|n| n.contains("cannot read OpenClaw config")));
    assert!(state.outbox.entries[0]
        .last_error
        .as_deref()
        .unwrap()
        .starts_with(MISSING_TARGET));
    assert!(server.requests().is_empty());

    // Given a target later, the kept message goes out.
    let c = ctx(dir.path(), &server.url, None, Some("42"));
    let out = flush_outbox(&mut state.outbox, &c, 100.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
    // Sent from the outbox: it says when it was written (SPEC §5.6).
    assert_eq!(
        server.requests()[0].json()["text"],
        format!("h {}\n\ns", crate::report::delayed_note(1.0))
    );
}

#[test]
fn missing_token_is_an_error_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(OK.0, OK.1);
    let mut c = ctx(dir.path(), &server.url, None, Some("1"));
    c.env_token = None;
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("h", &[], 1.0), 1.0);
    assert_eq!(out.undelivered, 1);
    assert!(state.outbox.entries[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("bot token"));
    assert!(server.requests().is_empty());
}

#[test]
fn failures_go_to_the_outbox_with_the_reason_and_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(String, Option<Server>, &str)> = vec![
        {
            let s = Server::always(
                500,
                r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#,
            );
            (
                s.url.clone(),
                Some(s),
                "Telegram HTTP 500: Internal Server Error",
            )
        },
        {
            // The answer even echoes the token: it must not survive.
            let s = Server::always(
                200,
                r#"{"ok":false,"description":"Bad Request: bot 123456:SENTINEL-TOKEN-xyz says no"}"#,
            );
            (
                s.url.clone(),
                Some(s),
                "Bad Request: bot <redacted> says no",
            )
        },
        {
            let s = Server::always(502, "<html>Bad gateway</html>");
            (
                s.url.clone(),
                Some(s),
                "Telegram HTTP 502: <html>Bad gateway</html>",
            )
        },
        (refused_url(), None, "/bot<redacted>/sendMessage"),
    ];
    for (url, _server, expected) in &cases {
        let c = ctx(dir.path(), url, None, Some("1"));
        let mut state = State::default();
        let out = deliver(&mut state.outbox, &c, &msg("h", &[], 1.0), 1000.0);
        assert_eq!(out.undelivered, 1);
        assert_eq!(out.delivered, 0);
        let e = &state.outbox.entries[0];
        let err = e.last_error.as_deref().unwrap();
        assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        assert_eq!(e.attempts, 1);
        assert_eq!(e.next_attempt_at, 1060.0);
        assert_eq!(e.channel, crate::outbox::identity(&Channel::default()));
        assert_eq!(e.label, "telegram");
        assert_eq!(e.target.as_deref(), Some("1"));
        assert!(
            out.notices.iter().any(|n| n.contains(expected)),
            "{:?}",
            out.notices
        );
        assert_no_token(&state, &out);
    }
}

#[test]
fn a_short_429_is_waited_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(|n, _| {
        match n {
        0 => (429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#.into()),
        _ => (OK.0, OK.1.into()),
    }
    });
    let mut c = ctx(dir.path(), &server.url, None, Some("1"));
    let paused = record_pauses(&mut c);
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("h", &[], 1.0), 1.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
    assert_eq!(server.requests().len(), 2);
    assert_eq!(*paused.lock().unwrap(), [Duration::from_secs(1)]);

    // Twice in a row: kept, to be tried after retry_after.
    server.answer(429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":1}}"#);
    let out = deliver(&mut state.outbox, &c, &msg("h", &[], 1.0), 500.0);
    assert_eq!(out.undelivered, 1);
    assert_eq!(server.requests().len(), 4);
    assert_eq!(state.outbox.entries[0].next_attempt_at, 501.0);
    assert_eq!(
        *paused.lock().unwrap(),
        [Duration::from_secs(1); 2],
        "waited once per message, not again"
    );
}

#[test]
fn a_long_429_goes_to_the_outbox_with_its_delay() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 300","parameters":{"retry_after":300}}"#,
    );
    let c = ctx(dir.path(), &server.url, None, Some("1"));
    let mut state = State::default();
    let started = std::time::Instant::now();
    let out = deliver(&mut state.outbox, &c, &msg("h", &[], 1.0), 1000.0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait 300 s"
    );
    assert_eq!(out.undelivered, 1);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(state.outbox.entries[0].next_attempt_at, 1300.0);
    assert!(state.outbox.entries[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("429"));

    // Not due before then; due after.
    server.answer(OK.0, OK.1);
    let out = flush_outbox(&mut state.outbox, &c, 1200.0);
    assert_eq!((out.delivered, out.undelivered), (0, 1));
    assert_eq!(server.requests().len(), 1);
    let out = flush_outbox(&mut state.outbox, &c, 1300.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
}

#[test]
fn a_migrated_group_is_followed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(|_, req| {
        if req.json()["chat_id"] == "-100" {
            (400, r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-100999}}"#.into())
        } else {
            (OK.0, OK.1.into())
        }
    });
    let c = ctx(dir.path(), &server.url, None, Some("-100:7"));
    let out = deliver(&mut Outbox::default(), &c, &msg("h", &[], 1.0), 1.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].json()["message_thread_id"], 7);
    assert_eq!(reqs[1].json()["chat_id"], "-100999");
    assert!(reqs[1].json().get("message_thread_id").is_none());
    assert!(
        out.notices
            .iter()
            .any(|n| n.contains("-100999") && n.contains("update the target")),
        "{:?}",
        out.notices
    );
}

// ---------------------------------------------------------------- outbox

#[test]
fn the_outbox_is_kept_and_delivered_oldest_first_once_the_server_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(500, r#"{"ok":false,"description":"down"}"#);
    let c = ctx(dir.path(), &server.url, None, Some("1"));
    let mut state = State::default();
    deliver(&mut state.outbox, &c, &msg("A", &[], 1.0), 1000.0);
    // A new report on the channel sends what waits there first, A's backoff
    // ignored; A fails again, so B waits behind it, untried.
    deliver(&mut state.outbox, &c, &msg("B", &[], 2.0), 1010.0);
    assert_eq!(state.outbox.len(), 2);
    assert_eq!(server.requests().len(), 2);
    let texts = |from: usize| -> Vec<String> {
        server.requests()[from..]
            .iter()
            .map(|r| r.json()["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        texts(0).iter().all(|t| t.starts_with('A')),
        "{:?}",
        texts(0)
    );
    // Through the state file, as between two ticks.
    let mut state = crate::state::parse(state.to_file_text().as_bytes()).unwrap();
    assert_eq!(state.outbox.entries[0].attempts, 2);
    assert_eq!(state.outbox.entries[0].next_attempt_at, 1010.0 + 120.0);
    assert_eq!(state.outbox.entries[1].attempts, 0);

    // Nothing due yet: A holds B back, though B's time has come.
    let out = flush_outbox(&mut state.outbox, &c, 1020.0);
    assert_eq!((out.delivered, out.undelivered), (0, 2));
    assert_eq!(server.requests().len(), 2);

    // A is due and fails again: its backoff grows; B waits its turn untried.
    let out = flush_outbox(&mut state.outbox, &c, 1130.0);
    assert_eq!(out.undelivered, 2);
    assert_eq!(server.requests().len(), 3);
    let delayed = |h: &str, t: f64| format!("{h} {}", crate::report::delayed_note(t));
    assert_eq!(state.outbox.entries[0].text, delayed("A", 1.0));
    assert_eq!(state.outbox.entries[0].attempts, 3);
    assert_eq!(state.outbox.entries[0].next_attempt_at, 1130.0 + 240.0);
    assert_eq!(state.outbox.entries[1].attempts, 0);

    server.answer(OK.0, OK.1);
    let out = flush_outbox(&mut state.outbox, &c, 2000.0);
    assert_eq!((out.delivered, out.undelivered), (2, 0));
    // B waited behind A: late too, and said so.
    assert_eq!(texts(3), vec![delayed("A", 1.0), delayed("B", 2.0)]);
    assert!(state.outbox.is_empty());

    // Delivered is gone: a later flush sends nothing.
    let out = flush_outbox(&mut state.outbox, &c, 9000.0);
    assert_eq!(out, Outcome::default());
    assert_eq!(server.requests().len(), 5);
}

/// Two ticks as `tick` runs them: step 3 retries the outbox, step 6 puts
/// the new report in and delivers it — at one clock reading.
fn tick(outbox: &mut Outbox, c: &Context, report: Option<&str>, now: f64) {
    flush_outbox(outbox, c, now);
    if let Some(header) = report {
        enqueue(outbox, c, &msg(header, &[], now), now);
        flush_outbox(outbox, c, now);
    }
}

#[test]
fn a_channel_keeps_its_order_and_an_entry_is_tried_once_a_tick() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(500, r#"{"ok":false,"description":"down"}"#);
    let c = ctx(dir.path(), &server.url, None, Some("1"));
    let mut outbox = Outbox::default();
    let texts = || -> Vec<String> {
        server
            .requests()
            .iter()
            .map(|r| r.json()["text"].as_str().unwrap().to_string())
            .collect()
    };
    tick(&mut outbox, &c, Some("A running"), 1000.0);
    assert_eq!(
        (
            outbox.entries[0].attempts,
            outbox.entries[0].next_attempt_at
        ),
        (1, 1060.0)
    );

    // Step 3 retries A and it fails; the new report B does not try A a
    // second time in the same tick (one attempt, one doubling), and waits.
    tick(&mut outbox, &c, Some("B completed"), 1060.0);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        (
            outbox.entries[0].attempts,
            outbox.entries[0].next_attempt_at
        ),
        (2, 1180.0)
    );
    assert_eq!(outbox.entries[1].header, "B completed");
    assert_eq!(outbox.entries[1].attempts, 0);

    // The channel is back, but A's backoff is not over: B is not sent
    // before it.
    server.answer(OK.0, OK.1);
    tick(&mut outbox, &c, None, 1120.0);
    assert_eq!(server.requests().len(), 2, "{:?}", texts());
    tick(&mut outbox, &c, None, 1180.0);
    let sent = texts();
    assert_eq!(sent.len(), 4);
    assert!(sent[2].starts_with("A running (written"), "{}", sent[2]);
    assert!(sent[3].starts_with("B completed (written"), "{}", sent[3]);
    assert!(outbox.is_empty());

    // A waiting entry whose backoff is not over goes first, at once, when a
    // new report comes on its channel.
    server.answer(500, r#"{"ok":false,"description":"down"}"#);
    tick(&mut outbox, &c, Some("C"), 2000.0);
    server.answer(OK.0, OK.1);
    tick(&mut outbox, &c, None, 2030.0);
    assert_eq!(server.requests().len(), 5, "C waits for its backoff");
    tick(&mut outbox, &c, Some("D"), 2031.0);
    let sent = texts();
    assert_eq!(sent.len(), 7);
    assert!(sent[5].starts_with("C (written"), "{}", sent[5]);
    assert_eq!(sent[6], "D", "this tick's report is not late");
    assert!(outbox.is_empty());
}

#[test]
fn a_full_outbox_drops_the_oldest_and_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let down = ctx(dir.path(), &refused_url(), None, Some("1"));
    let mut state = State::default();
    let mut last = Outcome::default();
    for i in 0..OUTBOX_KEEP + 2 {
        last = deliver(
            &mut state.outbox,
            &down,
            &msg(&format!("m{i}"), &[], 1.0),
            i as f64,
        );
    }
    assert_eq!(state.outbox.len(), OUTBOX_KEEP);
    assert_eq!(last.undelivered, OUTBOX_KEEP);
    assert_eq!(state.outbox.dropped, 2);
    // Each new report tried the oldest waiting one first (and no other).
    assert!(state.outbox.entries[0].text.starts_with("m2 (written"));
    assert_eq!(state.outbox.entries[0].attempts, 1);
    assert_eq!(state.outbox.entries[1].text, "m3");
    assert!(last
        .notices
        .iter()
        .any(|n| n.contains("dropped its oldest")));
    assert_no_token(&state, &last);

    let server = Server::always(OK.0, OK.1);
    let up = ctx(dir.path(), &server.url, None, Some("1"));
    let out = flush_outbox(&mut state.outbox, &up, 1.0e6);
    assert_eq!((out.delivered, out.undelivered), (OUTBOX_KEEP, 0));
    let reqs = server.requests();
    let first = reqs[0].json()["text"].as_str().unwrap().to_string();
    let note = crate::report::delayed_note(1.0);
    assert!(
        first.starts_with(&format!("m2 {note}\n\n• ALERT: 2 earlier message(s)")),
        "{first}"
    );
    assert_eq!(reqs[1].json()["text"], format!("m3 {note}"), "said once");
    assert_eq!(state.outbox.dropped, 0);
    assert!(!state.to_file_text().contains("outboxDropped"));
}

#[test]
fn splitting_at_exactly_the_limit_with_non_ascii_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(OK.0, OK.1);
    let c = ctx(dir.path(), &server.url, None, Some("1"));
    // Telegram counts UTF-16 units: the header's 🛠 is two of them.
    let header = "🛠️ Ops report (14:05:09)";
    let used = units(header) + 2;
    let a: String = "漢".repeat(2000);
    let b: String = "é".repeat(TELEGRAM_LIMIT - used - 2000 - 2);
    let message = msg(header, &[&a, &b], 1.0);
    assert_eq!(units(&message.text()), TELEGRAM_LIMIT);
    deliver(&mut Outbox::default(), &c, &message, 1.0);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.requests()[0].json()["text"], message.text());

    // One character more: two parts, in order, the header on the first.
    let b1 = format!("{b}é");
    deliver(
        &mut Outbox::default(),
        &c,
        &msg(header, &[&a, &b1], 1.0),
        1.0,
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[1].json()["text"], format!("{header}\n\n{a}"));
    assert_eq!(reqs[2].json()["text"], b1);

    // A single section over the limit is cut with the marker.
    let huge = "ж".repeat(5000);
    deliver(&mut Outbox::default(), &c, &msg(header, &[&huge], 1.0), 1.0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    let cut = reqs[4].json()["text"].as_str().unwrap().to_string();
    assert_eq!(units(&cut), TELEGRAM_LIMIT);
    assert!(cut.ends_with(CUT_MARKER));
}

#[test]
fn parts_already_delivered_are_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(|n, _| match n {
        0 => (OK.0, OK.1.into()),
        _ => (500, r#"{"ok":false,"description":"down"}"#.into()),
    });
    let c = ctx(dir.path(), &server.url, None, Some("1"));
    let a = "a".repeat(3000);
    let b = "b".repeat(3000);
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("H", &[&a, &b], 1.0), 1.0);
    assert_eq!(out.undelivered, 1);
    assert_eq!(state.outbox.entries[0].parts_sent, 1);

    server.answer(OK.0, OK.1);
    let out = flush_outbox(&mut state.outbox, &c, 1000.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].json()["text"], b);
}

// ---------------------------------------------------------------- openclaw CLI

#[test]
fn the_openclaw_cli_is_used_when_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let args = dir.path().join("args.txt");
    write_script(
        &bin,
        "openclaw",
        &format!(
            "for a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done",
            args.display()
        ),
    );
    // The Bot API would refuse: only the CLI can deliver.
    let mut c = ctx(dir.path(), &refused_url(), None, Some("-100:5"));
    c.path_env = Some(std::env::join_paths([dir.path().join("nothing"), bin.clone()]).unwrap());
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("héllo", &["• x"], 1.0), 1.0);
    assert_eq!(
        (out.delivered, out.undelivered),
        (1, 0),
        "{:?}",
        out.notices
    );
    // SPEC §7 step 5: the chat without its topic, the topic as --thread-id,
    // and --json to tell a suppressed send from a delivered one.
    let got = std::fs::read_to_string(&args).unwrap();
    assert_eq!(
        got,
        "message\nsend\n--channel\ntelegram\n--target\n-100\n--message\nhéllo\n\n• x\n--json\n--thread-id\n5\n"
    );

    write_script(
        &bin,
        "openclaw",
        "echo noise >&2; echo 'gateway not running' >&2; exit 2",
    );
    let out = deliver(&mut state.outbox, &c, &msg("h", &[], 1.0), 1.0);
    assert_eq!(out.undelivered, 1);
    // The CLI failed and a token resolves: the Bot API was tried at once
    // (and here refused the connection), so both reasons are kept.
    let err = state.outbox.entries[0].last_error.clone().unwrap();
    assert!(
        err.starts_with(
            "openclaw message send: exit=2: gateway not running; then the Bot API: Telegram: "
        ),
        "{err}"
    );
    assert_no_token(&state, &out);
}

#[test]
fn the_install_folders_are_searched_when_openclaw_is_not_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let install = dir.path().join("home/.openclaw/bin");
    std::fs::create_dir_all(&install).unwrap();
    write_script(
        &install,
        "openclaw",
        &format!("touch '{}'", marker.display()),
    );
    let mut c = ctx(dir.path(), &refused_url(), None, Some("1"));
    c.path_env = Some("".into());
    c.openclaw_dirs = vec![dir.path().join("nothing"), install];
    let out = deliver(&mut Outbox::default(), &c, &msg("h", &[], 1.0), 1.0);
    assert_eq!(out.delivered, 1);
    assert!(marker.exists());
}

// ---------------------------------------------------------------- other channels

#[test]
fn webhook_posts_the_payload_with_its_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(204, "");
    let headers: BTreeMap<String, String> =
        [("Authorization".to_string(), "Bearer abc".to_string())].into();
    let channels = vec![Channel::Webhook {
        url: format!("{}/hook", server.url),
        headers,
    }];
    let c = ctx(dir.path(), &refused_url(), Some(channels), None);
    let out = deliver(
        &mut Outbox::default(),
        &c,
        &msg("H", &["• a", "• b"], 1714564800.0),
        1.0,
    );
    assert_eq!(
        (out.delivered, out.undelivered),
        (1, 0),
        "{:?}",
        out.notices
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/hook");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer abc"));
    assert_eq!(
        reqs[0].json(),
        json!({"text": "H\n\n• a\n\n• b", "sections": ["• a", "• b"], "host": "testhost", "time": "2024-05-01T12:00:00Z"})
    );

    server.answer(503, "busy");
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("H", &[], 1.0), 1.0);
    assert_eq!(out.undelivered, 1);
    assert_eq!(
        state.outbox.entries[0].last_error.as_deref(),
        Some("webhook HTTP 503: busy")
    );
}

#[test]
fn file_channel_appends_json_lines_and_makes_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/deep/alerts.jsonl");
    let c = ctx(
        dir.path(),
        &refused_url(),
        Some(vec![Channel::File { path: path.clone() }]),
        None,
    );
    let mut state = State::default();
    deliver(&mut state.outbox, &c, &msg("H", &["• 漢"], 0.0), 1.0);
    let out = deliver(&mut state.outbox, &c, &msg("H2", &[], 0.5), 2.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        json!({"text": "H\n\n• 漢", "sections": ["• 漢"], "host": "testhost", "time": "1970-01-01T00:00:00Z"})
    );
    assert_eq!(lines[1]["text"], "H2");

    // A folder where the file should be: kept in the outbox.
    let blocked = dir.path().join("isdir");
    std::fs::create_dir(&blocked).unwrap();
    let c = ctx(
        dir.path(),
        &refused_url(),
        Some(vec![Channel::File { path: blocked }]),
        None,
    );
    let out = deliver(&mut state.outbox, &c, &msg("H", &[], 0.0), 1.0);
    assert_eq!(out.undelivered, 1);
    assert!(state.outbox.entries[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("cannot open"));
}

#[test]
fn command_channel_gets_the_report_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("stdin.txt");
    let channels = vec![Channel::Command {
        argv: vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("cat > '{}'", got.display()),
        ],
    }];
    let c = ctx(dir.path(), &refused_url(), Some(channels), None);
    let out = deliver(&mut Outbox::default(), &c, &msg("H", &["• ünï"], 1.0), 1.0);
    assert_eq!(
        (out.delivered, out.undelivered),
        (1, 0),
        "{:?}",
        out.notices
    );
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "H\n\n• ünï");

    let channels = vec![Channel::Command {
        argv: vec![
            "/bin/sh".into(),
            "-c".into(),
            "cat >/dev/null; echo nope >&2; exit 3".into(),
        ],
    }];
    let c = ctx(dir.path(), &refused_url(), Some(channels), None);
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("H", &[], 1.0), 1.0);
    assert_eq!(out.undelivered, 1);
    assert_eq!(
        state.outbox.entries[0].last_error.as_deref(),
        Some("command /bin/sh: exit=3: nope")
    );
}

#[test]
fn one_failing_channel_neither_blocks_nor_repeats_another() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let hook = Server::always(500, "down");
    let telegram = Server::always(OK.0, OK.1);
    let channels = vec![
        Channel::Webhook {
            url: hook.url.clone(),
            headers: BTreeMap::new(),
        },
        Channel::File { path: file.clone() },
        Channel::Telegram {
            target: Some("7".into()),
            account: None,
        },
    ];
    let c = ctx(dir.path(), &telegram.url, Some(channels), None);
    let mut state = State::default();
    let out = deliver(&mut state.outbox, &c, &msg("H", &[], 1.0), 1000.0);
    assert_eq!((out.delivered, out.undelivered), (2, 1));
    assert_eq!(
        state.outbox.entries[0].channel,
        crate::outbox::identity(&Channel::Webhook {
            url: hook.url.clone(),
            headers: BTreeMap::new(),
        })
    );
    let lines = || std::fs::read_to_string(&file).unwrap().lines().count();
    assert_eq!(lines(), 1);
    assert_eq!(telegram.requests().len(), 1);

    // Retrying the webhook repeats neither the file nor Telegram.
    let out = flush_outbox(&mut state.outbox, &c, 2000.0);
    assert_eq!((out.delivered, out.undelivered), (0, 1));
    hook.answer(200, "ok");
    let out = flush_outbox(&mut state.outbox, &c, 3000.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
    assert_eq!(hook.requests().len(), 3);
    assert_eq!(lines(), 1);
    assert_eq!(telegram.requests().len(), 1);
}

#[test]
fn an_entry_whose_channel_was_removed_is_kept_and_never_sent_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Server::always(500, "down");
    let channels = vec![Channel::Webhook {
        url: hook.url.clone(),
        headers: [("X-Key".to_string(), "k1".to_string())].into(),
    }];
    let c = ctx(dir.path(), &refused_url(), Some(channels.clone()), None);
    let mut state = State::default();
    deliver(&mut state.outbox, &c, &msg("H", &[], 1.0), 1.0);
    assert_eq!(state.outbox.len(), 1);
    assert_eq!(state.outbox.retried(), 1);

    hook.answer(200, "");
    let file = dir.path().join("now.jsonl");
    let elsewhere = ctx(
        dir.path(),
        &refused_url(),
        Some(vec![Channel::File { path: file.clone() }]),
        None,
    );
    let out = flush_outbox(&mut state.outbox, &elsewhere, 1000.0);
    assert_eq!((out.delivered, out.undelivered), (0, 1));
    assert!(state.outbox.entries[0].channel_gone);
    assert_eq!(state.outbox.retried(), 0, "no longer counts for exit 3");
    assert!(
        out.notices[0].contains("no longer in the config"),
        "{:?}",
        out.notices
    );
    assert_eq!(
        hook.requests().len(),
        1,
        "never sent to the removed channel"
    );
    assert!(!file.exists(), "nor to another one");
    // Said once.
    let out = flush_outbox(&mut state.outbox, &elsewhere, 2000.0);
    assert!(out.notices.is_empty(), "{:?}", out.notices);
    // The channel is back: the entry goes, with the headers configured now.
    let out = flush_outbox(&mut state.outbox, &c, 3000.0);
    assert_eq!((out.delivered, out.undelivered), (1, 0));
    assert_eq!(hook.requests()[1].header("x-key"), Some("k1"));
}

#[test]
fn a_configured_channel_with_the_same_key_is_used_as_it_is_now() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Server::always(401, "unauthorized");
    let spec = |key: &str| {
        Some(vec![Channel::Webhook {
            url: hook.url.clone(),
            headers: [("X-Key".to_string(), key.to_string())].into(),
        }])
    };
    let mut state = State::default();
    deliver(
        &mut state.outbox,
        &ctx(dir.path(), "http://127.0.0.1:9", spec("old"), None),
        &msg("H", &[], 1.0),
        1.0,
    );
    hook.answer(200, "");
    flush_outbox(
        &mut state.outbox,
        &ctx(dir.path(), "http://127.0.0.1:9", spec("new"), None),
        1000.0,
    );
    assert!(state.outbox.is_empty());
    assert_eq!(hook.requests()[1].header("x-key"), Some("new"));
}

// ---------------------------------------------------------------- notify, secrets

#[test]
fn notify_flushes_first_then_sends_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::always(500, r#"{"ok":false,"description":"down"}"#);
    let c = ctx(dir.path(), &server.url, None, Some("1"));
    let mut state = State::default();
    let out = notify(&mut state.outbox, &c, "first", 1.0);
    assert_eq!(out.undelivered, 1);
    server.answer(OK.0, OK.1);
    let out = notify(&mut state.outbox, &c, "second", 1000.0);
    assert_eq!((out.delivered, out.undelivered), (2, 0));
    let texts: Vec<Value> = server.requests()[1..]
        .iter()
        .map(|r| r.json()["text"].clone())
        .collect();
    let first = format!("first {}", crate::report::delayed_note(1.0));
    assert_eq!(texts, vec![json!(first), json!("second")]);
}

#[test]
fn nothing_to_send_builds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), &refused_url(), None, None);
    let mut state = State::default();
    assert_eq!(flush_outbox(&mut state.outbox, &c, 1.0), Outcome::default());
    let out = deliver(
        &mut state.outbox,
        &Context {
            channels: Some(vec![]),
            ..c
        },
        &msg("h", &[], 1.0),
        1.0,
    );
    assert_eq!(out, Outcome::default());
}

#[test]
fn redaction_covers_urls_bare_and_encoded_tokens() {
    let text = format!("GET http://x/bot{SENTINEL}/sendMessage failed; token {SENTINEL}; enc 123456%3ASENTINEL-TOKEN-xyz");
    let out = redact(&text, SENTINEL);
    assert_eq!(
        out,
        "GET http://x/bot<redacted>/sendMessage failed; token <redacted>; enc <redacted>"
    );
    assert_eq!(redact("abc", ""), "abc");

    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), "http://127.0.0.1:9", None, None);
    assert!(!format!("{c:?}").contains("SENTINEL"));
}

#[test]
fn is_loopback_only_for_local_addresses() {
    assert!(is_loopback("http://127.0.0.1:8080/x"));
    assert!(is_loopback("http://localhost/x"));
    assert!(is_loopback("http://[::1]:9/x"));
    assert!(!is_loopback("https://api.telegram.org"));
    assert!(!is_loopback("not a url"));
}

#[test]
fn target_parsing() {
    use super::telegram::parse_target;
    assert_eq!(parse_target("123"), ("123".to_string(), None));
    assert_eq!(
        parse_target("-100123:45"),
        ("-100123".to_string(), Some(45))
    );
    assert_eq!(parse_target("@chan"), ("@chan".to_string(), None));
    assert_eq!(parse_target(":5"), (":5".to_string(), None));
}

#[test]
fn a_server_that_does_not_answer_in_time_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(|_, _| {
        std::thread::sleep(Duration::from_secs(3));
        (OK.0, OK.1.into())
    });
    let mut c = ctx(dir.path(), &server.url, None, Some("1"));
    c.http_timeout = Duration::from_millis(300);
    let mut state = State::default();
    let started = std::time::Instant::now();
    let out = deliver(&mut state.outbox, &c, &msg("h", &[], 1.0), 1.0);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up at the time limit"
    );
    assert_eq!(out.undelivered, 1);
    let err = state.outbox.entries[0].last_error.clone().unwrap();
    assert!(err.contains("timed out"), "{err}");
    assert_no_token(&state, &out);
}

#[test]
fn an_answer_cut_at_the_limit_is_ok_when_it_starts_ok_true() {
    use super::telegram::starts_ok_true;
    let long = format!(
        r#"{{"ok": true, "result": {{"text": "{}"#,
        "x".repeat(70_000)
    );
    assert!(starts_ok_true(&long));
    assert!(starts_ok_true(
        r#"  {"result":{"a":[1,{"b":"}"}]},"ok":true,"#
    ));
    assert!(!starts_ok_true(r#"{"result":{"ok":true}}"#));
    assert!(!starts_ok_true(r#"{"ok":false,"x":1"#));
    assert!(!starts_ok_true(r#"{"description":"\"ok\":true"#));
    assert!(!starts_ok_true(r#"["ok",true]"#));
    assert!(!starts_ok_true(""));
}

#[test]
fn only_time_spent_delivering_counts_and_a_nested_call_never_stops_the_clock() {
    let spent = Spent::default();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        spent.so_far(),
        Duration::ZERO,
        "time outside is not counted"
    );
    let inner = spent.count(|| {
        std::thread::sleep(Duration::from_millis(20));
        spent.count(|| std::thread::sleep(Duration::from_millis(20)));
        spent.so_far()
    });
    let after = spent.so_far();
    assert!(inner >= Duration::from_millis(40), "{inner:?}");
    assert!(after >= inner, "{after:?}");
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(spent.so_far(), after, "nothing added outside a call");
    // A nested call left the outer one running: the clock stopped only
    // when the outer call ended.
    spent.count(|| {
        spent.count(|| ());
        std::thread::sleep(Duration::from_millis(20));
    });
    assert!(spent.so_far() >= after + Duration::from_millis(20));
}
