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

/// The bank's acknowledgement: `{"event_id": "…"}`, and only that form (serde would also take
/// a struct as a JSON array; an acknowledgement is not guessed at).
#[derive(Debug, Clone)]
pub struct Ack {
    /// The event acknowledged.
    pub event_id: String,
}

impl<'de> Deserialize<'de> for Ack {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        match object.get("event_id") {
            Some(serde_json::Value::String(id)) => Ok(Self {
                event_id: id.clone(),
            }),
            _ => Err(serde::de::Error::custom(
                "an acknowledgement is {\"event_id\": \"<the event's id>\"}",
            )),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "3f2b8c1e-6d4a-4f1b-9a7e-2c5d8e9f0a1b";

    #[test]
    fn only_a_2xx_object_naming_the_event_acknowledges_it() {
        let judge = |status, body: &str| judge_answer("bank", EVENT, status, body.as_bytes());
        assert!(judge(200, &format!(r#"{{"event_id":"{EVENT}"}}"#)).is_ok());
        assert!(judge(201, &format!(r#"{{"event_id":"{EVENT}","extra":1}}"#)).is_ok());
        // The same id in a form that is not the acknowledgement's (found by the fuzz target).
        assert!(judge(200, &format!(r#"["{EVENT}"]"#)).is_err());
        assert!(judge(200, r#"{"event_id":"another"}"#).is_err());
        assert!(judge(200, r#"{"event_id":7}"#).is_err());
        assert!(judge(503, &format!(r#"{{"event_id":"{EVENT}"}}"#)).is_err());
        assert!(judge(409, r#"{"code":"CONFLICT","message":"no"}"#).is_err());
    }
}
