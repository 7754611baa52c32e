//! The state file (`ops-monitor.json`, SPEC §4): its types, the lock that
//! makes one run at a time, reading (with corrupt files moved aside, never
//! silently reset), and the atomic, durable write.
//!
//! Every struct keeps the keys it does not know in `extra`, so a state
//! written by the Python version or a newer release loses nothing here.
//! Known fields are read leniently ([`repair`], SPEC §4): a value of an
//! unexpected type is read the Python version's way or counts as absent,
//! is named in a warning, and is written back as it was when this run did
//! not change it.

mod compact;
#[cfg(test)]
pub(crate) mod props;
mod repair;

pub use compact::REPORTING_RULES;
pub use repair::Repairs;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::atomic::{self, NewMode};
use crate::exit::{self, Code};
use crate::outbox::Outbox;

/// Queue items kept at most (oldest finished ones dropped first).
pub const QUEUE_KEEP: usize = 200;

/// `{running, completed, progressKey, stopReason}` as last seen. All four keys
/// are always written (null when absent), as the Python version does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSeen {
    #[serde(default)]
    pub running: bool,
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub progress_key: Option<String>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// New: the status `level` last seen, so a change of level is reported once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// New: the job's status could not be read on the last tick.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unknown: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{exitCode, durationMs, stdoutTail, stderrTail}` of a start, stop or run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub stdout_tail: String,
    #[serde(default)]
    pub stderr_tail: String,
    /// New: when the command was started (a start by `tick` has no
    /// `lastManualStartAt`, so `logs` reads the time here).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub at: Option<f64>,
    /// New: who started it — `autoResume` for `tick`, else the login name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub by: Option<String>,
    /// New, on `lastRun` of a write job: the approval the run used (SPEC §9).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub approval: Option<ApprovalUsed>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A job stopped by hand and held (SPEC §5.2): not started automatically,
/// and paused is not a problem, until `start JOB`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub at: f64,
    #[serde(default)]
    pub by: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The problem a job has or last had (`rules::Problem`), and since when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemRecord {
    pub kind: String,
    pub since: f64,
    /// It was reported with an `ACTION REQUIRED` or `ALERT` line: its end
    /// earns a RESOLVED line (a pause that automatic resume handled does not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub alerted: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What the last tick decided about a job and the rule that decided it
/// (SPEC §11 "What explain reads"); `until` is when that rule stops
/// holding the report back, when it is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub at: f64,
    pub reported: bool,
    pub rule: String,
    /// Left out when there is none: the state stays small (~400 B a job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The approval a write job's run used, kept on its run record (SPEC §9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalUsed {
    /// `grant` (from `approve`, used up by the run) or `config` (the gate is
    /// open in the config).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A command a person started whose end is not recorded yet (SPEC §11
/// "Time limits"): written under the lock before the command runs, removed
/// when its result is recorded. Left behind only when the monitor was killed
/// mid-command; it then counts until `at + limit` (plus the stop grace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InProgress {
    /// When it was started (Unix seconds).
    pub at: f64,
    /// Its time limit in seconds.
    pub limit: f64,
    /// The ops-monitor process that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A value of an unexpected shape counts as absent (SPEC §4: read leniently),
/// rather than making the whole file unreadable.
fn lenient<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

/// Per-job state. Optional keys are left out of the file when unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<LastSeen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_report_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_completed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_anomaly_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_anomaly_report_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_progress_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_progress_at: Option<f64>,
    /// New: the progress key of the last routine report (SPEC §5.3 `onlyOnChange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reported_progress_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_auto_resume_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<Box<RunRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_manual_start_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_start: Option<Box<RunRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_stop_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_stop: Option<Box<RunRecord>>,
    /// New: stopped by hand (SPEC §5.2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub hold: Option<Hold>,
    /// New: the current (or last reported, not yet resolved) problem.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub problem: Option<ProblemRecord>,
    /// New: a routine change held back by quiet hours or a silence, to be
    /// reported when they end (SPEC §11).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub change_held_at: Option<f64>,
    /// New: the last tick's decision and why (SPEC §11).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub last_decision: Option<Decision>,
    /// New: a `run` by a person is under way (SPEC §6, §11).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub run_in_progress: Option<InProgress>,
    /// New: a `start` by a person is under way (SPEC §11 `startInProgress`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub start_in_progress: Option<InProgress>,
    /// New: a `stop` by a person is under way.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub stop_in_progress: Option<InProgress>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueStatus {
    Pending,
    Running,
    Done,
    Failed,
    Blocked,
    /// A status this version does not know (`cancelled`, say): kept as the
    /// file has it, never run (SPEC §4).
    Other,
}

