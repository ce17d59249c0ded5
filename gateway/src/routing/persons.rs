//! The persons database (ГБД ФЛ): person records and family links, over SyncChannel.

use kopir_adapters::persons::{PersonsRegistry, SyncChannelPersons};
use kopir_adapters::syncchannel::SyncChannelClient;
use kopir_adapters::AdapterError;

use super::{configured, endpoint, Answers, Plug, RegistryId};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

/// The plug-in of its adapter, from `[registries.persons]`.
pub fn plug(config: &Config) -> Result<Plug<SyncChannelPersons>, GatewayError> {
    let id = RegistryId::Persons;
    let r = configured(config, id, Protocol::Syncchannel)?;
    let client = SyncChannelClient::new(id.name(), endpoint(r))?;
    Ok(Plug::new(id, SyncChannelPersons::new(client)))
}

#[async_trait::async_trait]
impl Answers for SyncChannelPersons {
    async fn answer(
        &self,
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        Some(match op {
            Operation::Person(iin) => self.person(iin, correlation_id).await.map(Record::Person),
            Operation::Relatives(iin) => self
                .relatives(iin, correlation_id)
                .await
                .map(Record::Relatives),
            _ => return None,
        })
    }
}
