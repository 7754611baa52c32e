//! Secrets and HTTP through the binary (SPEC §7 "The token is a secret",
//! "HTTP delivery", §8, §11): children never inherit the token, job output
//! that holds one is redacted everywhere, no redirect is followed, one
//! deadline covers a whole request, a signal abandons a delivery, a token
//! file is a regular file read up to 4 KiB.

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::{RawServer, Server};

use crate::util::{config_with, long_job, walk, Run, TestEnv, NOON};

const ENV_TOKEN: &str = "123456:ENV-SENTINEL-abc";
const CONFIG_TOKEN: &str = "654321:CFG-SENTINEL-def";

/// No run printed `needle`, and no file but those in `allowed` holds it.
#[track_caller]
fn nowhere(env: &TestEnv, runs: &[&Run], needle: &str, allowed: &[&str]) {
    for r in runs {
        assert!(
            !r.stdout.contains(needle) && !r.stderr.contains(needle),
            "{needle} printed: {r:?}"
        );
    }
    for file in walk(env.root()) {
        if allowed.iter().any(|a| file.ends_with(a)) {
            continue;
        }
        let text = String::from_utf8_lossy(&fs::read(&file).unwrap_or_default()).into_owned();
        assert!(
            !text.contains(needle),
            "{needle} in {}: {text}",
            file.display()
        );
    }
}

/// Wait for `child` at most `limit`; kill it past that and fail.
fn wait_within(mut child: Child, limit: Duration) -> (Run, Duration) {
    let began = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (
                Run::from(child.wait_with_output().unwrap()),
                began.elapsed(),
            );
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}\n{:?}", Run::from(out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn children_never_inherit_the_token_and_printed_tokens_are_redacted() {
    let server = Server::start();
    let mut env = TestEnv::new();
    env.env("OPS_MONITOR_TELEGRAM_API", &server.url);
    env.env("TELEGRAM_BOT_TOKEN", ENV_TOKEN);
    env.write(
        "openclaw.json",
        &format!("{{channels: {{telegram: {{botToken: '{CONFIG_TOKEN}', allowFrom: [42]}}}}}}"),
    );
    // What a job could know of the tokens without being given them.
    env.write("leak.txt", &format!("{ENV_TOKEN} and {CONFIG_TOKEN}"));
    let status = env.script(
        "status.sh",
        r#"env > status.env
printf '{"running":false,"completed":false,"message":"leak %s"}\n' "$(cat leak.txt)""#,
    );
    let start = env.script("start.sh", "env > start.env; cat leak.txt");
    let read = env.script("read.sh", "env; cat leak.txt; cat leak.txt >&2");
    let channel = env.script("channel.sh", "env > channel.env; cat > /dev/null");
    let mut cfg = config_with(json!([
        long_job("l", &status, &start),
        {"id": "r", "kind": "one_shot_read", "risk": "read_only", "commands": {"run": [read]}},
    ]));
    cfg["defaults"]["notify"] =
        json!([{"type": "telegram"}, {"type": "command", "argv": [channel]}]);
    env.config(&cfg);

    let runs = [
        env.run(&["run", "r"]),
        env.run(&["start", "l"]),
        env.run(&["tick"]),
        env.run(&["status"]),
        env.run(&["logs", "r"]),
    ];
    runs[0].code(0).stdout_has("<redacted> and <redacted>");
    runs[2].code(0);
    // The child environments: the variable is not there at all.
    for file in ["status.env", "start.env", "channel.env"] {
        let text = env.read(file);
        assert!(text.contains("HOME="), "{file} was written: {text}");
        assert!(!text.contains("TELEGRAM_BOT_TOKEN"), "{file}: {text}");
    }
    assert!(!runs[0].stdout.contains("TELEGRAM_BOT_TOKEN"));
    // Reports, tails and the state: redacted.
    let sent = server.requests()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sent.contains("leak <redacted> and <redacted>"), "{sent}");
    let st = env.state();
    assert_eq!(
        st["jobs"]["r"]["lastRun"]["stderrTail"],
        "<redacted> and <redacted>"
    );
    assert!(st["jobs"]["l"]["lastStart"]["stdoutTail"]
        .as_str()
        .unwrap()
        .contains("<redacted>"));
    let all: Vec<&Run> = runs.iter().collect();
    for token in [ENV_TOKEN, CONFIG_TOKEN] {
        nowhere(&env, &all, token, &["openclaw.json", "leak.txt"]);
    }
}

