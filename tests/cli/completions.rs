//! The command line as a person meets it: completion scripts for every
//! shell that complete options after a subcommand and job ids from the
//! config (bash scripted through its completion function; zsh and fish
//! through their own tools where installed), every subcommand's `--help`
//! with descriptions and an example, `--version`, and colour only on a
//! terminal without `NO_COLOR`.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::util::{config_with, long_job, TestEnv, BIN};

fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A config with three jobs, one of whose id no shell can take as a word.
fn env_with_jobs() -> TestEnv {
    let env = TestEnv::new();
    let mut odd = long_job("two words", "/bin/true", "/bin/true");
    odd["enabled"] = json!(false);
    env.config(&config_with(json!([
        long_job("scan", "/bin/true", "/bin/true"),
        long_job("sync-photos", "/bin/true", "/bin/true"),
        odd,
    ])));
    env
}

#[test]
fn a_script_for_every_shell() {
    let env = TestEnv::new();
    for (shell, marker) in [
        ("bash", "complete -F _ops_monitor_with_jobs"),
        ("zsh", "#compdef ops-monitor"),
        ("fish", "complete -c ops-monitor"),
        ("elvish", "ops-monitor"),
        ("powershell", "ops-monitor"),
    ] {
        let run = env.run(&["completions", shell]);
        run.code(0).stdout_has(marker).stdout_has("validate-config");
    }
    env.run(&["completions", "tcsh"]).code(2);
}

#[test]
fn complete_jobs_prints_the_ids_and_never_an_error() {
    let env = env_with_jobs();
    env.run(&["__complete-jobs"])
        .code(0)
        .stdout_is("scan\nsync-photos\n");
    env.write("ops-jobs.json", "{ not json");
    let run = env.run(&["__complete-jobs"]);
    run.code(0).stdout_is("");
    assert_eq!(run.stderr, "");
    std::fs::remove_file(env.config_path()).unwrap();
    env.run(&["__complete-jobs"]).code(0).stdout_is("");
    // Hidden: not in the help.
    let help = env.run(&["--help"]);
    assert!(!help.stdout.contains("__complete-jobs"));
}

