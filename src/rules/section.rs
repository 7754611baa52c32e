//! The types a decision returns: report sections (language-neutral; `report`
//! renders them), what automatic resume did, and the problem a long job has.
//!
//! A section says *what the situation is* (stalled since when, paused inside
//! the backoff until when, a reminder of a problem that has lasted how long,
//! a problem that is over) — never the words; SPEC §5.6's table maps each
//! situation to its lines.

use crate::config::{Kind, Risk};
use crate::process::{Ending, Output};
use crate::pyjson::PyValue;
use crate::state::JobState;
use crate::status::Level;

/// What automatic resume decides for a paused job (SPEC §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autorun {
    /// Run `start` now (a dry run's runner only records it: `WouldStart`).
    Start,
    /// Inside the backoff since the last automatic start.
    Suppressed,
    /// autoResume is on but the job's risk is not `read_only`.
    Blocked,
}

/// The AUTORUN line of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutorunNote {
    Started,
    /// Exited non-zero, or killed by a signal (`-N`).
    StartFailed(i32),
    StartTimedOut,
    /// The start command could not be started (missing program, no
    /// permission, no `cwd`).
    StartError,
    WouldStart,
    Suppressed,
    Blocked,
}

impl AutorunNote {
    /// What the start command did, as a note.
    pub fn from_start(out: &Output) -> AutorunNote {
        match out.ending {
            Ending::Exited(0) => AutorunNote::Started,
            Ending::TimedOut => AutorunNote::StartTimedOut,
            Ending::FailedToStart(_) => AutorunNote::StartError,
            _ => AutorunNote::StartFailed(out.exit_code()),
        }
    }

    /// Notes that did something (or would have) are reported on their own;
    /// `suppressed` and `blocked` only ride along.
    pub(super) fn is_action(self) -> bool {
        !matches!(self, AutorunNote::Suppressed | AutorunNote::Blocked)
    }

    pub(super) fn attempted_start(self) -> bool {
        matches!(
            self,
            AutorunNote::Started
                | AutorunNote::StartFailed(_)
                | AutorunNote::StartTimedOut
                | AutorunNote::StartError
        )
    }

    pub(super) fn start_failed(self) -> bool {
        matches!(
            self,
            AutorunNote::StartFailed(_) | AutorunNote::StartTimedOut | AutorunNote::StartError
        )
    }
}

/// The problem a long job has (SPEC §5.1–§5.2). Stored in the state with
/// the time it began, so a reminder can say how long it has lasted and the
/// RESOLVED line what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Stalled,
    Paused,
    Unknown,
    /// The status itself asks for attention (`level: alert`).
    LevelAlert,
    /// A scheduled check that fails or asks for attention.
    CheckFailing,
}

impl Problem {
    /// The spelling stored in the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Stalled => "stalled",
            Problem::Paused => "paused",
            Problem::Unknown => "unknown",
            Problem::LevelAlert => "alert",
            Problem::CheckFailing => "failing",
        }
    }

    pub fn parse(s: &str) -> Option<Problem> {
        [
            Problem::Stalled,
            Problem::Paused,
            Problem::Unknown,
            Problem::LevelAlert,
            Problem::CheckFailing,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The state line of a job section.
#[derive(Debug, Clone, PartialEq)]
pub enum StateLine {
    Completed,
    Running {
        pid: Option<i64>,
    },
    Paused {
        stop_reason: Option<String>,
    },
    /// The status could not be read; `last_known` is what `lastSeen` says
    /// (`running`, `completed`, `paused`), if anything.
    Unknown {
        last_known: Option<&'static str>,
    },
    /// Stopped by hand and held (SPEC §5.2) since this time.
    Held {
        since: f64,
    },
}

/// A stall (SPEC §5.1): no progress since `since`, for `for_seconds`, past
/// the job's `stallSeconds` (`threshold`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    pub since: f64,
    pub for_seconds: f64,
    pub threshold: f64,
}

/// The action or alert line of a long job's section (SPEC §5.6 table).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// No progress: look at the job.
    Stalled { for_seconds: f64 },
    /// Paused, autoResume off: start it or enable autoResume.
    StartIt,
    /// Paused, autoResume on, but this tick started nothing: it only
    /// watched (the config is invalid) or could not save the state first.
    NotStartedThisTick,
    /// The automatic start failed; the reason is its output, ≤ 3 lines.
    StartFailed { reason: String },
    /// Paused inside the backoff: the next automatic start after `next_at`.
    Backoff { next_at: f64 },
    /// Paused, autoResume on, risk not read_only: start it by hand.
    StartByHand,
    /// The status could not be read.
    Unknown { reason: String },
    /// The status says `level: alert`.
    Alert { message: Option<String> },
}

/// A problem that was reported and is over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub problem: Problem,
    /// How long it lasted, when its start is known.
    pub after: Option<f64>,
}

