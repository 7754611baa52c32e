//! Running from a timer (issue: a newcomer's first hour): every stderr line
//! of `tick` starts with the time when stderr is a log file, not on a
//! terminal or systemd's journal; the README's crontab line runs as cron
//! runs it; the systemd units and the launchd plist say what they must.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::util::{TestEnv, BIN, NOON};

/// `2026-11-21T12:00:00+00:00 `: NOON in UTC, as a log line starts.
const STAMP: &str = "2026-11-21T12:00:00+00:00 ";

/// A tick in a home without a config: it says so on stderr (once an hour).
fn tick_without_config(env: &TestEnv) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", env.path("home"))
        .env("TZ", "UTC")
        .env("OPS_MONITOR_NOW", NOON.to_string())
        .arg("tick")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn tick_stamps_every_stderr_line_in_a_log_file() {
    let env = TestEnv::new();
    // A config with two problems the tick warns about: several lines.
    env.write(
        "ops-jobs.json",
        r#"{"version": 1, "jobs": [], "defaults": {"colour": 1, "stallSecs": 5}}"#,
    );
    let run = env.run(&["tick", "--print-only"]);
    run.code(0);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.len() >= 2, "{}", run.stderr);
    for line in &lines {
        assert!(line.starts_with(STAMP), "{line:?}");
    }
    assert!(run.stderr.contains("colour") && run.stderr.contains("stallSecs"));
    // Only tick stamps: other commands print as they are.
    let run = env.run(&["logs", "nope"]);
    run.code(2);
    assert_eq!(run.stderr, "unknown job: nope\n");
}

#[test]
fn no_stamp_on_a_terminal() {
    let env = TestEnv::new();
    // util-linux script(1) runs the tick with a pseudo-terminal as stderr.
    let cmd = format!(
        "env -i HOME={} TZ=UTC OPS_MONITOR_NOW={NOON} {BIN} tick",
        env.path("home").display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1) runs (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("ops-monitor: no job config at "),
        "unstamped on a terminal: {text:?}"
    );
}

#[test]
fn no_stamp_in_the_journal() {
    let env = TestEnv::new();
    // stderr is a file whose device and inode are in $JOURNAL_STREAM, as
    // systemd sets it when stderr is the journal.
    let log = env.path("journal");
    let file = fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    let status = tick_without_config(&env)
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(file)
        .status()
        .unwrap();
    assert!(status.success());
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.starts_with("ops-monitor: no job config at "),
        "{text:?}"
    );
    // Another stream's numbers: stamped.
    let other = env.path("log");
    let status = tick_without_config(&env)
        .env("OPS_MONITOR_NOW", (NOON + 7200.0).to_string())
        .env("JOURNAL_STREAM", "1:2")
        .stderr(fs::File::create(&other).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let text = fs::read_to_string(&other).unwrap();
    assert!(
        text.starts_with("2026-11-21T14:00:00+00:00 ops-monitor: no job config at "),
        "{text:?}"
    );
}

/// The README's crontab line.
fn readme_cron_line() -> String {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```cron\n")
        .nth(1)
        .expect("a ```cron block in the README");
    block.lines().next().unwrap().to_string()
}

#[test]
fn the_readmes_crontab_line_runs_as_cron_runs_it() {
    let env = TestEnv::new();
    let line = readme_cron_line();
    let fields: Vec<&str> = line.splitn(6, ' ').collect();
    assert_eq!(
        fields[..5],
        ["*", "*", "*", "*", "*"],
        "every minute: {line}"
    );
    let command = fields[5];
    assert!(
        command.contains("$HOME/.cargo/bin/ops-monitor tick"),
        "{command}"
    );
    assert!(command.starts_with("PATH="), "it sets a PATH: {command}");
    // `cargo install --path .` puts the binary there.
    let home = env.path("home");
    fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    std::os::unix::fs::symlink(BIN, home.join(".cargo/bin/ops-monitor")).unwrap();
    // Cron: /bin/sh -c, HOME set, a PATH of its own, no terminal.
    let status = Command::new("/bin/sh")
        .args(["-c", command])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", "/usr/bin:/bin")
        .env("TZ", "UTC")
        .env("OPS_MONITOR_NOW", NOON.to_string())
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let log = fs::read_to_string(home.join("ops-monitor.log")).expect("the log the line names");
    assert!(
        log.starts_with(&format!(
            "{STAMP}ops-monitor: no job config at {}",
            home.display()
        )),
        "{log:?}"
    );
}

#[test]
fn the_systemd_units_tick_every_minute_persistently() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/systemd");
    let service = fs::read_to_string(format!("{dir}/ops-monitor.service")).unwrap();
    let timer = fs::read_to_string(format!("{dir}/ops-monitor.timer")).unwrap();
    let has = |text: &str, line: &str| text.lines().any(|l| l == line);
    assert!(has(&service, "Type=oneshot"));
    assert!(has(&service, "ExecStart=%h/.cargo/bin/ops-monitor tick"));
    assert!(service
        .lines()
        .any(|l| l.starts_with("Environment=PATH=%h/.openclaw/bin:")));
    assert!(has(&timer, "OnCalendar=*-*-* *:*:00"));
    assert!(has(&timer, "Persistent=true"));
    assert!(has(&timer, "Unit=ops-monitor.service"));
    assert!(has(&timer, "WantedBy=timers.target"));
    // systemd's own check, where it is installed, with the binary in place
    // of the one `cargo install` would put in a home.
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        return;
    };
    if !out.status.success() {
        return;
    }
    let env = TestEnv::new();
    let copy = env.path("units");
    fs::create_dir_all(&copy).unwrap();
    fs::write(
        copy.join("ops-monitor.service"),
        service.replace("%h/.cargo/bin/ops-monitor", BIN),
    )
    .unwrap();
    fs::write(copy.join("ops-monitor.timer"), &timer).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(copy.join("ops-monitor.timer"))
        .arg(copy.join("ops-monitor.service"))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_launchd_plist_ticks_every_minute_with_logs_and_a_path() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/launchd/ai.openclaw.ops-monitor.plist"
    );
    let plist = fs::read_to_string(path).unwrap();
    // The README's install command writes the home in.
    let installed = plist.replace("/Users/YOU", "/Users/ann");
    assert!(!installed.contains("YOU"));
    let compact: String = installed
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("<!--"))
        .collect();
    for pair in [
        "<key>Label</key><string>ai.openclaw.ops-monitor</string>",
        "<array><string>/Users/ann/.cargo/bin/ops-monitor</string><string>tick</string></array>",
        "<key>StartInterval</key><integer>60</integer>",
        "<key>StandardOutPath</key><string>/Users/ann/Library/Logs/ops-monitor.log</string>",
        "<key>StandardErrorPath</key><string>/Users/ann/Library/Logs/ops-monitor.log</string>",
        "<key>PATH</key><string>/Users/ann/.openclaw/bin:",
    ] {
        assert!(compact.contains(pair), "{pair} in\n{compact}");
    }
    // Well formed: every tag outside comments is closed in order.
    let mut stack: Vec<String> = Vec::new();
    let body = plist.split("<plist").nth(1).unwrap();
    let mut rest = format!("<plist{body}");
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').unwrap() + start;
        let tag = rest[start + 1..end].to_string();
        if let Some(stripped) = rest[start..].strip_prefix("<!--") {
            let close = stripped.find("-->").unwrap();
            rest = stripped[close + 3..].to_string();
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "</{name}> closes");
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
        rest = rest[end + 1..].to_string();
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}
