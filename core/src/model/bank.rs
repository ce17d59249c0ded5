//! What a bank is told of its pledge contracts: one notice per status change, sealed.

use serde::{Deserialize, Serialize};

/// One status change as the bank receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PledgeNotice {
    /// The change's id: the bank acknowledges by it and ignores a repeat.
    pub event_id: String,
    /// The submission's request id.
    pub request_id: String,
    /// The bank's unique contract number.
    pub contract_number: String,
    /// `accepted`, `awaiting_payment`, `submitted`, `registered`, `refused`, `suspended`,
    /// `preliminary_refusal`, `objection`.
    pub state: String,
    /// Legal grounds.
    #[serde(default)]
    pub grounds: Vec<String>,
    /// What the gateway waits for.
    #[serde(default)]
    pub detail: String,
    /// Hearing of a preliminary refusal (RFC 3339).
    #[serde(default)]
    pub hearing_at: Option<String>,
    /// Objection deadline (RFC 3339).
    #[serde(default)]
    pub objection_deadline: Option<String>,
    /// When the state was entered (RFC 3339).
    pub changed_at: String,
}

/// A notice with the gateway's seal over its canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedNotice {
    /// The notice.
    pub notice: PledgeNotice,
    /// Base64 of the gateway's CMS seal over `serde_json::to_vec(&notice)`; empty when the
    /// gateway has no sealing key.
    pub seal: String,
}
