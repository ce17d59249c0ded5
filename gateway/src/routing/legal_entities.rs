//! The legal-entities database (ГБД ЮЛ): entities by BIN, over SyncChannel.

use std::sync::Arc;

use kopir_adapters::legal_entities::{LegalEntitiesRegistry, SyncChannelLegalEntities};
use kopir_adapters::syncchannel::SyncChannelClient;
use kopir_adapters::{AdapterError, Registry};

use super::{configured, endpoint, RegistryId, RegistryRoute};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

/// The legal-entities database's plug-in.
pub struct LegalEntities(Arc<SyncChannelLegalEntities>);

impl LegalEntities {
    /// Its adapter, from `[registries.legal_entities]`.
    pub fn new(config: &Config) -> Result<Self, GatewayError> {
        let id = RegistryId::LegalEntities;
        let r = configured(config, id, Protocol::Syncchannel)?;
        let client = SyncChannelClient::new(id.name(), endpoint(r))?;
        Ok(Self(Arc::new(SyncChannelLegalEntities::new(client))))
    }
}

#[async_trait::async_trait]
impl RegistryRoute for LegalEntities {
    fn id(&self) -> RegistryId {
        RegistryId::LegalEntities
    }

    async fn answer(
        &self,
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        Some(match op {
            Operation::LegalEntity(bin) => self
                .0
                .entity(bin, correlation_id)
                .await
                .map(Record::LegalEntity),
            _ => return None,
        })
    }

    fn probe(&self) -> Arc<dyn Registry> {
        self.0.clone()
    }
}
