//! The e-government payment gateway (ЭҮТШ): payment e-checks by contract number, over REST/JSON.

use kopir_adapters::payments::{PaymentRegistry, RestPayments};
use kopir_adapters::AdapterError;

use super::{configured, endpoint, Answers, Plug, RegistryId};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

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
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        Some(match op {
            Operation::PaymentChecks(number) => self
                .echecks(number, correlation_id)
                .await
                .map(Record::PaymentChecks),
            _ => return None,
        })
    }
}
