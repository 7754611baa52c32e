//! The outbox (SPEC §7): messages that could not be delivered yet, kept in
//! the state file and retried at the start of every later tick.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One undelivered message for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    /// The report text.
    pub text: String,
    /// Keys this version does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
