//! Delivering a report (SPEC §7) through the configured channels, with the
//! outbox so that nothing is lost.

use std::path::PathBuf;

use crate::config::Channel;
use crate::state::State;

/// A report ready to send: the whole text, and its sections so a channel can
/// split between them (Telegram's 4096-character limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The header line (`🛠️ Ops report (14:05:09)`).
    pub header: String,
    /// Each section's text, in order.
    pub sections: Vec<String>,
    /// When the report was made (Unix seconds).
    pub time: f64,
}

impl Message {
    /// The report as one text: header, blank line, sections separated by blank lines.
    pub fn text(&self) -> String {
        let mut out = self.header.clone();
        for s in &self.sections {
            out.push_str("\n\n");
            out.push_str(s);
        }
        out
    }
}

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct Context {
    /// `defaults.notify`, or `None` for Telegram only.
    pub channels: Option<Vec<Channel>>,
    /// `--target`, which wins over every configured target.
    pub target_override: Option<String>,
    /// The OpenClaw config (`$OPENCLAW_CONFIG_PATH`, else `<home>/openclaw.json`).
    pub openclaw_config: PathBuf,
}

/// What a delivery attempt came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Messages still in the outbox after this attempt.
    pub undelivered: usize,
    /// Lines for the operator (stderr): errors, a migrated chat, dropped messages.
    pub notices: Vec<String>,
}

/// Retry what waits in `state`'s outbox whose time has come.
pub fn flush_outbox(state: &mut State, ctx: &Context, now: f64) -> Outcome {
    let _ = (state, ctx, now);
    todo!("deliver::flush_outbox")
}

/// Deliver `message` through every channel; what fails goes to the outbox.
pub fn deliver(state: &mut State, ctx: &Context, message: &Message, now: f64) -> Outcome {
    let _ = (state, ctx, message, now);
    todo!("deliver::deliver")
}

impl Context {
    pub fn from_env(
        channels: Option<Vec<Channel>>,
        target_override: Option<String>,
        openclaw_config: PathBuf,
    ) -> Context {
        Context {
            channels,
            target_override,
            openclaw_config,
        }
    }
}

pub fn notify(state: &mut State, ctx: &Context, text: &str, now: f64) -> Outcome {
    let _ = (state, ctx, text, now);
    todo!("deliver::notify")
}
