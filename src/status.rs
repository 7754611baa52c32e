//! The status contract (SPEC §3): turning what a job's `status` command did
//! into an [`Observation`] — a valid status, or the reason the job's state is
//! unknown. Never an error of the monitor.
//!
//! The JSON is read as the Python version reads it ([`crate::pyjson`]):
//! `NaN`/`Infinity` accepted, integers of any size kept exactly, blank
//! strings absent — so its report and its progress key are the Python
//! version's, and stall tracking survives a switch between the two.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::process::{Ending, Output};
use crate::pyjson::PyValue;
use crate::text::{self, cap, last_line};

/// The `level` a status may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Alert,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Alert => "alert",
        }
    }

    /// SPEC §3: `warn`/`warning` → warn; `alert`/`error`/`critical`/`crit`/
    /// `fatal` → alert; anything else → ok; case and surrounding blanks do
    /// not matter.
    pub fn read(text: &str) -> Level {
        match text.trim().to_ascii_lowercase().as_str() {
            "warn" | "warning" => Level::Warn,
            "alert" | "error" | "critical" | "crit" | "fatal" => Level::Alert,
            _ => Level::Ok,
        }
    }
}

/// A status's `progress`, keys sorted.
pub type Progress = BTreeMap<String, PyValue>;

/// A valid status.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub running: bool,
    pub completed: bool,
    /// Only an integer greater than 1 (never init, never "true").
    pub pid: Option<i64>,
    pub stop_reason: Option<String>,
    /// `level` as SPEC §3 reads it (absent when blank).
    pub level: Option<Level>,
    /// `level` as the status wrote it: the anomaly key keeps the Python
    /// version's spelling (SPEC §11).
    pub level_text: Option<String>,
    pub message: Option<String>,
    pub progress: Option<Progress>,
    /// `progressKey`, else the Python-compatible JSON of `progress`.
    pub progress_key: Option<String>,
}

/// What one status run told us about a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    Known(Status),
    /// The status could not be read; the message says why (SPEC §3 table).
    Unknown(String),
}

pub const NOT_JSON: &str = "status output is not JSON";
pub const MISSING_BOOLS: &str = "status JSON must include boolean fields: running, completed";

/// Interpret a finished status run (SPEC §3: the last stderr line of a
/// failed status, else how it ended, `status exit=N` and the like).
pub fn observe(out: &Output) -> Observation {
    let ended = || format!("status {}", out.describe());
    match &out.ending {
        // SPEC §3 names the command here: `status command failed to start: …`.
        Ending::FailedToStart(_) => {
            return Observation::Unknown(format!("status command {}", out.describe()))
        }
        Ending::TimedOut | Ending::Interrupted => return Observation::Unknown(ended()),
        Ending::Signaled(_) => {
            return Observation::Unknown(last_line(&out.stderr).map_or_else(ended, str::to_string))
        }
        Ending::Exited(0) => {}
        Ending::Exited(_) => {
            return Observation::Unknown(
                last_line(&out.stderr).map_or_else(ended, |l| cap(l, FIELD_CHARS)),
            )
        }
    }
    if out.stdout_truncated {
        return Observation::Unknown("status output too large".into());
    }
    parse(&out.stdout)
}

