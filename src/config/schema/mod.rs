//! The embedded JSON Schema: checking a config against it with human
//! messages, and finding the keys it does not know.
//!
//! The schema file carries the wording itself: a node's `errorMessage` (the
//! key VS Code's JSON support reads too) replaces the generic text for any
//! keyword that fails on that node, `x-requiredMessage` words a missing
//! required key, and `x-invalidIsWarning` marks a value that SPEC §2 lets
//! fall back (`quietHours`, `enabled`): its schema errors are left to
//! `resolve`, which warns. The known keys of every object are the schema's
//! `properties` (through `$ref` and `allOf`), so there is one list of them.

#[cfg(test)]
mod agrees;
mod eval;
mod pattern;

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::{Found, JsonPath, Seg};
use eval::{resolve as resolve_ref, Checker, Step};

/// The schema document. Parsed apart from the checker: the unknown-key
/// walk needs only this.
fn schema_doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    // The schema is part of the binary; a broken one is a build defect that
    // the unit tests catch.
    DOC.get_or_init(|| serde_json::from_str(super::SCHEMA).expect("embedded config schema is JSON"))
}

fn checker() -> &'static Checker<'static> {
    static CHECKER: OnceLock<Checker<'static>> = OnceLock::new();
    CHECKER.get_or_init(|| Checker::new(schema_doc()).expect("embedded config schema is supported"))
}

/// Check `value` against the schema; every failure becomes an error at its
/// instance path.
pub(super) fn check(value: &Value, found: &mut Found) {
    for failure in checker().failures(value) {
        if failure
            .nodes
            .iter()
            .any(|n| n.get("x-invalidIsWarning") == Some(&Value::Bool(true)))
        {
            continue;
        }
        let node = failure.nodes.last().copied().unwrap_or(&Value::Null);
        let mut path = JsonPath(
            failure
                .path
                .iter()
                .map(|step| match *step {
                    Step::Key(k) => Seg::Key(k.to_string()),
                    Step::Index(i) => Seg::Index(i),
                })
                .collect(),
        );
        let message = match failure.property {
            Some(property) => {
                path = path.key(property);
                node.get("x-requiredMessage")
                    .and_then(Value::as_str)
                    .unwrap_or("is required")
                    .to_string()
            }
            None => {
                let base = match node.get("errorMessage").and_then(Value::as_str) {
                    Some(text) => text.to_string(),
                    None => generic_message(failure.keyword, node),
                };
                format!("{base}{}", got(&failure.instance))
            }
        };
        found.error(path, message);
    }
}

/// Wording for a keyword on a node without an `errorMessage`, taken from
/// the schema node itself (the allowed values, the limit).
fn generic_message(keyword: &str, node: &Value) -> String {
    match keyword {
        "type" => {
            let names: Vec<&str> = match node.get("type") {
                Some(Value::String(t)) => vec![type_name(t)],
                Some(Value::Array(ts)) => {
                    ts.iter().filter_map(Value::as_str).map(type_name).collect()
                }
                _ => vec![],
            };
            format!("must be {}", names.join(" or "))
        }
        "enum" => {
            let options: Vec<String> = node
                .get("enum")
                .and_then(Value::as_array)
                .map(|o| o.iter().map(Value::to_string).collect())
                .unwrap_or_default();
            format!("must be one of {}", options.join(", "))
        }
        "const" => format!("must be {}", node.get("const").unwrap_or(&Value::Null)),
        "minimum" => format!(
            "must be {} or more",
            node.get("minimum").unwrap_or(&Value::Null)
        ),
        "exclusiveMinimum" => format!(
            "must be greater than {}",
            node.get("exclusiveMinimum").unwrap_or(&Value::Null)
        ),
        "minLength" => "must not be empty".to_string(),
        "minItems" => "must not be an empty list".to_string(),
        other => format!("fails the schema's {other}"),
    }
}

fn type_name(t: &str) -> &str {
    match t {
        "object" => "an object",
        "array" => "a list",
        "string" => "a string",
        "number" => "a number",
        "integer" => "an integer",
        "boolean" => "true or false",
        "null" => "null",
        other => other,
    }
}

/// ` (got 5)` for a scalar; nothing for a list or object, which would not
/// fit on the line.
fn got(instance: &Value) -> String {
    match instance {
        Value::Array(_) | Value::Object(_) => String::new(),
        scalar => format!(" (got {})", crate::text::cap(&scalar.to_string(), 40)),
    }
}

/// Report every object key the schema does not list, as a warning (an
/// error with `strict`), with a did-you-mean hint for a near miss.
pub(super) fn unknown_keys(value: &Value, strict: bool, found: &mut Found) {
    let mut walk = KeyWalk {
        root: schema_doc(),
        strict,
        found,
        stack: Vec::new(),
    };
    walk.visit(value, schema_doc());
}

struct KeyWalk<'s, 'v, 'f> {
    root: &'s Value,
    strict: bool,
    found: &'f mut Found,
    /// The path to the value being visited, borrowed so that a clean
    /// config allocates nothing.
    stack: Vec<StackSeg<'v>>,
}

#[derive(Clone, Copy)]
enum StackSeg<'v> {
    Key(&'v str),
    Index(usize),
}

