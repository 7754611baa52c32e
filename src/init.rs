//! `ops-monitor init [--force]` (SPEC §9, §11 "`init`"): a starter config
//! at the default place — checks of this host that are on at once, and a
//! long job to copy that is off — then the next steps.
//!
//! It writes `ops-jobs.json` (the `$schema`, the defaults, `check disk` of
//! `/` and of the OpenClaw home, `check memory`, `check load`, each every
//! 5 minutes, and a disabled `example` long job), the schema beside it (so
//! an editor checks the file as it is typed), and the example's scripts
//! under `<home>/net/jobs/example/`. The checks name the running binary by
//! its absolute path: cron, systemd and launchd run with a short `PATH`.
//!
//! Never over an existing file: an existing config refuses the whole init
//! (exit 2) before anything is written; so does any other file of the set
//! whose content differs (an identical one is left as it is). `--force`
//! first renames each file it replaces to `NAME.bak` (`NAME.bak.1`, … when
//! that is taken). It never reads the config.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::cli::Global;
use crate::exit::{fail, Code};
use crate::out::outln;
use crate::paths::Files;

/// How often the starter checks run.
const CHECK_EVERY_SECONDS: u32 = 300;

/// One file of the set.
struct Planned {
    path: PathBuf,
    text: String,
    mode: u32,
    /// The config itself: its existence alone refuses an init.
    is_config: bool,
}

/// One of the starter checks: id, name, the `check` arguments, enabled.
struct StarterCheck {
    id: &'static str,
    name: String,
    args: Vec<String>,
    enabled: bool,
}

pub fn run(g: &Global, force: bool) -> Result<Code> {
    let files = Files::resolve(g.config_file.as_deref(), g.state_file.as_deref());
    // Not canonicalized: a symbolic link such as Homebrew's
    // /opt/homebrew/bin/ops-monitor outlives an upgrade, the versioned path
    // it points to does not (Linux resolves links in current_exe anyway).
    let exe = std::env::current_exe()
        .and_then(std::path::absolute)
        .context("cannot find the path of the running binary")?;
    let exe = exe
        .to_str()
        .ok_or_else(|| fail(Code::Usage, "the binary's path is not UTF-8"))?
        .to_string();
    let example_dir = files.home.join("net").join("jobs").join("example");
    let checks = starter_checks(&files.home);
    let plan = plan(&files.config, &example_dir, &exe, &checks);

    let conflicts: Vec<&Planned> = plan.iter().filter(|p| conflicts(p)).collect();
    if !conflicts.is_empty() && !force {
        let mut text = String::from("init: not overwriting what is there:");
        for p in &conflicts {
            let _ = write!(text, "\n  {}", p.path.display());
        }
        text.push_str("\n(--force replaces them, keeping each as a .bak)");
        return Err(fail(Code::Usage, text));
    }
    let mut backups = Vec::new();
    for p in &plan {
        if conflicts.iter().any(|c| c.path == p.path) {
            let bak = backup_path(&p.path);
            fs::rename(&p.path, &bak).with_context(|| {
                format!(
                    "cannot move {} aside to {}",
                    p.path.display(),
                    bak.display()
                )
            })?;
            backups.push(bak);
        }
        if same_content(p) {
            continue;
        }
        write_new(&p.path, &p.text, p.mode)
            .with_context(|| format!("cannot write {}", p.path.display()))?;
    }

    outln!("Wrote {}", files.config.display());
    for c in &checks {
        let state = if c.enabled { "on" } else { "off" };
        outln!("  {:<18} {} ({state})", c.id, c.name);
    }
    outln!(
        "  {:<18} Example long job (off): its scripts are in {}",
        "example",
        example_dir.display()
    );
    outln!(
        "  each check runs every {CHECK_EVERY_SECONDS} s; change a threshold in its --warn/--crit"
    );
    if let Some(c) = checks.iter().find(|c| !c.enabled) {
        outln!(
            "  {} is off: {} is on the same file system as /",
            c.id,
            files.home.display()
        );
    }
    for b in &backups {
        outln!("Kept the old file as {}", b.display());
    }
    if in_build_folder(&exe) {
        outln!(
            "Note: the checks name {exe}, a build folder; after `cargo install --path .` run `ops-monitor init --force` so they name the installed binary."
        );
    }
    outln!();
    next_steps(&files, &exe);
    Ok(Code::Ok)
}

