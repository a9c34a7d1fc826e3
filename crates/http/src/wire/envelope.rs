//! Envelope pieces shared by several resources.

use serde_json::{json, Value};

/// The `@metadata` block of settings responses (callback URL, low-balance
/// threshold) and the `metadata` block of network status.
pub(crate) fn metadata(now_ms: i64) -> Value {
    json!({"status_code": 200, "last_updated": super::myt(now_ms).metadata_text()})
}