impl<'s, 'v> KeyWalk<'s, 'v, '_> {
    fn visit(&mut self, value: &'v Value, node: &'s Value) {
        match value {
            Value::Object(map) => self.visit_object(map, node),
            Value::Array(items) => {
                if let Some(item_node) = keyword(self.root, node, "items") {
                    for (i, item) in items.iter().enumerate() {
                        if item.is_object() || item.is_array() {
                            self.stack.push(StackSeg::Index(i));
                            self.visit(item, item_node);
                            self.stack.pop();
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn visit_object(&mut self, map: &'v Map<String, Value>, node: &'s Value) {
        let mut known: Vec<&'s Map<String, Value>> = Vec::new();
        collect_properties(self.root, node, &mut known, 0);
        let extra = keyword(self.root, node, "additionalProperties").filter(|n| n.is_object());
        for (key, child) in map {
            let child_node = known.iter().find_map(|props| props.get(key)).or(extra);
            match child_node {
                Some(child_node) => {
                    if child.is_object() || child.is_array() {
                        self.stack.push(StackSeg::Key(key));
                        self.visit(child, child_node);
                        self.stack.pop();
                    }
                }
                None if known.is_empty() => {}
                None => self.unknown(key, &known),
            }
        }
    }

    fn unknown(&mut self, key: &str, known: &[&Map<String, Value>]) {
        let mut path = JsonPath(
            self.stack
                .iter()
                .map(|s| match *s {
                    StackSeg::Key(k) => Seg::Key(k.to_string()),
                    StackSeg::Index(i) => Seg::Index(i),
                })
                .collect(),
        );
        path = path.key(key);
        let hint = did_you_mean(key, known.iter().flat_map(|m| m.keys()).map(String::as_str));
        if self.strict {
            let message = match hint {
                Some(h) => format!("unknown key (did you mean \"{h}\"?)"),
                None => "unknown key".to_string(),
            };
            self.found.error(path, message);
        } else {
            let message = match hint {
                Some(h) => format!("unknown key (ignored; did you mean \"{h}\"?)"),
                None => "unknown key (ignored)".to_string(),
            };
            self.found.warn(path, message);
        }
    }
}

/// A keyword of a schema node, looking through `$ref` (not through
/// `allOf`: no keyword the walk needs lives there).
fn keyword<'s>(root: &'s Value, node: &'s Value, name: &str) -> Option<&'s Value> {
    let mut node = node;
    for _ in 0..16 {
        if let Some(v) = node.get(name) {
            return Some(v);
        }
        node = resolve_ref(root, node.get("$ref")?.as_str()?)?;
    }
    None
}

/// The `properties` maps that apply to an object under `node`: its own,
/// and those reached through `$ref` and `allOf` (not `if`/`then`, which only
/// add requirements).
fn collect_properties<'s>(
    root: &'s Value,
    node: &'s Value,
    out: &mut Vec<&'s Map<String, Value>>,
    depth: usize,
) {
    if depth > 16 {
        return;
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        out.push(props);
    }
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve_ref(root, r))
    {
        collect_properties(root, target, out, depth + 1);
    }
    if let Some(parts) = node.get("allOf").and_then(Value::as_array) {
        for part in parts {
            collect_properties(root, part, out, depth + 1);
        }
    }
}

/// The known key `key` was most likely meant to be: the same ignoring case,
/// else one edit away (two for a long key). A key that merely extends a
/// short known one (`grantedBy`) is not a near miss.
fn did_you_mean<'k>(key: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    let lower = key.to_lowercase();
    let limit = if key.chars().count() >= 10 { 2 } else { 1 };
    known
        .filter(|k| *k != "$schema")
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_compiles_and_is_valid_2020_12() {
        let schema: Value = serde_json::from_str(crate::config::SCHEMA).unwrap();
        assert!(jsonschema::meta::is_valid(&schema));
        // Every keyword and pattern in it is one the checker knows.
        Checker::new(schema_doc()).unwrap();
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("autoresume", "autoresume"), 0);
        assert_eq!(edit_distance("stalseconds", "stallseconds"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn did_you_mean_near_misses_only() {
        let known = [
            "autoResume",
            "autoResumeBackoffSeconds",
            "stallSeconds",
            "$schema",
        ];
        assert_eq!(
            did_you_mean("autoresume", known.into_iter()),
            Some("autoResume")
        );
        assert_eq!(
            did_you_mean("stalSeconds", known.into_iter()),
            Some("stallSeconds")
        );
        assert_eq!(
            did_you_mean("stlalSeconds", known.into_iter()),
            Some("stallSeconds")
        );
        assert_eq!(
            did_you_mean("autoResumed", known.into_iter()),
            Some("autoResume")
        );
        assert_eq!(did_you_mean("colour", known.into_iter()), None);
        assert_eq!(did_you_mean("grantedBy", ["granted"].into_iter()), None);
        assert_eq!(did_you_mean("schema", known.into_iter()), None);
    }

    fn messages(value: &Value) -> Vec<String> {
        let mut found = Found::default();
        check(value, &mut found);
        found.finish(&[]).0
    }

    #[test]
    fn paths_tell_digit_keys_from_indexes() {
        let v = serde_json::json!({"version": 1, "jobs": [{"id": "a", "kind": "one_shot_read",
            "risk": "read_only", "commands": {"0": [], "run": ["x"]}}]});
        assert_eq!(
            messages(&v),
            vec![r#"jobs[0].commands["0"]: must be a non-empty list of strings"#.to_string()]
        );
    }
}
