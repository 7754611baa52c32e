//! What the Python `ops-monitor.py` accepts, read the way it reads it
//! (SPEC §2, "What the Python version accepts" and "Quiet hours, the Python
//! way"), so that a config that worked with it keeps working — and means the
//! same — after the switch.
//!
//! This pass runs first, on a copy of the parsed file: every form the Python
//! version only tolerates is rewritten into the canonical form the JSON
//! Schema describes (or removed, where its meaning is "use the fallback"),
//! with a warning that names the path and the value used — an error with
//! `--strict`. The schema check, the unknown-key walk and the resolution then
//! see the canonical form only. The one Python reading the canonical form
//! cannot hold — a negative number in `defaults`, used as given — is handed
//! to the resolution in [`Readings`].
//!
//! The recorded behaviour of the Python version behind each rule is in
//! `tests/fixtures/python-reference/cases/config_*` and `quiet_*`.

use serde_json::{Map, Value};

use super::{Found, JsonPath};

/// The `defaults` numbers the Python version reads with `int(x or
/// built-in)`.
pub(super) const PYTHON_DEFAULT_NUMBERS: [(&str, f64); 3] = [
    ("reportEverySeconds", 1800.0),
    ("stallSeconds", 3600.0),
    ("autoResumeBackoffSeconds", 900.0),
];

/// This port's own `defaults` numbers: positive, else the built-in value.
const PORT_DEFAULT_NUMBERS: [&str; 3] = ["statusTimeoutSeconds", "timeoutSeconds", "everySeconds"];

/// The policy flags the Python version reads, each counting only as JSON
/// `true`/`false`.
const POLICY_FLAGS: [&str; 3] = ["autoResume", "onlyOnChange", "reportWhileRunning"];

