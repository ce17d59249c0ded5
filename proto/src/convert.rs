//! Domain records to protobuf messages.

use chrono::{Datelike, NaiveDate};
use kopir_core::model as m;

use crate::v1 as pb;

/// A date message.
pub fn date(d: NaiveDate) -> pb::Date {
    pb::Date {
        year: d.year(),
        month: i32::try_from(d.month()).unwrap_or_default(),
        day: i32::try_from(d.day()).unwrap_or_default(),
    }
}

/// An address message.
pub fn address(a: &m::Address) -> pb::Address {
    pb::Address {
        country: a.country.clone(),
        region: a.region.clone(),
        district: a.district.clone(),
        locality: a.locality.clone(),
        street: a.street.clone(),
        house: a.house.clone(),
        flat: a.flat.clone(),
    }
}

fn registered(r: &m::Registration) -> pb::RegisteredAddress {
    pb::RegisteredAddress {
        address: Some(address(&r.address)),
        registration_date: Some(date(r.date)),
    }
}

fn temporary(t: &m::TemporaryRegistration) -> pb::TemporaryAddress {
    pb::TemporaryAddress {
        address: Some(address(&t.address)),
        date_from: Some(date(t.date_from)),
        date_to: Some(date(t.date_to)),
    }
}

fn deregistration(d: &m::Deregistration) -> pb::Deregistration {
    pb::Deregistration {
        date: Some(date(d.date)),
        reason: d.reason.clone(),
        address: Some(address(&d.address)),
    }
}

fn document(d: &m::IdentityDocument) -> pb::IdentityDocument {
    let kind = match d.kind {
        m::DocumentType::IdCard => pb::DocumentType::IdCard,
        m::DocumentType::Passport => pb::DocumentType::Passport,
        m::DocumentType::BirthCertificate => pb::DocumentType::BirthCertificate,
        m::DocumentType::ResidencePermit => pb::DocumentType::ResidencePermit,
    };
    pb::IdentityDocument {
        r#type: kind.into(),
        number: d.number.clone(),
        issue_date: Some(date(d.issue_date)),
        issuer: d.issuer.clone(),
        expiry_date: Some(date(d.expiry_date)),
    }
}

/// A person message.
pub fn person(p: &m::Person) -> pb::Person {
    let life = match p.life_status {
        m::LifeStatus::Alive => pb::LifeStatus::Alive,
        m::LifeStatus::Deceased => pb::LifeStatus::Deceased,
    };
    pb::Person {
        iin: p.iin.clone(),
        surname: p.surname.clone(),
        given_name: p.given_name.clone(),
        patronymic: p.patronymic.clone(),
        birth_date: Some(date(p.birth_date)),
        birth_place: p.birth_place.clone(),
        citizenship: p.citizenship.clone(),
        life_status: life.into(),
        death_date: p.death_date.map(date),
        document: p.document.as_ref().map(document),
        registered_address: p.registration.as_ref().map(registered),
        temporary_address: p.temporary.as_ref().map(temporary),
        deregistration: p.deregistration.as_ref().map(deregistration),
    }
}

/// A legal-entity message.
pub fn legal_entity(e: &m::LegalEntity) -> pb::LegalEntity {
    let status = match e.status {
        m::EntityStatus::Active => pb::LegalEntityStatus::Active,
        m::EntityStatus::Suspended => pb::LegalEntityStatus::Suspended,
        m::EntityStatus::InLiquidation => pb::LegalEntityStatus::InLiquidation,
        m::EntityStatus::Liquidated => pb::LegalEntityStatus::Liquidated,
    };
    pb::LegalEntity {
        bin: e.bin.clone(),
        name_kk: e.name_kk.clone(),
        name_ru: e.name_ru.clone(),
        registration_date: Some(date(e.registration_date)),
        registration_number: e.registration_number.clone(),
        legal_form: e.legal_form.clone(),
        status: status.into(),
        head: e.head.as_ref().map(|h| pb::EntityHead {
            iin: h.iin.clone(),
            full_name: h.full_name.clone(),
            position: h.position.clone(),
        }),
        legal_address: Some(address(&e.legal_address)),
    }
}

/// The address reference of Gov. Res. 132 Annex 1, issued now from a person record: variant (a)
/// with the addresses for a registered person, variant (b) with the deregistration otherwise.
pub fn address_reference(
    p: &m::Person,
    number: String,
    requested_at: &str,
    issued_at: &str,
) -> pb::AddressReference {
    pb::AddressReference {
        number,
        requested_at: requested_at.to_string(),
        issued_at: issued_at.to_string(),
        iin: p.iin.clone(),
        full_name: p.full_name(),
        birth_year: p.birth_date.year(),
        birth_place: p.birth_place.clone(),
        registered_address: p.registration.as_ref().map(registered),
        temporary_address: p.temporary.as_ref().map(temporary),
        deregistration: p.deregistration.as_ref().map(deregistration),
        source: "ГБД ФЛ".to_string(),
    }
}
