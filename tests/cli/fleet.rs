//! Beyond one host (SPEC §10) through the binary, against the real tools:
//! `promtool check metrics`, a real node_exporter reading the textfile, a
//! real Alertmanager taking the alerts — each run on 127.0.0.1 with a free
//! port and a temporary folder — and a loopback server for the heartbeat
//! and for Alertmanager posts whose requests the test reads itself.
//!
//! A tool that is missing skips its test with a message saying how to
//! install it — except under CI (`CI` set), where it fails: a skipped test
//! must never pass there. `bash .ci/run` installs them.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::util::{config_with, long_job, TestEnv, NOON};
use testkit::Server;

// ---------------------------------------------------------------- tools

/// The path of a tool, or `None` (skip) when it is missing on a developer
/// machine. Under CI a missing tool fails the test.
fn tool(names: &[&str], package: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from));
    for name in names {
        for dir in &dirs {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let msg = format!(
        "{} not found: install it with `sudo apt-get install --no-install-recommends {package}` (bash .ci/run does)",
        names.join(" / ")
    );
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set and {msg}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
    None
}

/// A server process this test started; stopped when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
    url: String,
}

impl Daemon {
    /// Start `program` (its output to a log in `dir`) and wait until
    /// `url + ready_path` answers 200.
    fn start(program: &Path, args: &[String], dir: &Path, url: String, ready_path: &str) -> Daemon {
        let log = dir.join(format!(
            "{}.log",
            program.file_name().unwrap().to_string_lossy()
        ));
        let out = fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the tool starts");
        let mut d = Daemon { child, log, url };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some((200, _)) = get(&format!("{}{ready_path}", d.url)) {
                return d;
            }
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("{} exited ({status}):\n{}", program.display(), d.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready:\n{}",
                program.display(),
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// GET a loopback URL: the status and the body, or `None` when nothing answers.
fn get(url: &str) -> Option<(u16, String)> {
    let r = client().get(url).send().ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().unwrap_or_default()))
}

/// Poll `f` every 25 ms until it gives something, at most `secs` seconds.
fn poll<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn real_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ------------------------------------------------ the text format, read back

/// One sample line: metric name, labels, and what follows them.
fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, String) {
    let name_end = line.find(['{', ' ']).expect("a sample has a value");
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        loop {
            // name="value", with \\ \" \n escapes in the value
            let (start, c) = chars.next().expect("labels end with }");
            if c == '}' {
                rest = &body[start + 1..];
                break;
            }
            if c == ',' {
                continue;
            }
            let eq = body[start..].find('=').unwrap() + start;
            let key = body[start..eq].to_string();
            // Past `="`.
            for (i, _) in chars.by_ref() {
                if i == eq + 1 {
                    break;
                }
            }
            let mut value = String::new();
            loop {
                let (_, c) = chars.next().expect("a label value ends with a quote");
                match c {
                    '"' => break,
                    '\\' => match chars.next().unwrap().1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            labels.insert(key, value);
        }
    }
    (name, labels, rest.trim().to_string())
}

/// `name{k="v",…}` with sorted labels, and the value.
fn samples(text: &str, prefix: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| {
            let (name, labels, rest) = parse_sample(l);
            let key = format!("{name}{labels:?}");
            let value: f64 = rest.parse().unwrap_or_else(|_| panic!("value of {l:?}"));
            (key, value)
        })
        .collect()
}

/// What node_exporter's textfile collector needs, beyond what promtool
/// checks: a HELP and a TYPE before each family's samples, its samples
/// together, no timestamps, a trailing newline.
fn assert_textfile_shape(text: &str) {
    assert!(text.ends_with('\n'), "a trailing newline:\n{text}");
    let mut seen: Vec<String> = Vec::new();
    let (mut help, mut kind) = (None::<String>, None::<String>);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            kind = Some(rest.split(' ').next().unwrap().to_string());
            assert!(rest.ends_with(" gauge"), "{line}");
            continue;
        }
        let (name, _, rest) = parse_sample(line);
        assert!(name.starts_with("ops_monitor_"), "{line}");
        assert_eq!(help.as_deref(), Some(name.as_str()), "HELP before {line}");
        assert_eq!(kind.as_deref(), Some(name.as_str()), "TYPE before {line}");
        assert_eq!(rest.split_whitespace().count(), 1, "no timestamp: {line}");
        if seen.last() != Some(&name) {
            assert!(!seen.contains(&name), "{name}'s samples are together");
            seen.push(name);
        }
    }
}

