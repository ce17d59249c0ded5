//! Banks' information systems: the gateway calls a bank back (REST/JSON, sealed) with every change
//! of its pledge contracts' status (seed 000 §4 C step 10: the registrar's notification to the
//! bank's IS, with the legal grounds).

use serde::Deserialize;

pub use kopir_core::model::bank::{PledgeNotice, SealedNotice};

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;

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
