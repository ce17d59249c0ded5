//! The legal cadastre (real-estate rights registry) over its REST/JSON API: objects, rights and
//! encumbrances, and pledge registration, which answers "accepted" at once and decides later
//! (seed 000 §4 C, D).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use kopir_core::identifiers::CadastralNumber;

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;
use crate::Registry;

/// A real-estate object with its technical and identification characteristics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealEstate {
    /// Cadastral number.
    pub cadastral_number: String,
    /// `apartment`, `house`, `non_residential`, `land`.
    pub kind: String,
    /// Where it is.
    pub address: kopir_core::model::Address,
    /// Square metres, decimal text.
    pub total_area_m2: String,
    /// Square metres, decimal text.
    pub living_area_m2: String,
    /// Rooms.
    pub rooms: i32,
    /// Floor of the object.
    pub floor: i32,
    /// Floors of the building.
    pub floors: i32,
    /// Year of construction.
    pub year_built: i32,
    /// Wall material.
    pub wall_material: String,
}

/// A registered right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Right {
    /// `ownership`, `joint_ownership`, `shared_ownership`.
    pub kind: String,
    /// Holder's IIN or BIN.
    pub holder: String,
    /// Share as a fraction, "1" for the whole.
    pub share: String,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
}

/// A registered encumbrance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encumbrance {
    /// `pledge`, `arrest`, `lease`, ...
    pub kind: String,
    /// Who holds it (a bank's BIN, a court, a bailiff).
    pub holder: String,
    /// The document it rests on.
    pub basis: String,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
}

/// Rights and encumbrances on one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    /// The object.
    pub cadastral_number: String,
    /// Registered rights.
    pub rights: Vec<Right>,
    /// Registered encumbrances.
    pub encumbrances: Vec<Encumbrance>,
}

impl Rights {
    /// The holders of ownership rights.
    pub fn owners(&self) -> impl Iterator<Item = &str> {
        self.rights
            .iter()
            .filter(|r| r.kind.ends_with("ownership"))
            .map(|r| r.holder.as_str())
    }
}

/// A pledge contract as the gateway delivers it for registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PledgeFiling {
    /// The gateway's message id (the submission's request id): the registry's idempotency key.
    pub message_id: String,
    /// The bank's unique contract number.
    pub contract_number: String,
    /// The pledgee bank.
    pub pledgee_bin: String,
    /// The pledgors' IINs or BINs.
    pub pledgors: Vec<String>,
    /// The object.
    pub cadastral_number: String,
    /// The secured amount in tiyn.
    pub amount_tiyn: i64,
    /// The signed contract document (JSON, as the parties signed it), base64.
    pub document: String,
    /// The parties' detached CMS signatures, base64.
    pub signatures: Vec<String>,
    /// The payment e-checks the gateway matched (unique payment codes); empty when none was found.
    pub payment_codes: Vec<String>,
}

/// The registrar's state of a filed pledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Received; the registrar has not decided.
    Accepted,
    /// Entered in the registration sheet.
    Registered,
    /// Refused, with grounds.
    Refused,
    /// Suspended, with grounds.
    Suspended,
    /// Grounds to refuse found; hearing set, objection window open.
    PreliminaryRefusal,
    /// An objection was filed; the hearing decides.
    Objection,
}

/// A filed pledge as the cadastre reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingStatus {
    /// The gateway's message id.
    pub message_id: String,
    /// The registrar's state.
    pub decision: Decision,
    /// Legal grounds (of a refusal, suspension, preliminary refusal; the basis of a registration).
    #[serde(default)]
    pub grounds: Vec<String>,
    /// A preliminary refusal's hearing.
    #[serde(default)]
    pub hearing_at: Option<DateTime<Utc>>,
    /// Until when an objection is taken (2 working days after the preliminary refusal).
    #[serde(default)]
    pub objection_deadline: Option<DateTime<Utc>>,
    /// When the registrar decided (or received, while undecided).
    pub decided_at: DateTime<Utc>,
}

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