#[test]
fn the_configs_own_secrets_are_redacted_from_job_output() {
    let hook = Server::start();
    let env = TestEnv::new();
    let bearer = "HEADER-SENTINEL-0123456789";
    let query = "key=QUERY-SENTINEL-abcdef";
    let ping = "PING-SENTINEL-5f1c2b8e-uuid";
    let heartbeat = format!("{}/ping/{ping}", hook.url);
    // A job that knows them (it read the config, or curl printed them).
    env.write(
        "leak.txt",
        &format!(
            "auth: Bearer {bearer} url: {}/hook?{query} ping: {heartbeat} id: /ping/{ping}",
            hook.url
        ),
    );
    let read = env.script("read.sh", "cat leak.txt; cat leak.txt >&2; exit 1");
    let sink = env.script("sink.sh", "cat > /dev/null");
    let mut cfg = config_with(json!([
        {"id": "r", "kind": "one_shot_read", "risk": "read_only", "enabled": true,
         "commands": {"run": [read]}, "policy": {"everySeconds": 60}},
    ]));
    cfg["defaults"]["notify"] = json!([
        {"type": "webhook", "url": format!("{}/hook?{query}", hook.url),
         "headers": {"Authorization": format!("Bearer {bearer}")}},
        {"type": "alertmanager", "url": hook.url, "headers": {"X-Scope-OrgID": "ORG-SENTINEL-tenant"}},
        {"type": "command", "argv": [sink, "--key=ARGV-SENTINEL-42"]},
    ]);
    cfg["defaults"]["heartbeatUrl"] = json!(heartbeat);
    env.config(&cfg);
    env.write(
        "leak.txt",
        &format!(
            "{} org ORG-SENTINEL-tenant arg --key=ARGV-SENTINEL-42",
            env.read("leak.txt")
        ),
    );

    let runs = [
        env.run(&["tick"]),
        env.run(&["run", "r"]),
        env.run(&["logs", "r"]),
    ];
    runs[1]
        .stdout_has("auth: <redacted> url: ")
        .stdout_has("?<redacted> ping: <redacted> id: <redacted> org <redacted> arg <redacted>");
    let report = hook
        .requests()
        .iter()
        .find(|r| r.path.starts_with("/hook"))
        .map(|r| r.body.clone())
        .expect("the report was posted");
    assert!(report.contains("auth: <redacted>"), "{report}");
    assert!(report.contains("org <redacted>"), "{report}");
    let all: Vec<&Run> = runs.iter().collect();
    for secret in [
        bearer,
        "QUERY-SENTINEL",
        ping,
        "ORG-SENTINEL",
        "ARGV-SENTINEL",
    ] {
        // The posts themselves carry them, as they must: only what the job
        // printed is checked, in the files and the output.
        nowhere(
            &env,
            &all,
            secret,
            &[
                "ops-jobs.json",
                "leak.txt",
                "ops-monitor.json.last-good-config.json",
            ],
        );
    }
}

#[test]
fn a_token_the_url_parser_encodes_is_redacted_in_errors_and_last_error() {
    let token = "123456:SENTINEL TOKEN{x}/ä";
    let mut env = TestEnv::new();
    env.env("OPS_MONITOR_TELEGRAM_API", &testkit::refused_url());
    env.env("TELEGRAM_BOT_TOKEN", token);
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"x"}'"#,
    );
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    let run = env.run(&["tick", "--target", "42"]);
    run.code(3).stderr_has("/bot<redacted>/sendMessage");
    let err = env.state()["outbox"][0]["lastError"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("/bot<redacted>/"), "{err}");
    for piece in ["SENTINEL", "%20TOKEN", "%7Bx", "TOKEN%7B"] {
        nowhere(&env, &[&run], piece, &[]);
    }
}

/// An answer that redirects to `location`.
fn redirecting(location: String) -> RawServer {
    RawServer::new(move |_, stream| {
        let _ = write!(
            stream,
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    })
}

/// A paused job, so every first tick has a report.
fn reporting_env() -> TestEnv {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"x"}'"#,
    );
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    env
}

#[test]
fn redirects_are_failures_naming_the_location_and_never_followed() {
    let elsewhere = Server::start();
    // The Bot API base redirects to another host, token and all.
    let api = redirecting(format!("{}/bot{ENV_TOKEN}/sendMessage", elsewhere.url));
    let mut env = reporting_env();
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    env.env("TELEGRAM_BOT_TOKEN", ENV_TOKEN);
    let run = env.run(&["tick", "--target", "42"]);
    run.code(3).stderr_has(&format!(
        "redirect to {}/bot<redacted>/sendMessage (not followed)",
        elsewhere.url
    ));
    assert_eq!(api.requests().len(), 1);
    assert!(api.requests()[0].header("referer").is_none());
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
    nowhere(&env, &[&run], ENV_TOKEN, &[]);

    // A webhook's secret header never reaches the redirect's target.
    let hook = redirecting(format!("{}/steal", elsewhere.url));
    let mut cfg = config_with(json!([]));
    cfg["defaults"]["notify"] = json!([{"type": "webhook", "url": format!("{}/hook", hook.url),
                                        "headers": {"X-Secret": "s3cr3t-header"}}]);
    env.config(&cfg);
    env.at(NOON + 60.0);
    env.run(&["notify", "hello"]).code(3).stderr_has(&format!(
        "redirect to {}/steal (not followed)",
        elsewhere.url
    ));
    assert_eq!(hook.requests()[0].header("x-secret"), Some("s3cr3t-header"));
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
    assert_eq!(
        env.state()["outbox"].as_array().unwrap().len(),
        2,
        "not counted as delivered"
    );
}

