//! `init [--force]` (SPEC §9, §11): a starter config in an empty home that
//! validates, previews and ticks; the checks it writes run with this
//! machine's figures, which `status` and `logs` then show; it never writes
//! over a file, and `--force` keeps a `.bak`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::Value;

use crate::util::{Run, TestEnv, BIN, NOON};

/// The binary with only the environment choosing the files: HOME and
/// OPENCLAW_HOME in the temp folder, so the home is the temp folder itself
/// (SPEC §1 rule 3) and the config goes to `net/config/ops-jobs.json`.
fn bare(env: &TestEnv, args: &[&str]) -> Run {
    let mut cmd: Command = env.bare_command();
    cmd.env("TZ", "UTC")
        .env("OPS_MONITOR_NOW", NOON.to_string())
        .env("OPS_MONITOR_TELEGRAM_API", "http://127.0.0.1:9")
        .args(args);
    Run::from(cmd.output().expect("binary runs"))
}

const CONFIG: &str = "net/config/ops-jobs.json";
const SCRIPTS: [&str; 5] = ["README", "work.sh", "start.sh", "status.sh", "stop.sh"];

fn exe() -> String {
    fs::canonicalize(BIN).unwrap().display().to_string()
}

#[test]
fn init_in_an_empty_home_then_validate_preview_and_tick() {
    let env = TestEnv::new();
    let run = bare(&env, &["init"]);
    run.code(0);
    let config = env.path(CONFIG);
    assert!(run
        .stdout
        .starts_with(&format!("Wrote {}\n", config.display())));
    for step in ["doctor", "validate-config", "tick --dry-run"] {
        run.stdout_has(&format!("{} {step}\n", exe()));
    }
    // A crontab line with the binary's real path and a PATH.
    run.stdout_has("* * * * * PATH=$HOME/.openclaw/bin:")
        .stdout_has(&format!(":/usr/bin:/bin {} tick >>", exe()));

    // The config: $schema, the defaults, the host checks on, the example off.
    let v: Value = serde_json::from_str(&fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(v["$schema"], "./ops-jobs.schema.json");
    assert_eq!(v["defaults"]["quietHours"]["start"], "23:00");
    assert_eq!(v["defaults"]["reportEverySeconds"], 1800);
    let jobs = v["jobs"].as_array().unwrap();
    let job = |id: &str| jobs.iter().find(|j| j["id"] == id).unwrap().clone();
    for id in ["disk-root", "memory", "load"] {
        let j = job(id);
        assert_eq!(j["enabled"], true, "{id}");
        assert_eq!(j["kind"], "one_shot_read");
        assert_eq!(
            j["commands"]["run"][0],
            exe().as_str(),
            "the binary by its absolute path"
        );
        assert_eq!(j["commands"]["run"][1], "check");
        assert_eq!(j["policy"]["everySeconds"], 300);
    }
    assert_eq!(
        job("disk-root")["commands"]["run"].as_array().unwrap()[2..5],
        ["disk", "--path", "/"]
    );
    let home_disk = job("disk-openclaw");
    assert_eq!(
        home_disk["commands"]["run"][4],
        env.root().display().to_string()
    );
    let example = job("example");
    assert_eq!(example["enabled"], false);
    assert_eq!(example["kind"], "long_running_read");
    let example_dir = env.path("net/jobs/example");
    assert_eq!(example["cwd"], example_dir.display().to_string());
    for name in SCRIPTS {
        assert!(example_dir.join(name).is_file(), "{name}");
    }
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&example_dir.join("start.sh")), 0o755);
    assert_eq!(mode(&config), 0o600);
    // The schema beside it is the one the binary prints.
    let schema = bare(&env, &["schema"]);
    assert_eq!(
        fs::read_to_string(env.path("net/config/ops-jobs.schema.json")).unwrap(),
        schema.stdout
    );

    // validate-config: OK, and not a single warning.
    let run = bare(&env, &["validate-config", "--strict"]);
    run.code(0).stdout_is(
        "OK: version=1 jobs=5 (long_running_read=1, one_shot_read=4, one_shot_write=0)\n",
    );
    assert_eq!(run.stderr, "");
    // doctor finds the config (delivery is not set up in a temp home).
    bare(&env, &["doctor"]).stdout_has("(default) — OK: version=1 jobs=5");

    // tick --dry-run: runs only status commands and writes no state.
    let run = bare(&env, &["tick", "--dry-run"]);
    run.code(0).stdout_has("would run (dry-run)");
    assert!(
        !env.path("net/state/ops-monitor.json").exists(),
        "no state written"
    );

    // tick --print-only runs the checks; status and logs show their output.
    bare(&env, &["tick", "--print-only"]).code(0);
    let status = bare(&env, &["status"]);
    status.code(0);
    for id in ["disk-root", "memory", "load"] {
        let line = status
            .stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("{id} in status:\n{}", status.stdout));
        assert!(line.contains("lastRun exit="), "{line}");
        assert!(line.contains("every 5m"), "{line}");
    }
    let logs = bare(&env, &["logs", "memory"]);
    logs.code(0);
    let line = logs
        .stdout
        .lines()
        .find(|l| l.starts_with("MEMORY "))
        .unwrap_or_else(|| panic!("the check's line in logs:\n{}", logs.stdout));
    assert!(
        line.contains("% used (") && line.contains("| used_pct="),
        "{line}"
    );
    let logs = bare(&env, &["logs", "disk-root"]);
    logs.code(0);
    assert!(
        logs.stdout
            .lines()
            .any(|l| l.starts_with("DISK ") && l.contains(" - / ")),
        "{}",
        logs.stdout
    );
    let state = fs::read_to_string(env.path("net/state/ops-monitor.json")).unwrap();
    let state: Value = serde_json::from_str(&state).unwrap();
    let tail = state["jobs"]["load"]["lastRun"]["stdoutTail"]
        .as_str()
        .unwrap();
    assert!(tail.starts_with("LOAD "), "{tail}");
}

