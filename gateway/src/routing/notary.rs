//! The notary system (ЕНИС): powers of attorney and notarised consents, over REST/JSON.

use std::sync::Arc;

use kopir_adapters::notary::{NotaryRegistry, RestNotary};
use kopir_adapters::{AdapterError, Registry};

use super::{configured, endpoint, RegistryId, RegistryRoute};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

/// The notary system's plug-in.
pub struct Notary(Arc<RestNotary>);

impl Notary {
    /// Its adapter, from `[registries.notary]`.
    pub fn new(config: &Config) -> Result<Self, GatewayError> {
        let id = RegistryId::Notary;
        let r = configured(config, id, Protocol::Rest)?;
        Ok(Self(Arc::new(RestNotary::new(id.name(), endpoint(r))?)))
    }
}

#[async_trait::async_trait]
impl RegistryRoute for Notary {
    fn id(&self) -> RegistryId {
        RegistryId::Notary
    }

    async fn answer(
        &self,
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        Some(match op {
            Operation::PowerOfAttorney { number, .. } => self
                .0
                .power_of_attorney(number, correlation_id)
                .await
                .map(Record::PowerOfAttorney),
            Operation::NotarisedConsents(subject) => self
                .0
                .consents(subject, correlation_id)
                .await
                .map(Record::NotarisedConsents),
            _ => return None,
        })
    }

    fn probe(&self) -> Arc<dyn Registry> {
        self.0.clone()
    }
}
