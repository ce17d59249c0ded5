//! Persons database (ГБД ФЛ) over SyncChannel: service `GBDFL_PERSON_BY_IIN`.

use async_trait::async_trait;
use roxmltree::Node;

use crate::error::AdapterError;
use crate::syncchannel::{child, date, required, text, SyncChannelClient};
use crate::Registry;
use kopir_core::identifiers::Iin;
use kopir_core::model::{
    Address, Deregistration, DocumentType, Fetched, IdentityDocument, LifeStatus, Person,
    Registration, Relation, Relative, TemporaryRegistration,
};

/// SyncChannel service id of the person-by-IIN lookup.
pub const SERVICE_PERSON_BY_IIN: &str = "GBDFL_PERSON_BY_IIN";

/// SyncChannel service id of the close-relatives lookup (spouse, parents, children).
pub const SERVICE_RELATIVES: &str = "GBDFL_RELATIVES";

/// What the gateway asks of a persons database.
#[async_trait]
pub trait PersonsRegistry: Registry {
    /// The person's record by IIN.
    async fn person(
        &self,
        iin: &Iin,
        correlation_id: &str,
    ) -> Result<Fetched<Person>, AdapterError>;

    /// The person's spouse, parents and children, as civil registration links them.
    async fn relatives(
        &self,
        iin: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<Relative>, AdapterError>;
}

/// The persons database reached through its SyncChannel endpoint.
#[derive(Debug, Clone)]
pub struct SyncChannelPersons {
    client: SyncChannelClient,
}

impl SyncChannelPersons {
    /// Wraps a SyncChannel client for the persons database.
    pub fn new(client: SyncChannelClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Registry for SyncChannelPersons {
    fn name(&self) -> &str {
        self.client.registry()
    }
    async fn ping(&self) -> Result<(), AdapterError> {
        self.client.ping().await
    }
}

#[async_trait]
impl PersonsRegistry for SyncChannelPersons {
    async fn person(
        &self,
        iin: &Iin,
        correlation_id: &str,
    ) -> Result<Fetched<Person>, AdapterError> {
        let data = format!("<iin>{}</iin>", iin.as_str());
        self.client
            .call(SERVICE_PERSON_BY_IIN, &data, correlation_id, parse_person)
            .await
            .map_err(|e| match e {
                AdapterError::NotFound { registry, .. } => AdapterError::NotFound {
                    registry,
                    what: "IIN".into(),
                },
                other => other,
            })
    }

    async fn relatives(
        &self,
        iin: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<Relative>, AdapterError> {
        let data = format!("<iin>{}</iin>", iin.as_str());
        let fetched = self
            .client
            .call(SERVICE_RELATIVES, &data, correlation_id, parse_relatives)
            .await;
        match fetched {
            Ok(f) => Ok(f.record),
            // No such person has no relatives the gateway could rely on.
            Err(AdapterError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

fn parse_relatives(n: Node<'_, '_>) -> Result<Vec<Relative>, String> {
    n.descendants()
        .filter(|c| c.has_tag_name("relative"))
        .map(|r| {
            let relation = text(r, "relation").unwrap_or("");
            Ok(Relative {
                iin: required(r, "iin")?.to_string(),
                relation: Relation::from_code(relation)
                    .ok_or_else(|| format!("unknown relation {relation:?}"))?,
            })
        })
        .collect()
}

/// Reads the address components of an address element.
pub fn parse_address(n: Node<'_, '_>) -> Address {
    let t = |name| text(n, name).unwrap_or("").to_string();
    Address {
        country: t("country"),
        region: t("region"),
        district: t("district"),
        locality: t("locality"),
        street: t("street"),
        house: t("house"),
        flat: t("flat"),
    }
}

fn parse_document(n: Node<'_, '_>) -> Result<IdentityDocument, String> {
    let kind = match required(n, "type")? {
        "ID_CARD" => DocumentType::IdCard,
        "PASSPORT" => DocumentType::Passport,
        "BIRTH_CERTIFICATE" => DocumentType::BirthCertificate,
        "RESIDENCE_PERMIT" => DocumentType::ResidencePermit,
        other => return Err(format!("unknown document type {other:?}")),
    };
    Ok(IdentityDocument {
        kind,
        number: required(n, "number")?.to_string(),
        issue_date: date(n, "issueDate")?,
        issuer: required(n, "issuer")?.to_string(),
        expiry_date: date(n, "expiryDate")?,
    })
}

fn parse_person(n: Node<'_, '_>) -> Result<Person, String> {
    if n.tag_name().name() != "person" {
        return Err(format!("expected <person>, got <{}>", n.tag_name().name()));
    }
    let life_status = match required(n, "lifeStatus")? {
        "ALIVE" => LifeStatus::Alive,
        "DECEASED" => LifeStatus::Deceased,
        other => return Err(format!("unknown lifeStatus {other:?}")),
    };
    let birth_place = child(n, "birthPlace")
        .map(parse_address)
        .map(|a| {
            [a.locality, a.district, a.region, a.country]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let document = child(n, "documents")
        .and_then(|d| child(d, "document"))
        .map(parse_document)
        .transpose()?;
    let registration = child(n, "regAddress")
        .map(|r| -> Result<_, String> {
            Ok(Registration {
                address: parse_address(r),
                date: date(r, "registrationDate")?,
            })
        })
        .transpose()?;
    let temporary = child(n, "tempAddress")
        .map(|r| -> Result<_, String> {
            Ok(TemporaryRegistration {
                address: parse_address(r),
                date_from: date(r, "dateFrom")?,
                date_to: date(r, "dateTo")?,
            })
        })
        .transpose()?;
    let deregistration = child(n, "deregistration")
        .map(|d| -> Result<_, String> {
            Ok(Deregistration {
                date: date(d, "date")?,
                reason: required(d, "reason")?.to_string(),
                address: child(d, "address").map(parse_address).unwrap_or_default(),
            })
        })
        .transpose()?;
    let death_date = match child(n, "deathDate") {
        Some(_) => Some(date(n, "deathDate")?),
        None => None,
    };
    Ok(Person {
        iin: required(n, "iin")?.to_string(),
        surname: required(n, "surname")?.to_string(),
        given_name: required(n, "name")?.to_string(),
        patronymic: text(n, "patronymic").unwrap_or("").to_string(),
        birth_date: date(n, "birthDate")?,
        birth_place,
        citizenship: text(n, "citizenship").unwrap_or("").to_string(),
        life_status,
        death_date,
        document,
        registration,
        temporary,
        deregistration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_with_all_parts() {
        let xml = r#"<person><iin>850123301201</iin><surname>Абаев</surname><name>Ерлан</name><patronymic>Серікұлы</patronymic>
<birthDate>1985-01-23</birthDate><birthPlace><country>КАЗАХСТАН</country><region>Алматы облысы</region><locality>Қонаев</locality></birthPlace>
<citizenship>КАЗАХСТАН</citizenship><lifeStatus>ALIVE</lifeStatus>
<documents><document><type>ID_CARD</type><number>012345678</number><issueDate>2020-01-01</issueDate><expiryDate>2030-01-01</expiryDate><issuer>МВД РК</issuer></document></documents>
<regAddress><country>КАЗАХСТАН</country><region>Астана</region><district>Есіл ауданы</district><locality>Астана</locality><street>Мәңгілік Ел</street><house>10</house><flat>5</flat><registrationDate>2015-06-01</registrationDate></regAddress>
</person>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let p = parse_person(doc.root_element()).unwrap();
        assert_eq!(p.full_name(), "Абаев Ерлан Серікұлы");
        assert_eq!(p.birth_place, "Қонаев, Алматы облысы, КАЗАХСТАН");
        assert_eq!(p.registration.unwrap().address.flat, "5");
        assert_eq!(p.document.unwrap().kind, DocumentType::IdCard);
        assert!(p.deregistration.is_none());
    }

    #[test]
    fn bad_date_is_an_error_not_a_panic() {
        let xml = "<person><iin>1</iin><surname>a</surname><name>b</name><birthDate>23.01.1985</birthDate><lifeStatus>ALIVE</lifeStatus></person>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        assert!(parse_person(doc.root_element())
            .unwrap_err()
            .contains("birthDate"));
    }
}
