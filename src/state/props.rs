//! Property tests over the state reader (issue 8): any JSON object, shaped
//! mostly like a state, never panics the reader, and whatever it holds, a
//! tick over it runs only commands the config names — the state file never
//! decides what is run. `PROPTEST_CASES=10000 cargo test --release
//! state::props` runs a longer campaign.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::parse;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        prop_oneof![
            Just("pending".to_string()),
            Just("running".to_string()),
            Just("done".to_string()),
            Just("cancelled".to_string()),
            Just("a".to_string()),
            Just("c".to_string()),
            Just("evil".to_string()),
            Just("command".to_string()),
            Just("sh".to_string()),
            ".{0,8}",
        ]
        .prop_map(Value::String),
    ]
}

/// Keys mostly of the state's own, so the generator reaches the lenient
/// field-by-field reading rather than failing at the top.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("jobs"),
        Just("queue"),
        Just("outbox"),
        Just("approvals"),
        Just("silences"),
        Just("a"),
        Just("c"),
        Just("evil"),
        Just("jobId"),
        Just("id"),
        Just("status"),
        Just("notBefore"),
        Just("createdAt"),
        Just("attempt"),
        Just("timeoutSeconds"),
        Just("lastSeen"),
        Just("lastAutoResumeAt"),
        Just("lastRunAt"),
        Just("lastRun"),
        Just("durationMs"),
        Just("hold"),
        Just("startInProgress"),
        Just("runInProgress"),
        Just("channel"),
        Just("channelSpec"),
        Just("argv"),
        Just("type"),
        Just("expiresAt"),
        Just("grantedAt"),
        Just("until"),
    ]
    .prop_map(str::to_string)
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object shaped mostly like a state (also used by `tick`'s tests).
pub(crate) fn state_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), value()), 0..8)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn any_json_object_is_read_without_a_panic(v in state_object()) {
        let text = serde_json::to_string(&v).unwrap();
        // A state, or a reason why not: never a panic.
        let _ = parse(text.as_bytes());
    }

    #[test]
    fn a_state_read_leniently_writes_back_and_reads_again(v in state_object()) {
        let text = serde_json::to_string(&v).unwrap();
        if let Ok(state) = parse(text.as_bytes()) {
            let again = state.to_file_text();
            prop_assert!(parse(again.as_bytes()).is_ok(), "{again}");
        }
    }

    /// The state is written a job at a time: the text is the one a single
    /// tree of the whole state gives, repairs put back included.
    #[test]
    fn the_state_written_a_job_at_a_time_is_the_whole_tree_written(v in state_object()) {
        let text = serde_json::to_string(&v).unwrap();
        if let Ok(state) = parse(text.as_bytes()) {
            let mut whole = serde_json::to_value(&state).unwrap();
            whole["jobs"] = serde_json::to_value(&state.jobs).unwrap();
            state.repairs.restore(&mut whole);
            let expected = serde_json::to_string_pretty(&whole).unwrap() + "\n";
            prop_assert_eq!(state.to_file_text(), expected);
        }
    }
}
