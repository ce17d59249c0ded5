//! The persons database (ГБД ФЛ): person records and family links, over SyncChannel.

use std::sync::Arc;

use kopir_adapters::persons::{PersonsRegistry, SyncChannelPersons};
use kopir_adapters::syncchannel::SyncChannelClient;
use kopir_adapters::{AdapterError, Registry};

use super::{configured, endpoint, RegistryId, RegistryRoute};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

/// The persons database's plug-in.
pub struct Persons(Arc<SyncChannelPersons>);

impl Persons {
    /// Its adapter, from `[registries.persons]`.
    pub fn new(config: &Config) -> Result<Self, GatewayError> {
        let id = RegistryId::Persons;
        let r = configured(config, id, Protocol::Syncchannel)?;
        let client = SyncChannelClient::new(id.name(), endpoint(r))?;
        Ok(Self(Arc::new(SyncChannelPersons::new(client))))
    }
}

#[async_trait::async_trait]
impl RegistryRoute for Persons {
    fn id(&self) -> RegistryId {
        RegistryId::Persons
    }

    async fn answer(
        &self,
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        Some(match op {
            Operation::Person(iin) => self.0.person(iin, correlation_id).await.map(Record::Person),
            Operation::Relatives(iin) => self
                .0
                .relatives(iin, correlation_id)
                .await
                .map(Record::Relatives),
            _ => return None,
        })
    }

    fn probe(&self) -> Arc<dyn Registry> {
        self.0.clone()
    }
}