fn promtool_check(promtool: &Path, text: &str, shape: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool on {shape}: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------------------------ tick shapes

const STALLED_ID: &str = "scan \"photos\" \\ C:\\drive";
const NEWLINE_ID: &str = "two\nlines";

/// A host with a job in every state (and odd ids), a failing check, a
/// failed queue item and an undelivered report; two ticks, the second one
/// delivering for real (exit 3: no Telegram).
fn all_states() -> TestEnv {
    let env = TestEnv::new();
    let status = |name: &str, body: &str| env.script(&format!("{name}.sh"), body);
    let job = |id: &str, script: String| {
        let mut j = long_job(id, &script, &script);
        j["policy"] = json!({"stallSeconds": 60});
        j
    };
    let running = status(
        "running",
        r#"n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "{\"running\":true,\"completed\":false,\"progressKey\":\"$n\"}""#,
    );
    let stalled = status(
        "stalled",
        r#"echo '{"running":true,"completed":false,"pid":4242,"progressKey":"k"}'"#,
    );
    let completed = status("completed", r#"echo '{"running":false,"completed":true}'"#);
    let paused = status(
        "paused",
        r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
    );
    let unknown = status("unknown", "echo 'disk gone' >&2; exit 1");
    let check = env.script("check.sh", "echo 'DISK CRITICAL - / 97% used'; exit 2");
    let failing = env.script("failing.sh", "echo 'verify failed' >&2; exit 4");
    let mut cfg = config_with(json!([
        job("running", running),
        job(STALLED_ID, stalled),
        job("completed", completed),
        job("paused", paused.clone()),
        job("unknown", unknown),
        job("held", paused),
        job(NEWLINE_ID, completed_script(&env)),
        {"id": "disk", "kind": "one_shot_read", "risk": "read_only", "enabled": true,
         "commands": {"run": [check]}, "policy": {"everySeconds": 60}},
        {"id": "verify", "kind": "one_shot_read", "risk": "read_only",
         "commands": {"run": [failing]}},
        {"id": "apply", "kind": "one_shot_write", "risk": "write_local", "enabled": false,
         "commands": {"run": ["true"]}, "after": [{"jobId": "verify"}]},
    ]));
    cfg["defaults"]["metricsFile"] = json!("textfile/ops-monitor.prom");
    env.config(&cfg);
    // A hold given by `stop held` (SPEC §5.2), and a verification waiting.
    env.write(
        "state/ops-monitor.json",
        &json!({"version": 1,
            "jobs": {"held": {"hold": {"by": "ops", "at": NOON - 600.0}}},
            "queue": [{"id": "q1", "jobId": "verify", "createdAt": NOON - 600.0,
                       "notBefore": NOON - 600.0, "reason": "after apply (success)",
                       "status": "pending", "attempt": 0}]})
        .to_string(),
    );
    let mut env = env;
    env.at(NOON - 120.0);
    env.tick().code(0);
    env.at(NOON);
    env.run(&["tick"]).code(3);
    env
}

fn completed_script(env: &TestEnv) -> String {
    env.script(
        "completed2.sh",
        r#"echo '{"running":false,"completed":true}'"#,
    )
}

fn metrics_of(env: &TestEnv) -> String {
    let text = env.read("textfile/ops-monitor.prom");
    assert!(!text.is_empty(), "the tick wrote the metrics file");
    text
}

/// The state word each job has in the metrics (the one series with 1).
fn state_words(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("ops_monitor_job_state{") && l.ends_with(" 1"))
        .map(|l| {
            let (_, labels, _) = parse_sample(l);
            (labels["job_id"].clone(), labels["state"].clone())
        })
        .collect()
}

#[test]
fn every_state_has_its_word_and_every_series_its_zero() {
    let env = all_states();
    let text = metrics_of(&env);
    assert_textfile_shape(&text);
    let words = state_words(&text);
    let expected: BTreeMap<String, String> = [
        ("running", "running"),
        (STALLED_ID, "stalled"),
        ("completed", "completed"),
        ("paused", "paused"),
        ("unknown", "unknown"),
        ("held", "held"),
        (NEWLINE_ID, "completed"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(words, expected);
    let all = samples(&text, "ops_monitor_");
    let one = |k: &str| {
        *all.get(k)
            .unwrap_or_else(|| panic!("{k} missing from\n{text}"))
    };
    // Six state series per long job, exactly one of them 1.
    assert_eq!(
        all.keys()
            .filter(|k| k.starts_with("ops_monitor_job_state{"))
            .count(),
        7 * 6
    );
    assert_eq!(
        one(r#"ops_monitor_check_last_exit_code{"job_id": "disk"}"#),
        2.0
    );
    assert_eq!(
        one(r#"ops_monitor_check_last_exit_code{"job_id": "verify"}"#),
        4.0
    );
    assert_eq!(
        one(r#"ops_monitor_check_last_run_timestamp_seconds{"job_id": "verify"}"#),
        NOON - 120.0
    );
    assert_eq!(one(r#"ops_monitor_queue_items{"status": "failed"}"#), 1.0);
    assert_eq!(one(r#"ops_monitor_queue_items{"status": "pending"}"#), 0.0);
    assert_eq!(
        one(r#"ops_monitor_outbox_messages{"channel": "telegram"}"#),
        1.0
    );
    assert_eq!(one("ops_monitor_config_valid{}"), 1.0);
    assert_eq!(one("ops_monitor_tick_exit_code{}"), 3.0);
    assert_eq!(one("ops_monitor_tick_last_timestamp_seconds{}"), NOON);
    assert_eq!(
        one("ops_monitor_tick_last_success_timestamp_seconds{}"),
        NOON
    );
    assert_eq!(
        one(&format!(
            "ops_monitor_job_last_progress_change_timestamp_seconds{{\"job_id\": {STALLED_ID:?}}}"
        )),
        NOON - 120.0
    );
    assert_eq!(
        one(r#"ops_monitor_job_enabled{"job_id": "apply", "kind": "one_shot_write"}"#),
        0.0
    );
    // No temporary file is left where the collector reads.
    let names: Vec<String> = fs::read_dir(env.path("textfile"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["ops-monitor.prom".to_string()]);
}

#[test]
fn status_json_and_the_metrics_use_the_same_words() {
    let env = all_states();
    let words = state_words(&metrics_of(&env));
    let run = env.run(&["status", "--json"]);
    run.code(0);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let from_status: BTreeMap<String, String> = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["kind"] == "long_running_read")
        .map(|j| {
            (
                j["id"].as_str().unwrap().to_string(),
                j["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(from_status, words);
}

#[test]
fn dry_run_writes_no_metrics_and_print_only_does() {
    let mut env = TestEnv::new();
    let status = env.script("s.sh", r#"echo '{"running":true,"completed":false}'"#);
    env.config(&config_with(json!([long_job("j", &status, &status)])));
    env.run(&["tick", "--dry-run", "--metrics-file", "m/x.prom"])
        .code(0);
    assert!(!env.path("m").exists(), "a dry run writes nothing");
    env.at(NOON + 1.0);
    env.run(&["tick", "--print-only", "--metrics-file", "m/x.prom"])
        .code(0);
    let text = env.read("m/x.prom");
    assert!(
        text.contains("\nops_monitor_job_state{job_id=\"j\",state=\"running\"} 1\n"),
        "{text}"
    );
}

/// The metrics of a tick that found no jobs, and of ticks that found the
/// config invalid (not JSON; JSON that does not validate).
fn config_shapes() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();

    let env = TestEnv::new();
    env.config(&json!({"version": 1, "jobs": [],
        "defaults": {"metricsFile": "ops.prom"}}));
    env.tick().code(0);
    out.push(("an empty config", env.read("ops.prom")));

    let env = TestEnv::new();
    fs::write(env.config_path(), "{\"version\": 1, \"jobs\": [").unwrap();
    env.run(&["tick", "--print-only", "--metrics-file", "m/ops.prom"])
        .code(2);
    out.push(("a config that is not JSON", env.read("m/ops.prom")));

    let env = TestEnv::new();
    env.config(
        &json!({"version": 1, "defaults": {"metricsFile": "ops.prom"},
        "jobs": [{"id": "x", "kind": "nonsense"}]}),
    );
    env.tick().code(2);
    out.push(("a config that does not validate", env.read("ops.prom")));

    let (_, env) = last_good_env(None);
    out.push((
        "an invalid config with a last good copy",
        env.read("ops.prom"),
    ));
    out
}

/// A good tick, then the config breaks: the tick watches with the last
/// good copy (exit 2). Alertmanager at `am`, if given.
fn last_good_env(am: Option<&str>) -> (Value, TestEnv) {
    let mut env = TestEnv::new();
    let status = env.script(
        "s.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
    );
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    cfg["defaults"]["metricsFile"] = json!("ops.prom");
    cfg["defaults"]["notify"] = json!([{"type": "file", "path": "reports.jsonl"}]);
    if let Some(url) = am {
        cfg["defaults"]["notify"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "alertmanager", "url": url}));
    }
    env.config(&cfg);
    env.run(&["tick"]).code(0);
    fs::write(env.config_path(), "{\"version\": 1, \"jobs\": [").unwrap();
    env.at(NOON + 60.0);
    env.run(&["tick"]).code(2);
    (cfg, env)
}

#[test]
fn an_invalid_config_still_writes_the_metrics_it_can() {
    for (shape, text) in config_shapes() {
        assert_textfile_shape(&text);
        let all = samples(&text, "ops_monitor_");
        if shape == "an invalid config with a last good copy" {
            // SPEC §5 step 2: still watching, with the last good jobs.
            assert_eq!(all["ops_monitor_config_valid{}"], 0.0);
            assert_eq!(all["ops_monitor_tick_exit_code{}"], 2.0);
            assert_eq!(
                all["ops_monitor_tick_last_success_timestamp_seconds{}"],
                NOON
            );
            assert_eq!(
                all[r#"ops_monitor_job_state{"job_id": "j", "state": "paused"}"#],
                1.0
            );
            continue;
        }
        let valid = shape == "an empty config";
        assert_eq!(
            all["ops_monitor_config_valid{}"],
            if valid { 1.0 } else { 0.0 },
            "{shape}"
        );
        assert_eq!(
            all["ops_monitor_tick_exit_code{}"],
            if valid { 0.0 } else { 2.0 },
            "{shape}"
        );
        assert_eq!(
            all["ops_monitor_tick_last_success_timestamp_seconds{}"],
            if valid { NOON } else { 0.0 },
            "{shape}"
        );
        assert!(!text.contains("job_id"), "{shape}: no jobs known:\n{text}");
    }
}

#[test]
fn promtool_accepts_every_tick_shape() {
    let Some(promtool) = tool(&["promtool"], "prometheus") else {
        return;
    };
    let env = all_states();
    promtool_check(&promtool, &metrics_of(&env), "every job state");
    for (shape, text) in config_shapes() {
        promtool_check(&promtool, &text, shape);
    }
}

#[test]
fn node_exporter_serves_every_sample() {
    let Some(exporter) = tool(
        &["prometheus-node-exporter", "node_exporter"],
        "prometheus-node-exporter",
    ) else {
        return;
    };
    let env = all_states();
    let ours = samples(&metrics_of(&env), "ops_monitor_");
    let port = free_port();
    let daemon = Daemon::start(
        &exporter,
        &[
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--collector.disable-defaults".into(),
            "--collector.textfile".into(),
            format!(
                "--collector.textfile.directory={}",
                env.path("textfile").display()
            ),
        ],
        env.root(),
        format!("http://127.0.0.1:{port}"),
        "/metrics",
    );
    let (_, scraped) = get(&format!("{}/metrics", daemon.url)).unwrap();
    let theirs = samples(&scraped, "ops_monitor_");
    assert_eq!(theirs, ours, "node_exporter serves every sample as written");
    let errors = samples(&scraped, "node_textfile_scrape_error");
    assert_eq!(
        errors.values().copied().collect::<Vec<_>>(),
        vec![0.0],
        "{}",
        daemon.log_text()
    );
}

// ----------------------------------------------------------- Alertmanager

/// The YAML block the README marks as checked by this file.
fn readme_block(marker: &str) -> String {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tag = format!("<!-- checked by tests/cli/fleet.rs: {marker} -->\n```yaml\n");
    let start = readme
        .find(&tag)
        .unwrap_or_else(|| panic!("README has {tag:?}"))
        + tag.len();
    let len = readme[start..].find("```\n").unwrap();
    readme[start..start + len].to_string()
}

#[test]
fn readme_alert_rules_pass_promtool() {
    let Some(promtool) = tool(&["promtool"], "prometheus") else {
        return;
    };
    let env = TestEnv::new();
    let rules = env.write("rules.yml", &readme_block("prometheus rules"));
    let out = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS: 6 rules found"));
}

/// The alerts Alertmanager has, by (host, job_id).
fn active_alerts(am: &str) -> BTreeMap<(String, String), Value> {
    let (status, body) = get(&format!("{am}/api/v2/alerts")).unwrap();
    assert_eq!(status, 200, "{body}");
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    list.into_iter()
        .map(|a| {
            let l = &a["labels"];
            let key = (
                l["host"].as_str().unwrap_or("").to_string(),
                l["job_id"].as_str().unwrap_or("").to_string(),
            );
            (key, a)
        })
        .collect()
}

/// Every text Alertmanager sent to the Telegram Bot API stand-in.
fn telegram_texts(telegram: &Server) -> String {
    telegram
        .requests()
        .iter()
        .map(|r| {
            assert!(r.path.ends_with("/sendMessage"), "{}", r.path);
            serde_json::from_str::<Value>(&r.body)
                .ok()
                .and_then(|v| v["text"].as_str().map(str::to_string))
                .unwrap_or_else(|| r.body.clone())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One host of a fleet: a long job `id` whose status reads `progress` (a
/// file), reporting to a file and to the Alertmanager at `am` as `host`.
fn fleet_host(am: &str, host: &str, id: &str, running: bool) -> TestEnv {
    let env = TestEnv::new();
    env.write("progress", "k1");
    let status = env.script(
        "status.sh",
        &format!(
            r#"echo "{{\"running\":{running},\"completed\":false,\"stopReason\":\"rate_limited\",\"message\":\"scanning /photos\",\"progressKey\":\"$(cat progress)\"}}""#
        ),
    );
    let mut job = long_job(id, &status, &status);
    job["policy"] = json!({"stallSeconds": 60});
    let mut cfg = config_with(json!([job]));
    cfg["defaults"]["notify"] = json!([
        {"type": "file", "path": "reports.jsonl"},
        {"type": "alertmanager", "url": am, "labels": {"team": "ops", "host": host},
         "headers": {"X-Scope-OrgID": "SENTINEL-HEADER"}},
    ]);
    env.config(&cfg);
    env
}

/// The README's recipe, end to end: two hosts post to one real
/// Alertmanager running the README's `alertmanager.yml`, which sends one
/// Telegram stream (to a loopback Bot API) — firing, then resolved.
#[test]
fn two_hosts_one_alertmanager_one_telegram_stream() {
    let Some(am_bin) = tool(
        &["prometheus-alertmanager", "alertmanager"],
        "prometheus-alertmanager",
    ) else {
        return;
    };
    let telegram = Server::start();
    // What the Bot API answers a sendMessage: Alertmanager reads the chat.
    telegram.answer(
        200,
        r#"{"ok":true,"result":{"message_id":1,"date":0,"chat":{"id":-1001234567890,"type":"supergroup"},"text":"x"}}"#,
    );
    let dir = TestEnv::new();
    // The README's file, with the Bot API on loopback and no waiting.
    let yml = readme_block("alertmanager.yml")
        .replace("group_wait: 30s", "group_wait: 0s")
        .replace("group_interval: 5m", "group_interval: 1s")
        .replace(
            "      - bot_token:",
            &format!("      - api_url: {}\n        bot_token:", telegram.url),
        );
    assert!(yml.contains("api_url"), "{yml}");
    dir.write("am/alertmanager.yml", &yml);
    let port = free_port();
    let am = Daemon::start(
        &am_bin,
        &[
            format!(
                "--config.file={}",
                dir.path("am/alertmanager.yml").display()
            ),
            format!("--storage.path={}", dir.path("am/data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".into(),
        ],
        dir.root(),
        format!("http://127.0.0.1:{port}"),
        "/-/ready",
    );
    let mut mini = fleet_host(&am.url, "mini-1", "scan", true);
    let mut vps = fleet_host(&am.url, "vps", "sync", false);

    // Alertmanager works in real time: a firing alert ends in the future,
    // a resolved one at or before now. The ticks' clock follows it.
    let start = real_now();
    mini.at(start - 120.0);
    mini.run(&["tick"]).code(0);
    assert!(active_alerts(&am.url).is_empty(), "nothing is wrong yet");
    mini.at(start);
    vps.at(start);
    let runs = [mini.run(&["tick"]), vps.run(&["tick"])];
    for r in &runs {
        assert_eq!(r.code, 0, "{r:?}\n{}", am.log_text());
    }

    let alerts = active_alerts(&am.url);
    let keys: Vec<_> = alerts.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![
            ("mini-1".to_string(), "scan".to_string()),
            ("vps".to_string(), "sync".to_string())
        ],
        "{}",
        am.log_text()
    );
    let scan = &alerts[&keys[0]];
    assert_eq!(
        scan["labels"],
        json!({"alertname": "OpsJobStalled", "host": "mini-1", "job_id": "scan",
               "severity": "critical", "team": "ops"})
    );
    assert_eq!(scan["status"]["state"], "active");
    assert_eq!(
        scan["annotations"]["summary"],
        "Job scan (scan) is stalled: no progress for 2m"
    );
    assert_eq!(alerts[&keys[1]]["labels"]["alertname"], "OpsJobPaused");
    let texts = poll(10, "both hosts in the Telegram stream", || {
        let t = telegram_texts(&telegram);
        (t.contains("🚨 mini-1: Job scan (scan) is stalled: no progress for 2m")
            && t.contains("🚨 vps: Job sync (sync) is paused (stopReason=rate_limited)"))
        .then_some(t)
    });
    assert!(!texts.contains("RESOLVED"), "{texts}");

    // The scan moves again: its alert is posted resolved (endsAt = now).
    mini.write("progress", "k2");
    mini.at(real_now());
    mini.run(&["tick"]).code(0);
    poll(10, "the stalled alert to leave the active list", || {
        let now = active_alerts(&am.url);
        (!now.contains_key(&keys[0]) && now.contains_key(&keys[1])).then_some(())
    });
    poll(10, "the resolved message", || {
        telegram_texts(&telegram)
            .contains("✅ RESOLVED mini-1: Job scan (scan) is stalled")
            .then_some(())
    });

    // Reports went to the file channel as usual; the header value never
    // shows in any output or file.
    assert!(mini.read("reports.jsonl").contains("scan"));
    for r in &runs {
        assert!(!r.stdout.contains("SENTINEL") && !r.stderr.contains("SENTINEL"));
    }
    for env in [&mini, &vps] {
        assert!(!fs::read_to_string(env.state_path())
            .unwrap()
            .contains("SENTINEL"));
    }
}

/// A host whose job is paused, with an Alertmanager at `url` (and a file
/// channel beside it).
fn am_env(urls: &[&str]) -> TestEnv {
    let env = TestEnv::new();
    let status = env.script(
        "status.sh",
        r#"echo '{"running":false,"completed":false,"stopReason":"rate_limited"}'"#,
    );
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    let mut notify = vec![json!({"type": "file", "path": "reports.jsonl"})];
    for url in urls {
        notify.push(json!({"type": "alertmanager", "url": url,
            "headers": {"Authorization": "Bearer SENTINEL-HEADER"}}));
    }
    cfg["defaults"]["notify"] = Value::Array(notify);
    env.config(&cfg);
    env
}

fn posted(server: &Server) -> Vec<Vec<Value>> {
    server
        .requests()
        .iter()
        .map(|r| {
            assert_eq!(
                (r.method.as_str(), r.path.as_str()),
                ("POST", "/api/v2/alerts")
            );
            assert_eq!(r.header("content-type"), Some("application/json"));
            serde_json::from_str(&r.body).unwrap()
        })
        .collect()
}

fn alertnames(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_failed_post_exits_3_is_not_queued_and_fires_delivery_failing() {
    let am = Server::start();
    let dead = "http://127.0.0.1:9";
    let mut env = am_env(&[dead, &am.url]);
    let run = env.run(&["tick"]);
    run.code(3)
        .stderr_has("Alertmanager http://127.0.0.1:9/api/v2/alerts: 1 alert(s) not posted");
    // The other channels were not held back, and nothing was queued.
    assert!(env.read("reports.jsonl").contains("rate_limited"));
    assert!(env.state().get("outbox").is_none());
    let first = posted(&am);
    assert_eq!(first.len(), 1);
    assert_eq!(alertnames(&first[0]), vec!["OpsJobPaused"]);
    assert_eq!(
        am.requests()[0].header("authorization"),
        Some("Bearer SENTINEL-HEADER")
    );

    env.at(NOON + 60.0);
    env.run(&["tick"]).code(3);
    let second = posted(&am);
    assert_eq!(second.len(), 2, "the current alerts are posted again");
    assert_eq!(
        alertnames(&second[1]),
        vec!["OpsJobPaused", "OpsDeliveryFailing"]
    );
    assert_eq!(
        second[1][1]["labels"]["channel"],
        "alertmanager:http://127.0.0.1:9/"
    );
    assert_eq!(second[1][0]["startsAt"], second[0][0]["startsAt"]);

    // The dead Alertmanager leaves the config: its alert is resolved.
    let mut cfg: Value =
        serde_json::from_str(&fs::read_to_string(env.config_path()).unwrap()).unwrap();
    cfg["defaults"]["notify"].as_array_mut().unwrap().remove(1);
    env.config(&cfg);
    env.at(NOON + 120.0);
    env.run(&["tick"]).code(0);
    let third = posted(&am);
    let last = &third[2];
    assert_eq!(alertnames(last), vec!["OpsJobPaused", "OpsDeliveryFailing"]);
    assert_eq!(
        last[1]["endsAt"], "2026-11-21T12:02:00.000Z",
        "resolved now"
    );
    let text = format!("{:?}", env.state());
    assert!(!text.contains("SENTINEL"));
}

#[test]
fn alertmanager_posts_share_the_ticks_delivery_budget() {
    let am = Server::start();
    // Accepts, reads, never answers: each report delivery waits out its
    // whole deadline.
    let silent = testkit::RawServer::new(|_, stream: &mut std::net::TcpStream| {
        std::thread::sleep(Duration::from_secs(30));
        let _ = stream.flush();
    });
    let mut env = am_env(&[&am.url]);
    let mut cfg: Value =
        serde_json::from_str(&fs::read_to_string(env.config_path()).unwrap()).unwrap();
    let notify = cfg["defaults"]["notify"].as_array_mut().unwrap();
    notify.insert(
        0,
        json!({"type": "webhook", "url": format!("{}/a", silent.url)}),
    );
    notify.insert(
        1,
        json!({"type": "webhook", "url": format!("{}/b", silent.url)}),
    );
    env.config(&cfg);
    // A 1 s deadline: a 1.5 s budget, spent by the two silent webhooks.
    env.env("OPS_MONITOR_HTTP_TIMEOUT", "1");
    let run = env.run(&["tick"]);
    run.code(3)
        .stderr_has(&format!("Alertmanager {}/api/v2/alerts: ", am.url))
        .stderr_has(" alert(s) not posted: the delivery budget of this tick (1.5 s) is used up");
    assert!(am.requests().is_empty(), "nothing posted past the budget");
    // Nothing about it is queued, and it is not an Alertmanager failure;
    // the next tick, with budget to spare, posts the current alerts.
    assert!(env.state()["alertmanager"]
        .get("failing")
        .is_none_or(|f| f.as_object().is_some_and(|f| f.is_empty())));
    let notify = cfg["defaults"]["notify"].as_array_mut().unwrap();
    notify.drain(0..2);
    env.config(&cfg);
    env.at(NOON + 60.0);
    env.run(&["tick"]).code(0);
    let posts = posted(&am);
    assert_eq!(posts.len(), 1);
    // The job's alert, and the two webhooks' reports still waiting in the
    // outbox.
    assert_eq!(
        alertnames(&posts[0]),
        vec!["OpsJobPaused", "OpsDeliveryFailing", "OpsDeliveryFailing"]
    );
}

#[test]
fn silences_and_quiet_hours_never_hold_back_the_alerts() {
    let am = Server::start();
    let mut env = am_env(&[&am.url]);
    let mut cfg: Value =
        serde_json::from_str(&fs::read_to_string(env.config_path()).unwrap()).unwrap();
    cfg["defaults"]["quietHours"] = json!({"start": "00:00", "end": "23:59"});
    env.config(&cfg);
    env.run(&["silence", "--all", "--for", "1h"]).code(0);
    env.run(&["tick"]).code(0);
    assert_eq!(
        env.read("reports.jsonl"),
        "",
        "the silence holds the report"
    );
    env.at(NOON + 60.0);
    env.run(&["tick"]).code(0);
    let posts = posted(&am);
    assert_eq!(posts.len(), 2);
    for p in &posts {
        assert_eq!(alertnames(p), vec!["OpsJobPaused"]);
        assert_eq!(p[0]["labels"]["job_id"], "j");
        assert_eq!(p[0]["startsAt"], "2026-11-21T12:00:00.000Z");
    }
    assert_eq!(
        posts[1][0]["endsAt"], "2026-11-21T12:05:00.000Z",
        "now + 4 × 60 s"
    );
}

#[test]
fn print_only_shows_the_post_and_dry_run_posts_nothing() {
    let am = Server::start();
    let env = am_env(&[&am.url]);
    for args in [&["tick", "--print-only"][..], &["tick", "--dry-run"][..]] {
        let run = env.run(args);
        run.code(0).stdout_has(&format!(
            "Alertmanager {}/api/v2/alerts: would post 1 alert(s):\n[\n  {{\n    \"annotations\": {{",
            am.url
        ));
        assert!(run.stdout.contains("\"alertname\": \"OpsJobPaused\""));
        assert!(!run.stdout.contains("SENTINEL") && !run.stderr.contains("SENTINEL"));
    }
    assert!(am.requests().is_empty());
}

#[test]
fn an_invalid_config_fires_ops_config_invalid_where_it_still_points() {
    let am = Server::start();
    let env = TestEnv::new();
    env.config(&json!({"version": 1,
        "defaults": {"notify": [{"type": "alertmanager", "url": am.url}]},
        "jobs": [{"id": "x", "kind": "nonsense"}]}));
    env.run(&["tick"]).code(2);
    let posts = posted(&am);
    // The report went nowhere else: the broken file names no other channel.
    assert_eq!(alertnames(&posts[0]), vec!["OpsConfigInvalid"]);
    assert!(env.state().get("outbox").is_none());
    assert!(posts[0][0]["annotations"]["description"]
        .as_str()
        .unwrap()
        .contains("kind"));
}

#[test]
fn with_the_last_good_config_the_jobs_alerts_go_on() {
    let am = Server::start();
    let (_, env) = last_good_env(Some(&am.url));
    let posts = posted(&am);
    assert_eq!(alertnames(&posts[0]), vec!["OpsJobPaused"]);
    assert_eq!(
        alertnames(&posts[1]),
        vec!["OpsConfigInvalid", "OpsJobPaused"]
    );
    assert_eq!(
        posts[1][0]["annotations"]["summary"],
        "ops-jobs config is invalid; still watching with the last good config"
    );
    assert_eq!(posts[1][1]["startsAt"], posts[0][0]["startsAt"]);
    assert!(env
        .read("reports.jsonl")
        .contains("ops-jobs config invalid"));
}

#[test]
fn schema_rejects_an_alertmanager_channel_without_url_or_with_bad_labels() {
    let env = TestEnv::new();
    env.config(&json!({"version": 1,
        "defaults": {"notify": [{"type": "alertmanager", "labels": {"bad-name": "x", "ok": 1}}]},
        "jobs": []}));
    let run = env.run(&["validate-config"]);
    run.code(2)
        .stderr_has("defaults.notify[0].url: is required for an alertmanager channel")
        .stderr_has("defaults.notify[0].labels.ok: must be a string")
        .stderr_has("defaults.notify[0].labels: has a label name that Prometheus does not allow");
}

// --------------------------------------------------------------- heartbeat

fn heartbeat_env(server: &Server, status_json: &str) -> TestEnv {
    let env = TestEnv::new();
    let status = env.script("status.sh", &format!("echo '{status_json}'"));
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    cfg["defaults"]["heartbeatUrl"] = json!(format!("{}/ping/SENTINEL-uuid", server.url));
    env.config(&cfg);
    env
}

#[test]
fn heartbeat_pings_on_success_and_fail_with_a_summary() {
    let server = Server::start();
    let env = heartbeat_env(&server, r#"{"running":true,"completed":false}"#);
    let run = env.tick();
    run.code(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "--print-only ticks ping too");
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/ping/SENTINEL-uuid")
    );
    assert!(
        reqs[0].body.starts_with("ops-monitor tick on ")
            && reqs[0]
                .body
                .ends_with(": ok, exit 0, 1 long job(s) watched, 0 problem(s)"),
        "{}",
        reqs[0].body
    );

    let env = heartbeat_env(
        &server,
        r#"{"running":false,"completed":false,"stopReason":"rate_limited"}"#,
    );
    let run = env.tick();
    run.code(0);
    let reqs = server.requests();
    assert_eq!(reqs[1].path, "/ping/SENTINEL-uuid/fail");
    let body = &reqs[1].body;
    assert!(
        body.contains(": FAIL, exit 0, 1 long job(s) watched, 1 problem(s)\nOpsJobPaused j: Job j (j) is paused (stopReason=rate_limited)"),
        "{body}"
    );
    assert!(
        body.ends_with(" is paused (stopReason=rate_limited)"),
        "{body}"
    );
    assert!(!run.stdout.contains("SENTINEL") && !run.stderr.contains("SENTINEL"));
    assert!(!fs::read_to_string(env.state_path())
        .unwrap()
        .contains("SENTINEL"));
}

#[test]
fn heartbeat_fails_when_the_tick_fails() {
    let server = Server::start();
    let env = heartbeat_env(&server, r#"{"running":true,"completed":false}"#);
    // A real delivery with no Telegram: exit 3, and the ping says so.
    env.run(&["tick"]).code(3);
    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/ping/SENTINEL-uuid/fail");
    assert!(reqs[0].body.contains(": FAIL, exit 3,"), "{}", reqs[0].body);
    assert!(reqs[0].body.contains("OpsDeliveryFailing telegram:"));
}

#[test]
fn dry_run_never_pings() {
    let server = Server::start();
    let env = heartbeat_env(&server, r#"{"running":true,"completed":false}"#);
    env.run(&["tick", "--dry-run"]).code(0);
    assert!(server.requests().is_empty());
}

#[test]
fn a_failed_ping_is_printed_never_fatal_and_never_shows_the_url() {
    let server = Server::start();
    server.then(500, "boom").then(302, "");
    let mut env = heartbeat_env(&server, r#"{"running":true,"completed":false}"#);
    let run = env.tick();
    run.code(0)
        .stderr_has("heartbeat: ping failed (not fatal): HTTP 500 Internal Server Error: boom");
    assert!(!run.stderr.contains("SENTINEL"), "{}", run.stderr);
    env.at(NOON + 60.0);
    let run = env.tick();
    run.code(0)
        .stderr_has("heartbeat: ping failed (not fatal): HTTP 302 Found: redirect not followed");
    assert_eq!(server.requests().len(), 2, "the redirect was not followed");
    env.env("OPS_MONITOR_NOW", &(NOON + 120.0).to_string());
    let mut cfg: Value =
        serde_json::from_str(&fs::read_to_string(env.config_path()).unwrap()).unwrap();
    cfg["defaults"]["heartbeatUrl"] = json!("http://127.0.0.1:9/ping/SENTINEL-uuid");
    env.config(&cfg);
    let run = env.tick();
    run.code(0)
        .stderr_has("heartbeat: ping failed (not fatal): ");
    assert!(!run.stderr.contains("SENTINEL"), "{}", run.stderr);
}

#[test]
fn doctor_lists_alertmanager_metrics_and_heartbeat_without_their_secrets() {
    let am = Server::start();
    let ping = Server::start();
    let env = TestEnv::new();
    let status = env.script("status.sh", r#"echo '{"running":true}'"#);
    let mut cfg = config_with(json!([long_job("j", &status, &status)]));
    cfg["defaults"]["notify"] = json!([
        {"type": "file", "path": "reports.jsonl"},
        {"type": "alertmanager", "url": am.url, "labels": {"team": "ops"},
         "headers": {"Authorization": "Bearer SENTINEL-HEADER"}},
    ]);
    cfg["defaults"]["metricsFile"] = json!("textfile/ops.prom");
    cfg["defaults"]["heartbeatUrl"] = json!(format!("{}/ping/SENTINEL-CHECK-ID", ping.url));
    env.config(&cfg);
    let run = env.run(&["doctor"]);
    run.code(0)
        .stdout_has(&format!(
            "alertmanager 1 {}/api/v2/alerts — the current alerts are posted every tick",
            am.url
        ))
        .stdout_has("  labels      team=ops")
        .stdout_has("  headers     Authorization (values not shown)")
        .stdout_has(
            "/textfile/ops.prom — OK: written after every tick (its folder will be created in ",
        )
        .stdout_has(&format!(
            "heartbeat     {} (the rest of the URL is a secret) — pinged after every tick",
            ping.url
        ));
    assert!(!run.stdout.contains("SENTINEL"), "{}", run.stdout);
    assert!(
        am.requests().is_empty() && ping.requests().is_empty(),
        "doctor posts nothing"
    );

    // A metrics file under a regular file cannot be written: exit 1.
    env.write("blocker", "");
    cfg["defaults"]["metricsFile"] = json!("blocker/ops.prom");
    env.config(&cfg);
    env.run(&["doctor"])
        .code(1)
        .stdout_has("/blocker/ops.prom — CANNOT WRITE: ")
        .stdout_has("blocker is not a folder")
        .stdout_has("the metrics file ");
}
