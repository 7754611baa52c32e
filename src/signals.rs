//! SIGINT/SIGTERM during a command (SPEC §8): remember the signal so running
//! commands are stopped, the state is saved, and the exit code is 130/143.
//!
//! The handler only stores the signal number; it never exits. Whoever is
//! running a command sees [`received`] become set, stops its process group,
//! and the tick saves its state before exiting 130/143 itself.

use crate::out::errln;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use signal_hook::consts::{SIGINT, SIGTERM};

/// The last signal received, or 0 for none. A plain static (not an `Arc`) so
/// the handler needs nothing but an atomic store.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

static INSTALL: Once = Once::new();

/// Install the handlers (once, at start-up of commands that run children).
/// Calling it again does nothing.
pub fn install() {
    INSTALL.call_once(|| {
        for sig in [SIGINT, SIGTERM] {
            // Registering can only fail for signals signal-hook forbids
            // (SIGKILL, SIGSTOP, ...), never for these two; should it fail
            // anyway, the default action (dying at once) still applies, which
            // is the best we could do.
            if let Err(err) = signal_hook::flag::register_usize(sig, &RECEIVED, sig as usize) {
                errln!("warning: cannot handle signal {sig}: {err}");
            }
        }
    });
}

/// The signal received so far, if any (`SIGINT` or `SIGTERM`).
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => i32::try_from(sig).ok(),
    }
}
