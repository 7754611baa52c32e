//! The queue (SPEC §5.4): which items are due, which may run, and what a
//! run means for the item and the report.

use super::check::asks_attention;
use super::section::{RunOutput, Section};
use super::{safety, TAIL_CHARS};
use crate::config::{Job, Kind};
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
/// The item is not run, so no run time is recorded (as the Python version
/// records none).
pub fn queue_refuse(item: &mut QueueItem, verdict: &QueueVerdict) -> Section {
    item.status = QueueStatus::Blocked;
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
    let output = RunOutput::new(
        item.stdout_tail.clone().unwrap_or_default(),
        item.stderr_tail.clone().unwrap_or_default(),
        [&out.stdout, &out.stderr],
    );
    if out.ending == Ending::Interrupted {
        // Left pending: the next tick runs it again.
        item.status = QueueStatus::Pending;
        return None;
    }
    item.status = if out.success() {
        QueueStatus::Done
    } else {
        QueueStatus::Failed
    };
    if item.verifies.is_some() {
        // Reported by `verification_report`, pass or fail.
        return None;
    }
    if out.success() {
        asks_attention(out).then(|| Section::QueueOutput {
            name: job.name.clone(),
            id: job.id.clone(),
            output,
        })
    } else {
        Some(Section::QueueFailed {
            name: job.name.clone(),
            id: job.id.clone(),
            exit: out.exit_code(),
            error: error.filter(|_| !matches!(out.ending, Ending::Exited(_) | Ending::Signaled(_))),
            output,
            python_error: python_error(job, out),
        })
    }
}

/// What the Python version says of a queued run that raised: the text of
/// its `TimeoutExpired` or `OSError`.
fn python_error(job: &Job, out: &Output) -> Option<String> {
    let argv = job.command("run").unwrap_or_default();
    let program = argv.first().map_or("", String::as_str);
    match &out.ending {
        Ending::TimedOut => {
            let list: Vec<String> = argv.iter().map(|a| python_repr(a)).collect();
            Some(format!(
                "Command '[{}]' timed out after {} seconds",
                list.join(", "),
                out.limit.as_secs()
            ))
        }
        Ending::FailedToStart(why) => {
            // `<what>: <strerror> (os error N)`, as the process layer words it.
            let (left, code) = why.rsplit_once(" (os error ")?;
            let code = code.strip_suffix(')')?;
            let (what, message) = left.rsplit_once(": ")?;
            let file = what.strip_prefix("cwd ").unwrap_or(program);
            Some(format!("[Errno {code}] {message}: {}", python_repr(file)))
        }
        _ => None,
    }
}

/// Python's `repr()` of a string: single quotes (double when it holds a
/// single quote and no double one), backslash escapes.
fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn item_output(item: &QueueItem) -> RunOutput {
    RunOutput::of_tails(
        item.stdout_tail.clone().unwrap_or_default(),
        item.stderr_tail.clone().unwrap_or_default(),
    )
}

/// The write job a queue item verifies: its `verifies`, else — an item
/// queued by an earlier version — the job its reason (`after ID (success)`)
/// names, when that is a `one_shot_write`.
pub fn verification_of<'a>(item: &QueueItem, jobs: &'a [Job]) -> Option<&'a Job> {
    let id = match &item.verifies {
        Some(id) => id.as_str(),
        None => item
            .reason
            .strip_prefix("after ")?
            .strip_suffix(" (success)")?,
    };
    jobs.iter()
        .find(|j| j.id == id && j.kind == Kind::OneShotWrite)
}

/// SPEC §5.4, §11: a finished verification is reported once, passed or
/// failed. A failure is said at once; a pass waits for the end of quiet
/// hours (`quiet`); a silence (`silenced`) holds back both. Marks the item
/// as reported when it returns a section.
pub fn verification_report(
    item: &mut QueueItem,
    write: &Job,
    quiet: bool,
    silenced: bool,
    now: f64,
) -> Option<Section> {
    let finished = matches!(item.status, QueueStatus::Done | QueueStatus::Failed);
    if !finished || item.reported_at.is_some() || silenced {
        return None;
    }
    let failure = match item.status {
        QueueStatus::Failed => Some(
            item.last_error
                .clone()
                .unwrap_or_else(|| format!("exit={}", item.exit_code.unwrap_or(-1))),
        ),
        _ => None,
    };
    if failure.is_none() && quiet {
        return None;
    }
    item.reported_at = Some(now);
    Some(Section::Verification {
        write_name: write.name.clone(),
        write_id: write.id.clone(),
        id: item.job_id.clone(),
        failure,
        output: item_output(item),
    })
}
