//! Legal-entities database (ГБД ЮЛ) over SyncChannel, with the payloads of its published service
//! «info by BIN v2» (`GbdulInfoByBin_v2`, namespace [`GBDUL_NS`], PascalCase elements): the
//! request `Request` {`RequestorBIN`, `BIN`} is enveloped-signed by the gateway and sent as the
//! `xs:string` `<data>`, as the published client does; the reply `Response` {`Status`,
//! `Organization`} comes the same way, its enveloped signature checked when it carries one.
//!
//! Status and registration-status codes other than the success code are not published;
//! [`codes`] lists the ones this adapter reads, which the mock registries use too.

use std::sync::Arc;

use async_trait::async_trait;
use quick_xml::escape::escape;
use roxmltree::Node;

use crate::error::AdapterError;
use crate::syncchannel::{
    child, flag, opt_date, required, string, text, Data, ResultCodes, SyncChannelClient,
};
use crate::Registry;
use kopir_core::identifiers::Bin;
use kopir_core::model::entity::{Activity, EntityAddress, EntityDetails, Leader};
use kopir_core::model::person::Reference;
use kopir_core::model::{Address, EntityHead, EntityStatus, Fetched, LegalEntity};
use kopir_xmlsec::dsig::XmlSigner;

/// The namespace of `GbdulInfoByBin_v2`.
pub const GBDUL_NS: &str = "http://gbdulinfobybin_v2.egp.gbdul.tamur.kz";

/// The registration-status codes the adapter derives [`EntityStatus`] from.
pub mod codes {
    /// Registered and operating.
    pub const REGISTERED: &str = "1";
    /// Activity suspended.
    pub const SUSPENDED: &str = "2";
    /// In liquidation.
    pub const IN_LIQUIDATION: &str = "3";
    /// Liquidated.
    pub const LIQUIDATED: &str = "4";
}

/// The service id and status codes of the legal-entities database.
#[derive(Debug, Clone)]
pub struct LegalEntitiesServices {
    /// The service id (`GbdulInfoByBin_v2`).
    pub info_by_bin: String,
    /// `RequestorBIN` when the caller's own BIN is unknown: the gateway operator's BIN.
    pub requestor_bin: String,
    /// What the `Status` codes mean (`002`, success, in published samples).
    pub results: ResultCodes,
}

impl Default for LegalEntitiesServices {
    fn default() -> Self {
        Self {
            info_by_bin: "GbdulInfoByBin_v2".into(),
            requestor_bin: String::new(),
            results: ResultCodes {
                found: vec!["002".into()],
                not_found: vec!["003".into()],
                invalid: vec!["004".into()],
                consent_refused: Vec::new(),
            },
        }
    }
}

/// What the gateway asks of a legal-entities database.
#[async_trait]
pub trait LegalEntitiesRegistry: Registry {
    /// The entity's record by BIN, asked by `requestor` (the calling organisation's BIN).
    async fn entity(
        &self,
        bin: &Bin,
        requestor: Option<&Bin>,
        correlation_id: &str,
    ) -> Result<Fetched<LegalEntity>, AdapterError>;
}

/// The legal-entities database reached through its SyncChannel endpoint.
#[derive(Debug, Clone)]
pub struct SyncChannelLegalEntities {
    client: SyncChannelClient,
    services: LegalEntitiesServices,
}

impl SyncChannelLegalEntities {
    /// Wraps a SyncChannel client for the legal-entities database.
    pub fn new(client: SyncChannelClient, services: LegalEntitiesServices) -> Self {
        Self { client, services }
    }

    fn signer(&self) -> Option<Arc<dyn XmlSigner>> {
        self.client
            .wire()
            .security
            .as_ref()
            .and_then(|s| s.signer.clone())
    }

    /// The signed `Request` document.
    fn request(&self, bin: &Bin, requestor: Option<&Bin>) -> Result<String, AdapterError> {
        let requestor = requestor.map_or(self.services.requestor_bin.as_str(), Bin::as_str);
        let request = format!(
            r#"<ns2:Request xmlns:ns2="{GBDUL_NS}"><RequestorBIN>{}</RequestorBIN><BIN>{}</BIN></ns2:Request>"#,
            escape(requestor),
            bin.as_str()
        );
        match self.signer() {
            Some(signer) => kopir_xmlsec::enveloped::sign(&request, signer.as_ref())
                .map_err(|e| AdapterError::Key(format!("the ГБД ЮЛ request: {e}"))),
            // A registry without WS-Security configured takes the request unsigned (a real
            // one refuses it; the gateway's config check warns of it).
            None => Ok(request),
        }
    }

