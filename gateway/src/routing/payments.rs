//! The e-government payment gateway (ЭҮТШ): payment e-checks by contract number, over REST/JSON.

use kopir_adapters::payments::{PaymentRegistry, RestPayments};
use kopir_adapters::AdapterError;

use super::{configured, endpoint, Answers, Plug, RegistryId};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;
use kopir_core::registry::{RegistryOp, RegistryRecord};

/// The plug-in of its adapter, from `[registries.payments]`.
pub fn plug(config: &Config) -> Result<Plug<RestPayments>, GatewayError> {
    let id = RegistryId::Payments;
    let r = configured(config, id, Protocol::Rest)?;
    Ok(Plug::new(id, RestPayments::new(id.name(), endpoint(r))?))
}

#[async_trait::async_trait]
impl Answers for RestPayments {
    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>> {
        Some(match op {
            RegistryOp::PaymentChecks(number) => self
                .echecks(number, correlation_id)
                .await
                .map(RegistryRecord::PaymentChecks),
            _ => return None,
        })
    }
}
