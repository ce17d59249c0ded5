//! Domain records to protobuf messages.

use chrono::{Datelike, NaiveDate};
use kopir_core::model as m;
use kopir_core::model::person as mp;

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
        expiry_date: d.expiry_date.map(date),
    }
}

/// A person message.
pub fn person(p: &m::Person) -> pb::Person {
    let d = &p.details;
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
        gender: Some(reference(&d.gender)),
        nationality: Some(reference(&d.nationality)),
        citizenship_ref: Some(reference(&d.citizenship)),
        life_status_ref: Some(reference(&d.life_status)),
        documents: d.documents.iter().map(person_document).collect(),
        birth_place_parts: Some(address_parts(&d.birth_place)),
        reg_address: d.reg_address.as_ref().map(address_parts),
        other_addresses: d.addresses.iter().map(address_parts).collect(),
        birth_certificate: d.birth_certificate.as_ref().map(certificate),
        death_certificate: d.death_certificate.as_ref().map(certificate),
        capacity: d.capacity.as_ref().map(|c| pb::Capacity {
            status: Some(reference(&c.status)),
            since: Some(date(c.since)),
            until: c.until.map(date),
            case_number: c.case_number.clone(),
            court: Some(reference(&c.court)),
        }),
        missing: d.missing.as_ref().map(wanted),
        disappeared: d.disappeared.as_ref().map(wanted),
        excluded: d.excluded.as_ref().map(|e| pb::Exclusion {
            reason: Some(reference(&e.reason)),
            since: e.since.map(date),
            until: e.until.map(date),
            source: e.source.as_ref().map(reference),
        }),
        removed: d.removed,
    }
}

/// A reference-value message.
pub fn reference(r: &mp::Reference) -> pb::Reference {
    pb::Reference {
        code: r.code.clone(),
        name_ru: r.name_ru.clone(),
        name_kz: r.name_kz.clone(),
        change_date: r.change_date.clone().unwrap_or_default(),
    }
}

fn person_document(d: &mp::PersonDocument) -> pb::PersonDocument {
    pb::PersonDocument {
        r#type: Some(reference(&d.kind)),
        number: d.number.clone(),
        series: d.series.clone(),
        begin_date: Some(date(d.begin_date)),
        end_date: d.end_date.map(date),
        issuer: Some(reference(&d.issuer)),
        status: Some(reference(&d.status)),
        invalidity_date: d.invalidity_date.map(date),
    }
}

fn certificate(c: &mp::Certificate) -> pb::Certificate {
    pb::Certificate {
        number: c.number.clone(),
        begin_date: c.begin_date.map(date),
        issuer: c.issuer.clone(),
    }
}

fn address_parts(a: &mp::RegAddress) -> pb::AddressParts {
    pb::AddressParts {
        country: a.country.as_ref().map(reference),
        district: a.district.as_ref().map(reference),
        region: a.region.as_ref().map(reference),
        foreign_district: a.foreign_district.clone(),
        foreign_region: a.foreign_region.clone(),
        city: a.city.clone(),
        street: a.street.clone(),
        building: a.building.clone(),
        corpus: a.corpus.clone(),
        flat: a.flat.clone(),
        begin_date: a.begin_date.map(date),
        end_date: a.end_date.map(date),
        status: a.status.as_ref().map(reference),
        invalidity: a.invalidity.as_ref().map(reference),
        ar_code: a.ar_code.clone(),
        kind: a.kind.as_ref().map(reference),
    }
}

fn wanted(w: &mp::Wanted) -> pb::WantedStatus {
    pb::WantedStatus {
        active: w.active,
        since: Some(date(w.since)),
        until: w.until.map(date),
        case_number: w.case_number.clone(),
        authority: Some(reference(&w.authority)),
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
    let d = &e.details;
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
        reg_status: Some(reference(&d.reg_status)),
        registration_department: Some(reference(&d.registration_department)),
        registration_last_date: d.registration_last_date.map(date),
        liquidation_date: d.liquidation_date.map(date),
        name_en: d.full_name_en.clone(),
        short_name_ru: d.short_name_ru.clone(),
        short_name_kz: d.short_name_kz.clone(),
        org_form: Some(reference(&d.org_form)),
        form_of_law: d.form_of_law.as_ref().map(reference),
        private_enterprise_type: d.private_enterprise_type.as_ref().map(reference),
        tax_inactive: d.tax_inactive,
        activities: d
            .activities
            .iter()
            .map(|a| pb::Activity {
                main: a.main,
                oked: a.oked.clone(),
                name_ru: a.name_ru.clone(),
                name_kz: a.name_kz.clone(),
            })
            .collect(),
        leader: d.leader.as_ref().map(|l| pb::EntityLeader {
            position: l.position.as_ref().map(reference),
            appointed: l.appointed.map(date),
            iin: l.iin.clone(),
            surname: l.surname.clone(),
            name: l.name.clone(),
            middle_name: l.middle_name.clone(),
            citizen_country: l.citizen_country.as_ref().map(reference),
        }),
        founders_count: d.founders_count.and_then(|c| i32::try_from(c).ok()),
        address: d.address.as_ref().map(|a| pb::EntityAddress {
            rka: a.rka.clone(),
            zip_code: a.zip_code.clone(),
            kato: a.kato.clone(),
            district_ru: a.district_ru.clone(),
            district_kz: a.district_kz.clone(),
            region_ru: a.region_ru.clone(),
            region_kz: a.region_kz.clone(),
            city_ru: a.city_ru.clone(),
            city_kz: a.city_kz.clone(),
            street_ru: a.street_ru.clone(),
            street_kz: a.street_kz.clone(),
            building_number: a.building_number.clone(),
            corpus: a.corpus.clone(),
            appartment_number: a.appartment_number.clone(),
        }),
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
        ar_code: p
            .details
            .reg_address
            .as_ref()
            .map(|r| r.ar_code.clone())
            .unwrap_or_default(),
    }
}
