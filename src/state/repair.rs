//! Reading a state leniently, field by field (SPEC §4): any state the Python
//! version can use, this port can use. A known field of an unexpected type
//! or value — `durationMs: -1500`, `attempt: 1.0`, `notBefore: null`, a queue
//! item without `id` or `status`, `lastReportAt: "yesterday"`, `jobs.j1:
//! null` — is read the way the Python version reads it, or counts as absent,
//! and is named in a warning; it is never a reason to discard the file.
//!
//! The pass runs on the parsed JSON before it becomes the typed [`State`]
//! (`super::State`), so the types stay strict. Each change is remembered
//! with the original value; when the state is written and the field still
//! holds what the repair put there (the program did not need to rewrite
//! it), the original goes back under its key — a state written by another
//! version loses nothing.
//!
//! The recorded Python behaviour behind each reading is in
//! `tests/fixtures/python-reference/cases/state_*`.

use serde_json::{Map, Value};

/// One step of a path into the state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    /// A queue item: its index in the file (for the warning) and its id
    /// (to find it again when writing, wherever it moved).
    Item(usize, String),
    /// An element dropped from a list (never found again).
    Index(usize),
}

/// One field read differently from what the file holds.
#[derive(Debug, Clone, PartialEq)]
struct Repair {
    path: Vec<Seg>,
    /// What the file holds (`None`: the key was missing).
    original: Option<Value>,
    /// What the field was read as (`None`: absent).
    read_as: Option<Value>,
    /// Whether the original goes back when the field is not rewritten
    /// (a generated queue item id stays: SPEC §4 "a missing id is
    /// generated").
    restore: bool,
    why: String,
}

/// Every field the lenient reading changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Repairs {
    list: Vec<Repair>,
}

