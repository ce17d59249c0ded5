//! A person's record as the persons database (ГБД ФЛ, service `GBDFLUniversal_token`) publishes
//! it: reference values with their code and both languages, the birth place and registration
//! address by parts with the address register's code, every identity document with its status,
//! and the legal statuses. [`super::Person`] keeps the one-line summary clients used before, which
//! the adapter derives from these parts.

use chrono::NaiveDate;

/// A reference (dictionary) value: its code and its names in Russian and Kazakh.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reference {
    /// The dictionary code.
    pub code: String,
    /// The name in Russian.
    pub name_ru: String,
    /// The name in Kazakh.
    pub name_kz: String,
    /// When the dictionary value last changed (`xs:dateTime` as the registry wrote it), if said.
    pub change_date: Option<String>,
}

impl Reference {
    /// A value without a change date.
    pub fn new(code: &str, name_ru: &str, name_kz: &str) -> Self {
        Self {
            code: code.into(),
            name_ru: name_ru.into(),
            name_kz: name_kz.into(),
            change_date: None,
        }
    }

    /// The Kazakh name, or the Russian one when the registry gave no Kazakh name.
    pub fn name(&self) -> &str {
        if self.name_kz.is_empty() {
            &self.name_ru
        } else {
            &self.name_kz
        }
    }
}

/// An identity document (`documents/document`), current or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonDocument {
    /// Document type (ID card, passport, residence permit, ...).
    pub kind: Reference,
    /// Number.
    pub number: String,
    /// Series, empty when none.
    pub series: String,
    /// Date of issue.
    pub begin_date: NaiveDate,
    /// Valid until, when limited.
    pub end_date: Option<NaiveDate>,
    /// Issuing organisation.
    pub issuer: Reference,
    /// Validity (valid, expired, lost, ...).
    pub status: Reference,
    /// When it was declared invalid before its end date.
    pub invalidity_date: Option<NaiveDate>,
}

/// A birth or death certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Certificate {
    /// Number.
    pub number: String,
    /// Date of issue.
    pub begin_date: Option<NaiveDate>,
    /// Issuing organisation, as text.
    pub issuer: String,
}

/// An address by parts: the place of birth (`birthPlace`, its code `birthTeCodeAR`), the address
/// of permanent registration (`regAddress`) or another address (`addresses/address`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RegAddress {
    /// The kind of address (other addresses only: temporary registration, departure, ...).
    pub kind: Option<Reference>,
    /// Country.
    pub country: Option<Reference>,
    /// Oblast («district» in the registry's names).
    pub district: Option<Reference>,
    /// District of an oblast («region» in the registry's names).
    pub region: Option<Reference>,
    /// Oblast outside Kazakhstan, as text.
    pub foreign_district: String,
    /// District outside Kazakhstan, as text.
    pub foreign_region: String,
    /// Locality.
    pub city: String,
    /// Street.
    pub street: String,
    /// Building.
    pub building: String,
    /// Block (корпус).
    pub corpus: String,
    /// Flat.
    pub flat: String,
    /// Registered since.
    pub begin_date: Option<NaiveDate>,
    /// Deregistered on.
    pub end_date: Option<NaiveDate>,
    /// Registered or deregistered (permanent registration only).
    pub status: Option<Reference>,
    /// Why deregistered (permanent registration only).
    pub invalidity: Option<Reference>,
    /// The address register's code of the address.
    pub ar_code: String,
}

/// Legal capacity limited or removed by a court.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Capacity {
    /// The status.
    pub status: Reference,
    /// In force since.
    pub since: NaiveDate,
    /// In force until.
    pub until: Option<NaiveDate>,
    /// The court's case number.
    pub case_number: String,
    /// The court.
    pub court: Reference,
}

/// Missing (пропавший без вести) or hiding from investigation and court (скрывается).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Wanted {
    /// Whether the status holds now.
    pub active: bool,
    /// In force since.
    pub since: NaiveDate,
    /// In force until.
    pub until: Option<NaiveDate>,
    /// Case number.
    pub case_number: String,
    /// The body of the prosecutor's office's committee that set the status.
    pub authority: Reference,
}

/// The IIN excluded, or conditionally excluded, from the national register.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Exclusion {
    /// Why.
    pub reason: Reference,
    /// In force since.
    pub since: Option<NaiveDate>,
    /// In force until.
    pub until: Option<NaiveDate>,
    /// Who reported it.
    pub source: Option<Reference>,
}

/// Everything the persons database says of a person beyond the summary fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PersonDetails {
    /// Gender.
    pub gender: Reference,
    /// Nationality.
    pub nationality: Reference,
    /// Citizenship.
    pub citizenship: Reference,
    /// Alive or deceased.
    pub life_status: Reference,
    /// Birth certificate.
    pub birth_certificate: Option<Certificate>,
    /// Death certificate.
    pub death_certificate: Option<Certificate>,
    /// Place of birth (country, oblast, district, locality and its code).
    pub birth_place: RegAddress,
    /// Permanent registration, current or ended.
    pub reg_address: Option<RegAddress>,
    /// Other addresses (temporary registration, ...).
    pub addresses: Vec<RegAddress>,
    /// Every identity document, current or not.
    pub documents: Vec<PersonDocument>,
    /// Legal capacity, when a court limited it.
    pub capacity: Option<Capacity>,
    /// Missing person status.
    pub missing: Option<Wanted>,
    /// Hiding from investigation, court or punishment.
    pub disappeared: Option<Wanted>,
    /// IIN exclusion.
    pub excluded: Option<Exclusion>,
    /// The record was removed from the national register.
    pub removed: bool,
}

/// The citizen's consent token from the personal-data access control service (КДП), sent to
/// the persons database as `kdpToken`, with the key it is bound to as `publicKey`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KdpToken {
    /// The token.
    pub token: String,
    /// The public key (base64 DER certificate) of the party the token was issued to; shared,
    /// as every token of one gateway names the same.
    pub public_key: std::sync::Arc<str>,
}

impl std::fmt::Debug for KdpToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token lets its holder read a person's record: never in logs.
        f.debug_struct("KdpToken")
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What the gateway asks the personal-data access control service (КДП) to issue a consent token
/// for: who reads whose data, for what, on which basis the gateway judged it lawful.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenGrant {
    /// Who reads: `iin:…` for a person, `bin:…` for an organisation.
    pub requester: String,
    /// Whose data; none for a search by name or document, whose persons are not known before.
    #[serde(serialize_with = "iin_text")]
    pub subject: Option<crate::identifiers::Iin>,
    /// The consent scope read under (`person`, `address`).
    pub scope: String,
    /// The basis the gateway found (own data, a consent's id, a family link, a lawful basis).
    pub basis: String,
    /// The key the token is bound to: the base64 DER certificate that will present it.
    pub holder: String,
}

/// A consent token as the access control service issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token and the key it is bound to.
    pub token: KdpToken,
    /// When it lapses.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl serde::Serialize for IssuedToken {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        // The token itself lets its holder read a record: never written out.
        let mut st = s.serialize_struct("IssuedToken", 1)?;
        st.serialize_field("expires_at", &crate::time::rfc3339(self.expires_at))?;
        st.end()
    }
}

fn iin_text<S: serde::Serializer>(
    iin: &Option<crate::identifiers::Iin>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match iin {
        Some(iin) => s.serialize_str(iin.as_str()),
        None => s.serialize_none(),
    }
}
