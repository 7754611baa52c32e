//! The built-in checker against the `jsonschema` crate (a dev-dependency):
//! on every config the repository holds and on thousands of mutations of
//! them, both find the same failures — the same keyword at the same place
//! of the instance, as often.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::eval::Step;
use super::{checker, schema_doc};

/// `(instance pointer, keyword, missing key)` → how many times.
type Tally = BTreeMap<(String, String, String), usize>;

fn pointer(steps: impl Iterator<Item = String>) -> String {
    steps
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn ours(value: &Value) -> Tally {
    let mut tally = Tally::new();
    for failure in checker().failures(value) {
        let at = pointer(failure.path.iter().map(|s| match s {
            Step::Key(k) => k.to_string(),
            Step::Index(i) => i.to_string(),
        }));
        let property = failure.property.unwrap_or_default().to_string();
        *tally
            .entry((at, failure.keyword.to_string(), property))
            .or_default() += 1;
    }
    tally
}

fn reference(value: &Value) -> Tally {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| jsonschema::draft202012::new(schema_doc()).unwrap());
    let mut tally = Tally::new();
    for err in validator.iter_errors(value) {
        let property = match err.kind() {
            jsonschema::error::ValidationErrorKind::Required { property } => {
                property.as_str().unwrap_or_default().to_string()
            }
            _ => String::new(),
        };
        let key = (
            err.instance_path().as_str().to_string(),
            err.kind().keyword().to_string(),
            property,
        );
        *tally.entry(key).or_default() += 1;
    }
    tally
}

/// A config using every part of the schema.
fn rich() -> Value {
    json!({
        "$schema": "./ops-jobs.schema.json",
        "version": 1,
        "defaults": {
            "language": "en", "reportEverySeconds": 600, "onlyOnChange": true,
            "reportWhileRunning": false, "stallSeconds": 900, "autoResume": true,
            "autoResumeBackoffSeconds": 60, "statusTimeoutSeconds": 10.5,
            "timeoutSeconds": 300, "everySeconds": null,
            "quietHours": {"start": "23:00", "end": "08:00"},
            "metricsFile": "/tmp/m.prom", "heartbeatUrl": "https://hc.example/ping",
            "notify": [
                {"type": "telegram", "target": -100123, "account": "main"},
                {"type": "telegram", "target": "@chan"},
                {"type": "webhook", "url": "http://127.0.0.1:9/x", "headers": {"X-A": "b"}},
                {"type": "file", "path": "/tmp/out.log"},
                {"type": "command", "argv": ["/bin/true", "x"]},
                {"type": "alertmanager", "url": "http://127.0.0.1:9093", "labels": {"host": "a", "_x1": "y"}}
            ]
        },
        "jobs": [
            {"id": "scan", "name": "Scan", "kind": "long_running_read", "risk": "read_only",
             "enabled": true, "cwd": "/tmp",
             "commands": {"start": ["s"], "status": ["t"], "stop": ["u"]},
             "policy": {"stallSeconds": 60, "quietHours": {"start": "00:00", "end": "00:00"}},
             "after": [{"jobId": "verify", "when": "success", "delaySeconds": 5}]},
            {"id": "verify", "kind": "one_shot_read", "risk": "read_only",
             "commands": {"run": ["v"]}, "policy": {"everySeconds": 300}},
            {"id": "apply", "kind": "one_shot_write", "risk": "write_external",
             "commands": {"run": ["w"]}, "approval": {"required": true, "granted": false},
             "after": [{"jobId": "verify", "when": "failure"}]}
        ]
    })
}

fn corpus() -> &'static [Value] {
    static CORPUS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![rich()];
    let example = std::fs::read_to_string(root.join("config/ops-jobs.example.json")).unwrap();
    out.push(serde_json::from_str(&example).unwrap());
    let cases = root.join("tests/fixtures/python-reference/cases");
    for entry in std::fs::read_dir(cases).unwrap() {
        let path = entry.unwrap().path().join("config.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(value) = serde_json::from_str(&text) {
                out.push(value);
            }
        }
    }
    out
}

