//! Exit codes of SPEC §9 and the error type that carries one.
//!
//! Most failures travel as `anyhow::Error`; where a failure must end the
//! process with a particular code (a config error is 2, a refusal is 4), the
//! error is an [`Exit`] so `main_entry` can find the code by downcasting.

use std::fmt;

/// The process exit codes the SPEC defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    /// A job's command failed, or selftest failed.
    Failed = 1,
    /// Usage or config error.
    Usage = 2,
    /// A report could not be delivered (it is kept in the outbox).
    Undelivered = 3,
    /// Refused by a safety rule.
    Refused = 4,
    /// The state lock is held by another run.
    Locked = 75,
    /// Hung up by SIGHUP.
    HungUp = 129,
    /// Interrupted by SIGINT.
    Interrupted = 130,
    /// Terminated by SIGTERM.
    Terminated = 143,
}

impl Code {
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The exit code for a signal that stopped a run: 128 + the signal for
    /// SIGHUP, SIGINT and SIGTERM (the only ones handled), else 143.
    pub fn for_signal(sig: i32) -> Code {
        match sig {
            1 => Code::HungUp,
            2 => Code::Interrupted,
            _ => Code::Terminated,
        }
    }
}

/// An error that ends the process with a specific exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: Code,
    pub message: String,
}

impl Exit {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Exit {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Shorthand: an `anyhow::Error` that exits with `code`.
pub fn fail(code: Code, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Exit::new(code, message))
}
