//! Integration tests: the built binary against real configs, real `/bin/sh`
//! job scripts and real files in temp folders (see `util.rs`).

mod alerts;
mod check;
mod commands;
mod compat;
mod completions;
mod delivery;
mod fleet;
mod init;
mod manual;
mod openclaw;
mod outbox;
mod pyref;
mod readme;
mod robust;
mod safety;
mod secrets;
mod tick;
mod timers;
mod util;
mod watching;
