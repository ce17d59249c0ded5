//! The persons database (ГБД ФЛ): person records and family links, over SyncChannel.

use kopir_adapters::persons::{PersonsRegistry, SyncChannelPersons};
use kopir_adapters::syncchannel::SyncChannelClient;
use kopir_adapters::AdapterError;

use super::{configured, syncchannel_endpoint, Answers, Plug, RegistryId};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;
use kopir_core::model::person::KdpToken;
use kopir_core::registry::{RegistryOp, RegistryRecord};

/// The plug-in of its adapter, from `[registries.persons]`.
pub fn plug(
    config: &Config,
    trust: &std::sync::Arc<kopir_trust::Trust>,
) -> Result<Plug<SyncChannelPersons>, GatewayError> {
    let id = RegistryId::Persons;
    let r = configured(config, id, Protocol::Syncchannel)?;
    let client = SyncChannelClient::new(id.name(), syncchannel_endpoint(id, r, trust)?)?;
    Ok(Plug::new(
        id,
        SyncChannelPersons::new(client, (&r.gbdfl).into()),
    ))
}

#[async_trait::async_trait]
impl Answers for SyncChannelPersons {
    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>> {
        Some(match op {
            RegistryOp::Person { iin, token } => self
                .person(
                    iin,
                    token.as_ref().unwrap_or(&KdpToken::default()),
                    correlation_id,
                )
                .await
                .map(RegistryRecord::Person),
            RegistryOp::FindPersons { query, token } => self
                .find(
                    query,
                    token.as_ref().unwrap_or(&KdpToken::default()),
                    correlation_id,
                )
                .await
                .map(RegistryRecord::Persons),
            RegistryOp::Relatives(iin) => self
                .relatives(iin, correlation_id)
                .await
                .map(RegistryRecord::Relatives),
            _ => return None,
        })
    }
}
