//! A legal entity's record as the legal-entities database (ГБД ЮЛ, service `GbdulInfoByBin_v2`)
//! publishes it: names in three languages, registration data, status, legal form, activities by
//! OKED, the leader, founders and the address with its KATO code. [`super::LegalEntity`] keeps
//! the summary clients used before, which the adapter derives from these parts.

use chrono::NaiveDate;

use super::person::Reference;

/// One kind of activity (`Activity`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Activity {
    /// The main activity.
    pub main: bool,
    /// OKED code (общий классификатор видов экономической деятельности).
    pub oked: String,
    /// Name in Russian.
    pub name_ru: String,
    /// Name in Kazakh.
    pub name_kz: String,
}

/// The organisation's leader (`OrganizationLeader`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Leader {
    /// Position.
    pub position: Option<Reference>,
    /// Appointed on.
    pub appointed: Option<NaiveDate>,
    /// IIN.
    pub iin: String,
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic.
    pub middle_name: String,
    /// Country of citizenship.
    pub citizen_country: Option<Reference>,
}

/// The address where the organisation is (`Address`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntityAddress {
    /// The address register's registration code of the address (РКА).
    pub rka: String,
    /// Postal code.
    pub zip_code: String,
    /// KATO code (классификатор административно-территориальных объектов).
    pub kato: String,
    /// Oblast in Russian and Kazakh.
    pub district_ru: String,
    /// Oblast in Kazakh.
    pub district_kz: String,
    /// District in Russian.
    pub region_ru: String,
    /// District in Kazakh.
    pub region_kz: String,
    /// Locality in Russian.
    pub city_ru: String,
    /// Locality in Kazakh.
    pub city_kz: String,
    /// Street in Russian.
    pub street_ru: String,
    /// Street in Kazakh.
    pub street_kz: String,
    /// Building number.
    pub building_number: String,
    /// Block (корпус).
    pub corpus: String,
    /// Premises number.
    pub appartment_number: String,
}

/// Everything the legal-entities database says of an entity beyond the summary fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntityDetails {
    /// Status (registered, suspended, in liquidation, liquidated, ...).
    pub reg_status: Reference,
    /// The justice body that registered it.
    pub registration_department: Reference,
    /// Last re-registration.
    pub registration_last_date: Option<NaiveDate>,
    /// Liquidation or reorganisation date.
    pub liquidation_date: Option<NaiveDate>,
    /// Full name in English.
    pub full_name_en: String,
    /// Short name in Russian.
    pub short_name_ru: String,
    /// Short name in Kazakh.
    pub short_name_kz: String,
    /// Organisation form (legal entity, branch, representative office).
    pub org_form: Reference,
    /// Legal form (ТОО, АО, ...).
    pub form_of_law: Option<Reference>,
    /// Private enterprise type (small, medium, large).
    pub private_enterprise_type: Option<Reference>,
    /// Marked inactive by the tax authority.
    pub tax_inactive: bool,
    /// Activities; one is the main one.
    pub activities: Vec<Activity>,
    /// The leader.
    pub leader: Option<Leader>,
    /// Number of founders.
    pub founders_count: Option<u32>,
    /// The address.
    pub address: Option<EntityAddress>,
}