/// What the canonical form cannot express: negative `defaults` numbers the
/// Python version uses as given (key → value).
#[derive(Debug, Default)]
pub(super) struct Readings {
    pub negative_defaults: Vec<(&'static str, f64)>,
}

/// Rewrite `value` into the canonical form, warning about each tolerated
/// form (errors with `strict`, see [`Found::tolerated`]); values the Python
/// version cannot read either are errors.
pub(super) fn read(value: &mut Value, found: &mut Found) -> Readings {
    let mut readings = Readings::default();
    let Some(top) = value.as_object_mut() else {
        return readings;
    };
    version(top, found);
    match top.get("defaults") {
        None | Some(Value::Object(_)) => {}
        Some(other) => {
            found.tolerated(
                JsonPath::root().key("defaults"),
                format!(
                    "not an object (got {}): the built-in defaults are used, with quiet hours \
                     23:00–08:00 (as ops-monitor.py reads it)",
                    short(other)
                ),
            );
            top.remove("defaults");
        }
    }
    if let Some(Value::Object(defaults)) = top.get_mut("defaults") {
        read_defaults(defaults, &mut readings, found);
    }
    let fallback = Fallback::of(top.get("defaults"), &readings);
    if let Some(Value::Array(jobs)) = top.get_mut("jobs") {
        for (i, job) in jobs.iter_mut().enumerate() {
            if let Value::Object(job) = job {
                read_job(i, job, &fallback, found);
            }
        }
    }
    readings
}

/// The defaults' values a job's policy falls back to, as words for the
/// warnings (read from the canonical `defaults`).
struct Fallback {
    numbers: [String; 3],
    auto_resume: bool,
    quiet_hours: String,
}

impl Fallback {
    fn of(defaults: Option<&Value>, readings: &Readings) -> Fallback {
        let number = |(key, built_in): (&str, f64)| {
            let n = readings
                .negative_defaults
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, n)| *n)
                .or_else(|| defaults?.get(key)?.as_f64())
                .unwrap_or(built_in);
            format!("{n}")
        };
        let q = defaults.and_then(|d| d.get("quietHours"));
        let half = |h: &str, or: &str| {
            q.and_then(|q| q.get(h))
                .and_then(Value::as_str)
                .unwrap_or(or)
                .to_string()
        };
        let (start, end) = (half("start", "23:00"), half("end", "08:00"));
        Fallback {
            numbers: PYTHON_DEFAULT_NUMBERS.map(number),
            auto_resume: defaults
                .and_then(|d| d.get("autoResume"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            quiet_hours: if start == end {
                "none".to_string()
            } else {
                format!("{start}–{end}")
            },
        }
    }
}

/// `int(cfg.get("version") or 0) == 1`.
fn version(top: &mut Map<String, Value>, found: &mut Found) {
    let Some(v) = top.get("version") else { return };
    if v.as_i64() == Some(1) || v.as_u64() == Some(1) {
        return;
    }
    if !falsy(v) && python_int(v) == Some(1.0) {
        found.tolerated(
            JsonPath::root().key("version"),
            format!(
                "{} read as 1 (as ops-monitor.py reads it); write 1",
                short(v)
            ),
        );
        top.insert("version".into(), Value::from(1));
    }
    // Anything else: the schema's "must be 1", as the Python version refuses it.
}

fn read_defaults(defaults: &mut Map<String, Value>, readings: &mut Readings, found: &mut Found) {
    let at = |key: &str| JsonPath::root().key("defaults").key(key);
    for (key, built_in) in PYTHON_DEFAULT_NUMBERS {
        let Some(v) = defaults.get(key) else { continue };
        if falsy(v) {
            found.tolerated(
                at(key),
                format!(
                    "{} means the built-in {} (as ops-monitor.py reads it); leave it out or write {}",
                    short(v),
                    built_in,
                    built_in
                ),
            );
            defaults.remove(key);
            continue;
        }
        let Some(n) = python_int(v) else {
            found.error(
                at(key),
                format!(
                    "must be a whole number of seconds (got {}; ops-monitor.py cannot read it either)",
                    short(v)
                ),
            );
            defaults.remove(key);
            continue;
        };
        let canonical = v.is_u64() || (v.is_i64() && n >= 0.0);
        if n < 0.0 {
            found.tolerated(
                at(key),
                format!(
                    "{} is used as given (as ops-monitor.py reads it): {}",
                    short(v),
                    negative_meaning(key)
                ),
            );
            readings.negative_defaults.push((key, n));
            defaults.remove(key);
        } else if !canonical {
            found.tolerated(
                at(key),
                format!(
                    "{} read as {n} (as ops-monitor.py reads it); write {n}",
                    short(v)
                ),
            );
            defaults.insert(key.into(), Value::from(n as u64));
        }
    }
    for key in PORT_DEFAULT_NUMBERS {
        let Some(v) = defaults.get(key) else { continue };
        if v.is_null() && key == "everySeconds" {
            continue;
        }
        if v.as_f64().is_none_or(|n| n <= 0.0 || !n.is_finite()) {
            found.tolerated(
                at(key),
                format!(
                    "must be a number of seconds greater than 0 (got {}): the built-in value is used",
                    short(v)
                ),
            );
            defaults.remove(key);
        }
    }
    if let Some(v) = defaults.get("autoResume").filter(|v| !v.is_boolean()) {
        found.tolerated(
            at("autoResume"),
            format!(
                "{} is not true: automatic resume is off (only JSON true turns it on, as in ops-monitor.py)",
                short(v)
            ),
        );
        defaults.remove("autoResume");
    }
    for key in ["onlyOnChange", "reportWhileRunning"] {
        if let Some(v) = defaults.get(key).filter(|v| !v.is_boolean()) {
            found.tolerated(
                at(key),
                format!(
                    "{} is not true or false: the built-in true is used",
                    short(v)
                ),
            );
            defaults.remove(key);
        }
    }
    defaults_quiet_hours(defaults, found);
}

fn negative_meaning(key: &str) -> &'static str {
    match key {
        "reportEverySeconds" => "a running job's routine report is due on every tick",
        "stallSeconds" => "no stall detection",
        _ => "no backoff between automatic starts",
    }
}

