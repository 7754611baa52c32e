//! Checking a value against the embedded schema: the JSON Schema 2020-12
//! keywords the schema uses, evaluated as the specification says, with
//! every failure kept along with the schema nodes that led to it.
//!
//! The schema is the project's own and small, so this knows exactly its
//! keywords (`$ref` within the document, `type`, `enum`, `const`,
//! `minimum`, `exclusiveMinimum`, `minLength`, `minItems`, `pattern`,
//! `required`, `properties`, `additionalProperties`, `propertyNames`,
//! `items`, `allOf`, `if`/`then`/`else`) and ignores annotations. A unit test
//! walks the schema and fails on any other keyword, and another checks this
//! against the `jsonschema` crate (a dev-dependency) on generated configs.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::pattern::Pattern;

/// Keywords that say nothing about validity.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$defs",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "errorMessage",
    "x-requiredMessage",
    "x-invalidIsWarning",
];

/// Keywords this checker evaluates.
const KNOWN: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "const",
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "pattern",
    "required",
    "properties",
    "additionalProperties",
    "propertyNames",
    "items",
    "allOf",
    "if",
    "then",
    "else",
];

/// One place of the instance: an object key or a list index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

/// A keyword that failed.
#[derive(Debug)]
pub(super) struct Failure<'s, 'v> {
    /// The failing keyword, e.g. `"type"`.
    pub keyword: &'static str,
    /// The schema nodes from the root to the one holding the keyword,
    /// through `$ref`, `allOf` and `then`.
    pub nodes: Vec<&'s Value>,
    /// Where in the instance, from the top.
    pub path: Vec<Step<'v>>,
    /// The value that failed (for `propertyNames`: the key, as a string).
    pub instance: Value,
    /// For `required`: the missing key.
    pub property: Option<&'s str>,
}

/// The schema with its patterns parsed once.
pub(super) struct Checker<'s> {
    root: &'s Value,
    patterns: HashMap<&'s str, Pattern>,
}

impl<'s> Checker<'s> {
    /// Prepare `root`; an error names a keyword or pattern this checker
    /// does not know (a defect of the schema file, caught by the tests).
    pub(super) fn new(root: &'s Value) -> Result<Checker<'s>, String> {
        let mut patterns = HashMap::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            let Value::Object(map) = node else {
                continue;
            };
            for (key, sub) in map {
                match key.as_str() {
                    "pattern" => {
                        let source = sub.as_str().ok_or("a pattern that is not a string")?;
                        let parsed = Pattern::parse(source)
                            .map_err(|e| format!("pattern {source:?}: {e}"))?;
                        patterns.insert(source, parsed);
                    }
                    "properties" | "$defs" => {
                        let subs = sub
                            .as_object()
                            .ok_or_else(|| format!("{key} is not an object"))?;
                        stack.extend(subs.values());
                    }
                    "allOf" => stack.extend(sub.as_array().into_iter().flatten()),
                    "additionalProperties" | "propertyNames" | "items" | "if" | "then" | "else" => {
                        stack.push(sub)
                    }
                    "$ref" => {
                        let target = sub.as_str().ok_or("a $ref that is not a string")?;
                        resolve(root, target)
                            .ok_or_else(|| format!("$ref {target} leads nowhere"))?;
                    }
                    k if KNOWN.contains(&k) || ANNOTATIONS.contains(&k) => {}
                    k => return Err(format!("the keyword {k:?} is not supported")),
                }
            }
        }
        Ok(Checker { root, patterns })
    }

    /// Every keyword of the schema that `value` fails.
    pub(super) fn failures<'v>(&self, value: &'v Value) -> Vec<Failure<'s, 'v>> {
        self.failures_at(self.root, value)
    }

    fn failures_at<'v>(&self, node: &'s Value, value: &'v Value) -> Vec<Failure<'s, 'v>> {
        let mut walk = Walk {
            checker: self,
            nodes: Vec::new(),
            path: Vec::new(),
            out: Vec::new(),
            depth: 0,
        };
        walk.node(node, value);
        walk.out
    }

    fn is_valid(&self, node: &'s Value, value: &Value) -> bool {
        self.failures_at(node, value).is_empty()
    }
}