#[test]
fn one_deadline_covers_the_whole_request_however_slowly_bytes_come() {
    // Headers at once, then a byte every 200 ms of a long answer: each read
    // succeeds, the request never ends on its own.
    let api = RawServer::new(|_, stream| {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{{"
        );
        for _ in 0..100_000 {
            std::thread::sleep(Duration::from_millis(200));
            if stream.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let mut env = reporting_env();
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    env.env("TELEGRAM_BOT_TOKEN", ENV_TOKEN);
    // The 20 s deadline, shortened for the test through its seam.
    env.env("OPS_MONITOR_HTTP_TIMEOUT", "2");
    let (run, took) = wait_within(
        spawn(&env, &["tick", "--target", "42"]),
        Duration::from_secs(40),
    );
    run.code(3)
        .stderr_has("timed out: no complete answer within 2 s");
    // Bytes kept coming every 200 ms: only a deadline over the whole
    // request ends it (a per-read limit never would).
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(env.state()["outbox"].as_array().unwrap().len(), 1, "kept");
}

#[test]
fn sigterm_abandons_a_delivery_at_once_and_keeps_the_message() {
    // Reads the request, then never answers.
    let api = RawServer::new(|_, stream: &mut TcpStream| {
        std::thread::sleep(Duration::from_secs(60));
        let _ = stream.flush();
    });
    let mut env = reporting_env();
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    env.env("TELEGRAM_BOT_TOKEN", ENV_TOKEN);
    let child = spawn(&env, &["tick", "--target", "42"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.requests().is_empty() {
        assert!(Instant::now() < deadline, "no request came");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (run, took) = wait_within(child, Duration::from_secs(15));
    run.code(143);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(env.state()["outbox"].as_array().unwrap().len(), 1, "kept");
}

#[test]
fn an_ok_answer_longer_than_the_read_limit_is_a_delivery() {
    let big = format!(
        r#"{{"ok":true,"result":{{"text":"{}"}}}}"#,
        "x".repeat(100_000)
    );
    let api = Server::always(200, &big);
    let mut env = reporting_env();
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    env.env("TELEGRAM_BOT_TOKEN", ENV_TOKEN);
    env.run(&["tick", "--target", "42"]).code(0);
    assert!(env.state().get("outbox").is_none());
    env.at(NOON + 60.0);
    env.run(&["tick", "--target", "42"]).code(0);
    assert_eq!(api.requests().len(), 1, "sent once, never again");
}

#[test]
fn a_token_file_that_is_no_regular_file_is_refused_without_waiting() {
    let api = Server::start();
    let mut env = TestEnv::new();
    env.env("OPS_MONITOR_TELEGRAM_API", &api.url);
    let fifo = env.path("token.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for source in [fifo.display().to_string(), "/dev/zero".to_string()] {
        env.write(
            "openclaw.json",
            &format!("{{channels: {{telegram: {{tokenFile: '{source}', allowFrom: [42]}}}}}}"),
        );
        env.config(&config_with(json!([])));
        let (run, took) = wait_within(spawn(&env, &["notify", "hi"]), Duration::from_secs(20));
        run.code(3).stderr_has("not a regular file");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
    assert!(api.requests().is_empty());
    // A regular file is read up to 4 KiB, never to its end.
    env.write("token.txt", &"A".repeat(1 << 20));
    env.write(
        "openclaw.json",
        &format!(
            "{{channels: {{telegram: {{tokenFile: '{}', allowFrom: [42]}}}}}}",
            env.path("token.txt").display()
        ),
    );
    env.at(NOON + 60.0);
    env.run(&["notify", "hi"]).code(0);
    let path = &api.requests()[0].path;
    assert_eq!(path, &format!("/bot{}/sendMessage", "A".repeat(4096)));
}

#[test]
fn an_absurd_lock_timeout_is_a_usage_error() {
    let env = reporting_env();
    let run = env.run(&[
        "tick",
        "--print-only",
        "--lock-timeout",
        "18000000000000000000",
    ]);
    run.code(2).stderr_has("at most 3650d");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}