/// `defaults.quietHours`: a half that is present but not `HH:MM` means no
/// quiet hours at all; a missing or empty half is filled with 23:00 / 08:00;
/// a value that is not an object means 23:00–08:00.
fn defaults_quiet_hours(defaults: &mut Map<String, Value>, found: &mut Found) {
    let at = JsonPath::root().key("defaults").key("quietHours");
    let Some(q) = defaults.get("quietHours") else {
        return;
    };
    let Some(obj) = q.as_object() else {
        found.tolerated(
            at,
            format!(
                "not an object (got {}): 23:00–08:00 is used (as ops-monitor.py reads it)",
                short(q)
            ),
        );
        defaults.remove("quietHours");
        return;
    };
    let mut halves = Vec::with_capacity(2);
    let mut none = false;
    for (half, default) in [("start", "23:00"), ("end", "08:00")] {
        match obj.get(half) {
            Some(v) if !falsy(v) => match v.as_str().and_then(hhmm) {
                Some(text) => {
                    if v.as_str() != Some(text.as_str()) {
                        found.tolerated(
                            at.clone().key(half),
                            format!("{} read as \"{text}\"", short(v)),
                        );
                    }
                    halves.push(text);
                }
                None => {
                    found.tolerated(
                        at.clone().key(half),
                        format!(
                            "{} is not \"HH:MM\" (two-digit hours 00-23 and minutes 00-59): \
                             no quiet hours at all (as ops-monitor.py reads it)",
                            short(v)
                        ),
                    );
                    none = true;
                }
            },
            other => {
                found.tolerated(
                    at.clone().key(half),
                    format!(
                        "{}: {default} is used (as ops-monitor.py reads it)",
                        other.map_or("missing".to_string(), |v| format!("{} is empty", short(v)))
                    ),
                );
                halves.push(default.to_string());
            }
        }
    }
    let window = if none {
        serde_json::json!({"start": "00:00", "end": "00:00"})
    } else {
        serde_json::json!({"start": halves[0], "end": halves[1]})
    };
    let mut rest = obj.clone();
    rest.remove("start");
    rest.remove("end");
    let Value::Object(mut window) = window else {
        return;
    };
    // Unknown keys inside stay, for the unknown-key warning.
    window.extend(rest);
    defaults.insert("quietHours".into(), Value::Object(window));
}

fn read_job(i: usize, job: &mut Map<String, Value>, fallback: &Fallback, found: &mut Found) {
    let at = || JsonPath::job(i);

    if let Some(v) = job.get("name").filter(|v| !v.is_string()) {
        found.tolerated(
            at().key("name"),
            format!(
                "{} is not a string: the id is shown (as ops-monitor.py does)",
                short(v)
            ),
        );
        job.remove("name");
    }
    if job.get("cwd").is_some_and(Value::is_null) {
        found.tolerated(
            at().key("cwd"),
            "null: the OpenClaw home is used (as ops-monitor.py reads it)",
        );
        job.remove("cwd");
    }
    if let Some(v) = job.get("approval").filter(|v| !v.is_object()) {
        found.tolerated(
            at().key("approval"),
            format!(
                "not an object (got {}): no approval in the config",
                short(v)
            ),
        );
        job.remove("approval");
    }
    if let Some(Value::Object(approval)) = job.get_mut("approval") {
        for (key, safe) in [("required", "true"), ("granted", "false")] {
            if let Some(v) = approval.get(key).filter(|v| !v.is_boolean()) {
                found.tolerated(
                    at().key("approval").key(key),
                    format!("{} is not true or false: {safe} is used", short(v)),
                );
                approval.remove(key);
            }
        }
    }

    match job.get("policy") {
        None | Some(Value::Object(_)) => {}
        Some(v) => {
            found.tolerated(
                at().key("policy"),
                format!(
                    "not an object (got {}): no per-job policy (as ops-monitor.py reads it)",
                    short(v)
                ),
            );
            job.remove("policy");
        }
    }
    if let Some(Value::Object(policy)) = job.get_mut("policy") {
        read_policy(policy, at().key("policy"), fallback, found);
    }

    match job.get("after") {
        None | Some(Value::Array(_)) => {}
        Some(v) => {
            found.tolerated(
                at().key("after"),
                format!(
                    "not a list (got {}): nothing is queued after this job (as ops-monitor.py reads it)",
                    short(v)
                ),
            );
            job.remove("after");
        }
    }
    if let Some(Value::Array(after)) = job.get_mut("after") {
        let mut kept = Vec::with_capacity(after.len());
        for (k, entry) in std::mem::take(after).into_iter().enumerate() {
            if let Some(entry) = read_after(entry, at().key("after").index(k), found) {
                kept.push(entry);
            }
        }
        *after = kept;
    }
}

