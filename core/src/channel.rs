//! The generic channel's messages in the gateway's terms: a message for a routed service, and the
//! service's reply.

use chrono::{DateTime, Utc};

/// A message for a routed service, as the pipeline carries it.
#[derive(Debug, Clone)]
pub struct ChannelCall {
    /// The routed service.
    pub service_id: String,
    /// The sender's message id.
    pub message_id: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Its media type.
    pub content_type: String,
    /// Whether the route says a repeat has the effect of one call (set by the hub).
    pub idempotent: bool,
}

/// A service's reply as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChannelReply {
    /// The routed service.
    pub service_id: String,
    /// The message answered.
    pub message_id: String,
    /// The business-process id.
    pub correlation_id: String,
    /// The reply.
    pub incoming: Incoming,
    /// Position in the client's reply stream; 0 for a synchronous reply.
    pub cursor: u64,
    /// When it arrived.
    pub replied_at: DateTime<Utc>,
}

/// A service's reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Incoming {
    /// The reply payload.
    pub payload: Vec<u8>,
    /// Its media type.
    pub content_type: String,
    /// "OK", or the service's own error code.
    pub status_code: String,
    /// The service's message.
    pub status_message: String,
}

impl Incoming {
    /// The status of a reply the service gave as success.
    pub const OK: &'static str = "OK";
    /// The status of a message no route reaches any more (answered by the gateway).
    pub const NOT_ROUTED: &'static str = "NOT_ROUTED";
    /// The status of a binary payload a SyncChannel service cannot carry (answered by the
    /// gateway): its `<data>` holds XML or text only.
    pub const NOT_TEXT: &'static str = "NOT_TEXT";

    /// Whether the service answered with success.
    pub fn is_ok(&self) -> bool {
        self.status_code == Self::OK
    }
}
