//! The README's minimal status scripts (sh and Python) keep the status
//! contract: taken from the README as it is, run by the real binary for a
//! job that has not run, one that runs and one that completed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};

use serde_json::json;

use crate::util::{config_with, TestEnv};

/// The code block the README marks as checked by this file.
fn readme_block(marker: &str) -> String {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tag = format!("<!-- checked by tests/cli/readme.rs: {marker} -->\n```");
    let start = readme
        .find(&tag)
        .unwrap_or_else(|| panic!("README has {tag:?}"));
    let body = &readme[start + tag.len()..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```\n").unwrap()].to_string()
}

/// The state word `status` shows for job `j`.
fn state_word(env: &TestEnv) -> String {
    let run = env.run(&["status"]);
    run.code(0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("j"))
        .unwrap_or_else(|| panic!("j in\n{}", run.stdout));
    line.to_string()
}

struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn check_script(name: &str) {
    let env = TestEnv::new();
    let script = env.write(&format!("job/{name}"), &readme_block(name));
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut status = vec![script.display().to_string()];
    if name.ends_with(".py") {
        status.insert(0, "python3".into());
    }
    env.config(&config_with(json!([{
        "id": "j", "kind": "long_running_read", "risk": "read_only", "enabled": true,
        "cwd": env.path("job").display().to_string(),
        "commands": {"start": ["/bin/true"], "status": status},
    }])));

    let line = state_word(&env);
    assert!(line.starts_with("paused "), "{line}");
    assert!(line.contains("stopReason=exited"), "{line}");

    let sleeper = Sleeper(Command::new("sleep").arg("30").spawn().unwrap());
    let pid = sleeper.0.id();
    env.write("job/job.pid", &format!("{pid}\n"));
    env.write("job/job.progress", "7\n");
    let line = state_word(&env);
    assert!(line.starts_with("running "), "{line}");
    assert!(line.contains(&format!("pid={pid}")), "{line}");
    assert!(line.contains("done=7"), "{line}");
    drop(sleeper);

    env.write("job/job.done", "");
    let line = state_word(&env);
    assert!(line.starts_with("completed "), "{line}");
}

#[test]
fn the_readmes_sh_status_script_keeps_the_contract() {
    check_script("status.sh");
}

#[test]
fn the_readmes_python_status_script_keeps_the_contract() {
    let has_python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_python {
        // The block is still there and looks like the contract.
        let text = readme_block("status.py");
        assert!(text.contains("\"running\"") && text.contains("json.dumps"));
        return;
    }
    check_script("status.py");
}
