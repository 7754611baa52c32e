//! ops-monitor: watch long-running scripts on one host and report on them
//! through Telegram (or another channel) without a language model in the loop.
//!
//! `main.rs` calls [`main_entry`]; everything else starts at `run`, which
//! hands each subcommand to its module. The modules split along what they
//! own:
//!
//! - input: the command line (`cli`), the job config (`config`), the state
//!   file (`state`, with `atomic` for durable writes), the clock (`clock`),
//!   where the files are (`paths`), Python's JSON reading (`pyjson`);
//! - running things: a process (`process`), a job's commands behind a seam
//!   (`runner`), the status contract (`status`), signals (`signals`);
//! - deciding: the pure rules and the safety policy (`rules`);
//! - saying: the report text (`report`), delivery (`deliver`, `outbox`),
//!   secrets kept out of everything (`secrets`), printing that never panics
//!   (`out`), text helpers (`text`), a fleet's Prometheus, Alertmanager and
//!   dead-man's switch (`fleet`);
//! - the commands: `tick`, `commands` (start, stop, run, gates, status,
//!   logs, explain, outbox), `doctor`, `init`, `check`, `selftest`.
//!
//! Every module is private: the binary is the interface.

mod atomic;
mod check;
mod cli;
mod clock;
mod commands;
mod completions;
mod config;
mod deliver;
mod doctor;
mod exit;
mod fleet;
mod init;
mod out;
mod outbox;
mod paths;
mod process;
mod pyjson;
mod report;
mod rules;
mod runner;
mod secrets;
mod selftest;
mod signals;
mod state;
mod status;
mod text;
mod tick;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::{Code, Exit};
use crate::out::{errln, outln};

/// Parse the command line, run, print an error once with its chain, and map
/// the outcome to the SPEC's exit codes.
pub fn main_entry() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // SPEC §11: `check` uses the Nagios codes only, also for its own
        // usage errors (3, UNKNOWN); help and --version still exit 0.
        Err(e) if e.use_stderr() && check::is_check_command(&args) => {
            let _ = e.print();
            return ExitCode::from(check::Status::Unknown.code());
        }
        Err(e) => e.exit(),
    };
    if let Command::Check(c) = &cli.command {
        // Never reads the config or the state: no error chain, no `Code`.
        return ExitCode::from(check::run(&c.what));
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code.as_u8()),
        Err(err) => {
            let code = err
                .downcast_ref::<Exit>()
                .map(|e| e.code)
                .unwrap_or(Code::Failed);
            errln!("{err:#}");
            ExitCode::from(code.as_u8())
        }
    }
}

/// Run one command.
fn run(cli: Cli) -> anyhow::Result<Code> {
    secrets::learn_from_env();
    let g = &cli.global;
    match &cli.command {
        Command::Tick(args) => tick::run(g, args),
        Command::ValidateConfig { strict } => commands::validate_config(g, *strict),
        Command::Status { json } => commands::status(g, *json),
        Command::Start {
            job,
            allow_risk,
            force,
            timeout_seconds,
        } => commands::start(g, job, *allow_risk, *force, *timeout_seconds),
        Command::Stop {
            job,
            allow_risk,
            timeout_seconds,
        } => commands::stop(g, job, *allow_risk, *timeout_seconds),
        Command::Run {
            job, dry_run: true, ..
        } => commands::run_dry(g, job),
        Command::Run {
            job,
            timeout_seconds,
            ..
        } => commands::run(g, job, *timeout_seconds),
        Command::Approve { job, for_, note } => commands::approve(g, job, *for_, note.clone()),
        Command::Revoke { job } => commands::revoke(g, job),
        Command::Silence {
            which,
            for_,
            reason,
        } => commands::silence(g, which, Some((*for_, reason.clone()))),
        Command::Unsilence { which } => commands::silence(g, which, None),
        Command::Notify { text, target } => commands::notify(g, text, target.clone()),
        Command::Logs { job } => commands::logs(g, job),
        Command::Explain { job } => commands::explain(g, job),
        Command::Outbox { action } => commands::outbox(g, action.as_ref()),
        Command::Doctor { send_test } => doctor::run(g, *send_test),
        Command::Init { force } => init::run(g, *force),
        Command::Selftest => selftest::run(),
        Command::Schema => {
            outln!("{}", config::SCHEMA.trim_end());
            Ok(Code::Ok)
        }
        Command::Completions { shell } => {
            out::stdout_bytes(&completions::script(*shell));
            Ok(Code::Ok)
        }
        Command::CompleteJobs => completions::job_ids(g),
        // Its exit codes are Nagios's, not `Code`s: `main_entry` runs it.
        Command::Check(_) => unreachable!("check is run by main_entry"),
    }
}
