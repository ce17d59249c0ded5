//! The notary system (ЕНИС) over its REST/JSON API: notarised consents by the person who gave
//! them, and notarised powers of attorney by number.

use async_trait::async_trait;
use serde::Deserialize;

pub use kopir_core::model::notary::{NotarisedConsent, PowerOfAttorney};

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;
use crate::Registry;
use kopir_core::identifiers::Iin;

/// A notarial act's number as a URL path segment: anything but letters, digits and `-` is
/// percent-encoded, so a number cannot reach another path.
fn segment(number: &str) -> String {
    number
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What the gateway asks of the notary system.
#[async_trait]
pub trait NotaryRegistry: Registry {
    /// Every notarised consent `subject` has given, in force or not.
    async fn consents(
        &self,
        subject: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<NotarisedConsent>, AdapterError>;

    /// A notarised consent by its number; `None` when the notary system holds none.
    async fn consent(
        &self,
        number: &str,
        correlation_id: &str,
    ) -> Result<Option<NotarisedConsent>, AdapterError>;

    /// A power of attorney by number; `None` when the notary system holds none.
    async fn power_of_attorney(
        &self,
        number: &str,
        correlation_id: &str,
    ) -> Result<Option<PowerOfAttorney>, AdapterError>;

    /// Every power of attorney `person` granted or holds, in force or not.
    async fn powers_of_attorney_of(
        &self,
        person: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<PowerOfAttorney>, AdapterError>;
}

/// The notary system's REST API.
#[derive(Debug, Clone)]
pub struct RestNotary {
    rest: RestClient,
}

#[derive(Deserialize)]
struct ConsentList {
    consents: Vec<NotarisedConsent>,
}

#[derive(Deserialize)]
struct PowerList {
    powers_of_attorney: Vec<PowerOfAttorney>,
}

fn read<'a>(operation: &'static str, correlation_id: &'a str) -> Call<'a> {
    Call {
        operation,
        correlation_id,
        idempotency_key: None,
    }
}

impl RestNotary {
    /// A client of the notary API at `endpoint.url` (its base URL).
    pub fn new(registry: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        Ok(Self {
            rest: RestClient::new(registry, endpoint)?,
        })
    }
}

#[async_trait]
impl Registry for RestNotary {
    fn name(&self) -> &str {
        self.rest.name()
    }

    async fn ping(&self) -> Result<(), AdapterError> {
        self.rest.ping().await
    }
}

#[async_trait]
impl NotaryRegistry for RestNotary {
    async fn consents(
        &self,
        subject: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<NotarisedConsent>, AdapterError> {
        let list: Option<ConsentList> = self
            .rest
            .get(
                "/api/v1/consents",
                &[("subject_iin", subject.as_str())],
                read("consents", correlation_id),
            )
            .await?;
        Ok(list.map(|l| l.consents).unwrap_or_default())
    }

    async fn consent(
        &self,
        number: &str,
        correlation_id: &str,
    ) -> Result<Option<NotarisedConsent>, AdapterError> {
        let path = format!("/api/v1/consents/{}", segment(number));
        self.rest
            .get(&path, &[], read("consent", correlation_id))
            .await
    }

    async fn powers_of_attorney_of(
        &self,
        person: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<PowerOfAttorney>, AdapterError> {
        let path = format!("/api/v1/persons/{}/powers-of-attorney", person.as_str());
        let list: Option<PowerList> = self
            .rest
            .get(&path, &[], read("powers_of_attorney_of", correlation_id))
            .await?;
        Ok(list.map(|l| l.powers_of_attorney).unwrap_or_default())
    }

    async fn power_of_attorney(
        &self,
        number: &str,
        correlation_id: &str,
    ) -> Result<Option<PowerOfAttorney>, AdapterError> {
        self.rest
            .get(
                "/api/v1/powers-of-attorney",
                &[("number", number)],
                read("power_of_attorney", correlation_id),
            )
            .await
    }
}
