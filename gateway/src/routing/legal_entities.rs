//! The legal-entities database (ГБД ЮЛ): entities by BIN, over SyncChannel.

use kopir_adapters::legal_entities::{LegalEntitiesRegistry, SyncChannelLegalEntities};
use kopir_adapters::syncchannel::SyncChannelClient;
use kopir_adapters::AdapterError;

use super::{configured, syncchannel_endpoint, Answers, Plug, RegistryId};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;
use kopir_core::registry::{RegistryOp, RegistryRecord};

/// The plug-in of its adapter, from `[registries.legal_entities]`.
pub fn plug(
    config: &Config,
    trust: &std::sync::Arc<kopir_trust::Trust>,
) -> Result<Plug<SyncChannelLegalEntities>, GatewayError> {
    let id = RegistryId::LegalEntities;
    let r = configured(config, id, Protocol::Syncchannel)?;
    let client = SyncChannelClient::new(id.name(), syncchannel_endpoint(id, r, trust)?)?;
    Ok(Plug::new(
        id,
        SyncChannelLegalEntities::new(client, (&r.gbdul).into()),
    ))
}

#[async_trait::async_trait]
impl Answers for SyncChannelLegalEntities {
    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>> {
        Some(match op {
            RegistryOp::LegalEntity { bin, requestor } => self
                .entity(bin, requestor.as_ref(), correlation_id)
                .await
                .map(RegistryRecord::LegalEntity),
            _ => return None,
        })
    }
}
