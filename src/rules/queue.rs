//! The queue (SPEC §5.4): which items are due, which may run, and what a
//! run means for the item and the report.

use super::check::{asks_attention, shown_output};
use super::section::Section;
use super::{safety, TAIL_CHARS};
use crate::config::Job;
use crate::process::{Ending, Output};
use crate::state::{QueueItem, QueueStatus};

/// What to do with a due queue item (SPEC §5.4).
#[derive(Debug, Clone, PartialEq)]
pub enum QueueVerdict<'a> {
    Missing,
    Blocked(&'a Job),
    Run(&'a Job),
}

/// Items with status pending or running whose `notBefore` has passed.
pub fn queue_due(item: &QueueItem, now: f64) -> bool {
    matches!(item.status, QueueStatus::Pending | QueueStatus::Running) && item.not_before <= now
}

/// Only `one_shot_read` jobs with `read_only` risk ever run from the queue.
pub fn queue_verdict<'a>(item: &QueueItem, jobs: &'a [Job]) -> QueueVerdict<'a> {
    match jobs.iter().find(|j| j.id == item.job_id) {
        None => QueueVerdict::Missing,
        Some(j) if safety::tick_may_run(j) => QueueVerdict::Run(j),
        Some(j) => QueueVerdict::Blocked(j),
    }
}

/// Apply a verdict that needs no run (missing, blocked) to the item.
pub fn queue_refuse(item: &mut QueueItem, verdict: &QueueVerdict, now: f64) -> Section {
    item.status = QueueStatus::Blocked;
    item.last_run_at = Some(now);
    match verdict {
        QueueVerdict::Blocked(job) => {
            item.last_error = Some(format!(
                "blocked: {} with risk {} never runs from the queue",
                job.kind.as_str(),
                job.risk.as_str()
            ));
            Section::QueueBlocked {
                job_id: job.id.clone(),
                kind: job.kind,
                risk: job.risk,
            }
        }
        _ => {
            item.last_error = Some("job not in config".into());
            Section::QueueMissing {
                job_id: item.job_id.clone(),
            }
        }
    }
}

/// Record a queue run on the item; the section to report, if any.
pub fn queue_finish(item: &mut QueueItem, job: &Job, out: &Output, now: f64) -> Option<Section> {
    item.attempt += 1;
    item.last_run_at = Some(now);
    item.exit_code = Some(out.exit_code() as i64);
    item.stdout_tail = Some(crate::text::tail(&out.stdout, TAIL_CHARS));
    item.stderr_tail = Some(crate::text::tail(&out.stderr, TAIL_CHARS));
    let error = (!out.success()).then(|| out.describe().to_string());
    item.last_error = error.clone();
    if out.success() {
        item.status = QueueStatus::Done;
        asks_attention(out).then(|| Section::QueueOutput {
            name: job.name.clone(),
            id: job.id.clone(),
            output: shown_output(out),
        })
    } else if out.ending == Ending::Interrupted {
        // Left pending: the next tick runs it again.
        item.status = QueueStatus::Pending;
        None
    } else {
        item.status = QueueStatus::Failed;
        Some(Section::QueueFailed {
            name: job.name.clone(),
            id: job.id.clone(),
            exit: out.exit_code(),
            error: error.filter(|_| !matches!(out.ending, Ending::Exited(_))),
        })
    }
}
