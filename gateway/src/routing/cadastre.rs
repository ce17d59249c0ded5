//! The legal cadastre: objects, rights and encumbrances, pledge filings and objections, over
//! REST/JSON.

use kopir_adapters::cadastre::{CadastreRegistry, RestCadastre};
use kopir_adapters::AdapterError;

use super::{configured, endpoint, not_found, Answers, Plug, RegistryId};
use crate::call::{Operation, Record};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;

/// The plug-in of its adapter, from `[registries.cadastre]`.
pub fn plug(config: &Config) -> Result<Plug<RestCadastre>, GatewayError> {
    let id = RegistryId::Cadastre;
    let r = configured(config, id, Protocol::Rest)?;
    Ok(Plug::new(id, RestCadastre::new(id.name(), endpoint(r))?))
}

#[async_trait::async_trait]
impl Answers for RestCadastre {
    async fn answer(
        &self,
        op: &Operation,
        correlation_id: &str,
    ) -> Option<Result<Record, AdapterError>> {
        let unknown = || not_found(RegistryId::Cadastre, "cadastral number");
        Some(match op {
            Operation::RealEstate(number) => self
                .object(number, correlation_id)
                .await
                .and_then(|o| o.ok_or_else(unknown))
                .map(Record::RealEstate),
            Operation::Rights(number) => self
                .rights(number, correlation_id)
                .await
                .and_then(|o| o.ok_or_else(unknown))
                .map(Record::Rights),
            Operation::FilePledge(filing) => self
                .file_pledge(filing)
                .await
                .map(|s| Record::Filing(Some(s))),
            Operation::FilingStatus(message_id) => {
                self.filing(message_id).await.map(Record::Filing)
            }
            Operation::FileObjection { message_id, text } => self
                .object_to(message_id, text)
                .await
                .map(|s| Record::Filing(Some(s))),
            _ => return None,
        })
    }
}