impl Repairs {
    /// One line per repaired field: `state jobs.j1.lastReportAt: "yesterday"
    /// is not a time; read as never`.
    pub fn warnings(&self) -> Vec<String> {
        self.list
            .iter()
            .map(|r| {
                let shown = r.original.as_ref().map_or("missing".to_string(), |v| {
                    crate::text::cap(&v.to_string(), 60)
                });
                format!("state {}: {shown} {}", show_path(&r.path), r.why)
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Put the original values back into `out` (the state about to be
    /// written) where the field still holds what the repair read it as.
    pub fn restore(&self, out: &mut Value) {
        self.restore_in(&[], out);
    }

    /// [`Repairs::restore`] for one job: `out` is the job `id` about to be
    /// written (the state is written a job at a time).
    pub fn restore_job(&self, id: &str, out: &mut Value) {
        if self.list.is_empty() {
            return;
        }
        self.restore_in(&[Seg::Key("jobs".into()), Seg::Key(id.into())], out);
    }

    /// Restore the repairs below `prefix`; `out` is the value at `prefix`.
    fn restore_in(&self, prefix: &[Seg], out: &mut Value) {
        for r in self.list.iter().filter(|r| r.restore) {
            let Some(path) = r.path.strip_prefix(prefix) else {
                continue;
            };
            let Some((last, parents)) = path.split_last() else {
                continue;
            };
            let Some(parent) = walk_mut(out, parents) else {
                continue;
            };
            // Only keys of objects: a dropped list element is not put back
            // (the Python version drops it too).
            let (Value::Object(m), Seg::Key(k)) = (parent, last) else {
                continue;
            };
            if !same(m.get(k), r.read_as.as_ref()) {
                continue; // rewritten by this run: the new value stays
            }
            match &r.original {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
        }
    }

    fn add(&mut self, path: &[Seg], original: Option<&Value>, read_as: Option<Value>, why: &str) {
        self.list.push(Repair {
            path: path.to_vec(),
            original: original.cloned(),
            read_as,
            restore: true,
            why: why.to_string(),
        });
    }
}

/// Equal values, numbers compared as numbers (`0` and `0.0` are one), a
/// null the same as no value.
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn walk_mut<'v>(mut v: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    for seg in path {
        v = match (v, seg) {
            (Value::Object(m), Seg::Key(k)) => m.get_mut(k)?,
            (Value::Array(a), Seg::Item(_, id)) => a
                .iter_mut()
                .find(|item| item.get("id").and_then(Value::as_str) == Some(id))?,
            _ => return None,
        };
    }
    Some(v)
}

fn show_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Item(i, _) | Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// How a known field is read.
#[derive(Clone, Copy)]
enum Field {
    /// A time or a number of seconds: a number, else absent.
    Time,
    /// A time the Python version reads as 0 when it is not a number, and
    /// this port's type requires (`createdAt`, `notBefore`).
    TimeOrZero,
    /// Only JSON `true`/`false`; anything else absent.
    Flag,
    /// Only JSON `true`/`false`; anything else `false` (Python: `is True`).
    FlagOrFalse,
    /// A string, else absent.
    Text,
    /// A string, else `""`.
    TextOrEmpty,
    /// An integer: a float is truncated, a digit string read (Python's
    /// `int()`); else absent.
    Int,
    /// An integer 0 or more, read as [`Field::Int`]; else absent.
    Count,
    /// An integer 0 or more (`attempt`: Python's `int(x or 0)`); else 0.
    CountOrZero,
    /// An object, else absent.
    Object,
}

/// Read `obj[key]` as `field`; a changed value is recorded in `repairs`.
fn field(obj: &mut Map<String, Value>, key: &str, field: Field, at: &[Seg], repairs: &mut Repairs) {
    let Some(v) = obj.get(key) else { return };
    // null is how a state spells "absent" (the Python version writes it).
    if v.is_null()
        && !matches!(
            field,
            Field::TimeOrZero | Field::TextOrEmpty | Field::FlagOrFalse | Field::CountOrZero
        )
    {
        return;
    }
    let read = match field {
        Field::Time => (!v.is_number()).then_some((None, "is not a number; read as absent")),
        Field::TimeOrZero => match v {
            Value::Number(_) => None,
            Value::Bool(b) => Some((
                Some(Value::from(u8::from(*b))),
                "read as a number, as ops-monitor.py reads it",
            )),
            _ => Some((
                Some(Value::from(0)),
                "is not a number; read as 0, as ops-monitor.py reads it",
            )),
        },
        Field::Flag => (!v.is_boolean()).then_some((None, "is not true or false; read as absent")),
        Field::FlagOrFalse => (!v.is_boolean()).then_some((
            Some(Value::Bool(false)),
            "is not true or false; read as false, as ops-monitor.py reads it",
        )),
        Field::Text => (!v.is_string()).then_some((None, "is not a string; read as absent")),
        Field::TextOrEmpty => {
            (!v.is_string()).then_some((Some(Value::from("")), "is not a string; read as empty"))
        }
        Field::Int | Field::Count | Field::CountOrZero => {
            let n = python_int(v);
            let fits = |n: i64| !matches!(field, Field::Count | Field::CountOrZero) || n >= 0;
            match n {
                Some(n) if fits(n) && (v.is_i64() || v.is_u64()) => None,
                Some(n) if fits(n) => Some((
                    Some(Value::from(n)),
                    "read as a whole number, as ops-monitor.py reads it",
                )),
                _ if matches!(field, Field::CountOrZero) => Some((
                    Some(Value::from(0)),
                    "is not a whole number 0 or more; read as 0",
                )),
                _ => Some((None, "is not a usable whole number; read as absent")),
            }
        }
        Field::Object => (!v.is_object()).then_some((None, "is not an object; read as absent")),
    };
    if let Some((read_as, why)) = read {
        // The path is built only for a repair: most fields need none.
        let path = [at, &[Seg::Key(key.to_string())]].concat();
        repairs.add(&path, Some(v), read_as.clone(), why);
        match read_as {
            Some(r) => obj.insert(key.to_string(), r),
            None => obj.remove(key),
        };
    }
}

/// Python's `int(x)` for what a state may hold: a number truncated, a
/// boolean 0/1, a decimal string; `None` where it raises (or the value
/// does not fit 64 bits).
fn python_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

const JOB_FIELDS: &[(&str, Field)] = &[
    ("lastSeen", Field::Object),
    ("lastReportAt", Field::Time),
    ("reportedCompleted", Field::Flag),
    ("lastAnomalyKey", Field::Text),
    ("lastAnomalyReportAt", Field::Time),
    ("lastProgressKey", Field::Text),
    ("lastProgressAt", Field::Time),
    ("lastReportedProgressKey", Field::Text),
    ("lastAutoResumeAt", Field::Time),
    ("lastRunAt", Field::Time),
    ("lastRun", Field::Object),
    ("lastManualStartAt", Field::Time),
    ("lastStart", Field::Object),
    ("lastStopAt", Field::Time),
    ("lastStop", Field::Object),
];

const LAST_SEEN_FIELDS: &[(&str, Field)] = &[
    ("running", Field::FlagOrFalse),
    ("completed", Field::FlagOrFalse),
    ("progressKey", Field::Text),
    ("stopReason", Field::Text),
    ("level", Field::Text),
    ("unknown", Field::Flag),
];

const RUN_FIELDS: &[(&str, Field)] = &[
    ("exitCode", Field::Int),
    ("durationMs", Field::Count),
    ("stdoutTail", Field::TextOrEmpty),
    ("stderrTail", Field::TextOrEmpty),
];

const QUEUE_FIELDS: &[(&str, Field)] = &[
    ("createdAt", Field::TimeOrZero),
    ("notBefore", Field::TimeOrZero),
    ("reason", Field::TextOrEmpty),
    ("attempt", Field::CountOrZero),
    ("lastRunAt", Field::Time),
    ("exitCode", Field::Int),
    ("stdoutTail", Field::Text),
    ("stderrTail", Field::Text),
    ("lastError", Field::Text),
    ("timeoutSeconds", Field::Time),
];

const MONITOR_FIELDS: &[(&str, Field)] = &[
    ("lastTickAt", Field::TimeOrZero),
    ("lastTickDurationMs", Field::CountOrZero),
    ("lastTickOutcome", Field::TextOrEmpty),
];

/// The queue statuses this port knows; any other is kept and never run.
pub const QUEUE_STATUSES: [&str; 5] = ["pending", "running", "done", "failed", "blocked"];

/// Read `state` (a JSON object) leniently, in place.
pub fn repair(state: &mut Value) -> Repairs {
    let mut repairs = Repairs::default();
    let Some(top) = state.as_object_mut() else {
        return repairs;
    };
    if let Some(v) = top.get("version") {
        if v.as_u64() != Some(1) {
            repairs.add(
                &[Seg::Key("version".into())],
                Some(v),
                Some(Value::from(1)),
                "read as 1",
            );
            top.insert("version".into(), Value::from(1));
        }
    }
    for (key, kind) in [
        ("updatedAt", Field::Text),
        ("lastConfigErrorAt", Field::Time),
        ("monitor", Field::Object),
        ("configFingerprint", Field::Text),
        ("corruptMovedTo", Field::Text),
        ("repairsWarned", Field::Text),
    ] {
        field(top, key, kind, &[], &mut repairs);
    }
    if let Some(Value::Object(m)) = top.get_mut("monitor") {
        for &(key, kind) in MONITOR_FIELDS {
            field(m, key, kind, &[Seg::Key("monitor".into())], &mut repairs);
        }
    }

    match top.get("jobs") {
        None | Some(Value::Object(_)) => {}
        Some(other) => {
            repairs.add(
                &[Seg::Key("jobs".into())],
                Some(other),
                None,
                "is not an object; read as no jobs",
            );
            top.remove("jobs");
        }
    }
    if let Some(Value::Object(jobs)) = top.get_mut("jobs") {
        let ids: Vec<String> = jobs.keys().cloned().collect();
        for id in ids {
            let at = [Seg::Key("jobs".into()), Seg::Key(id.clone())];
            let Some(Value::Object(job)) = jobs.get_mut(&id) else {
                let original = jobs.remove(&id);
                repairs.add(
                    &at,
                    original.as_ref(),
                    None,
                    "is not an object; read as a job never seen",
                );
                continue;
            };
            repair_job(job, &at, &mut repairs);
        }
    }

    match top.get("queue") {
        None | Some(Value::Array(_)) => {}
        Some(other) => {
            let mut r = Repair {
                path: vec![Seg::Key("queue".into())],
                original: Some(other.clone()),
                read_as: None,
                // The Python version drops it too.
                restore: false,
                why: "is not a list; read as an empty queue".into(),
            };
            r.why.shrink_to_fit();
            repairs.list.push(r);
            top.remove("queue");
        }
    }
    keep_items(
        top,
        "queue",
        "is not an object; dropped (as ops-monitor.py drops it)",
        &mut repairs,
        |i, item, repairs| match item {
            Value::Object(obj) => {
                repair_queue_item(obj, i, repairs);
                true
            }
            _ => false,
        },
    );

    repair_outbox(top, &mut repairs);

    for (key, required) in [
        ("approvals", &["grantedAt", "expiresAt"][..]),
        ("silences", &["until", "createdAt"][..]),
    ] {
        match top.get_mut(key) {
            None => {}
            Some(Value::Object(map)) => {
                let ids: Vec<String> = map.keys().cloned().collect();
                for id in ids {
                    // A grant with any odd field grants nothing (its
                    // fingerprint read as absent must never widen it); a
                    // silence keeps holding with an odd `reason` unread.
                    let texts: &[&str] = if key == "approvals" {
                        &["by", "note", "fingerprint"]
                    } else {
                        &[]
                    };
                    let usable = map.get(&id).and_then(Value::as_object).is_some_and(|o| {
                        required
                            .iter()
                            .all(|k| o.get(*k).is_some_and(Value::is_number))
                            && texts
                                .iter()
                                .all(|k| o.get(*k).is_none_or(|v| v.is_string() || v.is_null()))
                    });
                    if usable && key == "silences" {
                        if let Some(Value::Object(o)) = map.get_mut(&id) {
                            let at = [Seg::Key(key.into()), Seg::Key(id.clone())];
                            field(o, "reason", Field::Text, &at, &mut repairs);
                        }
                    }
                    if !usable {
                        let original = map.remove(&id);
                        repairs.add(
                            &[Seg::Key(key.into()), Seg::Key(id)],
                            original.as_ref(),
                            None,
                            "is not usable; read as none (nothing is granted or silenced by it)",
                        );
                    }
                }
            }
            Some(_) => {
                let original = top.remove(key);
                repairs.add(
                    &[Seg::Key(key.into())],
                    original.as_ref(),
                    None,
                    "is not an object; read as none",
                );
            }
        }
    }
    repairs
}

/// Each item of the list at `key` that `keep` (which may repair it) turns
/// down is dropped and said once, `why`; a dropped item is not put back.
fn keep_items(
    top: &mut Map<String, Value>,
    key: &str,
    why: &str,
    repairs: &mut Repairs,
    mut keep: impl FnMut(usize, &mut Value, &mut Repairs) -> bool,
) {
    let Some(Value::Array(list)) = top.get_mut(key) else {
        return;
    };
    for (i, mut item) in std::mem::take(list).into_iter().enumerate() {
        if keep(i, &mut item, repairs) {
            list.push(item);
        } else {
            repairs.list.push(Repair {
                path: vec![Seg::Key(key.into()), Seg::Index(i)],
                original: Some(item),
                read_as: None,
                restore: false,
                why: why.into(),
            });
        }
    }
}

/// The outbox is this port's own key: an odd value there never makes the
/// whole state unreadable (SPEC §4). Not a list: read as empty, and the
/// value is kept in the file while nothing replaces it; an entry that is
/// not a message this version can read: dropped, said once.
fn repair_outbox(top: &mut Map<String, Value>, repairs: &mut Repairs) {
    match top.get("outbox") {
        None | Some(Value::Array(_)) => {}
        Some(Value::Null) => {
            top.remove("outbox");
        }
        Some(_) => {
            let original = top.remove("outbox");
            repairs.add(
                &[Seg::Key("outbox".into())],
                original.as_ref(),
                None,
                "is not a list; read as an empty outbox",
            );
        }
    }
    keep_items(
        top,
        "outbox",
        "is not a message this version can read; dropped",
        repairs,
        |_, entry, _| serde_json::from_value::<crate::outbox::OutboxMessage>(entry.clone()).is_ok(),
    );
    if top.get("outboxDropped").is_some_and(Value::is_null) {
        top.remove("outboxDropped");
    }
    field(top, "outboxDropped", Field::Count, &[], repairs);
}

fn repair_job(job: &mut Map<String, Value>, at: &[Seg], repairs: &mut Repairs) {
    for &(key, kind) in JOB_FIELDS {
        field(job, key, kind, at, repairs);
    }
    if let Some(Value::Object(seen)) = job.get_mut("lastSeen") {
        let at = [at, &[Seg::Key("lastSeen".into())]].concat();
        for &(key, kind) in LAST_SEEN_FIELDS {
            field(seen, key, kind, &at, repairs);
        }
    }
    for key in ["lastRun", "lastStart", "lastStop"] {
        if let Some(Value::Object(run)) = job.get_mut(key) {
            let at = [at, &[Seg::Key(key.into())]].concat();
            for &(key, kind) in RUN_FIELDS {
                field(run, key, kind, &at, repairs);
            }
        }
    }
}

fn repair_queue_item(item: &mut Map<String, Value>, index: usize, repairs: &mut Repairs) {
    let id = match item.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        other => {
            let id = uuid::Uuid::new_v4().to_string();
            repairs.list.push(Repair {
                path: vec![
                    Seg::Key("queue".into()),
                    Seg::Index(index),
                    Seg::Key("id".into()),
                ],
                original: other.cloned(),
                read_as: Some(Value::from(id.clone())),
                restore: false,
                why: "is not an id; a new one is given".into(),
            });
            item.insert("id".into(), Value::from(id.clone()));
            id
        }
    };
    let at = [Seg::Key("queue".into()), Seg::Item(index, id)];
    let at = &at[..];
    let key = |k: &str| [at, &[Seg::Key(k.to_string())]].concat();
    // The Python version shows a job id that is not a string as Python
    // prints it (`None`) in its "queued job missing" alert.
    match item.get("jobId") {
        Some(Value::String(_)) => {}
        other => {
            let shown = match other {
                None | Some(Value::Null) => "None".to_string(),
                Some(Value::Bool(true)) => "True".to_string(),
                Some(Value::Bool(false)) => "False".to_string(),
                Some(v) => crate::pyjson::PyValue::from(v).python_str(),
            };
            repairs.add(
                &key("jobId"),
                other,
                Some(Value::from(shown.clone())),
                "is not a job id; it names no job",
            );
            item.insert("jobId".into(), Value::from(shown));
        }
    }
    // `status or "pending"`: a missing or empty status is pending; one this
    // port does not know is kept and never run.
    let status = item.get("status");
    let read_as = match status {
        Some(Value::String(s)) if QUEUE_STATUSES.contains(&s.as_str()) => None,
        None | Some(Value::Null) | Some(Value::Bool(false)) => Some((
            "pending",
            "is missing; read as pending, as ops-monitor.py reads it",
        )),
        Some(Value::String(s)) if s.is_empty() => Some((
            "pending",
            "is empty; read as pending, as ops-monitor.py reads it",
        )),
        Some(_) => Some((
            "other",
            "is a status this version does not know: kept, never run",
        )),
    };
    if let Some((s, why)) = read_as {
        repairs.add(&key("status"), status, Some(Value::from(s)), why);
        item.insert("status".into(), Value::from(s));
    }
    for &(k, kind) in QUEUE_FIELDS {
        field(item, k, kind, at, repairs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_written_oddities_are_read_and_named() {
        let mut v = json!({
            "version": 1,
            "jobs": {
                "a": {
                    "lastReportAt": "yesterday",
                    "reportedCompleted": "yes",
                    "lastSeen": {"running": null, "completed": false, "progressKey": null, "stopReason": null},
                    "lastStart": {"exitCode": 0, "durationMs": -1500, "stdoutTail": "", "stderrTail": ""},
                    "lastRun": {"exitCode": 0.0, "durationMs": 12, "stdoutTail": "ok", "stderrTail": ""}
                },
                "b": null
            },
            "queue": [
                {"jobId": "r1", "notBefore": null, "attempt": 1.0},
                "junk",
                {"id": "q2", "jobId": "r1", "status": "cancelled", "attempt": "2"}
            ]
        });
        let repairs = repair(&mut v);
        assert_eq!(
            repairs.warnings(),
            [
                r#"state jobs.a.lastReportAt: "yesterday" is not a number; read as absent"#,
                r#"state jobs.a.reportedCompleted: "yes" is not true or false; read as absent"#,
                "state jobs.a.lastSeen.running: null is not true or false; read as false, as ops-monitor.py reads it",
                "state jobs.a.lastRun.exitCode: 0.0 read as a whole number, as ops-monitor.py reads it",
                "state jobs.a.lastStart.durationMs: -1500 is not a usable whole number; read as absent",
                "state jobs.b: null is not an object; read as a job never seen",
                "state queue[0].id: missing is not an id; a new one is given",
                "state queue[0].status: missing is missing; read as pending, as ops-monitor.py reads it",
                "state queue[0].notBefore: null is not a number; read as 0, as ops-monitor.py reads it",
                "state queue[0].attempt: 1.0 read as a whole number, as ops-monitor.py reads it",
                r#"state queue[1]: "junk" is not an object; dropped (as ops-monitor.py drops it)"#,
                r#"state queue[2].status: "cancelled" is a status this version does not know: kept, never run"#,
                r#"state queue[2].attempt: "2" read as a whole number, as ops-monitor.py reads it"#,
            ]
        );
        assert_eq!(v["jobs"]["a"]["lastSeen"]["running"], false);
        assert!(v["jobs"]["a"].get("lastReportAt").is_none());
        assert_eq!(v["queue"][0]["status"], "pending");
        assert_eq!(v["queue"][1]["status"], "other");
        assert_eq!(v["queue"][1]["attempt"], 2);

        // Untouched fields get their original back; rewritten ones keep the
        // new value.
        let mut out = v.clone();
        out["queue"][0]["attempt"] = json!(2);
        out["queue"][0]["status"] = json!("done");
        repairs.restore(&mut out);
        assert_eq!(out["jobs"]["a"]["lastReportAt"], "yesterday");
        assert_eq!(out["jobs"]["a"]["lastStart"]["durationMs"], -1500);
        assert_eq!(out["jobs"]["a"]["lastRun"]["exitCode"], 0.0);
        assert_eq!(out["jobs"]["a"]["lastSeen"]["running"], Value::Null);
        assert_eq!(out["queue"][0]["attempt"], 2);
        assert_eq!(out["queue"][0]["status"], "done");
        assert!(out["queue"][0]["id"].is_string(), "a generated id stays");
        assert_eq!(out["queue"][0]["notBefore"], Value::Null);
        assert_eq!(out["queue"][1]["status"], "cancelled");
        assert_eq!(out["queue"][1]["attempt"], "2");
        assert_eq!(out["queue"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_clean_state_needs_no_repair() {
        let mut v = json!({"version": 1, "jobs": {"a": {"lastReportAt": 1.5, "lastSeen": {"running": true, "completed": false, "progressKey": "k", "stopReason": null}}},
            "queue": [{"id": "q", "jobId": "r", "status": "done", "attempt": 1, "notBefore": 0.0, "createdAt": 1.0}]});
        let before = v.clone();
        assert!(repair(&mut v).is_empty());
        assert_eq!(v, before);
    }
}
