//! The test harness: a `TestEnv` owns a temp folder with its own HOME and
//! OpenClaw home, writes configs and `/bin/sh` job scripts into it, and runs
//! the real binary with a clean environment (so no test touches the real
//! home, and no test can reach a real Telegram). The loopback server that
//! stands in for Telegram and webhooks is `testkit::Server`, shared with the
//! unit tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_ops-monitor");

/// Unix time whose UTC wall clock is 2026-11-21 12:00:00 (outside the
/// default quiet hours).
pub const NOON: f64 = 1_795_262_400.0;

pub struct TestEnv {
    pub dir: TempDir,
    env: Vec<(String, String)>,
}

/// What one run of the binary did. A test checks it (`code`, `stdout_is`,
/// `stdout_has`, …) or reads its fields; dropping it unchecked is a warning.
#[derive(Debug)]
#[must_use = "check the run's exit code or output"]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The whole of stdout is `expected`, byte for byte.
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        if self.stdout != expected {
            let line = self
                .stdout
                .split('\n')
                .zip(expected.split('\n'))
                .position(|(got, want)| got != want)
                .unwrap_or_else(|| {
                    self.stdout
                        .split('\n')
                        .count()
                        .min(expected.split('\n').count())
                });
            panic!(
                "stdout differs from line {}\n--- expected:\n{expected}\n--- stdout:\n{}\n--- stderr:\n{}",
                line + 1,
                self.stdout,
                self.stderr
            );
        }
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The `status` line of job `id`, its runs of spaces (the alignment)
    /// squeezed to one: `running daemon pid=42`.
    #[track_caller]
    pub fn status_line(&self, id: &str) -> String {
        self.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .find(|l| l.split(' ').nth(1) == Some(id) || l.split(' ').nth(2) == Some(id))
            .unwrap_or_else(|| panic!("no status line for {id}\n--- stdout:\n{}", self.stdout))
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("ops-monitor-test")
            .tempdir()
            .unwrap();
        let root = dir.path().to_path_buf();
        fs::create_dir_all(root.join("home")).unwrap();
        let env = vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("HOME".into(), root.join("home").display().to_string()),
            // The OpenClaw home is the temp folder itself: it is every job's
            // default cwd, so job scripts write their marker files there.
            ("OPENCLAW_HOME".into(), root.display().to_string()),
            ("TZ".into(), "UTC".into()),
            ("LANG".into(), "C.UTF-8".into()),
            // Never the real Telegram: a closed loopback port unless a test
            // starts its own server.
            (
                "OPS_MONITOR_TELEGRAM_API".into(),
                "http://127.0.0.1:9".into(),
            ),
            ("OPS_MONITOR_NOW".into(), NOON.to_string()),
        ];
        TestEnv { dir, env }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("ops-jobs.json")
    }

    pub fn state_path(&self) -> PathBuf {
        self.path("state/ops-monitor.json")
    }

    /// Set an environment variable for every later run.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Set the clock of later runs (Unix seconds).
    pub fn at(&mut self, now: f64) -> &mut Self {
        self.env("OPS_MONITOR_NOW", &now.to_string())
    }

    /// Write an executable `/bin/sh` script; returns its absolute path.
    pub fn script(&self, rel: &str, body: &str) -> String {
        testkit::script(&self.path(rel), body).display().to_string()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    pub fn config(&self, config: &Value) {
        fs::write(
            self.config_path(),
            serde_json::to_string_pretty(config).unwrap(),
        )
        .unwrap();
    }

    /// The state file as JSON (panics if it is missing or invalid).
    pub fn state(&self) -> Value {
        let text = fs::read_to_string(self.state_path()).expect("state file exists");
        serde_json::from_str(&text).expect("state file is valid JSON")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with_state(&self.state_path(), args)
    }

    /// [`TestEnv::command`] with another state file.
    pub fn command_with_state(&self, state: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear();
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.args(args)
            .arg("--config-file")
            .arg(self.config_path())
            .arg("--state-file")
            .arg(state)
            .current_dir(self.root())
            .stdin(Stdio::null());
        cmd
    }

    /// Run with another state file.
    pub fn run_with_state(&self, state: &Path, args: &[&str]) -> Run {
        Run::from(
            self.command_with_state(state, args)
                .output()
                .expect("binary runs"),
        )
    }

    /// The binary with only PATH, HOME and OPENCLAW_HOME set: no options,
    /// so the defaults and the environment decide the files.
    pub fn bare_command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.path("home"))
            .env("OPENCLAW_HOME", self.root())
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("binary runs"))
    }

    /// `tick --print-only`.
    pub fn tick(&self) -> Run {
        self.run(&["tick", "--print-only"])
    }
}

/// A config with the given jobs and quiet hours off.
pub fn config_with(jobs: Value) -> Value {
    serde_json::json!({
        "version": 1,
        "defaults": {"quietHours": {"start": "00:00", "end": "00:00"}},
        "jobs": jobs,
    })
}

/// A long_running_read job whose status is `status` (an absolute script path).
pub fn long_job(id: &str, status: &str, start: &str) -> Value {
    serde_json::json!({
        "id": id,
        "name": format!("Job {id}"),
        "kind": "long_running_read",
        "risk": "read_only",
        "enabled": true,
        "commands": {"start": [start], "status": [status]},
    })
}

/// The crate's one `/proc/PID/stat` reader, shared as a file: the crate's
/// modules are private.
#[path = "../../src/process/stat.rs"]
#[allow(dead_code)]
mod stat;

/// Whether a process with this pid exists (and is not a zombie). Reads
/// `/proc`: the tests that use it are Linux-only.
#[cfg(target_os = "linux")]
pub fn alive(pid: i32) -> bool {
    stat::Stat::of(i64::from(pid)).is_some_and(stat::Stat::can_act)
}

/// Every file under `dir`, recursively, sorted (none when it cannot be read).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
