//! The personal-data access control service (КДП): citizens' consent tokens, over REST/JSON.

use kopir_adapters::kdp::{ConsentTokens, RestKdp};
use kopir_adapters::AdapterError;

use super::{configured, endpoint, Answers, Plug, RegistryId};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;
use kopir_core::registry::{RegistryOp, RegistryRecord};

/// The plug-in of its adapter, from `[registries.kdp]`.
pub fn plug(config: &Config) -> Result<Plug<RestKdp>, GatewayError> {
    let id = RegistryId::Kdp;
    let r = configured(config, id, Protocol::Rest)?;
    Ok(Plug::new(id, RestKdp::new(id.name(), endpoint(r))?))
}

#[async_trait::async_trait]
impl Answers for RestKdp {
    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>> {
        Some(match op {
            RegistryOp::ConsentToken(grant) => self
                .issue(grant, correlation_id)
                .await
                .map(RegistryRecord::ConsentToken),
            _ => return None,
        })
    }
}
