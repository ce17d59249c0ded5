//! Persons database (ГБД ФЛ) over SyncChannel, with the payloads of its published service
//! `GBDFLUniversal_token`: `<data>` holds the unqualified children of the `Request` type
//! (`messageId`, `messageDate`, `senderCode`, one search criterion, `kdpToken`, `publicKey`) and
//! the reply's `<data>` those of `Response` (`messageId` … `messageResult`, `persons/person`).
//! "No such person" is what the payload's `messageResult` says. The family links come from a
//! service of the same shape (ours: nothing public describes one).
//!
//! The dictionary codes the summary fields are derived from (document kinds and validity,
//! registration status, address kinds) are not published; [`codes`] lists the ones this adapter
//! reads, which the mock registries use too.

use async_trait::async_trait;
use chrono::Utc;
use quick_xml::escape::escape;
use roxmltree::Node;

use crate::error::AdapterError;
use crate::syncchannel::{
    child, date, flag, opt_date, required, string, text, Data, ResultCodes, SyncChannelClient,
};
use crate::Registry;
use kopir_core::identifiers::Iin;
use kopir_core::model::person::{
    Capacity, Certificate, Exclusion, KdpToken, PersonDetails, PersonDocument, Reference,
    RegAddress, Wanted,
};
use kopir_core::model::{
    Address, Deregistration, DocumentType, Fetched, IdentityDocument, LifeStatus, Person,
    PersonQuery, Registration, Relation, Relative, TemporaryRegistration,
};

/// The dictionary codes the adapter derives the summary fields from.
pub mod codes {
    /// Document kind: passport of the Republic of Kazakhstan.
    pub const PASSPORT: &str = "001";
    /// Document kind: identity card of the Republic of Kazakhstan.
    pub const ID_CARD: &str = "002";
    /// Document kind: a foreigner's residence permit.
    pub const RESIDENCE_PERMIT: &str = "003";
    /// Document validity: valid.
    pub const DOCUMENT_VALID: &str = "00";
    /// Registration status: registered at the address.
    pub const REGISTERED: &str = "1";
    /// Other address kind: temporary registration.
    pub const TEMPORARY: &str = "2";
    /// Family link: spouse.
    pub const SPOUSE: &str = "01";
    /// Family link: mother or father.
    pub const PARENT: &str = "02";
    /// Family link: son or daughter.
    pub const CHILD: &str = "03";
}

/// The service ids, sender code and `messageResult` codes of the persons database.
#[derive(Debug, Clone)]
pub struct PersonsServices {
    /// The search service (`GBDFLUniversal_token`).
    pub search: String,
    /// The family-links service.
    pub family_links: String,
    /// `senderCode`, issued to the gateway when the interaction rules are agreed.
    pub sender_code: String,
    /// What the `messageResult` codes mean.
    pub results: ResultCodes,
}

impl Default for PersonsServices {
    fn default() -> Self {
        Self {
            search: "GBDFLUniversal_token".into(),
            family_links: "GBDFL_FAMILY_LINKS".into(),
            sender_code: "KOPIR".into(),
            results: ResultCodes {
                found: vec!["00000".into()],
                not_found: vec!["00001".into()],
                invalid: vec!["00002".into()],
                consent_refused: vec!["00003".into()],
            },
        }
    }
}

/// What the gateway asks of a persons database.
#[async_trait]
pub trait PersonsRegistry: Registry {
    /// The person's record by IIN.
    async fn person(
        &self,
        iin: &Iin,
        token: &KdpToken,
        correlation_id: &str,
    ) -> Result<Fetched<Person>, AdapterError>;

    /// The persons matching a search (by name and birth date, or by document number).
    async fn find(
        &self,
        query: &PersonQuery,
        token: &KdpToken,
        correlation_id: &str,
    ) -> Result<Fetched<Vec<Person>>, AdapterError>;

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
    services: PersonsServices,
}

impl SyncChannelPersons {
    /// Wraps a SyncChannel client for the persons database.
    pub fn new(client: SyncChannelClient, services: PersonsServices) -> Self {
        Self { client, services }
    }

