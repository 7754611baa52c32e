//! SIGINT/SIGTERM during a command (SPEC §8): remember the signal so running
//! commands are stopped, the state is saved, and the exit code is 130/143.

/// Install the handlers (once, at start-up of commands that run children).
pub fn install() {
    todo!("signals::install")
}

/// The signal received so far, if any (`libc::SIGINT` or `libc::SIGTERM`).
pub fn received() -> Option<i32> {
    None
}
