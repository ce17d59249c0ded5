//! The legal cadastre: objects, rights and encumbrances, pledge filings and objections, over
//! REST/JSON.

use kopir_adapters::cadastre::{CadastreRegistry, RestCadastre};
use kopir_adapters::AdapterError;

use super::{configured, endpoint, not_found, Answers, Plug, RegistryId};
use crate::config::{Config, Protocol};
use crate::error::GatewayError;
use kopir_core::registry::{RegistryOp, RegistryRecord};

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
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>> {
        let unknown = || not_found(RegistryId::Cadastre, "cadastral number");
        Some(match op {
            RegistryOp::RealEstate(number) => self
                .object(number, correlation_id)
                .await
                .and_then(|o| o.ok_or_else(unknown))
                .map(RegistryRecord::RealEstate),
            RegistryOp::Rights(number) => self
                .rights(number, correlation_id)
                .await
                .and_then(|o| o.ok_or_else(unknown))
                .map(RegistryRecord::Rights),
            RegistryOp::FilePledge(filing) => self
                .file_pledge(filing)
                .await
                .map(|s| RegistryRecord::Filing(Some(s))),
            RegistryOp::FilingStatus(message_id) => {
                self.filing(message_id).await.map(RegistryRecord::Filing)
            }
            RegistryOp::FileObjection { message_id, text } => self
                .object_to(message_id, text)
                .await
                .map(|s| RegistryRecord::Filing(Some(s))),
            _ => return None,
        })
    }
}
