//! The commands of SPEC §9 other than `tick`: each loads what it needs, does
//! its work through the other modules, and prints its result.

use anyhow::Result;

use crate::cli::Cli;
use crate::exit::Code;

pub fn dispatch(cli: Cli) -> Result<Code> {
    let _ = cli;
    todo!("commands::dispatch")
}
