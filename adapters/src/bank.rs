//! Banks' information systems: the gateway calls a bank back (REST/JSON, sealed) with every change
//! of its pledge contracts' status (seed 000 §4 C step 10: the registrar's notification to the
//! bank's IS, with the legal grounds).

use serde::{Deserialize, Serialize};

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;

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

/// A bank's callback endpoint.
#[derive(Debug, Clone)]
pub struct BankCallback {
    rest: RestClient,
}

/// The bank's acknowledgement.
#[derive(Debug, Clone, Deserialize)]
pub struct Ack {
    /// The event acknowledged.
    pub event_id: String,
}

impl BankCallback {
    /// A client of the callback URL `endpoint.url`.
    pub fn new(bank: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        Ok(Self {
            rest: RestClient::new(bank, endpoint)?,
        })
    }

    /// Posts a sealed notice (the body and its detached seal); `Ok` only when the bank
    /// acknowledged this event.
    pub async fn notify(&self, body: &SealedNotice) -> Result<(), AdapterError> {
        let call = Call {
            operation: "bank_callback",
            correlation_id: &body.notice.request_id,
            idempotency_key: Some(&body.notice.event_id),
        };
        let ack: Ack = self.rest.post("", body, call).await?;
        if ack.event_id == body.notice.event_id {
            Ok(())
        } else {
            Err(AdapterError::Malformed {
                registry: self.rest.name().to_string(),
                detail: "the bank acknowledged another event".into(),
            })
        }
    }
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