/// The checks of this host; the home's disk is off when it is the same
/// file system as `/` (the same alert twice helps nobody).
fn starter_checks(home: &Path) -> Vec<StarterCheck> {
    let home_text = home.display().to_string();
    let disk = |path: &str| -> Vec<String> {
        ["disk", "--path", path, "--warn", "80", "--crit", "95"]
            .map(String::from)
            .to_vec()
    };
    vec![
        StarterCheck {
            id: "disk-root",
            name: "Disk /".into(),
            args: disk("/"),
            enabled: true,
        },
        StarterCheck {
            id: "disk-openclaw",
            name: format!("Disk {home_text}"),
            args: disk(&home_text),
            enabled: !same_file_system(Path::new("/"), home),
        },
        StarterCheck {
            id: "memory",
            name: "Memory".into(),
            args: ["memory", "--warn", "75", "--crit", "90"]
                .map(String::from)
                .to_vec(),
            enabled: true,
        },
        StarterCheck {
            id: "load",
            name: "Load per CPU core".into(),
            args: ["load", "--warn", "0.7", "--crit", "0.9"]
                .map(String::from)
                .to_vec(),
            enabled: true,
        },
    ]
}

/// Whether two paths are on one file system; a path that does not exist
/// yet counts by its nearest existing folder.
fn same_file_system(a: &Path, b: &Path) -> bool {
    let dev = |p: &Path| {
        p.ancestors()
            .find_map(|p| fs::metadata(p).ok())
            .map(|m| m.dev())
    };
    matches!((dev(a), dev(b)), (Some(x), Some(y)) if x == y)
}

fn plan(config: &Path, example_dir: &Path, exe: &str, checks: &[StarterCheck]) -> Vec<Planned> {
    let dir = config.parent().unwrap_or(Path::new("."));
    let mut plan = vec![
        Planned {
            path: config.to_path_buf(),
            text: config_text(exe, example_dir, checks),
            // It may later hold a webhook's or Alertmanager's header secrets.
            mode: 0o600,
            is_config: true,
        },
        Planned {
            path: dir.join("ops-jobs.schema.json"),
            text: format!("{}\n", crate::config::SCHEMA.trim_end()),
            mode: 0o644,
            is_config: false,
        },
    ];
    for (name, text) in EXAMPLE_SCRIPTS {
        plan.push(Planned {
            path: example_dir.join(name),
            text: text.to_string(),
            mode: 0o755,
            is_config: false,
        });
    }
    plan
}

/// A JSON string.
fn js(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The starter `ops-jobs.json`, laid out for a person to edit.
fn config_text(exe: &str, example_dir: &Path, checks: &[StarterCheck]) -> String {
    let mut jobs = Vec::new();
    for c in checks {
        let mut argv = vec![js(exe), js("check")];
        argv.extend(c.args.iter().map(|a| js(a)));
        jobs.push(format!(
            r#"    {{
      "id": {id},
      "name": {name},
      "kind": "one_shot_read",
      "risk": "read_only",
      "enabled": {enabled},
      "commands": {{"run": [{argv}]}},
      "policy": {{"everySeconds": {CHECK_EVERY_SECONDS}}}
    }}"#,
            id = js(c.id),
            name = js(&c.name),
            enabled = c.enabled,
            argv = argv.join(", "),
        ));
    }
    jobs.push(format!(
        r#"    {{
      "id": "example",
      "name": "Example long job",
      "kind": "long_running_read",
      "risk": "read_only",
      "enabled": false,
      "cwd": {cwd},
      "commands": {{
        "start": ["/bin/sh", "start.sh"],
        "status": ["/bin/sh", "status.sh"],
        "stop": ["/bin/sh", "stop.sh"]
      }},
      "policy": {{"reportEverySeconds": 600, "stallSeconds": 300, "autoResume": false}}
    }}"#,
        cwd = js(&example_dir.display().to_string()),
    ));
    format!(
        r#"{{
  "$schema": "./ops-jobs.schema.json",
  "version": 1,
  "defaults": {{
    "language": "en",
    "quietHours": {{"start": "23:00", "end": "08:00"}},
    "reportEverySeconds": 1800,
    "stallSeconds": 3600,
    "autoResume": false,
    "autoResumeBackoffSeconds": 900
  }},
  "jobs": [
{jobs}
  ]
}}
"#,
        jobs = jobs.join(",\n")
    )
}