    /// The `Request` children for one criterion, in the schema's order.
    fn request(&self, query: &PersonQuery, token: Option<&KdpToken>) -> String {
        let mut x = format!(
            "<messageId>{}</messageId><messageDate>{}</messageDate><senderCode>{}</senderCode>",
            uuid::Uuid::new_v4(),
            kopir_core::time::xs_datetime_local(Utc::now()),
            escape(&self.services.sender_code),
        );
        let leaf = |x: &mut String, tag: &str, v: &str| {
            if !v.is_empty() {
                x.push_str(&format!("<{tag}>{}</{tag}>", escape(v)));
            }
        };
        match query {
            PersonQuery::Iin(iin) => leaf(&mut x, "iin", iin.as_str()),
            PersonQuery::Name {
                surname,
                name,
                patronymic,
                birth_date,
            } => {
                leaf(&mut x, "surname", surname);
                leaf(&mut x, "name", name);
                leaf(&mut x, "patronymic", patronymic);
                leaf(
                    &mut x,
                    "birthDate",
                    &birth_date.format("%Y-%m-%d").to_string(),
                );
            }
            PersonQuery::Document(number) => leaf(&mut x, "documentNumber", number),
        }
        // Both are required by the schema; the family-links service takes no token.
        if let Some(t) = token {
            x.push_str(&format!(
                "<kdpToken>{}</kdpToken><publicKey>{}</publicKey>",
                escape(&t.token),
                escape(&*t.public_key)
            ));
        }
        x
    }

    /// Sends `data` to `service` and reads the reply's `<data>` with `parse`, its
    /// `messageResult` judged.
    async fn ask<T>(
        &self,
        service: &str,
        data: &str,
        correlation_id: &str,
        parse: impl FnOnce(Node<'_, '_>) -> Result<(Reference, T), String>,
    ) -> Result<Fetched<T>, AdapterError> {
        let fetched = self
            .client
            .call_payload(service, Data::Element(data), correlation_id, |p| {
                p.data(parse)
            })
            .await?;
        let (result, record) = fetched.record;
        self.judge(&result)?;
        Ok(Fetched {
            record,
            registry_time: fetched.registry_time,
        })
    }

    async fn search(
        &self,
        query: &PersonQuery,
        token: &KdpToken,
        correlation_id: &str,
    ) -> Result<Fetched<Vec<Person>>, AdapterError> {
        let data = self.request(query, Some(token));
        self.ask(&self.services.search, &data, correlation_id, parse_search)
            .await
    }

    /// Maps a `messageResult` to the search's outcome.
    fn judge(&self, result: &Reference) -> Result<(), AdapterError> {
        self.services
            .results
            .judge(self.client.registry(), "IIN", &result.code, &result.name_ru)
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
        token: &KdpToken,
        correlation_id: &str,
    ) -> Result<Fetched<Person>, AdapterError> {
        let fetched = self
            .search(&PersonQuery::Iin(iin.clone()), token, correlation_id)
            .await?;
        let registry = self.client.registry().to_string();
        let person = fetched
            .record
            .into_iter()
            .find(|p| p.iin == iin.as_str())
            .ok_or(AdapterError::NotFound {
                registry,
                what: "IIN".into(),
            })?;
        Ok(Fetched {
            record: person,
            registry_time: fetched.registry_time,
        })
    }

    async fn find(
        &self,
        query: &PersonQuery,
        token: &KdpToken,
        correlation_id: &str,
    ) -> Result<Fetched<Vec<Person>>, AdapterError> {
        match self.search(query, token, correlation_id).await {
            // A search that matches no one has an empty answer, not a missing record.
            Err(AdapterError::NotFound { .. }) => Ok(Fetched {
                record: Vec::new(),
                registry_time: Utc::now(),
            }),
            other => other,
        }
    }

