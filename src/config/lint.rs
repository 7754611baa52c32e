//! Lint warnings (SPEC §2): what validates but cannot work, or works in a
//! way the user most likely did not mean — a `cwd` that does not exist, a
//! program that is not found or not executable, a command a kind never
//! uses, a write job whose approval gate is off in the config, a
//! verification step the queue can never run. (A `one_shot_read` with a
//! risk other than `read_only` is already a warning of the validation.)
//!
//! Unlike validation this looks at the file system (and `PATH`), so it runs
//! only where a person reads the answer: `validate-config` and `doctor`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{Config, Job, Kind, When};

/// The lint warnings of `config`, each with its job's path and id.
/// `path_env` is the `PATH` bare program names are looked up on.
pub fn lint(config: &Config, path_env: Option<&OsStr>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, job) in config.jobs.iter().enumerate() {
        let at = format!("jobs[{i}] (id {:?})", job.id);
        match std::fs::metadata(&job.cwd) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => out.push(format!(
                "{at}.cwd: {} is not a folder; its commands cannot run",
                job.cwd.display()
            )),
            Err(_) => out.push(format!(
                "{at}.cwd: {} does not exist; its commands cannot run",
                job.cwd.display()
            )),
        }
        let used: &[&str] = match job.kind {
            Kind::LongRunningRead => &["start", "status", "stop"],
            Kind::OneShotRead | Kind::OneShotWrite => &["run"],
        };
        for (name, argv) in &job.commands {
            let at = format!("{at}.commands.{name}");
            if !used.contains(&name.as_str()) {
                out.push(format!(
                    "{at}: a {} job never runs a {name:?} command",
                    job.kind.as_str()
                ));
                continue;
            }
            if let Some(program) = argv.first() {
                if let Err(why) = program_ok(program, &job.cwd, path_env) {
                    out.push(format!("{at}: {why}"));
                }
            }
        }
        lint_write_job(config, job, &at, &mut out);
    }
    out
}

fn lint_write_job(config: &Config, job: &Job, at: &str, out: &mut Vec<String>) {
    if job.kind != Kind::OneShotWrite {
        return;
    }
    if job.approval.is_some_and(|a| !a.required) {
        out.push(format!(
            "{at}.approval.required: false turns the approval gate off: every run may write without anyone's say-so"
        ));
    }
    for (k, after) in job.after.iter().enumerate() {
        if after.when != When::Success {
            continue;
        }
        if let Some(target) = config.job(&after.job_id) {
            if target.kind == Kind::LongRunningRead {
                out.push(format!(
                    "{at}.after[{k}].jobId: {:?} is a long_running_read; the queue runs only one_shot_read jobs, so this verification never runs",
                    after.job_id
                ));
            }
        }
    }
}

/// Whether `program` can be run from `cwd`: a path with a `/` is taken from
/// `cwd` (as the command is started there), a bare name from `PATH`.
fn program_ok(program: &str, cwd: &Path, path_env: Option<&OsStr>) -> Result<(), String> {
    if program.contains('/') {
        let path = cwd.join(program);
        return match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && executable(&m) => Ok(()),
            Ok(m) if m.is_file() => Err(format!("program {} is not executable", path.display())),
            Ok(_) => Err(format!("program {} is not a file", path.display())),
            Err(_) => Err(format!("program {} not found", path.display())),
        };
    }
    let dirs: Vec<PathBuf> = path_env
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    let found: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(program))
        .filter(|p| p.is_file())
        .collect();
    if found
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|m| executable(&m)))
    {
        return Ok(());
    }
    match found.first() {
        Some(p) => Err(format!("program {} is not executable", p.display())),
        None => Err(format!(
            "program {program:?} not found on PATH (cron and systemd have a short PATH: give the absolute path)"
        )),
    }
}

fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn each_lint_names_the_job_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(d.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(d.join("plain.sh"), "#!/bin/sh\n").unwrap();
        let text = serde_json::json!({
            "version": 1,
            "jobs": [
                {"id": "ok", "kind": "one_shot_read", "risk": "read_only",
                 "commands": {"run": ["./run.sh"]}},
                {"id": "nocwd", "kind": "one_shot_read", "risk": "read_only", "cwd": "missing",
                 "commands": {"run": ["sh", "-c", "true"]}},
                {"id": "bad", "kind": "one_shot_read", "risk": "read_only",
                 "commands": {"run": ["./plain.sh"], "stop": ["./run.sh"]}},
                {"id": "lost", "kind": "one_shot_read", "risk": "read_only",
                 "commands": {"run": ["no-such-program-here"]}},
                {"id": "watch", "kind": "long_running_read", "risk": "read_only",
                 "commands": {"start": ["./run.sh"], "status": ["./run.sh"]}},
                {"id": "w", "kind": "one_shot_write", "risk": "write_local",
                 "approval": {"required": false},
                 "commands": {"run": ["./run.sh"]},
                 "after": [{"jobId": "ok"}, {"jobId": "watch"}]},
            ]
        })
        .to_string();
        let config = super::super::parse(&text, &d.join("ops-jobs.json"), d, false).unwrap();
        let got = lint(&config, Some(OsStr::new("/usr/bin:/bin")));
        let missing = d.join("missing").display().to_string();
        let plain = d.join("./plain.sh").display().to_string();
        assert_eq!(
            got,
            [
                format!("jobs[1] (id \"nocwd\").cwd: {missing} does not exist; its commands cannot run"),
                format!("jobs[2] (id \"bad\").commands.run: program {plain} is not executable"),
                "jobs[2] (id \"bad\").commands.stop: a one_shot_read job never runs a \"stop\" command".to_string(),
                "jobs[3] (id \"lost\").commands.run: program \"no-such-program-here\" not found on PATH (cron and systemd have a short PATH: give the absolute path)".to_string(),
                "jobs[5] (id \"w\").approval.required: false turns the approval gate off: every run may write without anyone's say-so".to_string(),
                "jobs[5] (id \"w\").after[1].jobId: \"watch\" is a long_running_read; the queue runs only one_shot_read jobs, so this verification never runs".to_string(),
            ]
        );
    }
}
