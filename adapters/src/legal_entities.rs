//! Legal-entities database (ГБД ЮЛ) over SyncChannel: service `GBDUL_ENTITY_BY_BIN`.

use async_trait::async_trait;
use roxmltree::Node;

use crate::error::AdapterError;
use crate::persons::parse_address;
use crate::syncchannel::{child, date, required, text, SyncChannelClient};
use crate::Registry;
use kopir_core::identifiers::Bin;
use kopir_core::model::{EntityHead, EntityStatus, Fetched, LegalEntity};

/// SyncChannel service id of the entity-by-BIN lookup.
pub const SERVICE_ENTITY_BY_BIN: &str = "GBDUL_ENTITY_BY_BIN";

/// What the gateway asks of a legal-entities database.
#[async_trait]
pub trait LegalEntitiesRegistry: Registry {
    /// The entity's record by BIN.
    async fn entity(
        &self,
        bin: &Bin,
        correlation_id: &str,
    ) -> Result<Fetched<LegalEntity>, AdapterError>;
}

/// The legal-entities database reached through its SyncChannel endpoint.
#[derive(Debug, Clone)]
pub struct SyncChannelLegalEntities {
    client: SyncChannelClient,
}

impl SyncChannelLegalEntities {
    /// Wraps a SyncChannel client for the legal-entities database.
    pub fn new(client: SyncChannelClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Registry for SyncChannelLegalEntities {
    fn name(&self) -> &str {
        self.client.registry()
    }
    async fn ping(&self) -> Result<(), AdapterError> {
        self.client.ping().await
    }
}

#[async_trait]
impl LegalEntitiesRegistry for SyncChannelLegalEntities {
    async fn entity(
        &self,
        bin: &Bin,
        correlation_id: &str,
    ) -> Result<Fetched<LegalEntity>, AdapterError> {
        let data = format!("<bin>{}</bin>", bin.as_str());
        self.client
            .call(SERVICE_ENTITY_BY_BIN, &data, correlation_id, parse_entity)
            .await
            .map_err(|e| match e {
                AdapterError::NotFound { registry, .. } => AdapterError::NotFound {
                    registry,
                    what: "BIN".into(),
                },
                other => other,
            })
    }
}

fn parse_entity(n: Node<'_, '_>) -> Result<LegalEntity, String> {
    if n.tag_name().name() != "legalEntity" {
        return Err(format!(
            "expected <legalEntity>, got <{}>",
            n.tag_name().name()
        ));
    }
    let status = match required(n, "status")? {
        "ACTIVE" => EntityStatus::Active,
        "SUSPENDED" => EntityStatus::Suspended,
        "IN_LIQUIDATION" => EntityStatus::InLiquidation,
        "LIQUIDATED" => EntityStatus::Liquidated,
        other => return Err(format!("unknown status {other:?}")),
    };
    let head = child(n, "head")
        .map(|h| -> Result<_, String> {
            Ok(EntityHead {
                iin: required(h, "iin")?.to_string(),
                full_name: required(h, "fullName")?.to_string(),
                position: text(h, "position").unwrap_or("").to_string(),
            })
        })
        .transpose()?;
    Ok(LegalEntity {
        bin: required(n, "bin")?.to_string(),
        name_kk: required(n, "nameKk")?.to_string(),
        name_ru: required(n, "nameRu")?.to_string(),
        registration_date: date(n, "registrationDate")?,
        registration_number: text(n, "registrationNumber").unwrap_or("").to_string(),
        legal_form: text(n, "legalForm").unwrap_or("").to_string(),
        status,
        head,
        legal_address: child(n, "legalAddress")
            .map(parse_address)
            .unwrap_or_default(),
    })
}
