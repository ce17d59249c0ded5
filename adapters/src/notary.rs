//! The notary system (ЕНИС) over its REST/JSON API: notarised consents by the person who gave
//! them. Powers of attorney join this adapter with the pledge flow.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use tracing::Instrument;

use crate::error::AdapterError;
use crate::identifiers::Iin;
use crate::syncchannel::{probe, transport_error, Endpoint};
use crate::Registry;

/// A notarised consent of a person for someone to obtain their data (seed 004 §2, service 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotarisedConsent {
    /// The notarial act's registry number.
    pub number: String,
    /// The person who consents (IIN).
    pub subject_iin: String,
    /// The person allowed to obtain the data, when a person is.
    #[serde(default)]
    pub grantee_iin: Option<String>,
    /// The organisation allowed to obtain the data, when an organisation is.
    #[serde(default)]
    pub grantee_bin: Option<String>,
    /// What data (consent scopes: `person`, `address`).
    pub scope: Vec<String>,
    /// From when it holds.
    pub valid_from: DateTime<Utc>,
    /// Until when it holds.
    pub valid_until: DateTime<Utc>,
    /// Whether the person revoked it before a notary.
    #[serde(default)]
    pub revoked: bool,
    /// The notary who certified it.
    pub notary: String,
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
}

/// The notary system's REST API.
#[derive(Debug, Clone)]
pub struct RestNotary {
    registry: String,
    endpoint: Endpoint,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ConsentList {
    consents: Vec<NotarisedConsent>,
}

impl RestNotary {
    /// A client of the notary API at `endpoint.url` (its base URL).
    pub fn new(registry: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        let http = endpoint.http_client(registry)?;
        Ok(Self {
            registry: registry.to_string(),
            endpoint,
            http,
        })
    }

    fn url(&self, path: &str) -> Result<url::Url, AdapterError> {
        self.endpoint
            .url
            .join(path)
            .map_err(|e| AdapterError::Config {
                registry: self.registry.clone(),
                detail: format!("{path}: {e}"),
            })
    }

    fn transport(&self, e: &reqwest::Error) -> AdapterError {
        transport_error(&self.registry, self.endpoint.request_timeout, e)
    }
}

#[async_trait]
impl Registry for RestNotary {
    fn name(&self) -> &str {
        &self.registry
    }

    async fn ping(&self) -> Result<(), AdapterError> {
        let url = self.url("/health")?;
        probe(&self.http, &self.registry, &self.endpoint, url, "health").await
    }
}

#[async_trait]
impl NotaryRegistry for RestNotary {
    async fn consents(
        &self,
        subject: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<NotarisedConsent>, AdapterError> {
        let span = tracing::info_span!("registry.call", registry = %self.registry, service_id = "consents");
        self.fetch_consents(subject, correlation_id)
            .instrument(span)
            .await
    }
}

impl RestNotary {
    async fn fetch_consents(
        &self,
        subject: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<NotarisedConsent>, AdapterError> {
        let mut url = self.url("/api/v1/consents")?;
        url.query_pairs_mut()
            .append_pair("subject_iin", subject.as_str());
        let request = self
            .http
            .get(url)
            .basic_auth(
                &self.endpoint.sender_id,
                Some(&self.endpoint.sender_password),
            )
            .header("x-correlation-id", correlation_id);
        let response = crate::propagation::with_trace(request)
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(AdapterError::Unavailable {
                registry: self.registry.clone(),
                reason: format!("HTTP {status}"),
            });
        }
        if !status.is_success() {
            return Err(AdapterError::Registry {
                registry: self.registry.clone(),
                code: format!("HTTP{}", status.as_u16()),
                message: "the notary system refused the consent lookup".into(),
            });
        }
        let list: ConsentList = response.json().await.map_err(|e| AdapterError::Malformed {
            registry: self.registry.clone(),
            detail: e.to_string(),
        })?;
        Ok(list.consents)
    }
}