/// One policy: a number counts only as a whole number 0 or more (`true`/
/// `false` as 1/0), a flag only as `true`/`false`, a quiet-hours window only
/// when both halves are valid; anything else falls back to `defaults`.
fn read_policy(
    policy: &mut Map<String, Value>,
    at: JsonPath,
    fallback: &Fallback,
    found: &mut Found,
) {
    for (n, (key, _)) in PYTHON_DEFAULT_NUMBERS.iter().enumerate() {
        let key = *key;
        let Some(v) = policy.get(key) else { continue };
        match v {
            Value::Number(n) if n.is_u64() => {}
            Value::Bool(b) => {
                let n = u64::from(*b);
                found.tolerated(
                    at.clone().key(key),
                    format!("{b} read as {n} (as ops-monitor.py reads it); write {n}"),
                );
                policy.insert(key.into(), Value::from(n));
            }
            other => {
                found.tolerated(
                    at.clone().key(key),
                    format!(
                        "{} is ignored (ops-monitor.py counts only a whole number 0 or more here): \
                         the defaults' {} is used",
                        short(other),
                        fallback.numbers[n]
                    ),
                );
                policy.remove(key);
            }
        }
    }
    for key in POLICY_FLAGS {
        let Some(v) = policy.get(key).filter(|v| !v.is_boolean()) else {
            continue;
        };
        let fallback = if key == "autoResume" {
            format!("the defaults' {}", fallback.auto_resume)
        } else {
            "true".to_string()
        };
        found.tolerated(
            at.clone().key(key),
            format!(
                "{} is ignored (only true or false count, as in ops-monitor.py): {fallback} is used",
                short(v)
            ),
        );
        policy.remove(key);
    }
    if let Some(q) = policy.get("quietHours") {
        let window = q.as_object().and_then(|obj| {
            let start = obj.get("start")?.as_str().and_then(hhmm)?;
            let end = obj.get("end")?.as_str().and_then(hhmm)?;
            Some((obj, start, end))
        });
        match window {
            Some((obj, start, end)) => {
                if obj.get("start").and_then(Value::as_str) != Some(start.as_str())
                    || obj.get("end").and_then(Value::as_str) != Some(end.as_str())
                {
                    let mut obj = obj.clone();
                    obj.insert("start".into(), Value::from(start));
                    obj.insert("end".into(), Value::from(end));
                    policy.insert("quietHours".into(), Value::Object(obj));
                }
            }
            None => {
                found.tolerated(
                    at.clone().key("quietHours"),
                    format!(
                        "{} is not a window of two \"HH:MM\" times: the defaults' window ({}) is \
                         used (as ops-monitor.py reads it)",
                        short(q),
                        fallback.quiet_hours
                    ),
                );
                policy.remove("quietHours");
            }
        }
    }
}