    async fn relatives(
        &self,
        iin: &Iin,
        correlation_id: &str,
    ) -> Result<Vec<Relative>, AdapterError> {
        let data = self.request(&PersonQuery::Iin(iin.clone()), None);
        let asked = self
            .ask(
                &self.services.family_links,
                &data,
                correlation_id,
                parse_links,
            )
            .await;
        match asked {
            Ok(links) => Ok(links.record),
            // No such person has no relatives the gateway could rely on.
            Err(AdapterError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// A required reference value (`code`, `nameRu`, `nameKz`, `changeDate`).
pub fn reference(n: Node<'_, '_>) -> Result<Reference, String> {
    Ok(Reference {
        code: required(n, "code")?.to_string(),
        name_ru: text(n, "nameRu").unwrap_or("").to_string(),
        name_kz: text(n, "nameKz").unwrap_or("").to_string(),
        change_date: text(n, "changeDate")
            .filter(|d| !d.is_empty())
            .map(str::to_string),
    })
}

fn reference_of(n: Node<'_, '_>, name: &str) -> Result<Reference, String> {
    child(n, name)
        .ok_or_else(|| format!("<{}> lacks <{name}>", n.tag_name().name()))
        .and_then(reference)
        .map_err(|e| format!("{name}: {e}"))
}

fn optional_reference(n: Node<'_, '_>, name: &str) -> Result<Option<Reference>, String> {
    child(n, name)
        .map(reference)
        .transpose()
        .map_err(|e| format!("{name}: {e}"))
}

/// The common head of a reply: its `messageResult`.
fn message_result(data: Node<'_, '_>) -> Result<Reference, String> {
    reference_of(data, "messageResult")
}

/// Reads a search reply's `<data>`: its `messageResult` and every `person`.
pub fn parse_search(data: Node<'_, '_>) -> Result<(Reference, Vec<Person>), String> {
    let result = message_result(data)?;
    let persons = match child(data, "persons") {
        Some(list) => list
            .children()
            .filter(|c| c.has_tag_name("person"))
            .map(parse_person)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok((result, persons))
}

/// Reads a family-links reply's `<data>`: its `messageResult` and every `link`.
pub fn parse_links(data: Node<'_, '_>) -> Result<(Reference, Vec<Relative>), String> {
    let result = message_result(data)?;
    let links = match child(data, "links") {
        Some(list) => list
            .children()
            .filter(|c| c.has_tag_name("link"))
            .map(|l| {
                let relation = reference_of(l, "relation")?;
                Ok(Relative {
                    iin: required(l, "iin")?.to_string(),
                    relation: match relation.code.as_str() {
                        codes::SPOUSE => Relation::Spouse,
                        codes::PARENT => Relation::Parent,
                        codes::CHILD => Relation::Child,
                        other => return Err(format!("unknown family link {other:?}")),
                    },
                })
            })
            .collect::<Result<_, String>>()?,
        None => Vec::new(),
    };
    Ok((result, links))
}

fn certificate(n: Node<'_, '_>) -> Result<Certificate, String> {
    Ok(Certificate {
        number: required(n, "number")?.to_string(),
        begin_date: opt_date(n, "beginDate")?,
        issuer: string(n, "issueOrganisation"),
    })
}

fn foreign(n: Node<'_, '_>) -> (String, String) {
    child(n, "foreignData").map_or_else(Default::default, |f| {
        (string(f, "districtName"), string(f, "regionName"))
    })
}

fn address(n: Node<'_, '_>, kind: Option<Reference>) -> Result<RegAddress, String> {
    let (foreign_district, foreign_region) = foreign(n);
    Ok(RegAddress {
        kind,
        country: optional_reference(n, "country")?,
        district: optional_reference(n, "district")?,
        region: optional_reference(n, "region")?,
        foreign_district,
        foreign_region,
        city: string(n, "city"),
        street: string(n, "street"),
        building: string(n, "building"),
        corpus: string(n, "corpus"),
        flat: string(n, "flat"),
        begin_date: opt_date(n, "beginDate")?,
        end_date: opt_date(n, "endDate")?,
        status: optional_reference(n, "status")?,
        invalidity: optional_reference(n, "invalidity")?,
        // The place of birth names its address-register code otherwise.
        ar_code: text(n, "arCode")
            .or_else(|| text(n, "birthTeCodeAR"))
            .unwrap_or("")
            .to_string(),
    })
}

fn document(n: Node<'_, '_>) -> Result<PersonDocument, String> {
    Ok(PersonDocument {
        kind: reference_of(n, "type")?,
        number: required(n, "number")?.to_string(),
        series: string(n, "series"),
        begin_date: date(n, "beginDate")?,
        end_date: opt_date(n, "endDate")?,
        issuer: reference_of(n, "issueOrganization")?,
        status: reference_of(n, "status")?,
        invalidity_date: opt_date(n, "invalidityDate")?,
    })
}

fn wanted(n: Node<'_, '_>, prefix: &str) -> Result<Wanted, String> {
    Ok(Wanted {
        active: flag(n, prefix),
        since: date(n, &format!("{prefix}Date"))?,
        until: opt_date(n, &format!("{prefix}EndDate"))?,
        case_number: string(n, &format!("{prefix}Number")),
        authority: reference_of(n, "gpTerritorial")?,
    })
}

fn details(n: Node<'_, '_>) -> Result<PersonDetails, String> {
    let list = |outer: &str, inner: &str| -> Vec<Node<'_, '_>> {
        child(n, outer)
            .map(|l| l.children().filter(|c| c.has_tag_name(inner)).collect())
            .unwrap_or_default()
    };
    Ok(PersonDetails {
        gender: reference_of(n, "gender")?,
        nationality: reference_of(n, "nationality")?,
        citizenship: reference_of(n, "citizenship")?,
        life_status: reference_of(n, "lifeStatus")?,
        birth_certificate: child(n, "birthCertificate").map(certificate).transpose()?,
        death_certificate: child(n, "deathCertificate").map(certificate).transpose()?,
        birth_place: child(n, "birthPlace")
            .map(|b| address(b, None))
            .transpose()?
            .unwrap_or_default(),
        reg_address: child(n, "regAddress")
            .map(|a| address(a, None))
            .transpose()?,
        addresses: list("addresses", "address")
            .into_iter()
            .map(|a| address(a, Some(reference_of(a, "type")?)))
            .collect::<Result<_, _>>()?,
        documents: list("documents", "document")
            .into_iter()
            .map(document)
            .collect::<Result<_, _>>()?,
        capacity: child(n, "personCapableStatus")
            .map(|c| -> Result<_, String> {
                Ok(Capacity {
                    status: reference_of(c, "capableStatus")?,
                    since: date(c, "capableDate")?,
                    until: opt_date(c, "capableEndDate")?,
                    case_number: string(c, "capableNumber"),
                    court: reference_of(c, "court")?,
                })
            })
            .transpose()?,
        missing: child(n, "missingStatus")
            .map(|m| wanted(m, "missing"))
            .transpose()?,
        disappeared: child(n, "disappearStatus")
            .map(|d| wanted(d, "disappear"))
            .transpose()?,
        excluded: child(n, "excludeStatus")
            .map(|e| -> Result<_, String> {
                Ok(Exclusion {
                    reason: reference_of(e, "excludeReason")?,
                    since: opt_date(e, "excludeReasonDate")?,
                    until: opt_date(e, "excludeDate")?,
                    source: optional_reference(e, "excludeParticipant")?,
                })
            })
            .transpose()?,
        removed: flag(n, "removed"),
    })
}

fn name_of(r: &Option<Reference>) -> String {
    r.as_ref().map(|r| r.name().to_string()).unwrap_or_default()
}

/// An address by parts as the one-line components the gateway's records use (the registry's
/// «district» is the oblast, its «region» the district of an oblast).
pub fn summary_address(a: &RegAddress) -> Address {
    Address {
        country: name_of(&a.country),
        region: if a.foreign_district.is_empty() {
            name_of(&a.district)
        } else {
            a.foreign_district.clone()
        },
        district: if a.foreign_region.is_empty() {
            name_of(&a.region)
        } else {
            a.foreign_region.clone()
        },
        locality: a.city.clone(),
        street: a.street.clone(),
        house: a.building.clone(),
        flat: a.flat.clone(),
    }
}

/// The current identity document: the newest valid one of a kind the gateway knows, or else
/// the birth certificate.
fn current_document(d: &PersonDetails) -> Option<IdentityDocument> {
    let kind = |code: &str| match code {
        codes::ID_CARD => Some(DocumentType::IdCard),
        codes::PASSPORT => Some(DocumentType::Passport),
        codes::RESIDENCE_PERMIT => Some(DocumentType::ResidencePermit),
        _ => None,
    };
    let current = d
        .documents
        .iter()
        .filter(|doc| doc.status.code == codes::DOCUMENT_VALID)
        .filter_map(|doc| kind(&doc.kind.code).map(|k| (k, doc)))
        .max_by_key(|(_, doc)| doc.begin_date);
    match current {
        Some((kind, doc)) => Some(IdentityDocument {
            kind,
            number: doc.number.clone(),
            issue_date: doc.begin_date,
            issuer: doc.issuer.name().to_string(),
            expiry_date: doc.end_date,
        }),
        None => d.birth_certificate.as_ref().and_then(|c| {
            Some(IdentityDocument {
                kind: DocumentType::BirthCertificate,
                number: c.number.clone(),
                issue_date: c.begin_date?,
                issuer: c.issuer.clone(),
                expiry_date: None,
            })
        }),
    }
}

fn parse_person(n: Node<'_, '_>) -> Result<Person, String> {
    let d = details(n)?;
    let death_date = opt_date(n, "deathDate")?;
    let bp = &d.birth_place;
    let birth_place = [
        bp.city.clone(),
        name_of(&bp.region),
        name_of(&bp.district),
        bp.foreign_district.clone(),
        name_of(&bp.country),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    let (registration, deregistration) = match &d.reg_address {
        Some(r)
            if r.end_date.is_none()
                && r.status
                    .as_ref()
                    .is_none_or(|s| s.code == codes::REGISTERED) =>
        {
            (
                r.begin_date.map(|date| Registration {
                    address: summary_address(r),
                    date,
                }),
                None,
            )
        }
        Some(r) => (
            None,
            r.end_date.map(|date| Deregistration {
                date,
                reason: name_of(&r.invalidity),
                address: summary_address(r),
            }),
        ),
        None => (None, None),
    };
    let temporary = d
        .addresses
        .iter()
        .filter(|a| a.kind.as_ref().is_some_and(|k| k.code == codes::TEMPORARY))
        .filter_map(|a| {
            Some(TemporaryRegistration {
                address: summary_address(a),
                date_from: a.begin_date?,
                date_to: a.end_date?,
            })
        })
        .max_by_key(|t| t.date_from);
    Ok(Person {
        iin: required(n, "iin")?.to_string(),
        surname: string(n, "surname"),
        given_name: string(n, "name"),
        patronymic: string(n, "patronymic"),
        birth_date: date(n, "birthDate")?,
        birth_place,
        citizenship: d.citizenship.name().to_string(),
        life_status: if death_date.is_some() {
            LifeStatus::Deceased
        } else {
            LifeStatus::Alive
        },
        death_date,
        document: current_document(&d),
        registration,
        temporary,
        deregistration,
        details: d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = r#"<data><messageId>m1</messageId><messageDate>2026-01-01T10:00:00+05:00</messageDate><requestId>r1</requestId>
<sender><code>GBDFL</code><nameRu>ГБД ФЛ</nameRu><nameKz>ЖТ МДБ</nameKz></sender><receiver><code>KOPIR</code><nameRu>Көпір</nameRu><nameKz>Көпір</nameKz></receiver>
<messageResult><code>00000</code><nameRu>Успешно</nameRu><nameKz>Сәтті</nameKz></messageResult>
<persons><person><iin>850123301201</iin><surname>Абаев</surname><name>Ерлан</name><patronymic>Серікұлы</patronymic><birthDate>1985-01-23+06:00</birthDate>
<gender><code>1</code><nameRu>МУЖСКОЙ</nameRu><nameKz>ЕР</nameKz></gender><nationality><code>005</code><nameRu>КАЗАХ</nameRu><nameKz>ҚАЗАҚ</nameKz></nationality>
<citizenship><code>398</code><nameRu>КАЗАХСТАН</nameRu><nameKz>ҚАЗАҚСТАН</nameKz></citizenship><lifeStatus><code>1</code><nameRu>ЖИВОЙ</nameRu><nameKz>ТІРІ</nameKz></lifeStatus>
<birthPlace><country><code>398</code><nameRu>КАЗАХСТАН</nameRu><nameKz>ҚАЗАҚСТАН</nameKz></country><district><code>19</code><nameRu>Алматинская область</nameRu><nameKz>Алматы облысы</nameKz></district><city>Қонаев</city></birthPlace>
<regAddress><country><code>398</code><nameRu>КАЗАХСТАН</nameRu><nameKz>ҚАЗАҚСТАН</nameKz></country><district><code>71</code><nameRu>г. Астана</nameRu><nameKz>Астана қаласы</nameKz></district>
<city>Астана</city><street>Мәңгілік Ел</street><building>10</building><flat>5</flat><beginDate>2015-06-01</beginDate><status><code>1</code><nameRu>ЗАРЕГИСТРИРОВАН</nameRu><nameKz>ТІРКЕЛГЕН</nameKz></status><arCode>0203000012345</arCode></regAddress>
<documents><document><type><code>002</code><nameRu>УДОСТОВЕРЕНИЕ РК</nameRu><nameKz>ҚР ЖЕКЕ КУӘЛІГІ</nameKz></type><number>012345678</number><beginDate>2020-01-01</beginDate><endDate>2030-01-01</endDate>
<issueOrganization><code>002</code><nameRu>МВД РК</nameRu><nameKz>ҚР ІІМ</nameKz></issueOrganization><status><code>00</code><nameRu>ДЕЙСТВИТЕЛЕН</nameRu><nameKz>ЖАРАМДЫ</nameKz></status><birthDate>1985-01-23</birthDate></document>
<document><type><code>001</code><nameRu>ПАСПОРТ РК</nameRu><nameKz>ҚР ПАСПОРТЫ</nameKz></type><number>N0001</number><beginDate>2010-01-01</beginDate><endDate>2020-01-01</endDate>
<issueOrganization><code>002</code><nameRu>МВД РК</nameRu><nameKz>ҚР ІІМ</nameKz></issueOrganization><status><code>02</code><nameRu>ИСТЕК СРОК</nameRu><nameKz>МЕРЗІМІ ӨТКЕН</nameKz></status><birthDate>1985-01-23</birthDate></document></documents>
</person></persons></data>"#;

    #[test]
    fn a_published_reply_reads_with_every_part() {
        let doc = roxmltree::Document::parse(REPLY).unwrap();
        let (result, persons) = parse_search(doc.root_element()).unwrap();
        assert_eq!(result.code, "00000");
        let p = &persons[0];
        assert_eq!(p.full_name(), "Абаев Ерлан Серікұлы");
        assert_eq!(p.birth_place, "Қонаев, Алматы облысы, ҚАЗАҚСТАН");
        assert_eq!(p.details.gender.name_ru, "МУЖСКОЙ");
        assert_eq!(p.details.documents.len(), 2);
        let current = p.document.as_ref().unwrap();
        assert_eq!(
            (current.kind, current.number.as_str()),
            (DocumentType::IdCard, "012345678")
        );
        let reg = p.registration.as_ref().unwrap();
        assert_eq!(
            (reg.address.region.as_str(), reg.address.flat.as_str()),
            ("Астана қаласы", "5")
        );
        assert_eq!(
            p.details.reg_address.as_ref().unwrap().ar_code,
            "0203000012345"
        );
        assert!(p.deregistration.is_none());
    }

    #[test]
    fn a_bad_date_is_an_error_not_a_panic() {
        let bad = REPLY.replace("1985-01-23+06:00", "23.01.1985");
        let doc = roxmltree::Document::parse(&bad).unwrap();
        assert!(parse_search(doc.root_element())
            .unwrap_err()
            .contains("birthDate"));
    }
}
