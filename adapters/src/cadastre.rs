//! The legal cadastre (real-estate rights registry) over its REST/JSON API: objects, rights and
//! encumbrances, and pledge registration, which answers "accepted" at once and decides later
//! (seed 000 §4 C, D).

use async_trait::async_trait;

pub use kopir_core::identifiers::CadastralNumber;

pub use kopir_core::model::cadastre::{
    Decision, Encumbrance, FilingStatus, PledgeFiling, RealEstate, Right, Rights,
};

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;
use crate::Registry;

/// What the gateway asks of the legal cadastre.
#[async_trait]
pub trait CadastreRegistry: Registry {
    /// An object; `None` when the cadastre holds no such number.
    async fn object(
        &self,
        number: &CadastralNumber,
        correlation_id: &str,
    ) -> Result<Option<RealEstate>, AdapterError>;
    /// Rights and encumbrances; `None` when the cadastre holds no such number.
    async fn rights(
        &self,
        number: &CadastralNumber,
        correlation_id: &str,
    ) -> Result<Option<Rights>, AdapterError>;
    /// Files a pledge for registration; filing the same message id again returns its status.
    async fn file_pledge(&self, filing: &PledgeFiling) -> Result<FilingStatus, AdapterError>;
    /// A filed pledge's status; `None` when the cadastre never received that message id.
    async fn filing(&self, message_id: &str) -> Result<Option<FilingStatus>, AdapterError>;
    /// Files an objection to a preliminary refusal.
    async fn object_to(&self, message_id: &str, text: &str) -> Result<FilingStatus, AdapterError>;
}

/// The legal cadastre's REST API.
#[derive(Debug, Clone)]
pub struct RestCadastre {
    rest: RestClient,
}

impl RestCadastre {
    /// A client of the cadastre API at `endpoint.url`.
    pub fn new(registry: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        Ok(Self {
            rest: RestClient::new(registry, endpoint)?,
        })
    }
}

fn read<'a>(operation: &'static str, correlation_id: &'a str) -> Call<'a> {
    Call {
        operation,
        correlation_id,
        idempotency_key: None,
    }
}

#[async_trait]
impl Registry for RestCadastre {
    fn name(&self) -> &str {
        self.rest.name()
    }

    async fn ping(&self) -> Result<(), AdapterError> {
        self.rest.ping().await
    }
}

#[async_trait]
impl CadastreRegistry for RestCadastre {
    async fn object(
        &self,
        number: &CadastralNumber,
        correlation_id: &str,
    ) -> Result<Option<RealEstate>, AdapterError> {
        let path = format!("/api/v1/objects/{}", number.as_str());
        self.rest
            .get(&path, &[], read("real_estate", correlation_id))
            .await
    }

    async fn rights(
        &self,
        number: &CadastralNumber,
        correlation_id: &str,
    ) -> Result<Option<Rights>, AdapterError> {
        let path = format!("/api/v1/objects/{}/rights", number.as_str());
        self.rest
            .get(&path, &[], read("rights", correlation_id))
            .await
    }

    async fn file_pledge(&self, filing: &PledgeFiling) -> Result<FilingStatus, AdapterError> {
        let call = Call {
            operation: "register_pledge",
            correlation_id: &filing.message_id,
            idempotency_key: Some(&filing.message_id),
        };
        self.rest.post("/api/v1/pledges", filing, call).await
    }

    async fn filing(&self, message_id: &str) -> Result<Option<FilingStatus>, AdapterError> {
        self.rest
            .get(
                "/api/v1/pledges/status",
                &[("message_id", message_id)],
                read("pledge_status", message_id),
            )
            .await
    }

    async fn object_to(&self, message_id: &str, text: &str) -> Result<FilingStatus, AdapterError> {
        let call = Call {
            operation: "objection",
            correlation_id: message_id,
            idempotency_key: Some(message_id),
        };
        self.rest
            .post(
                "/api/v1/pledges/objections",
                &serde_json::json!({ "message_id": message_id, "text": text }),
                call,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadastral_numbers_have_four_digit_groups() {
        assert!(CadastralNumber::parse("21-320-012-345").is_ok());
        for bad in [
            "",
            "21-320-012",
            "2a-320-012-345",
            "21-3200-012-345",
            "21:320:012:345",
        ] {
            assert!(CadastralNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