/// One `after` entry as the Python version reads it, or `None` when it
/// ignores the entry.
fn read_after(entry: Value, at: JsonPath, found: &mut Found) -> Option<Value> {
    let Value::Object(mut obj) = entry else {
        found.tolerated(
            at,
            format!(
                "not an object (got {}): ignored (as ops-monitor.py ignores it)",
                short(&entry)
            ),
        );
        return None;
    };
    match obj.get("jobId") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        other => {
            found.tolerated(
                at.key("jobId"),
                format!(
                    "{}: the entry is ignored (as ops-monitor.py ignores it)",
                    other.map_or("missing".to_string(), |v| format!(
                        "{} is not a job id",
                        short(v)
                    ))
                ),
            );
            return None;
        }
    }
    match obj.get("when") {
        None => {}
        Some(Value::String(w)) if w == "success" || w == "failure" => {}
        Some(v) if falsy(v) => {
            found.tolerated(
                at.clone().key("when"),
                format!(
                    "{} read as \"success\" (as ops-monitor.py reads it)",
                    short(v)
                ),
            );
            obj.insert("when".into(), Value::from("success"));
        }
        Some(v) => {
            found.tolerated(
                at.key("when"),
                format!(
                    "{} never matches (only \"success\" and \"failure\" do): the entry is ignored, \
                     as ops-monitor.py ignores it",
                    short(v)
                ),
            );
            return None;
        }
    }
    match obj.get("delaySeconds") {
        None => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(|d| d >= 0.0) => {}
        Some(v) => {
            let delay = match v {
                Value::Bool(b) => f64::from(u8::from(*b)),
                Value::Number(n) => n.as_f64().unwrap_or(0.0).max(0.0),
                _ => 0.0,
            };
            found.tolerated(
                at.clone().key("delaySeconds"),
                format!("{} read as {delay} (as ops-monitor.py reads it)", short(v)),
            );
            obj.insert("delaySeconds".into(), Value::from(delay));
        }
    }
    Some(Value::Object(obj))
}

/// Python's truth value: `null`, `false`, `0`, `""`, `[]` and `{}` are false.
fn falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Python's `int(v)`: booleans are 0/1, floats are truncated, a string is
/// read as a decimal integer (surrounding whitespace, a sign and `_`
/// between digits allowed); `None` where `int()` raises.
fn python_int(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64().map(f64::trunc),
        Value::String(s) => {
            let s = s.trim();
            let (neg, digits) = match s.as_bytes().first() {
                Some(b'-') => (true, &s[1..]),
                Some(b'+') => (false, &s[1..]),
                _ => (false, s),
            };
            let valid = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
            if !valid {
                return None;
            }
            let n: f64 = digits.replace('_', "").parse().ok()?;
            Some(if neg { -n } else { n })
        }
        _ => None,
    }
}

/// `HH:MM` as the Python version reads it (`^\d{2}:\d{2}$` after trimming,
/// hours 00–23, minutes 00–59) → the trimmed text.
pub(super) fn hhmm(text: &str) -> Option<String> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
        return None;
    }
    let h = (b[0] - b'0') * 10 + (b[1] - b'0');
    let m = (b[3] - b'0') * 10 + (b[4] - b'0');
    (h < 24 && m < 60).then(|| t.to_string())
}

/// A value for a message: JSON, cut at 60 characters.
fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_int_reads_like_int() {
        let cases = [
            (json!("60"), Some(60.0)),
            (json!(" +60 "), Some(60.0)),
            (json!("-5"), Some(-5.0)),
            (json!("1_000"), Some(1000.0)),
            (json!(true), Some(1.0)),
            (json!(60.9), Some(60.0)),
            (json!(-60.9), Some(-60.0)),
            (json!("60.5"), None),
            (json!("1__0"), None),
            (json!("_1"), None),
            (json!("abc"), None),
            (json!([1]), None),
            (json!(null), None),
        ];
        for (v, want) in cases {
            assert_eq!(python_int(&v), want, "{v}");
        }
    }

    #[test]
    fn hhmm_needs_two_digit_hours() {
        assert_eq!(hhmm(" 08:00 ").as_deref(), Some("08:00"));
        assert_eq!(hhmm("23:59").as_deref(), Some("23:59"));
        for bad in [
            "8:00", "24:00", "06:60", "0800", "08:00:00", "+8:00", "08-00",
        ] {
            assert_eq!(hhmm(bad), None, "{bad}");
        }
    }

    #[test]
    fn falsy_like_python() {
        for v in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(falsy(&v), "{v}");
        }
        for v in [
            json!(true),
            json!(1),
            json!("0"),
            json!([0]),
            json!({"a": 1}),
        ] {
            assert!(!falsy(&v), "{v}");
        }
    }
}
