//! The status contract (SPEC §3): turning what a job's `status` command did
//! into an [`Observation`] — a valid status, or the reason the job's state is
//! unknown. Never an error of the monitor.

use serde_json::{Map, Value};

use crate::process::{Ending, Output};
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

    fn parse(s: &str) -> Option<Level> {
        match s {
            "ok" => Some(Level::Ok),
            "warn" => Some(Level::Warn),
            "alert" => Some(Level::Alert),
            _ => None,
        }
    }
}

/// A valid status.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub running: bool,
    pub completed: bool,
    /// Only an integer greater than 1 (never init, never "true").
    pub pid: Option<i64>,
    pub stop_reason: Option<String>,
    pub level: Option<Level>,
    pub message: Option<String>,
    pub progress: Option<Map<String, Value>>,
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

/// Interpret status stdout (exit 0).
pub fn parse(stdout: &str) -> Observation {
    let text = stdout.trim();
    if text.is_empty() {
        return Observation::Unknown("empty status output".into());
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return Observation::Unknown(NOT_JSON.into()),
    };
    let Value::Object(obj) = value else {
        return Observation::Unknown(MISSING_BOOLS.into());
    };
    let (Some(running), Some(completed)) = (
        obj.get("running").and_then(Value::as_bool),
        obj.get("completed").and_then(Value::as_bool),
    ) else {
        return Observation::Unknown(MISSING_BOOLS.into());
    };
    // Bounded, so a status that prints a huge message cannot blow up the
    // report or the state (the anomaly key holds the message).
    // Job text is made one-line safe (SPEC §3) before it can reach a
    // report, a terminal or the state.
    let text_field = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| cap(&text::one_line(s), FIELD_CHARS))
    };
    // `as_i64` is None for floats and booleans: `"pid": true` is not PID 1.
    let pid = obj.get("pid").and_then(Value::as_i64).filter(|p| *p > 1);
    let progress = obj
        .get("progress")
        .and_then(Value::as_object)
        .map(safe_progress);
    let progress_key = match obj.get("progressKey").and_then(Value::as_str) {
        Some(k) => Some(text::one_line(k)),
        None => progress
            .as_ref()
            .map(|p| python_json(&Value::Object(p.clone()))),
    }
    .map(|k| text::long_key(&k));
    Observation::Known(Status {
        running,
        completed,
        pid,
        stop_reason: text_field("stopReason"),
        level: obj
            .get("level")
            .and_then(Value::as_str)
            .and_then(Level::parse),
        message: text_field("message"),
        progress,
        progress_key,
    })
}

/// Progress with its keys and string values made one-line safe.
fn safe_progress(p: &Map<String, Value>) -> Map<String, Value> {
    p.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => Value::String(text::one_line(s)),
                other => other.clone(),
            };
            (text::one_line(k), v)
        })
        .collect()
}

/// Most characters kept of `message` and `stopReason`.
pub const FIELD_CHARS: usize = 800;

/// JSON as Python's `json.dumps(v, sort_keys=True, ensure_ascii=False)`
/// writes it: `", "` and `": "` separators. Stall tracking compares these
/// strings, so they must match what the Python version stored.
pub fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out);
    out
}

fn write_python_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(v, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's Map is ordered by key, as `sort_keys=True` wants.
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write_python_json(v, out);
            }
            out.push('}');
        }
        Value::Number(n) => out.push_str(&python_number(n)),
        other => out.push_str(&other.to_string()),
    }
}

/// Python spells floats with an exponent as `1e+20`, integers as they are.
fn python_number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or(0.0);
        python_float(f)
    } else {
        n.to_string()
    }
}

/// `repr(float)`: shortest round-trip digits; scientific form outside
/// 1e-4 ≤ |x| < 1e16, with a sign and at least two exponent digits.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{f:e}"); // e.g. "1e20", "1.5e-7"
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let s = format!("{f:?}"); // Rust's Debug is shortest round-trip, keeps ".0"
    s
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
