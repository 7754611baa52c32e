//! SIGINT, SIGTERM and SIGHUP during a command (SPEC §8): remember the
//! signal so running commands are stopped, the state is saved, and the exit
//! code is 130/143/129.
//!
//! The handlers only set a flag; they never exit. Whoever is running a
//! command sees [`received`] become set, stops its process group, and saves
//! the state before exiting with [`crate::exit::Code::for_signal`] itself.
//!
//! One flag per signal, not "the last one": `run` of a write job lets a
//! SIGHUP (a dropped SSH session) pass and waits for the job (SPEC §11
//! "Approvals"), and a SIGTERM that came before or after that SIGHUP must
//! still stop it — [`received_stopping`] asks exactly that.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::out::errln;

// Plain statics (not `Arc`s) so a handler needs nothing but an atomic store.
static TERM: AtomicBool = AtomicBool::new(false);
static INT: AtomicBool = AtomicBool::new(false);
static HUP: AtomicBool = AtomicBool::new(false);

static INSTALL: Once = Once::new();

/// The handled signals, most decisive first: the order [`received`] reports
/// them in when more than one came.
const HANDLED: [(i32, &AtomicBool); 3] = [(SIGTERM, &TERM), (SIGINT, &INT), (SIGHUP, &HUP)];

/// Install the handlers (once, at start-up of commands that run children).
/// Calling it again does nothing.
pub fn install() {
    INSTALL.call_once(|| {
        for (sig, flag) in HANDLED {
            // Registering can only fail for signals signal-hook forbids
            // (SIGKILL, SIGSTOP, ...), never for these; should it fail
            // anyway, the default action (dying at once) still applies,
            // which is the best we could do.
            if let Err(err) = signal_hook::flag::register(sig, flag) {
                errln!("warning: cannot handle signal {sig}: {err}");
            }
        }
    });
}

/// The signal received so far, if any: `SIGTERM`, else `SIGINT`, else `SIGHUP`.
pub fn received() -> Option<i32> {
    received_stopping(true)
}

/// [`received`], leaving SIGHUP out when `hangup_stops` is false: the one
/// run that outlives a lost terminal still stops on SIGINT or SIGTERM.
pub fn received_stopping(hangup_stops: bool) -> Option<i32> {
    HANDLED
        .iter()
        .filter(|(sig, _)| hangup_stops || *sig != SIGHUP)
        .find(|(_, flag)| flag.load(Ordering::SeqCst))
        .map(|(sig, _)| *sig)
}
