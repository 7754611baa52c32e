//! `completions SHELL` and the hidden `__complete-jobs` the scripts call
//! (SPEC §9): clap_complete's scripts, with two things added.
//!
//! - bash: clap_complete names the states of its completion function after
//!   the binary, and for a name with a hyphen the loop that walks the words
//!   and the `case` arms spell them differently (`ops__monitor__subcmd__tick`
//!   against `ops__subcmd__monitor__subcmd__tick`, clap-rs/clap#6421), so
//!   nothing completes after a subcommand. The script is generated for
//!   `ops_monitor`, which has no hyphen, and registered for `ops-monitor`.
//! - Job ids: clap_complete knows no values that come from a file. Where a
//!   command takes a JOB (`start`, `logs`, `silence`, …) the scripts ask
//!   `ops-monitor __complete-jobs` — with the `--config-file` of the command
//!   line being completed, if any — for the ids in the config.
//!
//! The lists the added code needs (the commands that take a JOB, the
//! options that take a value) are read from the clap command itself, so
//! they cannot drift from the real command line.

use std::fmt::Write as _;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, Global};
use crate::exit::Code;
use crate::out::outln;
use crate::paths::Files;

/// The name clap_complete generates for: the binary's, without its hyphen.
const GEN_NAME: &str = "ops_monitor";
/// The command the scripts complete.
const BIN: &str = "ops-monitor";

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    match shell {
        Shell::Bash => {
            clap_complete::generate(shell, &mut cmd, GEN_NAME, &mut out);
            bash(String::from_utf8_lossy(&out).into_owned(), &cmd).into_bytes()
        }
        Shell::Zsh => {
            clap_complete::generate(shell, &mut cmd, BIN, &mut out);
            zsh(String::from_utf8_lossy(&out).into_owned()).into_bytes()
        }
        Shell::Fish => {
            clap_complete::generate(shell, &mut cmd, BIN, &mut out);
            fish(String::from_utf8_lossy(&out).into_owned(), &cmd).into_bytes()
        }
        _ => {
            clap_complete::generate(shell, &mut cmd, BIN, &mut out);
            out
        }
    }
}

/// The subcommands whose first positional argument is a job id.
fn job_commands(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|s| s.get_positionals().any(|a| a.get_id() == "job"))
        .map(|s| s.get_name().to_string())
        .collect()
}

/// Every spelling of an option that takes a value, anywhere in the tree.
fn value_options(cmd: &clap::Command) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![cmd];
    while let Some(c) = stack.pop() {
        for a in c.get_arguments() {
            if a.is_positional() || !a.get_action().takes_values() {
                continue;
            }
            out.extend(
                a.get_long_and_visible_aliases()
                    .into_iter()
                    .flatten()
                    .map(|l| format!("--{l}")),
            );
            out.extend(
                a.get_short_and_visible_aliases()
                    .into_iter()
                    .flatten()
                    .map(|s| format!("-{s}")),
            );
        }
        stack.extend(c.get_subcommands());
    }
    out.sort();
    out.dedup();
    out
}

fn bash(generated: String, cmd: &clap::Command) -> String {
    // clap_complete's registration is for the name it generated for; ours
    // (below) is for the real one.
    let mut script = match generated.rfind("\nif [[ \"${BASH_VERSINFO[0]}\"") {
        Some(i) => generated[..=i].to_string(),
        None => generated,
    };
    let jobs = job_commands(cmd).join(" ");
    let values = value_options(cmd).join(" ");
    let _ = write!(
        script,
        r#"
# Job ids from the config where a command takes a JOB (`{BIN} __complete-jobs`).
_{GEN_NAME}_with_jobs() {{
    _{GEN_NAME} "$@"
    local cur="${{COMP_WORDS[COMP_CWORD]}}" sub="" given=0 i w
    local -a config=()
    [[ $cur == -* ]] && return 0
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        case "$w" in
        --config-file=*) config=("$w"); continue ;;
        --config-file) config=(--config-file "${{COMP_WORDS[i + 1]}}") ;;
        esac
        if [[ " {values} " == *" $w "* ]]; then
            ((i + 1 == COMP_CWORD)) && return 0 # completing the option's value
            ((i++))
            continue
        fi
        [[ $w == -* ]] && continue
        if [[ -z $sub ]]; then sub="$w"; else ((given++)); fi
    done
    [[ " {jobs} " == *" $sub "* ]] && ((given == 0)) || return 0
    local ids
    ids="$("${{COMP_WORDS[0]}}" __complete-jobs "${{config[@]}}" 2>/dev/null)" || return 0
    COMPREPLY=($(compgen -W "$ids" -- "$cur"))
}}

if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _{GEN_NAME}_with_jobs -o nosort -o bashdefault -o default {BIN}
else
    complete -F _{GEN_NAME}_with_jobs -o bashdefault -o default {BIN}