/// Interpret status stdout (exit 0), as the Python version reads it.
pub fn parse(stdout: &str) -> Observation {
    let text = stdout.trim();
    if text.is_empty() {
        return Observation::Unknown("empty status output".into());
    }
    let Some(value) = PyValue::loads(text) else {
        return Observation::Unknown(NOT_JSON.into());
    };
    let PyValue::Dict(obj) = value else {
        return Observation::Unknown(MISSING_BOOLS.into());
    };
    let (Some(PyValue::Bool(running)), Some(PyValue::Bool(completed))) =
        (obj.get("running"), obj.get("completed"))
    else {
        return Observation::Unknown(MISSING_BOOLS.into());
    };
    // A string that is blank after trimming is absent (the Python version's
    // reading); one that is not is kept as written, made one-line safe
    // (SPEC §3) and bounded far above what a person writes.
    let text_field = |k: &str| match obj.get(k) {
        Some(PyValue::Str(s)) if !s.trim().is_empty() => Some(cap(&text::one_line(s), FIELD_CHARS)),
        _ => None,
    };
    // Only an integer: `"pid": true` is not PID 1.
    let pid = match obj.get("pid") {
        Some(PyValue::Int(d)) => d.parse::<i64>().ok().filter(|p| *p > 1),
        _ => None,
    };
    let progress = match obj.get("progress") {
        Some(PyValue::Dict(p)) => Some(p),
        _ => None,
    };
    // The key as the Python version stores it: `progressKey`, else
    // `progress` as `json.dumps(sort_keys=True)` writes it — from what the
    // job printed, before anything is made safe for a report.
    let progress_key = text_field("progressKey")
        .or_else(|| progress.map(|p| text::one_line(&PyValue::Dict(p.clone()).dumps())))
        .map(|k| text::long_key(&k));
    let level_text = text_field("level");
    Observation::Known(Status {
        running: *running,
        completed: *completed,
        pid,
        stop_reason: text_field("stopReason"),
        level: level_text.as_deref().map(Level::read),
        level_text,
        message: text_field("message"),
        progress: progress.map(safe_progress),
        progress_key,
    })
}

/// Progress with its keys and string values made one-line safe.
fn safe_progress(p: &Progress) -> Progress {
    p.iter()
        .map(|(k, v)| (text::one_line(k), v.map_strings(&text::one_line)))
        .collect()
}

/// Most characters kept of `message`, `stopReason`, `level` and an
/// explicit `progressKey`: far above what a person writes (the Python
/// version keeps them whole; this bound only stops a runaway status from
/// filling the report and the state).
pub const FIELD_CHARS: usize = 10_000;

