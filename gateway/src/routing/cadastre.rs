//! The legal cadastre: objects, rights and encumbrances, pledge filings and objections, over
//! REST/JSON.

use std::sync::Arc;

use kopir_adapters::cadastre::{CadastreRegistry, RestCadastre};
use kopir_adapters::{AdapterError, Registry};

use super::{configured, endpoint, not_found, RegistryId, RegistryRoute};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

/// The legal cadastre's plug-in.
pub struct Cadastre(Arc<RestCadastre>);

impl Cadastre {
    /// Its adapter, from `[registries.cadastre]`.
    pub fn new(config: &Config) -> Result<Self, GatewayError> {
        let id = RegistryId::Cadastre;
        let r = configured(config, id, Protocol::Rest)?;
        Ok(Self(Arc::new(RestCadastre::new(id.name(), endpoint(r))?)))
    }
}

#[async_trait::async_trait]
impl RegistryRoute for Cadastre {
    fn id(&self) -> RegistryId {
        RegistryId::Cadastre
    }

    async fn answer(
        &self,
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        let unknown = || not_found(RegistryId::Cadastre, "cadastral number");
        Some(match op {
            Operation::RealEstate(number) => self
                .0
                .object(number, correlation_id)
                .await
                .and_then(|o| o.ok_or_else(unknown))
                .map(Record::RealEstate),
            Operation::Rights(number) => self
                .0
                .rights(number, correlation_id)
                .await
                .and_then(|o| o.ok_or_else(unknown))
                .map(Record::Rights),
            Operation::FilePledge(filing) => self
                .0
                .file_pledge(filing)
                .await
                .map(|s| Record::Filing(Some(s))),
            Operation::FilingStatus(message_id) => {
                self.0.filing(message_id).await.map(Record::Filing)
            }
            Operation::FileObjection { message_id, text } => self
                .0
                .object_to(message_id, text)
                .await
                .map(|s| Record::Filing(Some(s))),
            _ => return None,
        })
    }

    fn probe(&self) -> Arc<dyn Registry> {
        self.0.clone()
    }
}