fi
"#
    );
    script
}

fn zsh(generated: String) -> String {
    // Every JOB argument (`':job -- The job's id…:_default'`) completes ids.
    let body: String = generated
        .lines()
        .map(|line| {
            let is_job = line.starts_with("':job") || line.starts_with("'::job");
            if is_job {
                line.replacen(":_default'", ":_ops_monitor_jobs'", 1)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let helper = r#"
# Job ids from the config (`ops-monitor __complete-jobs`, with the
# --config-file of the command line when it has one).
(( $+functions[_ops_monitor_jobs] )) ||
_ops_monitor_jobs() {
    # The whole command line: inside a subcommand `words` starts at it.
    local -a ids config line
    local i
    line=(${(Q)${(z)LBUFFER}})
    for (( i = 2; i <= $#line; i++ )); do
        case $line[i] in
        --config-file=*) config=($line[i]) ;;
        --config-file) config=(--config-file $line[i+1]) ;;
        esac
    done
    ids=(${(f)"$(_call_program jobs ${(q)line[1]} __complete-jobs ${(q)config} 2>/dev/null)"})
    _wanted jobs expl 'job' compadd -a ids
}
"#;
    // Before the lines that register or run the function, after #compdef.
    match body.find('\n') {
        Some(i) => format!("{}{helper}{}\n", &body[..=i], &body[i + 1..]),
        None => format!("{body}\n{helper}"),
    }
}

fn fish(mut generated: String, cmd: &clap::Command) -> String {
    let jobs = job_commands(cmd).join(" ");
    let _ = write!(
        generated,
        r#"
# Job ids from the config (`ops-monitor __complete-jobs`, with the
# --config-file of the command line when it has one).
function __fish_ops_monitor_jobs
    set -l words (commandline -opc)
    set -l config
    for i in (seq 2 (count $words))
        if string match -q -- '--config-file=*' $words[$i]
            set config $words[$i]
        else if test "$words[$i]" = --config-file; and test $i -lt (count $words)
            set config --config-file $words[(math $i + 1)]
        end
    end
    $words[1] __complete-jobs $config 2>/dev/null
end
complete -c {BIN} -n "__fish_ops_monitor_using_subcommand {jobs}" -f -a "(__fish_ops_monitor_jobs)"
"#
    );
    generated
}

/// `__complete-jobs`: the job ids of the config, one per line. Read as
/// plainly as possible — a config with an error elsewhere still names its
/// jobs — and silent on any problem: a completion must never print errors.
pub fn job_ids(g: &Global) -> Result<Code> {
    let files = Files::resolve(g.config_file.as_deref(), g.state_file.as_deref());
    let Ok(text) = std::fs::read_to_string(&files.config) else {
        return Ok(Code::Ok);
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(Code::Ok);
    };
    let ids = value
        .get("jobs")
        .and_then(|j| j.as_array())
        .into_iter()
        .flatten()
        .filter_map(|j| j.get("id")?.as_str())
        .map(str::trim)
        // Only ids a shell can take as one word.
        .filter(|id| !id.is_empty() && !id.chars().any(|c| c.is_whitespace() || c.is_control()));
    for id in ids {
        outln!("{id}");
    }
    Ok(Code::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_commands_and_value_options_come_from_the_command_line() {
        let cmd = Cli::command();
        let jobs = job_commands(&cmd);
        for c in [
            "start",
            "stop",
            "run",
            "approve",
            "revoke",
            "silence",
            "unsilence",
            "logs",
            "explain",
        ] {
            assert!(jobs.iter().any(|j| j == c), "{c} in {jobs:?}");
        }
        assert!(!jobs.iter().any(|j| j == "tick" || j == "status"));
        let values = value_options(&cmd);
        for o in [
            "--config-file",
            "--for",
            "--reason",
            "--timeout-seconds",
            "--lock-timeout",
        ] {
            assert!(values.iter().any(|v| v == o), "{o} in {values:?}");
        }
        assert!(!values.iter().any(|v| v == "--dry-run" || v == "--all"));
    }

    #[test]
    fn the_bash_script_has_no_state_it_cannot_reach() {
        let text = String::from_utf8(script(Shell::Bash)).unwrap();
        // The loop sets `cmd="ops_monitor__subcmd__tick"`; an arm must match.
        assert!(text.contains("cmd=\"ops_monitor__subcmd__tick\""));
        assert!(text.contains("\n        ops_monitor__subcmd__tick)\n"));
        assert!(!text.contains("ops__"), "no hyphen was escaped");
        assert!(text.ends_with(&format!(
            "complete -F _ops_monitor_with_jobs -o bashdefault -o default {BIN}\nfi\n"
        )));
    }
}
