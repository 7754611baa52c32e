//! The test harness: a `TestEnv` owns a temp folder with its own HOME and
//! OpenClaw home, writes configs and `/bin/sh` job scripts into it, and runs
//! the real binary with a clean environment (so no test touches the real
//! home, and no test can reach a real Telegram).

use std::fs;
use std::os::unix::fs::PermissionsExt;
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

/// What one run of the binary did.
#[derive(Debug)]
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
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p.display().to_string()
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
        let mut cmd = Command::new(BIN);
        cmd.env_clear();
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.args(args)
            .arg("--config-file")
            .arg(self.config_path())
            .arg("--state-file")
            .arg(self.state_path())
            .current_dir(self.root())
            .stdin(Stdio::null());
        cmd
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

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}
