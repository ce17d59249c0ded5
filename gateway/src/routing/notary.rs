//! The notary system (ЕНИС): powers of attorney and notarised consents, over REST/JSON.

use kopir_adapters::notary::{NotaryRegistry, RestNotary};
use kopir_adapters::AdapterError;

use super::{configured, endpoint, Answers, Plug, RegistryId};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;
use kopir_core::registry::{RegistryOp, RegistryRecord};

/// The plug-in of its adapter, from `[registries.notary]`.
pub fn plug(config: &Config) -> Result<Plug<RestNotary>, GatewayError> {
    let id = RegistryId::Notary;
    let r = configured(config, id, Protocol::Rest)?;
    Ok(Plug::new(id, RestNotary::new(id.name(), endpoint(r))?))
}

#[async_trait::async_trait]
impl Answers for RestNotary {
    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>> {
        Some(match op {
            RegistryOp::PowerOfAttorney { number, .. } => self
                .power_of_attorney(number, correlation_id)
                .await
                .map(RegistryRecord::PowerOfAttorney),
            RegistryOp::NotarisedConsents(subject) => self
                .consents(subject, correlation_id)
                .await
                .map(RegistryRecord::NotarisedConsents),
            _ => return None,
        })
    }
}