/// One item of the queue (SPEC §4, §5.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    pub id: String,
    pub job_id: String,
    #[serde(default)]
    pub created_at: f64,
    #[serde(default)]
    pub not_before: f64,
    #[serde(default)]
    pub reason: String,
    pub status: QueueStatus,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub last_run_at: Option<f64>,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub stdout_tail: Option<String>,
    #[serde(default)]
    pub stderr_tail: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// New: the write job this run verifies (queued by its `after`); its
    /// result is always reported (SPEC §5.4).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub verifies: Option<String>,
    /// New: when the verification result was reported.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub reported_at: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl QueueItem {
    /// A pending item with a fresh UUID v4.
    pub fn new(job_id: &str, now: f64, not_before: f64, reason: String) -> QueueItem {
        QueueItem {
            id: uuid::Uuid::new_v4().to_string(),
            job_id: job_id.to_string(),
            created_at: now,
            not_before,
            reason,
            status: QueueStatus::Pending,
            attempt: 0,
            last_run_at: None,
            exit_code: None,
            stdout_tail: None,
            stderr_tail: None,
            last_error: None,
            timeout_seconds: None,
            verifies: None,
            reported_at: None,
            extra: Map::new(),
        }
    }
}

/// A grant given with `approve JOB`: good for one run until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub granted_at: f64,
    pub expires_at: f64,
    #[serde(default)]
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The job as it was approved (`rules::safety::job_fingerprint`): a
    /// config edit of its kind, risk, `run` argv or `cwd` voids the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A silence: every report of a job (or of all jobs, key `*`) held back until `until`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub until: f64,
    pub created_at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The record of the last tick (`status` shows it; metrics export it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorRecord {
    #[serde(default)]
    pub last_tick_at: f64,
    #[serde(default)]
    pub last_tick_duration_ms: u64,
    #[serde(default)]
    pub last_tick_outcome: String,
    /// The last tick that watched the jobs with a valid config and ran to
    /// its end (`ops_monitor_tick_last_success_timestamp_seconds`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub last_success_at: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What was last posted to Alertmanager (SPEC §10): the alerts firing, the
/// ones that cleared (posted as resolved for 5 minutes), and the
/// Alertmanager channels whose last post failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerRecord {
    /// Alert key → the alert, since when it fires.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub firing: BTreeMap<String, TrackedAlert>,
    /// Alert key → the alert, since when it is resolved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved: BTreeMap<String, TrackedAlert>,
    /// Alertmanager URL (userinfo removed) → since when its posts fail.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failing: BTreeMap<String, f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One alert as posted: its own labels (the channel's are added when
/// posting), annotations, and a time — when it started firing, or when it
/// was resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackedAlert {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub since: f64,
    /// When it was resolved (only in `resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<f64>,
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Written a job at a time by [`State::to_file_text`], not with the rest.
    #[serde(default, skip_serializing)]
    pub jobs: BTreeMap<String, JobState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<QueueItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_config_error_at: Option<f64>,
    /// The keys `outbox`, `outboxDropped` and `outboxDroppedByChannel`.
    /// Flattened before `extra`, so `extra` does not see them again.
    #[serde(flatten)]
    pub outbox: Outbox,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<MonitorRecord>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub approvals: BTreeMap<String, Grant>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub silences: BTreeMap<String, Silence>,
    /// Fingerprint of the config text that last validated cleanly (see
    /// `config::load_remembered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_fingerprint: Option<String>,
    /// A corrupt state file was moved aside here; the next report says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt_moved_to: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub alertmanager: Option<AlertmanagerRecord>,
    /// A fingerprint of the repairs `tick` last warned about, so the same
    /// odd fields are named once, not on every tick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repairs_warned: Option<String>,
    /// What the lenient reading changed (not stored: the file keeps its
    /// original values).
    #[serde(skip)]
    pub repairs: Repairs,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn one() -> u32 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for State {
    fn default() -> Self {
        State {
            version: 1,
            updated_at: None,
            jobs: BTreeMap::new(),
            queue: Vec::new(),
            last_config_error_at: None,
            outbox: Outbox::default(),
            monitor: None,
            approvals: BTreeMap::new(),
            silences: BTreeMap::new(),
            config_fingerprint: None,
            corrupt_moved_to: None,
            alertmanager: None,
            repairs_warned: None,
            repairs: Repairs::default(),
            extra: Map::new(),
        }
    }
}

impl State {
    /// The job's state, created empty on first use.
    pub fn job_mut(&mut self, id: &str) -> &mut JobState {
        self.jobs.entry(id.to_string()).or_default()
    }

    /// Keep at most [`QUEUE_KEEP`] items: drop the oldest finished ones,
    /// never an item that still has to run (the queue may then stay longer).
    /// One pass, whatever the queue's length.
    pub fn trim_queue(&mut self) {
        let mut excess = self.queue.len().saturating_sub(QUEUE_KEEP);
        if excess == 0 {
            return;
        }
        self.queue.retain(|q| {
            let finished = !matches!(q.status, QueueStatus::Pending | QueueStatus::Running);
            if finished && excess > 0 {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }

    /// The state as the file holds it: 2-space indent, sorted keys, non-ASCII
    /// kept, trailing newline.
    pub fn to_file_text(&self) -> String {
        // Going through `Value` sorts every object's keys (serde_json's map is
        // a BTreeMap), including the flattened unknown ones. The jobs go one
        // at a time: a tree of the whole state was the largest allocation of
        // a 1000-job tick.
        let mut top = serde_json::to_value(self).expect("state serialises");
        let writing = compact::Writing {
            tick_at: self.monitor.as_ref().map(|m| m.last_tick_at),
            omit_ok_level: self.updated_at.is_some(),
        };
        if let Some(m) = top.as_object_mut() {
            m.insert("jobs".into(), Value::Object(Map::new()));
            if let Some(at) = &self.updated_at {
                m.insert(compact::MARKER.into(), Value::from(at.as_str()));
            }
        }
        // Leaves in `jobs` only the jobs a repair put back whole (a job that
        // was not an object and that this run did not rewrite).
        self.repairs.restore(&mut top);
        let mut text = serde_json::to_string_pretty(&FileView {
            state: self,
            top: &top,
            writing,
        })
        .expect("state serialises");
        text.push('\n');
        text
    }
}

/// The state as written: `top` (everything but the jobs), with the jobs
/// serialised as they come.
struct FileView<'a> {
    state: &'a State,
    top: &'a Value,
    writing: compact::Writing,
}

impl Serialize for FileView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(top) = self.top else {
            return self.top.serialize(s);
        };
        let mut map = s.serialize_map(Some(top.len()))?;
        for (key, value) in top {
            if key == "jobs" {
                let restored = value.as_object();
                let jobs = JobsView(self.state, restored, self.writing);
                map.serialize_entry(key, &jobs)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// The jobs of a state, each turned into a sorted `Value` only while it is
/// written; `restored`: jobs a repair put back whole.
struct JobsView<'a>(&'a State, Option<&'a Map<String, Value>>, compact::Writing);

impl Serialize for JobsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let JobsView(state, restored, writing) = *self;
        let restored = restored.into_iter().flatten();
        let restored = restored.filter(|(id, _)| !state.jobs.contains_key(*id));
        let mut ids: Vec<&String> = state
            .jobs
            .keys()
            .chain(restored.map(|(id, _)| id))
            .collect();
        ids.sort_unstable();
        let mut map = s.serialize_map(Some(ids.len()))?;
        for id in ids {
            match state.jobs.get(id) {
                Some(job) => {
                    let mut value = serde_json::to_value(job).map_err(S::Error::custom)?;
                    state.repairs.restore_job(id, &mut value);
                    compact::shorten_job(&mut value, writing);
                    map.serialize_entry(id, &value)?;
                }
                None => map.serialize_entry(id, &self.1.and_then(|m| m.get(id)))?,
            }
        }
        map.end()
    }
}

/// The held lock on `<state>.lock`; released when dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Take the exclusive lock on `<state>.lock`, waiting up to `timeout`.
/// Past it: exit 75 with `another ops-monitor is running (lock: PATH)`.
pub fn lock(state_path: &Path, timeout: Duration) -> Result<Lock> {
    lock_until(state_path, Instant::now().checked_add(timeout))
}

/// Take the lock, waiting as long as it takes: the second phase of a manual
/// command (SPEC §11 "Time limits"), which must record a result that has
/// already happened. Whoever holds the lock (a tick, another phase) holds it
/// for a bounded time.
pub fn lock_waiting(state_path: &Path) -> Result<Lock> {
    lock_until(state_path, None)
}

/// [`lock`] with a deadline; `None`: no deadline.
fn lock_until(state_path: &Path, deadline: Option<Instant>) -> Result<Lock> {
    let lock_path = lock_path(state_path);
    if let Some(dir) = lock_path.parent() {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create state folder {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open lock file {}", lock_path.display()))?;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(exit::fail(
                        Code::Locked,
                        format!(
                            "another ops-monitor is running (lock: {})",
                            lock_path.display()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
    }
}

pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The path the state really lives at (SPEC §4, §8, §11 "State path
/// safety"): symbolic links followed — the lock and the write apply to the
/// file a link points to, and the link stays a link — and refused with exit
/// 2 unless it is a regular file or does not exist yet. Called before
/// anything is read, locked or written.
pub fn checked_path(path: &Path) -> Result<PathBuf> {
    let real = follow_links(path)?;
    match fs::metadata(&real) {
        Ok(m) if m.is_file() => Ok(real),
        Ok(m) => {
            let what = if m.is_dir() {
                "a folder"
            } else {
                "not a regular file (a device, FIFO or socket)"
            };
            Err(exit::fail(
                Code::Usage,
                format!(
                    "refused: the state path {} is {what}; point --state-file at a file",
                    real.display()
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(real),
        Err(e) => Err(e).with_context(|| format!("cannot look at state {}", real.display())),
    }
}

/// Follow symbolic links (also dangling ones: the target is where the first
/// write creates the state), at most 40 deep as the kernel does.
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&current)
                    .with_context(|| format!("cannot read link {}", current.display()))?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(exit::fail(
        Code::Usage,
        format!(
            "refused: the state path {} is a loop of links",
            path.display()
        ),
    ))
}

/// Whether a file at `path` may be moved aside as a corrupt state: only one
/// named like a state of ours (`ops-monitor*.json`, the default name
/// included). Anything else that is not a state is refused, never moved.
fn named_like_a_state(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("ops-monitor") && n.ends_with(".json"))
}

/// Read the state (from a path [`checked_path`] returned). A missing file is
/// a fresh state. A file that is not a JSON object is corrupt: moved aside
/// to `<name>.corrupt-<UTC time>` when it is named like a state, and a fresh
/// state remembers where it went, so the next report can say so; any other
/// file — and a job config (a top-level `jobs` list) — is refused with exit
/// 2, never moved and never written. `move_aside: false` (read-only
/// commands, dry runs) leaves the file where it is.
pub fn load(path: &Path, move_aside: bool) -> Result<State> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read state {}", path.display())),
    };
    // Parsed once: the check for a job config and the state read the same
    // tree (a second parse cost a tenth of a 1000-job tick).
    let value = serde_json::from_slice::<Value>(&bytes).map_err(|e| format!("not JSON: {e}"));
    drop(bytes);
    if value
        .as_ref()
        .is_ok_and(|v| v.get("jobs").is_some_and(Value::is_array))
    {
        return Err(exit::fail(
            Code::Usage,
            format!(
                "refused: {} holds a job config (a top-level \"jobs\" list), not a state; \
                 point --state-file somewhere else",
                path.display()
            ),
        ));
    }
    match value.and_then(from_value) {
        Ok(state) => Ok(state),
        Err(why) if !named_like_a_state(path) => Err(exit::fail(
            Code::Usage,
            format!(
                "refused: {} is not an ops-monitor state ({why}) and is not named like one \
                 (ops-monitor*.json), so it is neither used nor moved aside",
                path.display()
            ),
        )),
        Err(why) => {
            let mut state = State::default();
            if move_aside {
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
                let mut aside = path.as_os_str().to_owned();
                aside.push(format!(".corrupt-{stamp}"));
                let aside = PathBuf::from(aside);
                fs::rename(path, &aside).with_context(|| {
                    format!(
                        "state {} is unreadable ({why}) and could not be moved aside",
                        path.display()
                    )
                })?;
                state.corrupt_moved_to = Some(format!("{} ({why})", aside.display()));
            } else {
                state.corrupt_moved_to = Some(format!("{} is unreadable ({why})", path.display()));
            }
            Ok(state)
        }
    }
}

/// Parse state text, leniently (SPEC §4); the error says why it is not a
/// usable state (not JSON, or not an object).
#[cfg(test)]
pub fn parse(bytes: &[u8]) -> std::result::Result<State, String> {
    serde_json::from_slice(bytes)
        .map_err(|e| format!("not JSON: {e}"))
        .and_then(from_value)
}

/// [`parse`] of text already parsed as JSON.
fn from_value(mut value: Value) -> std::result::Result<State, String> {
    if !value.is_object() {
        return Err("not a JSON object".to_string());
    }
    compact::expand(&mut value);
    let repairs = repair::repair(&mut value);
    // Read without tracking the path (it copies every key it passes); only
    // a state that cannot be read is read again, to say where.
    let mut state = match State::deserialize(&value) {
        Ok(state) => state,
        Err(_) => {
            let e = serde_path_to_error::deserialize::<_, State>(&value).err();
            return Err(e.map_or_else(
                || "unreadable".to_string(),
                |e| format!("{}: {}", e.path(), e.inner()),
            ));
        }
    };
    state.repairs = repairs;
    Ok(state)
}

/// Write the state atomically and durably: a temporary file in the same
/// folder, fsync, rename over the old file, fsync the folder. `updatedAt` is
/// set to now. A reader never sees a half-written file.
pub fn save(path: &Path, state: &mut State) -> Result<()> {
    state.updated_at =
        Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false));
    atomic::write(path, state.to_file_text().as_bytes(), NewMode::Private)
        .with_context(|| format!("cannot write state {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let text = r#"{"version":1,"future":{"a":1},"jobs":{"j":{"lastSeen":{"running":true,"completed":false,"progressKey":null,"stopReason":null,"x":2},"mystery":[1]}},
            "queue":[{"id":"u","jobId":"j","status":"pending","createdAt":1.0,"notBefore":2.0,"reason":"r","attempt":0,"extraField":"kept"}]}"#;
        let state = parse(text.as_bytes()).unwrap();
        let out: Value = serde_json::from_str(&state.to_file_text()).unwrap();
        assert_eq!(out["future"]["a"], 1);
        assert_eq!(out["jobs"]["j"]["mystery"][0], 1);
        assert_eq!(out["jobs"]["j"]["lastSeen"]["x"], 2);
        assert_eq!(out["queue"][0]["extraField"], "kept");
    }

    #[test]
    fn jobs_written_one_at_a_time_keep_their_repaired_originals() {
        let text = r#"{"version":1,"zz":1,"jobs":{
            "a":{"lastReportAt":"yesterday","lastSeen":{"running":null,"completed":false,"progressKey":"k","stopReason":null}},
            "b":null,
            "c":{"lastReportAt":2.5}}}"#;
        let mut state = parse(text.as_bytes()).unwrap();
        state.job_mut("c").last_report_at = Some(3.5);
        let out: Value = serde_json::from_str(&state.to_file_text()).unwrap();
        assert_eq!(out["jobs"]["a"]["lastReportAt"], "yesterday");
        assert_eq!(out["jobs"]["a"]["lastSeen"]["running"], Value::Null);
        assert_eq!(out["jobs"]["a"]["lastSeen"]["progressKey"], "k");
        assert!(out["jobs"]["b"].is_null() && out["jobs"].get("b").is_some());
        assert_eq!(out["jobs"]["c"]["lastReportAt"], 3.5);
        assert_eq!(out["zz"], 1);
        // A job this run wrote again keeps the new value, not the original.
        state.job_mut("b").last_report_at = Some(1.0);
        let out: Value = serde_json::from_str(&state.to_file_text()).unwrap();
        assert_eq!(out["jobs"]["b"]["lastReportAt"], 1.0);
    }

    #[test]
    fn the_outbox_keys_keep_their_names_and_their_unknown_keys() {
        let text = r#"{"version":1,"jobs":{},"future":true,
            "outbox":[{"text":"hi","channel":"file:/x","channelSpec":{"type":"file","path":"/x"},"createdAt":3.0,"later":[1]}],
            "outboxDropped":4,"outboxDroppedByChannel":{"file:/x":3}}"#;
        let state = parse(text.as_bytes()).unwrap();
        let file = crate::outbox::identity(&crate::config::Channel::File { path: "/x".into() });
        assert_eq!(state.outbox.len(), 1);
        assert_eq!(state.outbox.dropped, 4);
        assert_eq!(state.outbox.dropped_untold(&file), 4);
        assert!(
            !state.extra.contains_key("outboxDroppedByChannel") && state.extra.len() == 1,
            "only the unknown key is left to extra: {:?}",
            state.extra
        );
        let out: Value = serde_json::from_str(&state.to_file_text()).unwrap();
        assert_eq!(out["outbox"][0]["later"][0], 1);
        assert!(out["outbox"][0].get("channelSpec").is_none(), "never kept");
        assert_eq!(out["outbox"][0]["channel"], file.as_str());
        assert_eq!(out["outbox"][0]["label"], "file:/x");
        assert_eq!(out["outboxDropped"], 4);
        assert_eq!(out["outboxDroppedByChannel"][&file], 3);
        assert_eq!(out["future"], true);

        let empty: Value = serde_json::from_str(&State::default().to_file_text()).unwrap();
        for key in ["outbox", "outboxDropped", "outboxDroppedByChannel"] {
            assert!(empty.get(key).is_none(), "{key} is left out while empty");
        }
    }

    #[test]
    fn file_text_sorts_keys_and_ends_with_newline() {
        let mut s = State::default();
        s.job_mut("b").last_report_at = Some(2.5);
        s.job_mut("a").last_report_at = Some(1.0);
        let text = s.to_file_text();
        assert!(text.ends_with("}\n"));
        assert!(text.find("\"a\"").unwrap() < text.find("\"b\"").unwrap());
        assert!(text.contains("\"lastReportAt\": 1.0"));
        assert!(!text.contains("\"queue\""), "empty queue is left out");
    }

    #[test]
    fn an_odd_grant_grants_nothing_and_the_state_is_still_read() {
        // Once the example of a state that could not be read (and so was
        // moved aside whole): one field of one grant.
        let text = r#"{"approvals": {"a": {"grantedAt": 1, "expiresAt": 2, "by": 5}}}"#;
        let st = parse(text.as_bytes()).unwrap();
        assert!(st.approvals.is_empty());
        assert_eq!(
            st.repairs.warnings(),
            vec![
                r#"state approvals.a: {"by":5,"expiresAt":2,"grantedAt":1} is not usable; read as none (nothing is granted or silenced by it)"#
            ]
        );
    }

    #[test]
    fn non_object_is_rejected() {
        assert!(parse(b"[1,2]").is_err());
        // Read leniently (SPEC §4): jobs that are not an object are none.
        let st = parse(b"{\"jobs\": 3}").unwrap();
        assert!(st.jobs.is_empty());
        assert_eq!(
            st.repairs.warnings(),
            ["state jobs: 3 is not an object; read as no jobs"]
        );
        assert!(parse(b"{tru").is_err());
    }

    #[test]
    fn trim_queue_drops_finished_first() {
        let mut s = State::default();
        for i in 0..(QUEUE_KEEP + 2) {
            let mut item = QueueItem::new("j", 0.0, 0.0, String::new());
            item.id = i.to_string();
            if i > 0 {
                item.status = QueueStatus::Done;
            }
            s.queue.push(item);
        }
        s.trim_queue();
        assert_eq!(s.queue.len(), QUEUE_KEEP);
        assert_eq!(s.queue[0].id, "0", "the pending item is kept");
        assert_eq!(s.queue[1].id, "3");
    }

    #[test]
    fn trim_queue_never_drops_pending_items() {
        let mut s = State::default();
        for i in 0..(QUEUE_KEEP + 5) {
            let mut item = QueueItem::new("j", 0.0, 0.0, String::new());
            item.id = i.to_string();
            if i == 7 {
                item.status = QueueStatus::Failed;
            }
            s.queue.push(item);
        }
        s.trim_queue();
        assert_eq!(s.queue.len(), QUEUE_KEEP + 4, "only the finished item goes");
        assert!(s.queue.iter().all(|q| q.status == QueueStatus::Pending));
    }
}