/// Whether writing this file would replace something: the config whenever
/// anything is at its path; another file when its content differs.
fn conflicts(p: &Planned) -> bool {
    match fs::symlink_metadata(&p.path) {
        Err(_) => false,
        Ok(_) if p.is_config => true,
        Ok(_) => !same_content(p),
    }
}

fn same_content(p: &Planned) -> bool {
    fs::read(&p.path).is_ok_and(|old| old == p.text.as_bytes())
}

/// `NAME.bak`, else the first free `NAME.bak.N`.
fn backup_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let candidate = |n: u32| match n {
        0 => path.with_file_name(format!("{name}.bak")),
        n => path.with_file_name(format!("{name}.bak.{n}")),
    };
    (0..)
        .map(candidate)
        .find(|p| fs::symlink_metadata(p).is_err())
        .expect("a free name")
}

/// Write a file that must not exist: a temporary file in the same folder,
/// renamed only if nothing appeared at the path meanwhile.
fn write_new(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".init.")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    Ok(())
}

/// A binary that `cargo build`/`cargo run` made: `…/target/{debug,release}/…`.
fn in_build_folder(exe: &str) -> bool {
    let parts: Vec<&str> = exe.split('/').collect();
    parts
        .windows(2)
        .any(|w| w[0] == "target" && matches!(w[1], "debug" | "release"))
}

/// How to call this binary in the steps: `ops-monitor` when `PATH` finds
/// this very binary under that name, else its absolute path.
fn shown_binary(exe: &str) -> String {
    let Ok(real) = fs::canonicalize(exe) else {
        return exe.into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| fs::canonicalize(dir.join("ops-monitor")).is_ok_and(|p| p == real))
    });
    if on_path {
        "ops-monitor".into()
    } else {
        exe.into()
    }
}

fn next_steps(files: &Files, exe: &str) {
    let bin = shown_binary(exe);
    // A config elsewhere than the default must be named in every step.
    let opt = if files.config_from == "default" {
        String::new()
    } else {
        format!(" --config-file {}", files.config.display())
    };
    outln!("Next steps:");
    outln!("  1. {bin} doctor{opt}");
    outln!("     where every file is, and whether a report can be delivered (Telegram through OpenClaw's config)");
    outln!("  2. {bin} validate-config{opt}");
    outln!("  3. {bin} tick --dry-run{opt}");
    outln!("     a first pass that changes nothing and sends nothing");
    outln!(
        "  4. a timer that runs `{bin} tick` every minute: the README's \"Run it every minute\""
    );
    outln!("     (systemd, launchd, cron); for cron:");
    outln!("     * * * * * PATH={TIMER_PATH} {exe} tick{opt} >>$HOME/ops-monitor.log 2>&1");
}

/// A `PATH` for timers that finds `openclaw` where its installers put it.
pub const TIMER_PATH: &str =
    "$HOME/.openclaw/bin:$HOME/.local/bin:$HOME/.npm-global/bin:/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin";