    fn judge(&self, status: &Reference) -> Result<(), AdapterError> {
        self.services
            .results
            .judge(self.client.registry(), "BIN", &status.code, &status.name_ru)
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
        requestor: Option<&Bin>,
        correlation_id: &str,
    ) -> Result<Fetched<LegalEntity>, AdapterError> {
        let request = self.request(bin, requestor)?;
        let fetched = self
            .client
            .call_payload(
                &self.services.info_by_bin,
                Data::Text(&request),
                correlation_id,
                |p| p.root(parse_response),
            )
            .await?;
        let (status, entity) = fetched.record;
        self.judge(&status)?;
        let entity = entity.ok_or_else(|| AdapterError::Malformed {
            registry: self.client.registry().to_string(),
            detail: "a successful Status without an Organization".into(),
        })?;
        Ok(Fetched {
            record: entity,
            registry_time: fetched.registry_time,
        })
    }
}

/// A `DirectoryType` value (`Code`, `NameRu`, `NameKz`).
fn directory(n: Node<'_, '_>) -> Reference {
    Reference {
        code: string(n, "Code"),
        name_ru: string(n, "NameRu"),
        name_kz: string(n, "NameKz"),
        change_date: None,
    }
}

fn directory_of(n: Node<'_, '_>, name: &str) -> Option<Reference> {
    child(n, name).map(directory)
}

/// Reads a `Response` document: its `Status` and the `Organization`, when it carries one.
pub fn parse_response(n: Node<'_, '_>) -> Result<(Reference, Option<LegalEntity>), String> {
    if n.tag_name().namespace() != Some(GBDUL_NS) {
        return Err(format!(
            "expected a {GBDUL_NS} Response, got <{}>",
            n.tag_name().name()
        ));
    }
    let status = child(n, "Status")
        .map(directory)
        .ok_or("the Response lacks <Status>")?;
    let entity = child(n, "Organization")
        .map(parse_organization)
        .transpose()?;
    Ok((status, entity))
}

fn address(n: Node<'_, '_>) -> EntityAddress {
    EntityAddress {
        rka: string(n, "RKA"),
        zip_code: string(n, "ZIPCode"),
        kato: string(n, "KATO"),
        district_ru: string(n, "DistrictRu"),
        district_kz: string(n, "DistrictKz"),
        region_ru: string(n, "RegionRu"),
        region_kz: string(n, "RegionKz"),
        city_ru: string(n, "CityRu"),
        city_kz: string(n, "CityKz"),
        street_ru: string(n, "StreetRu"),
        street_kz: string(n, "StreetKz"),
        building_number: string(n, "BuildingNumber"),
        corpus: string(n, "Corpus"),
        appartment_number: string(n, "AppartmentNumber"),
    }
}

/// The Kazakh text, or the Russian one when the registry gave no Kazakh text.
fn kz_or_ru(kz: &str, ru: &str) -> String {
    if kz.is_empty() { ru } else { kz }.to_string()
}

