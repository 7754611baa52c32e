//! JSON as Python's `json` module reads and writes it — the status output
//! of SPEC §3 is read the way the Python version reads it, and the progress
//! key is written the way it wrote it, so stall tracking and the report
//! survive a switch between the two in either direction.
//!
//! What differs from serde_json: `NaN`, `Infinity` and `-Infinity` are read
//! (Python's `json.dumps` writes them); integers of any size are kept
//! exactly (Python's `int`), `-0` being `0`; a number with a fraction or an
//! exponent is a float (`1E5` is `100000.0`). [`PyValue::dumps`] is
//! `json.dumps(v, sort_keys=True, ensure_ascii=False)` and
//! [`PyValue::python_str`] is `str(v)` of a scalar.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// A JSON value as Python holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    Null,
    Bool(bool),
    /// An integer of any size, as its decimal digits (`-` for a negative
    /// one; never `-0`).
    Int(String),
    Float(f64),
    Str(String),
    List(Vec<PyValue>),
    /// Keys in sorted order (code point order, as `sort_keys=True` sorts).
    Dict(BTreeMap<String, PyValue>),
}

/// Python refuses to read an integer longer than this many digits
/// (`sys.int_info.default_max_str_digits`).
const MAX_INT_DIGITS: usize = 4300;
/// Nesting deeper than this is refused (Python's recursion limit is near).
const MAX_DEPTH: usize = 900;