/// Values that sit on every edge the schema draws.
fn palette() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1),
        json!(1.0),
        json!(1.5),
        json!(-0.5),
        json!(1e20),
        json!(""),
        json!(" "),
        json!("\t\n"),
        json!("x"),
        json!("12:30"),
        json!("24:00"),
        json!("9:30"),
        json!("http://h"),
        json!("HTTPS://h/p"),
        json!("http:///p"),
        json!("ftp://h"),
        json!("1bad"),
        json!("_ok"),
        json!("telegram"),
        json!("webhook"),
        json!("file"),
        json!("command"),
        json!("alertmanager"),
        json!("long_running_read"),
        json!("one_shot_write"),
        json!("read_only"),
        json!("en"),
        json!("success"),
        json!([]),
        json!([""]),
        json!(["a"]),
        json!([1]),
        json!({}),
        json!({"type": "webhook"}),
        json!({"type": "file", "path": ""}),
        json!({"type": "command", "argv": []}),
        json!({"type": "alertmanager"}),
        json!({"kind": "long_running_read"}),
        json!({"1x": "v", "ok": 2}),
        json!({"start": "25:00"}),
        json!({"jobId": ""}),
        json!({"status": ["a"]}),
    ]
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// Every place in `value`, as a path of keys and indexes.
fn places(value: &Value) -> Vec<Vec<PathStep>> {
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn walk(value: &Value, here: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(here.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                here.push(PathStep::Key(k.clone()));
                walk(v, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                here.push(PathStep::Index(i));
                walk(v, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at_mut<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut here = value;
    for step in path {
        here = match step {
            PathStep::Key(k) => here.get_mut(k.as_str())?,
            PathStep::Index(i) => here.get_mut(*i)?,
        };
    }
    Some(here)
}

/// Replace the value at one place, or add a key next to it.
fn mutate(value: &mut Value, pick: usize, with: &Value, key: Option<&str>) {
    let all = places(value);
    let path = all[pick % all.len()].clone();
    let Some(target) = at_mut(value, &path) else {
        return;
    };
    match (key, target) {
        (Some(key), Value::Object(map)) => {
            map.insert(key.to_string(), with.clone());
        }
        (_, target) => *target = with.clone(),
    }
}

const KEYS: &[&str] = &[
    "type",
    "url",
    "path",
    "argv",
    "labels",
    "headers",
    "target",
    "kind",
    "commands",
    "status",
    "start",
    "run",
    "required",
    "granted",
    "quietHours",
    "everySeconds",
    "enabled",
    "x",
];

#[test]
fn the_checker_agrees_with_jsonschema_on_every_config_in_the_repository() {
    let corpus = corpus();
    assert!(corpus.len() > 10, "the fixtures were found");
    for value in corpus {
        assert_eq!(ours(value), reference(value), "{value}");
    }
    // And on each single replacement of each place of the rich config by
    // each value of the palette.
    let base = rich();
    let mut failing = 0;
    for pick in 0..places(&base).len() {
        for with in palette() {
            let mut value = base.clone();
            mutate(&mut value, pick, &with, None);
            let found = ours(&value);
            failing += usize::from(!found.is_empty());
            assert_eq!(found, reference(&value), "{value}");
        }
    }
    // Most replacements break something, so the comparison saw failures of
    // every kind, not only clean configs.
    assert!(failing > 1000, "{failing} failing mutations");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_checker_agrees_with_jsonschema_on_mutated_configs(
        base in 0usize..1000,
        edits in prop::collection::vec(
            (any::<usize>(), any::<usize>(), prop::option::of(0..KEYS.len())),
            1..5,
        ),
    ) {
        let corpus = corpus();
        let mut value = corpus[base % corpus.len()].clone();
        let palette = palette();
        for (pick, with, key) in edits {
            mutate(&mut value, pick, &palette[with % palette.len()], key.map(|k| KEYS[k]));
        }
        prop_assert_eq!(ours(&value), reference(&value), "{}", value);
    }
}
