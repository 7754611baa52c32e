//! How the state file spells the records this port adds to every job, so
//! that a state stays near 400 bytes a job (README "Performance"): a value
//! that every reader of this version infers from the rest of the file is
//! left out when written and put back when read. The types in memory are
//! always complete; only the file is shorter. Nothing the Python version
//! writes or reads is left out.
//!
//! - `lastReportedProgressKey` is left out when it is the key its absence
//!   reads as (`lastSeen.progressKey`; `""` when that is none) — the reading
//!   of a state the Python version wrote.
//! - `lastDecision.at` is left out when it is `monitor.lastTickAt` (the
//!   decision of the last tick), `lastDecision.reported` when the rule says
//!   it (`progress` reports, `quietHours` holds back: [`REPORTING_RULES`]).
//! - `lastSeen.level` is left out when it is `ok`, and written as `null`
//!   when it is not known (a `lastSeen` the Python version wrote, which does
//!   not track levels). This holds only while the file is ours: the
//!   top-level [`MARKER`] repeats the `updatedAt` of the write that left
//!   them out, and a write by another program (the Python version, an older
//!   release) changes `updatedAt` but not the marker — its `lastSeen`
//!   records without `level` then read as the Python version's again.

use serde_json::{Map, Value};

/// The top-level key that says "a `lastSeen` without `level` is `ok`": the
/// `updatedAt` of the write that left them out.
pub const MARKER: &str = "levelOkOmittedAt";

/// The rules (`lastDecision.rule`) whose decision reported the job; every
/// other rule held it back (`rules::why::Rule`, which checks the list).
pub const REPORTING_RULES: [&str; 8] = [
    "problem",
    "reminder",
    "resolved",
    "autorun",
    "stateChange",
    "completed",
    "progress",
    "check",
];

/// Whether a decision by `rule` reported the job; `None` for a rule this
/// version does not know (its `reported` is always written).
fn reported_by(rule: &str) -> Option<bool> {
    const HOLDING: [&str; 9] = [
        "silence",
        "quietHours",
        "reminderNotDue",
        "backoff",
        "hold",
        "cadenceNotDue",
        "onlyOnChange",
        "reportWhileRunningOff",
        "nothingNew",
    ];
    if REPORTING_RULES.contains(&rule) {
        Some(true)
    } else if HOLDING.contains(&rule) {
        Some(false)
    } else {
        None
    }
}

/// What the writer needs to know about the whole state.
#[derive(Debug, Clone, Copy)]
pub struct Writing {
    /// `monitor.lastTickAt` as written.
    pub tick_at: Option<f64>,
    /// Leave `level: ok` out (the marker is written with an `updatedAt`).
    pub omit_ok_level: bool,
}

/// A job about to be written (a sorted `Value`, repairs put back): leave
/// out what [`expand`] puts back.
pub fn shorten_job(job: &mut Value, w: Writing) {
    let Some(job) = job.as_object_mut() else {
        return;
    };
    if w.omit_ok_level {
        if let Some(Value::Object(seen)) = job.get_mut("lastSeen") {
            match seen.get("level") {
                Some(Value::String(l)) if l == "ok" => {
                    seen.remove("level");
                }
                None => {
                    seen.insert("level".into(), Value::Null);
                }
                _ => {}
            }
        }
    }
    if let Some(Value::Object(d)) = job.get_mut("lastDecision") {
        if w.tick_at.is_some() && d.get("at").and_then(Value::as_f64) == w.tick_at {
            d.remove("at");
        }
        let implied = d.get("rule").and_then(Value::as_str).and_then(reported_by);
        if implied.is_some() && d.get("reported").and_then(Value::as_bool) == implied {
            d.remove("reported");
        }
    }
    let seen_key = match job.get("lastSeen").and_then(|s| s.get("progressKey")) {
        Some(Value::String(k)) => Some(k.as_str()),
        Some(Value::Null) | None => None,
        // Not a key this version reads: nothing is inferred from it.
        Some(_) => return,
    };
    let implied = match job.get("lastReportedProgressKey") {
        // "" is a report without progress, which no key spells.
        Some(Value::String(k)) if k.is_empty() => seen_key.is_none(),
        Some(Value::String(k)) => Some(k.as_str()) == seen_key,
        _ => false,
    };
    if implied {
        job.remove("lastReportedProgressKey");
    }
}

/// A state just parsed (before the lenient reading): put back what
/// [`shorten_job`] left out.
pub fn expand(state: &mut Value) {
    let Some(top) = state.as_object_mut() else {
        return;
    };
    // Written again by every write, with its own time.
    let marker = top.remove(MARKER);
    let ok_omitted = match (&marker, top.get("updatedAt")) {
        (Some(Value::String(m)), Some(Value::String(u))) => m == u,
        _ => false,
    };
    let tick_at = top
        .get("monitor")
        .and_then(|m| m.get("lastTickAt"))
        .filter(|t| t.is_number())
        .cloned();
    let Some(Value::Object(jobs)) = top.get_mut("jobs") else {
        return;
    };
    for job in jobs.values_mut().filter_map(Value::as_object_mut) {
        if ok_omitted {
            if let Some(Value::Object(seen)) = job.get_mut("lastSeen") {
                seen.entry("level").or_insert_with(|| Value::from("ok"));
            }
        }
        if let Some(Value::Object(d)) = job.get_mut("lastDecision") {
            expand_decision(d, tick_at.as_ref());
        }
    }
}