/// JSON as Python's `json.dumps(v, sort_keys=True, ensure_ascii=False)`
/// writes it: `", "` and `": "` separators. Stall tracking compares these
/// strings, so they must match what the Python version stored.
pub fn python_json(value: &Value) -> String {
    PyValue::from(value).dumps()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    fn out(ending: Ending, stdout: &str, stderr: &str) -> Output {
        Output {
            ending,
            stdout: stdout.into(),
            stderr: stderr.into(),
            stdout_truncated: false,
            stderr_truncated: false,
            duration: Duration::from_secs(1),
            limit: Duration::from_secs(1),
        }
    }

    fn observe_1s(o: &Output) -> Observation {
        observe(o)
    }

    fn unknown(o: Observation) -> String {
        match o {
            Observation::Unknown(m) => m,
            Observation::Known(s) => panic!("expected unknown, got {s:?}"),
        }
    }

    #[test]
    fn progress_key_matches_python_fixture() {
        let Observation::Known(s) = parse(
            r#"{"running":true,"completed":false,"pid":4242,"progress":{"done":42,"total":100,"phase":"scan"}}"#,
        ) else {
            panic!()
        };
        assert_eq!(
            s.progress_key.as_deref(),
            Some(r#"{"done": 42, "phase": "scan", "total": 100}"#)
        );
        assert_eq!(s.pid, Some(4242));
    }

    #[test]
    fn progress_key_keeps_non_ascii_and_nests() {
        let Observation::Known(s) = parse(
            r#"{"running":true,"completed":false,"progress":{"b":[1,2.5,null,true],"a":"照片","c":{"z":1,"y":1e20}}}"#,
        ) else {
            panic!()
        };
        assert_eq!(
            s.progress_key.as_deref(),
            Some(r#"{"a": "照片", "b": [1, 2.5, null, true], "c": {"y": 1e+20, "z": 1}}"#)
        );
    }

    #[test]
    fn explicit_progress_key_wins() {
        let Observation::Known(s) =
            parse(r#"{"running":true,"completed":false,"progressKey":"k1","progress":{"a":1}}"#)
        else {
            panic!()
        };
        assert_eq!(s.progress_key.as_deref(), Some("k1"));
    }

    #[test]
    fn pid_true_is_not_init() {
        for pid in ["true", "1", "0", "-5", "3.5", "\"77\""] {
            let Observation::Known(s) = parse(&format!(
                r#"{{"running":true,"completed":false,"pid":{pid}}}"#
            )) else {
                panic!()
            };
            assert_eq!(s.pid, None, "pid {pid} must be ignored");
        }
    }

    #[test]
    fn every_failure_mode_has_its_message() {
        assert_eq!(
            unknown(observe_1s(&out(Ending::Exited(3), "", ""))),
            "status exit=3"
        );
        assert_eq!(
            unknown(observe_1s(&out(Ending::Exited(3), "", "first\nboom\n\n"))),
            "boom"
        );
        assert_eq!(
            unknown(observe_1s(&out(Ending::TimedOut, "", ""))),
            "status timed out after 1s"
        );
        assert_eq!(
            unknown(observe_1s(&out(Ending::Exited(0), "  \n", ""))),
            "empty status output"
        );
        assert_eq!(
            unknown(observe_1s(&out(Ending::Exited(0), "nope", ""))),
            NOT_JSON
        );
        assert_eq!(
            unknown(observe_1s(&out(Ending::Exited(0), "[1]", ""))),
            MISSING_BOOLS
        );
        assert_eq!(
            unknown(observe_1s(&out(
                Ending::Exited(0),
                r#"{"running":"yes","completed":false}"#,
                ""
            ))),
            MISSING_BOOLS
        );
        assert_eq!(
            unknown(observe_1s(&out(
                Ending::FailedToStart("No such file".into()),
                "",
                ""
            ))),
            "status command failed to start: No such file"
        );
        let mut big = out(Ending::Exited(0), "{", "");
        big.stdout_truncated = true;
        assert_eq!(unknown(observe_1s(&big)), "status output too large");
    }

    #[test]
    fn python_float_spelling() {
        use crate::pyjson::float_repr as python_float;
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(1.5e-7), "1.5e-07");
        assert_eq!(python_float(123456.789), "123456.789");
    }

    mod props {
        //! Bad input never panics: arbitrary text and arbitrary JSON through
        //! the status parser. `PROPTEST_CASES=100000 cargo test props` runs a
        //! longer campaign.
        use super::super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                ".{0,20}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                    prop::collection::btree_map(
                        prop_oneof![
                            Just("running".to_string()),
                            Just("completed".to_string()),
                            Just("pid".to_string()),
                            Just("progress".to_string()),
                            Just("progressKey".to_string()),
                            Just("level".to_string()),
                            Just("message".to_string()),
                            Just("stopReason".to_string()),
                            ".{0,8}",
                        ],
                        inner,
                        0..10
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_text_is_an_observation(text in ".{0,200}") {
                let _ = parse(&text);
            }

            #[test]
            fn any_bytes_are_an_observation(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse(&String::from_utf8_lossy(&bytes));
            }

            #[test]
            fn any_json_is_an_observation(v in json_value()) {
                match parse(&v.to_string()) {
                    Observation::Known(s) => {
                        prop_assert!(s.pid.is_none_or(|p| p > 1));
                        prop_assert!(s.message.is_none_or(|m| m.chars().count() <= FIELD_CHARS + 1));
                        prop_assert!(v.get("running").and_then(Value::as_bool).is_some());
                    }
                    Observation::Unknown(m) => prop_assert!(!m.is_empty()),
                }
            }

            #[test]
            fn progress_key_is_stable_json(v in json_value()) {
                // The key is valid JSON that reads back to the same value.
                let key = python_json(&v);
                let back: Value = serde_json::from_str(&key).unwrap();
                prop_assert_eq!(python_json(&back), key);
            }
        }
    }
}