/// Source the bash script and complete `words` (the last one being typed),
/// as bash does on <TAB>: COMP_WORDS, COMP_CWORD, then the function
/// `complete -p` names. Returns COMPREPLY.
fn bash_complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let script = env.path("ops-monitor.bash");
    let run = env.run(&["completions", "bash"]);
    run.code(0);
    std::fs::write(&script, &run.stdout).unwrap();
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect();
    let program = format!(
        r#"source '{script}'
COMP_WORDS=({words})
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
COMPREPLY=()
spec=$(complete -p ops-monitor)
fn=${{spec#*-F }}
fn=${{fn%% *}}
"$fn" "${{COMP_WORDS[0]}}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD - 1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        script = script.display(),
        words = quoted.join(" "),
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .env("PATH", "/usr/bin:/bin")
        .current_dir(env.root())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_options_after_a_subcommand_and_job_ids() {
    let env = env_with_jobs();
    let config = env.config_path().display().to_string();

    // The hyphenated-name problem: `ops-monitor tick --<TAB>` completes.
    let got = bash_complete(&env, &[BIN, "tick", "--"]);
    for want in ["--print-only", "--dry-run", "--lang", "--config-file"] {
        assert!(got.iter().any(|g| g == want), "{want} in {got:?}");
    }
    assert!(got.iter().all(|g| g.starts_with("--")), "{got:?}");
    let got = bash_complete(&env, &[BIN, "check", "file-age", "--"]);
    assert!(got.iter().any(|g| g == "--path"), "{got:?}");
    let got = bash_complete(&env, &[BIN, "val"]);
    assert_eq!(got, ["validate-config"]);

    // Job ids from the config, with the --config-file of the line.
    let got = bash_complete(&env, &[BIN, "--config-file", &config, "start", ""]);
    assert_eq!(got, ["scan", "sync-photos"]);
    let got = bash_complete(
        &env,
        &[BIN, "logs", &format!("--config-file={config}"), "sy"],
    );
    assert_eq!(got, ["sync-photos"]);
    let got = bash_complete(
        &env,
        &[BIN, "silence", "--config-file", &config, "--for", "2h", ""],
    );
    assert_eq!(got, ["scan", "sync-photos"]);
    // Not where a JOB is not expected: an option's value, a second word,
    // a command without a JOB.
    let got = bash_complete(
        &env,
        &[BIN, "--config-file", &config, "approve", "--for", ""],
    );
    assert!(!got.iter().any(|g| g == "scan"), "{got:?}");
    let got = bash_complete(&env, &[BIN, "--config-file", &config, "start", "scan", ""]);
    assert!(!got.iter().any(|g| g == "scan"), "{got:?}");
    let got = bash_complete(&env, &[BIN, "--config-file", &config, "tick", ""]);
    assert!(!got.iter().any(|g| g == "scan"), "{got:?}");
}

#[test]
fn zsh_script_is_valid_and_completes_job_arguments() {
    let env = TestEnv::new();
    let run = env.run(&["completions", "zsh"]);
    run.code(0).stdout_has("_ops_monitor_jobs() {");
    let job_args: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("':job") || l.starts_with("'::job"))
        .collect();
    assert!(job_args.len() >= 9, "every JOB argument: {job_args:?}");
    assert!(job_args.iter().all(|l| l.contains(":_ops_monitor_jobs'")));
    if has("zsh") {
        let path = env.write("_ops-monitor", &run.stdout);
        let out = Command::new("zsh").arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn fish_completes_options_after_a_subcommand_and_job_ids() {
    let env = env_with_jobs();
    let run = env.run(&["completions", "fish"]);
    run.code(0).stdout_has("__fish_ops_monitor_jobs");
    if !has("fish") {
        return;
    }
    let script = env.write("ops-monitor.fish", &run.stdout);
    let complete = |line: &str| -> Vec<String> {
        let program = format!("source '{}'; complete -C '{line}'", script.display());
        let out = Command::new("fish")
            .args(["--no-config", "-c", &program])
            .output()
            .expect("fish runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    let got = complete("ops-monitor tick --");
    assert!(got.iter().any(|g| g == "--print-only"), "{got:?}");
    let config = env.config_path().display().to_string();
    let got = complete(&format!("{BIN} --config-file {config} stop "));
    assert_eq!(got, ["scan", "sync-photos"]);
}

/// The subcommands `--help` lists, and theirs.
fn subcommands(env: &TestEnv, path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let run = env.run(&args);
    run.code(0);
    run.stdout
        .split("Commands:\n")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|name| *name != "help")
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_subcommands_help_describes_every_option_and_shows_an_example() {
    let env = TestEnv::new();
    let mut paths: Vec<Vec<String>> = subcommands(&env, &[])
        .into_iter()
        .map(|s| vec![s])
        .collect();
    assert!(paths.len() >= 20, "{paths:?}");
    let mut i = 0;
    while i < paths.len() {
        let path: Vec<&str> = paths[i].iter().map(String::as_str).collect();
        for sub in subcommands(&env, &path) {
            let mut p = paths[i].clone();
            p.push(sub);
            paths.push(p);
        }
        i += 1;
    }
    assert!(paths.iter().any(|p| p == &["check", "file-age"]));
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = env.run(&args);
        run.code(0);
        let text = &run.stdout;
        assert!(
            !text.starts_with('\n') && !text.starts_with("Usage:"),
            "{path:?} has a description:\n{text}"
        );
        assert!(
            text.contains("\nExample"),
            "{path:?} shows an example:\n{text}"
        );
        // Every argument and option line has a description.
        for section in ["Arguments:\n", "Options:\n", "Global options:\n"] {
            let Some(rest) = text.split(section).nth(1) else {
                continue;
            };
            let lines: Vec<&str> = rest
                .lines()
                .take_while(|l| l.is_empty() || l.starts_with("  "))
                .collect();
            for (n, line) in lines.iter().enumerate() {
                let body = line.trim_start();
                if !(body.starts_with('-') || body.starts_with('<')) || line.len() - body.len() > 6
                {
                    continue;
                }
                // `-v, --verbose...   More output` or `<JOB>  The job…`;
                // in the long form the description is on the next line,
                // indented deeper.
                let inline = body.split_once("  ").map(|(_, d)| d.trim()).unwrap_or("");
                let below = lines
                    .get(n + 1)
                    .filter(|l| l.starts_with("          "))
                    .map(|l| l.trim())
                    .unwrap_or("");
                let description = if inline.is_empty() { below } else { inline };
                assert!(
                    !description.is_empty() && !description.starts_with('['),
                    "{path:?}: no description for {body:?}"
                );
            }
        }
    }
    // Global options under their own heading, after the command's own.
    let tick = env.run(&["tick", "--help"]);
    let own = tick.stdout.find("--print-only").unwrap();
    let global = tick.stdout.find("Global options:").unwrap();
    assert!(own < global, "{}", tick.stdout);
}

#[test]
fn version_and_colour_only_on_a_terminal() {
    let env = TestEnv::new();
    env.run(&["--version"])
        .code(0)
        .stdout_is(&format!("ops-monitor {}\n", env!("CARGO_PKG_VERSION")));
    let piped = env.run(&["tick", "--help"]);
    assert!(!piped.stdout.contains('\u{1b}'), "no colour into a pipe");
    if !has("script") {
        return;
    }
    let on_terminal = |extra: &str| -> String {
        let cmd = format!("env -i TERM=xterm {extra} {BIN} tick --help");
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(on_terminal("").contains("\u{1b}["), "colour on a terminal");
    let plain = on_terminal("NO_COLOR=1");
    assert!(plain.contains("Usage: ops-monitor tick"), "{plain:?}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
}