/// The node a `$ref` within the document names.
pub(super) fn resolve<'s>(root: &'s Value, reference: &str) -> Option<&'s Value> {
    root.pointer(reference.strip_prefix('#')?)
}

struct Walk<'c, 's, 'v> {
    checker: &'c Checker<'s>,
    nodes: Vec<&'s Value>,
    path: Vec<Step<'v>>,
    out: Vec<Failure<'s, 'v>>,
    /// `$ref` nesting, bounded so that a cycle in an edited schema ends.
    depth: usize,
}

impl<'s, 'v> Walk<'_, 's, 'v> {
    fn fail(&mut self, keyword: &'static str, instance: &Value, property: Option<&'s str>) {
        self.out.push(Failure {
            keyword,
            nodes: self.nodes.clone(),
            path: self.path.clone(),
            instance: instance.clone(),
            property,
        });
    }

    fn node(&mut self, node: &'s Value, value: &'v Value) {
        self.nodes.push(node);
        self.keywords(node, value);
        self.nodes.pop();
    }

    fn at(&mut self, step: Step<'v>, node: &'s Value, value: &'v Value) {
        self.path.push(step);
        self.node(node, value);
        self.path.pop();
    }

    fn keywords(&mut self, node: &'s Value, value: &'v Value) {
        let schema = match node {
            Value::Object(map) => map,
            Value::Bool(true) => return,
            _ => return self.fail("false", value, None),
        };
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            if self.depth < 32 {
                if let Some(target) = resolve(self.checker.root, target) {
                    self.depth += 1;
                    self.node(target, value);
                    self.depth -= 1;
                }
            }
        }
        if let Some(types) = schema.get("type") {
            if !type_matches(types, value) {
                self.fail("type", value, None);
            }
        }
        if let Some(Value::Array(options)) = schema.get("enum") {
            if !options.iter().any(|o| json_eq(o, value)) {
                self.fail("enum", value, None);
            }
        }
        if let Some(expected) = schema.get("const") {
            if !json_eq(expected, value) {
                self.fail("const", value, None);
            }
        }
        match value {
            Value::Number(n) => self.number(schema, n.as_f64().unwrap_or(f64::NAN), value),
            Value::String(s) => self.string(schema, s, value),
            Value::Array(items) => self.array(schema, items, value),
            Value::Object(map) => self.object(schema, map, value),
            _ => {}
        }
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            for part in parts {
                self.node(part, value);
            }
        }
        if let Some(condition) = schema.get("if") {
            let branch = if self.checker.is_valid(condition, value) {
                schema.get("then")
            } else {
                schema.get("else")
            };
            if let Some(branch) = branch {
                self.node(branch, value);
            }
        }
    }

    fn number(&mut self, schema: &'s Map<String, Value>, n: f64, value: &Value) {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                self.fail("minimum", value, None);
            }
        }
        if let Some(min) = schema.get("exclusiveMinimum").and_then(Value::as_f64) {
            if n <= min {
                self.fail("exclusiveMinimum", value, None);
            }
        }
    }

    fn string(&mut self, schema: &'s Map<String, Value>, s: &str, value: &Value) {
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if (s.chars().count() as u64) < min {
                self.fail("minLength", value, None);
            }
        }
        if let Some(source) = schema.get("pattern").and_then(Value::as_str) {
            let matched = self
                .checker
                .patterns
                .get(source)
                .is_some_and(|p| p.is_match(s));
            if !matched {
                self.fail("pattern", value, None);
            }
        }
    }

    fn array(&mut self, schema: &'s Map<String, Value>, items: &'v [Value], value: &Value) {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                self.fail("minItems", value, None);
            }
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.at(Step::Index(i), item_schema, item);
            }
        }
    }

    fn object(
        &mut self,
        schema: &'s Map<String, Value>,
        map: &'v Map<String, Value>,
        value: &Value,
    ) {
        if let Some(Value::Array(required)) = schema.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    self.fail("required", value, Some(key));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(properties) = properties {
            for (key, sub) in properties {
                if let Some(child) = map.get(key) {
                    self.at(Step::Key(child_key(map, key)), sub, child);
                }
            }
        }
        if let Some(names) = schema.get("propertyNames") {
            for key in map.keys() {
                // A key is checked as a string; its failures are the
                // object's, named after this keyword as the specification's
                // output does, with the key as the instance (so the message
                // can name it) and the name schema's nodes (its wording).
                let name = Value::String(key.clone());
                let mut sub = Walk {
                    checker: self.checker,
                    nodes: self.nodes.clone(),
                    path: Vec::new(),
                    out: Vec::new(),
                    depth: self.depth,
                };
                sub.node(names, &name);
                for failure in sub.out {
                    self.out.push(Failure {
                        keyword: "propertyNames",
                        nodes: failure.nodes,
                        path: self.path.clone(),
                        instance: name.clone(),
                        property: failure.property,
                    });
                }
            }
        }
        if let Some(extra) = schema.get("additionalProperties") {
            for (key, child) in map {
                if properties.is_some_and(|p| p.contains_key(key)) {
                    continue;
                }
                if extra == &Value::Bool(false) {
                    self.fail("additionalProperties", value, None);
                } else {
                    self.at(Step::Key(key), extra, child);
                }
            }
        }
    }
}

