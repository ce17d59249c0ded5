//! The personal-data access control service (КДП) over REST/JSON: it issues the citizen's consent
//! token the persons database wants with every search (`kdpToken`). Nothing public describes its
//! API; this one is ours: `POST /api/v1/tokens` with the grant, answered `{token, expires_at}`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;
use crate::Registry;
use kopir_core::model::person::{IssuedToken, KdpToken, TokenGrant};

/// What the gateway asks of the access control service.
#[async_trait]
pub trait ConsentTokens: Registry {
    /// A token for `grant`, bound to `grant.holder`.
    async fn issue(
        &self,
        grant: &TokenGrant,
        correlation_id: &str,
    ) -> Result<IssuedToken, AdapterError>;
}

/// The access control service's REST API.
#[derive(Debug, Clone)]
pub struct RestKdp {
    rest: RestClient,
}

impl RestKdp {
    /// A client of the service at `endpoint.url`.
    pub fn new(registry: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        Ok(Self {
            rest: RestClient::new(registry, endpoint)?,
        })
    }
}

#[derive(Deserialize)]
struct Issued {
    token: String,
    expires_at: DateTime<Utc>,
}

#[async_trait]
impl Registry for RestKdp {
    fn name(&self) -> &str {
        self.rest.name()
    }

    async fn ping(&self) -> Result<(), AdapterError> {
        self.rest.ping().await
    }
}

#[async_trait]
impl ConsentTokens for RestKdp {
    async fn issue(
        &self,
        grant: &TokenGrant,
        correlation_id: &str,
    ) -> Result<IssuedToken, AdapterError> {
        let call = Call {
            operation: "consent_token",
            correlation_id,
            idempotency_key: None,
        };
        let issued: Issued = self.rest.post("/api/v1/tokens", grant, call).await?;
        Ok(IssuedToken {
            token: KdpToken {
                token: issued.token,
                public_key: std::sync::Arc::from(grant.holder.as_str()),
            },
            expires_at: issued.expires_at,
        })
    }
}
