//! The types a decision returns: report sections (language-neutral; `report`
//! renders them) and what automatic resume did.

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
    StartFailed(i32),
    StartTimedOut,
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
            AutorunNote::Started | AutorunNote::StartFailed(_) | AutorunNote::StartTimedOut
        )
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
    /// The status could not be read.
    Unknown,
}

/// A long job's section, language-neutral (rendered by `report`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSection {
    pub name: String,
    pub id: String,
    pub kind: Kind,
    pub state: StateLine,
    /// `warn` / `alert` asked for by the status.
    pub level: Option<Level>,
    pub message: Option<String>,
    /// The scalars among the first 6 keys, sorted by key.
    pub progress: Vec<(String, PyValue)>,
    pub action_required: bool,
    pub autorun: Option<AutorunNote>,
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
    Recovered,
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
        output: String,
    },
    QueueFailed {
        name: String,
        id: String,
        exit: i32,
        error: Option<String>,
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
    /// The state could not be saved before an automatic start: nothing
    /// was started (SPEC §5 step 5).
    SaveFailed {
        error: String,
    },
    /// Stored times lay in the future and were brought back (SPEC §5).
    Clock(super::clock::ClockFix),
}

/// The decision for one long job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub state: JobState,
    pub section: Option<JobSection>,
}