fn expand_decision(d: &mut Map<String, Value>, tick_at: Option<&Value>) {
    if let (false, Some(t)) = (d.contains_key("at"), tick_at) {
        d.insert("at".into(), t.clone());
    }
    if !d.contains_key("reported") {
        let implied = d.get("rule").and_then(Value::as_str).and_then(reported_by);
        if let Some(r) = implied {
            d.insert("reported".into(), Value::Bool(r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: f64 = 1_795_262_400.25;

    fn writing() -> Writing {
        Writing {
            tick_at: Some(T),
            omit_ok_level: true,
        }
    }

    #[test]
    fn what_every_job_shares_is_left_out_and_read_back() {
        let full = json!({
            "lastDecision": {"at": T, "reported": true, "rule": "progress"},
            "lastReportedProgressKey": "{\"done\": 3}",
            "lastSeen": {"completed": false, "level": "ok", "progressKey": "{\"done\": 3}", "running": true, "stopReason": null},
        });
        let mut job = full.clone();
        shorten_job(&mut job, writing());
        assert_eq!(
            job,
            json!({
                "lastDecision": {"rule": "progress"},
                "lastSeen": {"completed": false, "progressKey": "{\"done\": 3}", "running": true, "stopReason": null},
            })
        );
        let mut state = json!({"updatedAt": "u1", MARKER: "u1", "monitor": {"lastTickAt": T}, "jobs": {"j": job}});
        expand(&mut state);
        let mut expected = full;
        // Its absence reads as lastSeen.progressKey, the same key.
        expected
            .as_object_mut()
            .unwrap()
            .remove("lastReportedProgressKey");
        assert_eq!(state["jobs"]["j"], expected);
        assert!(state.get(MARKER).is_none(), "written again by every write");
    }

    #[test]
    fn what_differs_from_the_inferred_value_is_written() {
        let full = json!({
            "lastDecision": {"at": T - 60.0, "reported": false, "rule": "cadenceNotDue", "until": T + 60.0},
            "lastReportedProgressKey": "{\"done\": 2}",
            "lastSeen": {"completed": false, "level": "warn", "progressKey": "{\"done\": 3}", "running": true, "stopReason": null},
        });
        let mut job = full.clone();
        shorten_job(&mut job, writing());
        assert_eq!(
            job["lastDecision"],
            json!({"at": T - 60.0, "rule": "cadenceNotDue", "until": T + 60.0})
        );
        assert_eq!(job["lastReportedProgressKey"], "{\"done\": 2}");
        assert_eq!(job["lastSeen"]["level"], "warn");
        let mut state = json!({"updatedAt": "u1", MARKER: "u1", "monitor": {"lastTickAt": T}, "jobs": {"j": job}});
        expand(&mut state);
        assert_eq!(state["jobs"]["j"], full);

        // A rule this version does not know keeps its `reported`; "" is the
        // key of a report without progress.
        let mut job = json!({"lastDecision": {"at": T, "reported": true, "rule": "newRule"},
            "lastReportedProgressKey": "", "lastSeen": {"progressKey": null}});
        shorten_job(&mut job, writing());
        assert_eq!(
            job,
            json!({"lastDecision": {"reported": true, "rule": "newRule"}, "lastSeen": {"progressKey": null, "level": null}})
        );
        // A blank key the Python version stored is not "no progress".
        let mut job = json!({"lastReportedProgressKey": "", "lastSeen": {"progressKey": ""}});
        shorten_job(&mut job, writing());
        assert_eq!(job["lastReportedProgressKey"], "");
    }

    #[test]
    fn a_level_the_python_version_did_not_track_stays_unknown() {
        // Written by us: an unknown level is an explicit null.
        let mut job = json!({"lastSeen": {"running": true}});
        shorten_job(&mut job, writing());
        let mut state = json!({"updatedAt": "u1", MARKER: "u1", "jobs": {"j": job}});
        expand(&mut state);
        assert_eq!(state["jobs"]["j"]["lastSeen"]["level"], Value::Null);

        // Rewritten since by another program (its own updatedAt): no level
        // is taken for ok.
        let mut state = json!({"updatedAt": "u2", MARKER: "u1", "jobs": {"j": {"lastSeen": {"running": true}}}});
        expand(&mut state);
        assert!(state["jobs"]["j"]["lastSeen"].get("level").is_none());
        let mut state = json!({"updatedAt": "u2", "jobs": {"j": {"lastSeen": {"running": true}}}});
        expand(&mut state);
        assert!(state["jobs"]["j"]["lastSeen"].get("level").is_none());
    }

    #[test]
    fn without_a_tick_time_a_decision_keeps_its_time() {
        let mut job = json!({"lastDecision": {"at": T, "reported": false, "rule": "hold"}});
        shorten_job(
            &mut job,
            Writing {
                tick_at: None,
                omit_ok_level: false,
            },
        );
        assert_eq!(job["lastDecision"], json!({"at": T, "rule": "hold"}));
    }
}