fn parse_organization(n: Node<'_, '_>) -> Result<LegalEntity, String> {
    let reg_status = directory_of(n, "RegStatus").ok_or("<Organization> lacks <RegStatus>")?;
    let status = match reg_status.code.as_str() {
        codes::REGISTERED => EntityStatus::Active,
        codes::SUSPENDED => EntityStatus::Suspended,
        codes::IN_LIQUIDATION => EntityStatus::InLiquidation,
        codes::LIQUIDATED => EntityStatus::Liquidated,
        other => return Err(format!("unknown RegStatus code {other:?}")),
    };
    let leader = child(n, "OrganizationLeader").map(|l| Leader {
        position: child(l, "Position").and_then(|p| directory_of(p, "PositionType")),
        appointed: child(l, "Position").and_then(|p| opt_date(p, "IssueDate").ok().flatten()),
        iin: string(l, "IIN"),
        surname: string(l, "SurName"),
        name: string(l, "Name"),
        middle_name: string(l, "MiddleName"),
        citizen_country: directory_of(l, "CitizenCountry"),
    });
    let activities = n
        .children()
        .filter(|c| c.has_tag_name("Activity"))
        .map(|a| Activity {
            main: flag(a, "Main"),
            oked: string(a, "OKED"),
            name_ru: string(a, "ActivityNameRu"),
            name_kz: string(a, "ActivityNameKz"),
        })
        .collect();
    let founders_count = match text(n, "FoundersCount") {
        None | Some("") => None,
        Some(s) => Some(
            s.trim()
                .parse()
                .map_err(|_| format!("<FoundersCount> {s:?} is not a count"))?,
        ),
    };
    let details = EntityDetails {
        reg_status,
        registration_department: directory_of(n, "RegistrationDepartment").unwrap_or_default(),
        registration_last_date: opt_date(n, "RegistrationLastDate")?,
        liquidation_date: opt_date(n, "LiquidationDate")?,
        full_name_en: string(n, "FullNameEn"),
        short_name_ru: string(n, "ShortNameRu"),
        short_name_kz: string(n, "ShortNameKz"),
        org_form: directory_of(n, "OrgForm").unwrap_or_default(),
        form_of_law: directory_of(n, "FormOfLaw"),
        private_enterprise_type: directory_of(n, "PrivateEnterpriseType"),
        tax_inactive: flag(n, "TaxOrgStatus"),
        activities,
        leader,
        founders_count,
        address: child(n, "Address").map(address),
    };
    let head = details.leader.as_ref().map(|l| EntityHead {
        iin: l.iin.clone(),
        full_name: [&l.surname, &l.name, &l.middle_name]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        position: l
            .position
            .as_ref()
            .map(|p| p.name().to_string())
            .unwrap_or_default(),
    });
    let legal_address = details
        .address
        .as_ref()
        .map(|a| Address {
            // ГБД ЮЛ registers Kazakhstan's entities: the address is in Kazakhstan (KATO).
            country: "ҚАЗАҚСТАН".into(),
            region: kz_or_ru(&a.district_kz, &a.district_ru),
            district: kz_or_ru(&a.region_kz, &a.region_ru),
            locality: kz_or_ru(&a.city_kz, &a.city_ru),
            street: kz_or_ru(&a.street_kz, &a.street_ru),
            house: a.building_number.clone(),
            flat: a.appartment_number.clone(),
        })
        .unwrap_or_default();
    let legal_form = details
        .form_of_law
        .as_ref()
        .map(|f| match (f.name_kz.as_str(), f.name_ru.as_str()) {
            ("", ru) => ru.to_string(),
            (kz, "") => kz.to_string(),
            (kz, ru) => format!("{kz} / {ru}"),
        })
        .unwrap_or_default();
    Ok(LegalEntity {
        bin: required(n, "BIN")?.to_string(),
        name_kk: string(n, "FullNameKz"),
        name_ru: string(n, "FullNameRu"),
        registration_date: opt_date(n, "RegistrationDate")?
            .ok_or("<Organization> lacks <RegistrationDate>")?,
        registration_number: String::new(),
        legal_form,
        status,
        head,
        legal_address,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_reply_reads_with_every_part() {
        let xml = format!(
            r#"<ns3:Response xmlns:ns3="{GBDUL_NS}"><Status><Code>002</Code><NameRu>Запрос обработан успешно</NameRu><NameKz>Сұрау сәтті өңделді</NameKz></Status>
<Organization><BIN>210240012345</BIN><RegStatus><Code>1</Code><NameRu>Зарегистрирован</NameRu><NameKz>Тіркелген</NameKz></RegStatus>
<RegistrationDepartment><Code>7110</Code><NameRu>Департамент юстиции г. Астана</NameRu><NameKz>Астана қ. әділет департаменті</NameKz></RegistrationDepartment>
<RegistrationDate>2021-02-15+06:00</RegistrationDate><FullNameRu>ТОО «Алтын Дала»</FullNameRu><FullNameKz>«Алтын Дала» ЖШС</FullNameKz>
<OrgForm><Code>1</Code><NameRu>Юридическое лицо</NameRu><NameKz>Заңды тұлға</NameKz></OrgForm>
<FormOfLaw><Code>10</Code><NameRu>ТОО</NameRu><NameKz>ЖШС</NameKz></FormOfLaw><TaxOrgStatus>false</TaxOrgStatus>
<OrganizationLeader><Position><PositionType><Code>1</Code><NameRu>Директор</NameRu><NameKz>Директор</NameKz></PositionType></Position><IIN>850123301201</IIN><SurName>Абаев</SurName><Name>Ерлан</Name></OrganizationLeader>
<Activity><Main>true</Main><OKED>62010</OKED><ActivityNameKz>Бағдарламалау</ActivityNameKz><ActivityNameRu>Программирование</ActivityNameRu></Activity>
<Address><KATO>711210000</KATO><DistrictKz>Астана қаласы</DistrictKz><CityRu>Астана</CityRu><CityKz>Астана</CityKz><StreetKz>Мәңгілік Ел</StreetKz><BuildingNumber>10</BuildingNumber></Address>
<FoundersCount>2</FoundersCount></Organization></ns3:Response>"#
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let (status, entity) = parse_response(doc.root_element()).unwrap();
        assert_eq!(status.code, "002");
        let e = entity.unwrap();
        assert_eq!(e.status, EntityStatus::Active);
        assert_eq!(e.legal_form, "ЖШС / ТОО");
        assert_eq!(e.head.unwrap().full_name, "Абаев Ерлан");
        assert_eq!(e.details.activities[0].oked, "62010");
        assert_eq!(e.details.address.unwrap().kato, "711210000");
        assert_eq!(e.details.founders_count, Some(2));
        assert_eq!(e.legal_address.region, "Астана қаласы");
    }

    #[test]
    fn another_namespace_is_refused() {
        let doc =
            roxmltree::Document::parse("<Response><Status><Code>002</Code></Status></Response>")
                .unwrap();
        assert!(parse_response(doc.root_element()).is_err());
    }
}
