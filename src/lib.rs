//! ops-monitor: watch long-running scripts on one host and report on them
//! through Telegram (or another channel) without a language model in the loop.
//!
//! `main.rs` calls [`main_entry`]; everything else starts at [`run`]. The
//! modules split along what they own: the command line ([`cli`]), the job
//! config ([`config`]), the state file ([`state`]), running a command
//! ([`process`]), the status contract ([`status`]), the pure decision rules
//! ([`rules`]), the report text ([`report`]), text helpers ([`text`]), delivery ([`deliver`],
//! [`outbox`]), and the commands that orchestrate them ([`commands`], [`tick`]).

pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod deliver;
pub mod exit;
pub mod outbox;
pub mod paths;
pub mod process;
pub mod report;
pub mod rules;
pub mod selftest;
pub mod signals;
pub mod state;
pub mod status;
pub mod text;
pub mod tick;

use std::process::ExitCode;

use clap::Parser;

use crate::exit::{Code, Exit};

/// Parse the command line, run, print an error once with its chain, and map
/// the outcome to the SPEC's exit codes.
pub fn main_entry() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code.as_u8()),
        Err(err) => {
            let code = err
                .downcast_ref::<Exit>()
                .map(|e| e.code)
                .unwrap_or(Code::Failed);
            eprintln!("{err:#}");
            ExitCode::from(code.as_u8())
        }
    }
}

/// Run one command.
pub fn run(cli: cli::Cli) -> anyhow::Result<Code> {
    commands::dispatch(cli)
}
