//! The gateway's view of registry data, independent of any registry's wire format.

pub mod bank;
pub mod cadastre;
pub mod entity;
pub mod notary;
pub mod payments;
pub mod person;

use chrono::{DateTime, NaiveDate, Utc};

/// A postal address as the state databases keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    /// Country name.
    pub country: String,
    /// Oblast or city of republican significance.
    pub region: String,
    /// District (аудан).
    pub district: String,
    /// City, town or village.
    pub locality: String,
    /// Street.
    pub street: String,
    /// House number.
    pub house: String,
    /// Flat number, empty for a house.
    pub flat: String,
}

/// Kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DocumentType {
    /// National ID card (жеке куәлік).
    IdCard,
    /// Passport.
    Passport,
    /// Birth certificate (children under 16).
    BirthCertificate,
    /// Residence permit of a foreigner.
    ResidencePermit,
}

/// An identity document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentityDocument {
    /// Kind of document.
    pub kind: DocumentType,
    /// Document number.
    pub number: String,
    /// Date of issue.
    pub issue_date: NaiveDate,
    /// Issuing body.
    pub issuer: String,
    /// Date of expiry, when limited.
    pub expiry_date: Option<NaiveDate>,
}

/// Permanent registration at the place of residence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Registration {
    /// Where.
    pub address: Address,
    /// Registered since.
    pub date: NaiveDate,
}

/// Temporary registration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemporaryRegistration {
    /// Where.
    pub address: Address,
    /// From.
    pub date_from: NaiveDate,
    /// To.
    pub date_to: NaiveDate,
}

/// Deregistration from the place of residence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deregistration {
    /// When.
    pub date: NaiveDate,
    /// Reason as the registry states it.
    pub reason: String,
    /// The address deregistered from.
    pub address: Address,
}

/// Whether the person is alive, per the persons database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LifeStatus {
    /// Alive.
    Alive,
    /// Deceased; the person record keeps the date.
    Deceased,
}

/// A person's record in the persons database (ГБД ФЛ).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Person {
    /// The 12-digit IIN.
    pub iin: String,
    /// Surname.
    pub surname: String,
    /// Given name.
    pub given_name: String,
    /// Patronymic, empty when the person has none.
    pub patronymic: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Place of birth, as one line.
    pub birth_place: String,
    /// Citizenship.
    pub citizenship: String,
    /// Alive or deceased.
    pub life_status: LifeStatus,
    /// Date of death when deceased.
    pub death_date: Option<NaiveDate>,
    /// The current identity document.
    pub document: Option<IdentityDocument>,
    /// Permanent registration, absent when deregistered.
    pub registration: Option<Registration>,
    /// Temporary registration.
    pub temporary: Option<TemporaryRegistration>,
    /// Deregistration, when deregistered.
    pub deregistration: Option<Deregistration>,
    /// The record by its published parts (reference values, every document, statuses).
    pub details: person::PersonDetails,
}

impl Person {
    /// "Surname Given Patronymic", as the address reference prints it.
    pub fn full_name(&self) -> String {
        [&self.surname, &self.given_name, &self.patronymic]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Registration status of a legal entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EntityStatus {
    /// Operating.
    Active,
    /// Activity suspended.
    Suspended,
    /// Liquidation under way.
    InLiquidation,
    /// Liquidated.
    Liquidated,
}

/// The head of a legal entity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntityHead {
    /// Head's IIN.
    pub iin: String,
    /// Head's full name.
    pub full_name: String,
    /// Position (director, chairman, ...).
    pub position: String,
}

/// A legal entity's record in the legal-entities database (ГБД ЮЛ).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LegalEntity {
    /// The 12-digit BIN.
    pub bin: String,
    /// Name in Kazakh.
    pub name_kk: String,
    /// Name in Russian.
    pub name_ru: String,
    /// Date of state registration.
    pub registration_date: NaiveDate,
    /// Registration certificate number; the published `GbdulInfoByBin_v2` reply carries none,
    /// so it is empty from that service.
    pub registration_number: String,
    /// Legal form (ЖШС / ТОО, АҚ / АО, ...).
    pub legal_form: String,
    /// Status.
    pub status: EntityStatus,
    /// Head.
    pub head: Option<EntityHead>,
    /// Legal address.
    pub legal_address: Address,
    /// The record by its published parts (names, status, activities, leader, address codes).
    pub details: entity::EntityDetails,
}

/// A registry's answer with the time the registry says it produced it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fetched<T> {
    /// The record.
    pub record: T,
    /// The registry's response time stamp.
    pub registry_time: DateTime<Utc>,
}

/// How a relative is related to a person (civil-registration links the persons database holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Relation {
    /// Husband or wife.
    Spouse,
    /// Mother or father.
    Parent,
    /// Son or daughter.
    Child,
}

impl Relation {
    /// The code the persons database uses.
    pub fn code(self) -> &'static str {
        match self {
            Self::Spouse => "SPOUSE",
            Self::Parent => "PARENT",
            Self::Child => "CHILD",
        }
    }

    /// The relation of a code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "SPOUSE" => Some(Self::Spouse),
            "PARENT" => Some(Self::Parent),
            "CHILD" => Some(Self::Child),
            _ => None,
        }
    }
}

/// A close relative of a person: spouse, parent or child.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Relative {
    /// The relative's IIN.
    pub iin: String,
    /// What the relative is to the person.
    pub relation: Relation,
}

/// How a person is searched for in the persons database: one criterion, as the registry allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PersonQuery {
    /// By IIN.
    Iin(crate::identifiers::Iin),
    /// By name and date of birth: the birth date and a surname or a given name are required;
    /// an empty part matches persons without it (not any value).
    Name {
        /// Surname.
        surname: String,
        /// Given name.
        name: String,
        /// Patronymic.
        patronymic: String,
        /// Date of birth.
        birth_date: NaiveDate,
    },
    /// By the number of an identity document (not a birth certificate).
    Document(String),
}