#[test]
fn init_never_overwrites_and_force_keeps_a_bak() {
    let env = TestEnv::new();
    bare(&env, &["init"]).code(0);
    let config = env.path(CONFIG);
    fs::write(&config, "{\"mine\": true}").unwrap();

    let run = bare(&env, &["init"]);
    run.code(2)
        .stderr_has("not overwriting")
        .stderr_has(&config.display().to_string());
    assert_eq!(run.stdout, "");
    assert_eq!(fs::read_to_string(&config).unwrap(), "{\"mine\": true}");

    let run = bare(&env, &["init", "--force"]);
    run.code(0)
        .stdout_has(&format!("Kept the old file as {}.bak\n", config.display()));
    assert_eq!(
        fs::read_to_string(format!("{}.bak", config.display())).unwrap(),
        "{\"mine\": true}"
    );
    bare(&env, &["validate-config"]).code(0);
    // A second --force keeps the first .bak and adds .bak.1.
    bare(&env, &["init", "--force"]).code(0);
    assert_eq!(
        fs::read_to_string(format!("{}.bak", config.display())).unwrap(),
        "{\"mine\": true}"
    );
    assert!(env.path(&format!("{CONFIG}.bak.1")).is_file());

    // The scripts as init wrote them are not in the way of a new config…
    fs::remove_file(&config).unwrap();
    bare(&env, &["init"]).code(0);
    // …but an edited one is, and nothing is written then.
    fs::remove_file(&config).unwrap();
    let work = env.path("net/jobs/example/work.sh");
    fs::write(&work, "#!/bin/sh\nmy own job\n").unwrap();
    bare(&env, &["init"])
        .code(2)
        .stderr_has(&work.display().to_string());
    assert!(!config.exists(), "nothing written");
    assert_eq!(
        fs::read_to_string(&work).unwrap(),
        "#!/bin/sh\nmy own job\n"
    );
    bare(&env, &["init", "--force"]).code(0);
    assert_eq!(
        fs::read_to_string(env.path("net/jobs/example/work.sh.bak")).unwrap(),
        "#!/bin/sh\nmy own job\n"
    );
}

#[test]
fn init_at_a_given_config_file_names_it_in_the_next_steps() {
    let env = TestEnv::new();
    let path = env.path("elsewhere/jobs.json");
    let p = path.display().to_string();
    let run = bare(&env, &["init", "--config-file", &p]);
    run.code(0)
        .stdout_has(&format!("validate-config --config-file {p}\n"));
    assert!(path.is_file());
    assert!(env.path("elsewhere/ops-jobs.schema.json").is_file());
    assert!(
        env.path("net/jobs/example/start.sh").is_file(),
        "scripts under the home"
    );
    bare(&env, &["validate-config", "--config-file", &p]).code(0);
}

#[test]
fn the_example_job_starts_reports_progress_and_stops() {
    let env = TestEnv::new();
    bare(&env, &["init"]).code(0);
    bare(&env, &["status"])
        .code(0)
        .stdout_has("stopReason=not_started");
    bare(&env, &["start", "example"])
        .code(0)
        .stdout_has("started (pid ");
    let status = bare(&env, &["status"]);
    status.code(0);
    let line = status
        .stdout
        .lines()
        .find(|l| l.contains(" example "))
        .unwrap();
    assert!(line.starts_with("running "), "{line}");
    assert!(
        line.contains("step 0 of 100") || line.contains("step 1 of 100"),
        "{line}"
    );
    bare(&env, &["stop", "example"]).code(0);
    // The job's trap writes its stop reason, then it exits.
    let mut line = String::new();
    for _ in 0..100 {
        let status = bare(&env, &["status"]);
        line = status
            .stdout
            .lines()
            .find(|l| l.contains(" example "))
            .unwrap()
            .to_string();
        if line.contains("stopReason=") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(line.starts_with("held "), "{line}");
    assert!(line.contains("stopReason=stopped"), "{line}");
}