impl PyValue {
    /// `json.loads(text)`: `None` where Python raises.
    pub fn loads(text: &str) -> Option<PyValue> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            i: 0,
        };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        (p.i == p.s.len()).then_some(v)
    }

    /// `json.dumps(self, sort_keys=True, ensure_ascii=False)`.
    pub fn dumps(&self) -> String {
        let mut out = String::new();
        self.dump_into(&mut out);
        out
    }

    fn dump_into(&self, out: &mut String) {
        match self {
            PyValue::Null => out.push_str("null"),
            PyValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            PyValue::Int(digits) => out.push_str(digits),
            PyValue::Float(f) => out.push_str(&float_json(*f)),
            PyValue::Str(s) => push_json_string(s, out),
            PyValue::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.dump_into(out);
                }
                out.push(']');
            }
            PyValue::Dict(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    push_json_string(k, out);
                    out.push_str(": ");
                    v.dump_into(out);
                }
                out.push('}');
            }
        }
    }

    /// Whether Python's report shows it: `str`, `int`, `float`, `bool` or
    /// `None`.
    pub fn is_scalar(&self) -> bool {
        !matches!(self, PyValue::List(_) | PyValue::Dict(_))
    }

    /// `str(v)`: `None`, `True`, `1e+16`, `nan`, `inf`; strings as they are.
    pub fn python_str(&self) -> String {
        match self {
            PyValue::Null => "None".into(),
            PyValue::Bool(b) => if *b { "True" } else { "False" }.into(),
            PyValue::Float(f) if f.is_nan() => "nan".into(),
            PyValue::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.into(),
            PyValue::Str(s) => s.clone(),
            other => other.dumps(),
        }
    }

    /// The value in JSON spelling (`true`, `null`, `NaN`); strings as they
    /// are.
    pub fn json_str(&self) -> String {
        match self {
            PyValue::Str(s) => s.clone(),
            other => other.dumps(),
        }
    }

    /// As a serde_json value, for JSON output: integers beyond 64 bits as
    /// the nearest float, NaN and the infinities as `null` (JSON has none).
    pub fn to_json(&self) -> Value {
        match self {
            PyValue::Null => Value::Null,
            PyValue::Bool(b) => Value::Bool(*b),
            PyValue::Int(d) => serde_json::from_str(d).unwrap_or(Value::Null),
            PyValue::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            PyValue::Str(s) => Value::String(s.clone()),
            PyValue::List(items) => Value::Array(items.iter().map(PyValue::to_json).collect()),
            PyValue::Dict(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// The value with every string (keys too) passed through `f`.
    pub fn map_strings(&self, f: &impl Fn(&str) -> String) -> PyValue {
        match self {
            PyValue::Str(s) => PyValue::Str(f(s)),
            PyValue::List(items) => PyValue::List(items.iter().map(|v| v.map_strings(f)).collect()),
            PyValue::Dict(map) => {
                PyValue::Dict(map.iter().map(|(k, v)| (f(k), v.map_strings(f))).collect())
            }
            other => other.clone(),
        }
    }
}

impl From<&Value> for PyValue {
    /// A serde_json value as Python would hold it after reading its JSON.
    fn from(v: &Value) -> PyValue {
        match v {
            Value::Null => PyValue::Null,
            Value::Bool(b) => PyValue::Bool(*b),
            Value::Number(n) if n.is_f64() => PyValue::Float(n.as_f64().unwrap_or(0.0)),
            Value::Number(n) => PyValue::Int(n.to_string()),
            Value::String(s) => PyValue::Str(s.clone()),
            Value::Array(a) => PyValue::List(a.iter().map(PyValue::from).collect()),
            Value::Object(m) => PyValue::Dict(
                m.iter()
                    .map(|(k, v)| (k.clone(), PyValue::from(v)))
                    .collect(),
            ),
        }
    }
}

/// A float as `json.dumps` writes it: `float.__repr__`, and `NaN`,
/// `Infinity`, `-Infinity`.
pub fn float_json(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        float_repr(f)
    }
}

/// `repr(float)` of a finite float: the shortest digits that read back
/// the same; scientific form outside 1e-4 ≤ |x| < 1e16, with a sign and at
/// least two exponent digits (`1e+16`, `1.5e-07`).
pub fn float_repr(f: f64) -> String {
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
    // Rust's Debug is the shortest round trip and keeps ".0".
    format!("{f:?}")
}

/// A string as `json.dumps(..., ensure_ascii=False)` writes it.
fn push_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A recursive-descent reader of Python's JSON grammar.
struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<PyValue> {
        if depth > MAX_DEPTH {
            return None;
        }
        match *self.s.get(self.i)? {
            b'{' => self.dict(depth),
            b'[' => self.list(depth),
            b'"' => self.string().map(PyValue::Str),
            b'n' if self.eat("null") => Some(PyValue::Null),
            b't' if self.eat("true") => Some(PyValue::Bool(true)),
            b'f' if self.eat("false") => Some(PyValue::Bool(false)),
            b'N' if self.eat("NaN") => Some(PyValue::Float(f64::NAN)),
            b'I' if self.eat("Infinity") => Some(PyValue::Float(f64::INFINITY)),
            b'-' if self.eat("-Infinity") => Some(PyValue::Float(f64::NEG_INFINITY)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn dict(&mut self, depth: usize) -> Option<PyValue> {
        self.i += 1;
        let mut map = BTreeMap::new();
        self.ws();
        if self.eat("}") {
            return Some(PyValue::Dict(map));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return None;
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return None;
            }
            self.ws();
            let v = self.value(depth + 1)?;
            // A repeated key: the last one wins, as in a Python dict.
            map.insert(key, v);
            self.ws();
            if self.eat("}") {
                return Some(PyValue::Dict(map));
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn list(&mut self, depth: usize) -> Option<PyValue> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Some(PyValue::List(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat("]") {
                return Some(PyValue::List(items));
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match *self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let esc = *self.s.get(self.i)?;
                    self.i += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    self.i = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            // A lone surrogate (Python keeps it; a Rust
                            // string cannot): the replacement character.
                            out.push(c.unwrap_or('\u{fffd}'));
                        }
                        _ => return None,
                    }
                }
                // A raw control character: Python's strict reading refuses it.
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.text.get(self.i..self.i + 4)?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.i += 4;
        u32::from_str_radix(h, 16).ok()
    }

    /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`
    fn number(&mut self) -> Option<PyValue> {
        let start = self.i;
        let neg = self.eat("-");
        let int_start = self.i;
        match *self.s.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int_end = self.i;
        let mut float = false;
        if self.s.get(self.i) == Some(&b'.')
            && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit)
        {
            self.i += 1;
            self.digits();
            float = true;
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            let save = self.i;
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.digits();
                float = true;
            } else {
                // Not an exponent: the number ends before the `e` (and the
                // text after it is then extra data).
                self.i = save;
            }
        }
        let text = &self.text[start..self.i];
        if float {
            return text.parse().ok().map(PyValue::Float);
        }
        let digits = &self.text[int_start..int_end];
        if digits.len() > MAX_INT_DIGITS {
            return None;
        }
        Some(PyValue::Int(if neg && digits != "0" {
            format!("-{digits}")
        } else {
            digits.to_string()
        }))
    }

    fn digits(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(t: &str) -> PyValue {
        PyValue::loads(t).unwrap_or_else(|| panic!("{t} should read"))
    }

    #[test]
    fn numbers_read_as_python_reads_them() {
        let cases = [
            ("0", "0", "0"),
            ("-0", "0", "0"),
            ("-0.0", "-0.0", "-0.0"),
            ("1E5", "100000.0", "100000.0"),
            ("1.0", "1.0", "1.0"),
            ("2.50", "2.5", "2.5"),
            ("1e16", "1e+16", "1e+16"),
            ("1.5e-7", "1.5e-07", "1.5e-07"),
            ("1e400", "Infinity", "inf"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            (
                "-98765432109876543210",
                "-98765432109876543210",
                "-98765432109876543210",
            ),
            ("NaN", "NaN", "nan"),
            ("Infinity", "Infinity", "inf"),
            ("-Infinity", "-Infinity", "-inf"),
        ];
        for (text, dumped, shown) in cases {
            let v = loads(text);
            assert_eq!(v.dumps(), dumped, "dumps {text}");
            assert_eq!(v.python_str(), shown, "str {text}");
        }
    }

    #[test]
    fn what_python_refuses_is_refused() {
        for bad in [
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "nan",
            "infinity",
            "+Infinity",
            "[1,]",
            "{\"a\":1,}",
            "{'a': 1}",
            "\"a\u{1}b\"",
            "\"\\x\"",
            "[1] 2",
            "",
            "tru",
            "{\"a\" 1}",
        ] {
            assert_eq!(PyValue::loads(bad), None, "{bad:?}");
        }
        assert_eq!(PyValue::loads(&"1".repeat(MAX_INT_DIGITS + 1)), None);
        assert!(PyValue::loads(&"1".repeat(MAX_INT_DIGITS)).is_some());
        let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        assert_eq!(PyValue::loads(&deep), None, "no stack overflow");
    }

    #[test]
    fn dumps_matches_python() {
        let v = loads(
            r#" {"b": [1, 2.5, null, true], "a": "照片 \"q\" \\ \n\t\u0001", "c": {"z": 1, "y": 1e20}, "a": "last wins"} "#,
        );
        assert_eq!(
            v.dumps(),
            r#"{"a": "last wins", "b": [1, 2.5, null, true], "c": {"y": 1e+20, "z": 1}}"#
        );
        let s = loads(r#""照片 \"q\" \\ \n\t\u0001 \ud83d\ude00 \ud800""#);
        assert_eq!(
            s.dumps(),
            "\"照片 \\\"q\\\" \\\\ \\n\\t\\u0001 😀 \u{fffd}\""
        );
    }

    #[test]
    fn from_serde_value_dumps_the_same() {
        let text = r#"{"running": false, "completed": true, "n": 42, "f": 0.5, "s": "x"}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(PyValue::from(&v).dumps(), loads(text).dumps());
    }

    #[test]
    fn to_json_has_no_nan() {
        let v = loads(r#"{"a": NaN, "b": 12345678901234567890123, "c": 7}"#);
        assert_eq!(
            v.to_json(),
            serde_json::json!({"a": null, "b": 1.2345678901234568e22, "c": 7})
        );
    }
}
