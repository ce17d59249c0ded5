//! The e-government payment gateway (ЭҮТШ): payment e-checks by contract number, over REST/JSON.

use std::sync::Arc;

use kopir_adapters::payments::{PaymentRegistry, RestPayments};
use kopir_adapters::{AdapterError, Registry};

use super::{configured, endpoint, RegistryId, RegistryRoute};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

/// The payment gateway's plug-in.
pub struct Payments(Arc<RestPayments>);

impl Payments {
    /// Its adapter, from `[registries.payments]`.
    pub fn new(config: &Config) -> Result<Self, GatewayError> {
        let id = RegistryId::Payments;
        let r = configured(config, id, Protocol::Rest)?;
        Ok(Self(Arc::new(RestPayments::new(id.name(), endpoint(r))?)))
    }
}

#[async_trait::async_trait]
impl RegistryRoute for Payments {
    fn id(&self) -> RegistryId {
        RegistryId::Payments
    }

    async fn answer(
        &self,
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        Some(match op {
            Operation::PaymentChecks(number) => self
                .0
                .echecks(number, correlation_id)
                .await
                .map(Record::PaymentChecks),
            _ => return None,
        })
    }

    fn probe(&self) -> Arc<dyn Registry> {
        self.0.clone()
    }
}