/// The example long job: a job of 100 steps of 6 s that records its
/// progress, and the start/status/stop scripts of the status contract
/// (SPEC §3). POSIX sh: dash, bash and macOS `/bin/sh` run them.
const EXAMPLE_SCRIPTS: [(&str, &str); 5] = [
    (
        "README",
        "An example long job for ops-monitor, written by `ops-monitor init`.\n\
         \n\
         work.sh    the job itself: 100 steps of 6 seconds, its step in the file `step`\n\
         start.sh   starts work.sh in the background and returns at once\n\
         status.sh  prints one JSON object: running, completed, pid, progress, message\n\
         stop.sh    stops it; start.sh then resumes from the step it had reached\n\
         \n\
         Replace work.sh with your own task (keep it writing its progress somewhere\n\
         status.sh can read), set \"enabled\": true on the job in ops-jobs.json, and\n\
         run `ops-monitor start example`.\n",
    ),
    (
        "work.sh",
        r#"#!/bin/sh
# The example job itself: 100 steps of 6 seconds (10 minutes), its progress
# in the file `step`. Replace it with your own long task.
cd "$(dirname "$0")" || exit 1
step=$(cat step 2>/dev/null) || step=0
case $step in '' | *[!0-9]*) step=0 ;; esac
trap 'echo stopped >stop-reason; exit 0' TERM INT
while [ "$step" -lt 100 ]; do
    sleep 6 &
    wait $!
    step=$((step + 1))
    echo "$step" >step.tmp && mv step.tmp step
done
touch done
"#,
    ),
    (
        "start.sh",
        r#"#!/bin/sh
# Start the example job in the background and return at once: ops-monitor
# gives `start` a time limit, so a long job must not run in the foreground.
cd "$(dirname "$0")" || exit 1
if [ -f pid ] && kill -0 "$(cat pid)" 2>/dev/null; then
    echo "already running (pid $(cat pid))" >&2
    exit 1
fi
if [ -f done ]; then
    rm -f done step # a finished job starts over
fi
rm -f stop-reason
nohup /bin/sh ./work.sh </dev/null >>work.log 2>&1 &
echo $! >pid
echo "started (pid $!)"
"#,
    ),
    (
        "status.sh",
        r#"#!/bin/sh
# ops-monitor's status contract: ONE JSON object on stdout with at least
# "running" and "completed" (booleans); "pid", "stopReason", "progress" and
# "message" are optional.
cd "$(dirname "$0")" || exit 1
step=$(cat step 2>/dev/null) || step=0
case $step in '' | *[!0-9]*) step=0 ;; esac
if [ -f pid ] && kill -0 "$(cat pid)" 2>/dev/null; then
    printf '{"running": true, "completed": false, "pid": %s, "progress": {"step": %s, "of": 100}, "message": "step %s of 100"}\n' \
        "$(cat pid)" "$step" "$step"
elif [ -f done ]; then
    printf '{"running": false, "completed": true, "progress": {"step": 100, "of": 100}, "message": "done"}\n'
else
    reason=$(cat stop-reason 2>/dev/null) || reason=not_started
    [ "$step" -gt 0 ] && [ "$reason" = not_started ] && reason=exited
    printf '{"running": false, "completed": false, "stopReason": "%s", "progress": {"step": %s, "of": 100}, "message": "paused at step %s of 100 (%s)"}\n' \
        "$reason" "$step" "$step" "$reason"
fi
"#,
    ),
    (
        "stop.sh",
        r#"#!/bin/sh
# Stop the example job; start.sh resumes it from the step it reached.
cd "$(dirname "$0")" || exit 1
if [ -f pid ] && kill -0 "$(cat pid)" 2>/dev/null; then
    kill -TERM "$(cat pid)" && echo "stopped (pid $(cat pid))"
else
    echo "not running"
fi
"#,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_config_is_valid_and_names_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let checks = starter_checks(dir.path());
        let text = config_text("/opt/bin/ops-monitor", &dir.path().join("ex"), &checks);
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["$schema"], "./ops-jobs.schema.json");
        assert_eq!(v["version"], 1);
        let jobs = v["jobs"].as_array().unwrap();
        let ids: Vec<&str> = jobs.iter().map(|j| j["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            ["disk-root", "disk-openclaw", "memory", "load", "example"]
        );
        assert_eq!(
            jobs[0]["commands"]["run"],
            serde_json::json!([
                "/opt/bin/ops-monitor",
                "check",
                "disk",
                "--path",
                "/",
                "--warn",
                "80",
                "--crit",
                "95"
            ])
        );
        assert_eq!(jobs[4]["enabled"], false);
        // It passes the config's own checks.
        let path = dir.path().join("ops-jobs.json");
        fs::write(&path, &text).unwrap();
        crate::config::load(&path, dir.path(), true).expect("a valid config, --strict");
    }

    #[test]
    fn backups_never_overwrite_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ops-jobs.json");
        assert_eq!(backup_path(&p), dir.path().join("ops-jobs.json.bak"));
        fs::write(dir.path().join("ops-jobs.json.bak"), "old").unwrap();
        assert_eq!(backup_path(&p), dir.path().join("ops-jobs.json.bak.1"));
    }

    #[test]
    fn build_folders_are_recognised() {
        assert!(in_build_folder("/src/ops-monitor/target/debug/ops-monitor"));
        assert!(in_build_folder("/src/x/target/release/ops-monitor"));
        assert!(!in_build_folder("/home/u/.cargo/bin/ops-monitor"));
    }
}