/// A long job's section, language-neutral (rendered by `report`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSection {
    pub name: String,
    pub id: String,
    pub kind: Kind,
    pub state: StateLine,
    pub stall: Option<Stall>,
    /// `warn` / `alert` asked for by the status.
    pub level: Option<Level>,
    /// The job's own message (for an unknown status: why it is unknown).
    pub message: Option<String>,
    /// The scalars among the first 6 keys, sorted by key.
    pub progress: Vec<(String, PyValue)>,
    /// The Python version's `ACTION REQUIRED` condition (an anomaly of a
    /// job that is not completed), which the Chinese form keeps.
    pub anomaly: bool,
    /// The English action and alert lines, in order.
    pub actions: Vec<Action>,
    /// A reminder of a problem that has lasted this long (SPEC §5.3).
    pub reminder: Option<f64>,
    pub autorun: Option<AutorunNote>,
    pub resolved: Option<Resolved>,
}

/// How a scheduled read check or a queued job ended, for its section.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckResult {
    /// Exit 0 but the output asks for attention.
    Attention,
    /// Nagios: 1 warning, 2 critical, 3 unknown, other non-zero failed.
    Exit(i32),
    TimedOut(u64),
    FailedToStart(String),
    Signaled(i32),
    /// Back to exit 0 after a reported failure, which lasted `after`.
    Recovered {
        after: Option<f64>,
    },
}

/// What a queued run printed: the tails of both streams, and the lines
/// asking for attention from the whole of it (SPEC §5.4: "wherever they
/// were printed" — an `ALERT` early in a long output is not in the tails).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOutput {
    pub stdout: String,
    pub stderr: String,
    pub attention: Vec<String>,
}

/// Lines shown above a run's output tail at most.
pub const ATTENTION_LINES: usize = 5;

/// Whether a line asks for a person's attention.
pub fn asks_attention(line: &str) -> bool {
    line.contains("ALERT") || line.contains("ACTION REQUIRED")
}

impl RunOutput {
    /// The tails, with the attention lines found in `whole` (stdout, then
    /// stderr).
    pub fn new(stdout: String, stderr: String, whole: [&str; 2]) -> RunOutput {
        let attention = whole
            .iter()
            .flat_map(|t| t.lines())
            .map(str::trim)
            .filter(|l| asks_attention(l))
            .take(ATTENTION_LINES)
            .map(str::to_string)
            .collect();
        RunOutput {
            stdout,
            stderr,
            attention,
        }
    }

    /// Only the tails are known (an item recorded earlier): the attention
    /// lines come from them.
    pub fn of_tails(stdout: String, stderr: String) -> RunOutput {
        let attention = RunOutput::new(String::new(), String::new(), [&stdout, &stderr]).attention;
        RunOutput {
            stdout,
            stderr,
            attention,
        }
    }
}

/// One section of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    Job(JobSection),
    /// A scheduled `one_shot_read` (SPEC §5.5).
    Check {
        name: String,
        id: String,
        result: CheckResult,
        output: String,
        /// A reminder of a failure that has lasted this long.
        reminder: Option<f64>,
    },
    QueueMissing {
        job_id: String,
    },
    QueueBlocked {
        job_id: String,
        kind: Kind,
        risk: Risk,
    },
    /// A queued job that succeeded and printed `ACTION REQUIRED` / `ALERT`.
    QueueOutput {
        name: String,
        id: String,
        output: RunOutput,
    },
    QueueFailed {
        name: String,
        id: String,
        exit: i32,
        error: Option<String>,
        output: RunOutput,
        /// A run that timed out or could not start, in the words of the
        /// Python version's exception (its Chinese report shows
        /// `queued job error` with them).
        python_error: Option<String>,
    },
    /// The queued run that verifies a write job (SPEC §5.4): always reported.
    Verification {
        write_name: String,
        write_id: String,
        /// The verifying job.
        id: String,
        /// `None`: passed; else how it failed (`exit=2`, `timed out after 300s`).
        failure: Option<String>,
        output: RunOutput,
    },
    /// Dry run: a queued or scheduled job that would run.
    WouldRun {
        name: String,
        id: String,
    },
    ConfigInvalid {
        path: String,
        error: String,
        /// Watching goes on with the last good config, kept at this time.
        watching_since: Option<f64>,
    },
    StateCorrupt {
        detail: String,
    },
    /// A channel refused a message as it is (SPEC §7): said once.
    DeliveryRefused {
        label: String,
        error: String,
    },
    /// The state could not be saved before an automatic start: nothing
    /// was started (SPEC §5 step 5).
    SaveFailed {
        error: String,
    },
    /// Stored times lay in the future and were brought back (SPEC §5).
    Clock(super::clock::ClockFix),
}

impl Section {
    /// Whether the section holds an `ACTION REQUIRED`, `ALERT` or `RESOLVED`
    /// line: such sections come first, under the alert header (SPEC §5.6).
    pub fn is_alert(&self) -> bool {
        match self {
            Section::Job(j) => !j.actions.is_empty() || j.resolved.is_some(),
            Section::Verification { failure, .. } => failure.is_some(),
            Section::WouldRun { .. } | Section::Clock(_) => false,
            Section::Check { .. }
            | Section::SaveFailed { .. }
            | Section::DeliveryRefused { .. }
            | Section::QueueMissing { .. }
            | Section::QueueBlocked { .. }
            | Section::QueueOutput { .. }
            | Section::QueueFailed { .. }
            | Section::ConfigInvalid { .. }
            | Section::StateCorrupt { .. } => true,
        }
    }
}

/// The decision for one long job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub state: JobState,
    pub section: Option<JobSection>,
}