/// The instance's own copy of `key`, so that the path borrows from the
/// instance rather than from the schema.
fn child_key<'v>(map: &'v Map<String, Value>, key: &str) -> &'v str {
    map.get_key_value(key).map_or("", |(k, _)| k.as_str())
}

fn type_matches(types: &Value, value: &Value) -> bool {
    let one = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        // 2020-12: a number with a zero fractional part is an integer.
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

/// JSON Schema equality: numbers by value (`1` equals `1.0`), objects
/// regardless of key order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keywords(schema: &Value, value: &Value) -> Vec<(&'static str, Vec<String>)> {
        let checker = Checker::new(schema).unwrap();
        checker
            .failures(value)
            .into_iter()
            .map(|f| {
                let path = f
                    .path
                    .iter()
                    .map(|s| match s {
                        Step::Key(k) => k.to_string(),
                        Step::Index(i) => i.to_string(),
                    })
                    .collect();
                (f.keyword, path)
            })
            .collect()
    }

    #[test]
    fn numbers_compare_by_value_and_integers_may_be_written_as_floats() {
        let schema = json!({"properties": {"v": {"const": 1}, "n": {"type": "integer"}}});
        assert!(keywords(&schema, &json!({"v": 1.0, "n": 2.0})).is_empty());
        assert_eq!(
            keywords(&schema, &json!({"v": 2, "n": 2.5})),
            vec![("type", vec!["n".into()]), ("const", vec!["v".into()])]
        );
    }

    #[test]
    fn keywords_apply_only_to_their_type() {
        let schema = json!({"type": ["string", "integer"], "pattern": "\\S", "minimum": 3});
        assert!(keywords(&schema, &json!(5)).is_empty());
        assert!(keywords(&schema, &json!("x")).is_empty());
        assert_eq!(keywords(&schema, &json!(" ")), vec![("pattern", vec![])]);
        assert_eq!(keywords(&schema, &json!(2)), vec![("minimum", vec![])]);
        assert_eq!(keywords(&schema, &json!(true)), vec![("type", vec![])]);
    }

    #[test]
    fn if_then_else_and_additional_properties() {
        let schema = json!({
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
            "if": {"properties": {"a": {"const": "x"}}, "required": ["a"]},
            "then": {"required": ["b"]},
            "else": {"required": ["c"]}
        });
        assert!(keywords(&schema, &json!({"a": "x", "b": 1})).is_empty());
        assert_eq!(
            keywords(&schema, &json!({"a": "y", "b": "s"})),
            vec![("type", vec!["b".into()]), ("required", vec![])]
        );
    }

    #[test]
    fn an_unknown_keyword_or_pattern_is_refused() {
        assert!(Checker::new(&json!({"anyOf": []})).is_err());
        assert!(Checker::new(&json!({"properties": {"a": {"pattern": "a{2}"}}})).is_err());
        assert!(Checker::new(&json!({"$ref": "#/$defs/missing"})).is_err());
    }
}
