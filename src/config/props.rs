//! Bad input never panics: arbitrary text, and arbitrary JSON shaped like a
//! config, through the loader. `PROPTEST_CASES=100000 cargo test --release
//! props` runs a longer campaign.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::parse;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop_oneof![
            Just("long_running_read".to_string()),
            Just("one_shot_read".to_string()),
            Just("one_shot_write".to_string()),
            Just("read_only".to_string()),
            Just("write_local".to_string()),
            Just("23:00".to_string()),
            Just("25:99".to_string()),
            Just("~/x".to_string()),
            ".{0,10}",
        ]
        .prop_map(Value::String),
    ]
}

/// JSON whose keys are mostly the config's own, so the generator reaches
/// deep into validation and resolution rather than failing at the top.
fn value() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("id"),
        Just("name"),
        Just("kind"),
        Just("risk"),
        Just("enabled"),
        Just("cwd"),
        Just("commands"),
        Just("start"),
        Just("status"),
        Just("run"),
        Just("policy"),
        Just("quietHours"),
        Just("start"),
        Just("end"),
        Just("reportEverySeconds"),
        Just("stallSeconds"),
        Just("autoResume"),
        Just("everySeconds"),
        Just("approval"),
        Just("granted"),
        Just("after"),
        Just("jobId"),
        Just("when"),
        Just("delaySeconds"),
        Just("notify"),
        Just("type"),
        Just("target"),
        Just("account"),
        Just("url"),
        Just("argv"),
        Just("path"),
        Just("language"),
        Just("x"),
    ]
    .prop_map(str::to_string);
    scalar().prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_loads_or_explains(text in ".{0,300}") {
        if let Err(e) = parse(&text, Path::new("/c/ops-jobs.json"), Path::new("/h"), false) {
            prop_assert!(!e.problems.is_empty());
        }
    }

    #[test]
    fn any_config_shaped_json_loads_or_explains(
        defaults in value(),
        jobs in prop::collection::vec(value(), 0..4),
        strict in any::<bool>(),
    ) {
        let doc = json!({"version": 1, "defaults": defaults, "jobs": jobs});
        match parse(&doc.to_string(), Path::new("/c/ops-jobs.json"), Path::new("/h"), strict) {
            Ok(cfg) => {
                for j in &cfg.jobs {
                    prop_assert!(!j.id.trim().is_empty());
                    prop_assert!(j.cwd.is_absolute());
                }
            }
            Err(e) => prop_assert!(!e.problems.is_empty()),
        }
    }
}
