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

impl Ack {
    /// `Ok` when this acknowledges `event_id`: a bank that acknowledges another event has not
    /// taken this one.
    pub fn confirms(&self, bank: &str, event_id: &str) -> Result<(), AdapterError> {
        if self.event_id == event_id {
            Ok(())
        } else {
            Err(AdapterError::Malformed {
                registry: bank.to_string(),
                detail: "the bank acknowledged another event".into(),
            })
        }
    }
}

/// What the bank's answer to the notice of `event_id` (HTTP `status`, `body`) means, as
/// [`BankCallback::notify`] judges it after the transport: `Ok` only for that event's
/// acknowledgement.
pub fn judge_answer(
    bank: &str,
    event_id: &str,
    status: u16,
    body: &[u8],
) -> Result<(), AdapterError> {
    crate::rest::read_answer::<Ack>(bank, status, body, false)?
        .ok_or_else(|| AdapterError::NotFound {
            registry: bank.to_string(),
            what: "the callback endpoint".into(),
        })?
        .confirms(bank, event_id)
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
        ack.confirms(self.rest.name(), &body.notice.event_id)
    }
}
