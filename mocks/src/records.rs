//! The published parts of a synthetic record, written from its summary: the reference values
//! with codes and both languages, identity documents with their status, the registration address
//! by parts with its address-register code (ГБД ФЛ), and an entity's registration data, OKED
//! activities, leader and KATO-coded address (ГБД ЮЛ). Each record's extra draws come from a
//! generator seeded by its own number, so adding them changed no summary field of any record.
//!
//! The dictionary codes are this mock's: the registries do not publish their dictionaries.

use chrono::{Datelike, Days};
use kopir_core::model::entity::{Activity, EntityAddress, EntityDetails, Leader};
use kopir_core::model::person::{
    Certificate, PersonDetails, PersonDocument, Reference, RegAddress,
};
use kopir_core::model::{Address, DocumentType, EntityStatus, LegalEntity, LifeStatus, Person};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::names::REGIONS;

/// The dictionary codes the mock writes (the adapters read the same codes from their own lists).
pub mod codes {
    /// Document kind: passport.
    pub const PASSPORT: &str = "001";
    /// Document kind: identity card.
    pub const ID_CARD: &str = "002";
    /// Document validity: valid.
    pub const VALID: &str = "00";
    /// Document validity: expired.
    pub const EXPIRED: &str = "02";
    /// Registration status: registered.
    pub const REGISTERED: &str = "1";
    /// Registration status: deregistered.
    pub const DEREGISTERED: &str = "2";
    /// Other address kind: temporary registration.
    pub const TEMPORARY: &str = "2";
}

fn rng_of(number: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(number.parse::<u64>().unwrap_or(0) ^ 0x006b_6f70_6972)
}

fn kazakhstan() -> Reference {
    Reference::new("398", "КАЗАХСТАН", "ҚАЗАҚСТАН")
}

fn country(name_kz: &str) -> Reference {
    match name_kz {
        "РЕСЕЙ" => Reference::new("643", "РОССИЯ", "РЕСЕЙ"),
        _ => kazakhstan(),
    }
}

/// The oblast and district references of an address's summary names (the mock's place names are
/// Kazakh, and serve as both names).
fn place(region: &str, district: &str) -> (Option<Reference>, Option<Reference>) {
    let index = REGIONS.iter().position(|r| r.name == region);
    let oblast = index.map(|i| Reference::new(&format!("{:02}", i + 1), region, region));
    let district = (!district.is_empty()).then(|| {
        let code = format!(
            "{:02}{:02}",
            index.map_or(0, |i| i + 1),
            district.len() % 100
        );
        Reference::new(&code, district, district)
    });
    (oblast, district)
}

fn reg_address(a: &Address, rng: &mut ChaCha8Rng) -> RegAddress {
    let (district, region) = place(&a.region, &a.district);
    RegAddress {
        country: Some(country(&a.country)),
        district,
        region,
        city: a.locality.clone(),
        street: a.street.clone(),
        building: a.house.clone(),
        flat: a.flat.clone(),
        ar_code: format!("{:013}", rng.random_range(0..10_000_000_000_000u64)),
        ..RegAddress::default()
    }
}

/// The published parts of a person record.
pub fn person_details(p: &Person) -> PersonDetails {
    let mut rng = rng_of(&p.iin);
    let male = p.iin.as_bytes().get(6).is_some_and(|d| d % 2 == 1);
    let kazakh = p.patronymic.ends_with("ұлы") || p.patronymic.ends_with("қызы");
    let mut d = PersonDetails {
        gender: if male {
            Reference::new("1", "МУЖСКОЙ", "ЕР")
        } else {
            Reference::new("2", "ЖЕНСКИЙ", "ӘЙЕЛ")
        },
        nationality: if kazakh {
            Reference::new("005", "КАЗАХ", "ҚАЗАҚ")
        } else {
            Reference::new("001", "РУССКИЙ", "ОРЫС")
        },
        citizenship: country(&p.citizenship),
        life_status: match p.life_status {
            LifeStatus::Alive => Reference::new("1", "ЖИВОЙ", "ТІРІ"),
            LifeStatus::Deceased => Reference::new("2", "УМЕРШИЙ", "ҚАЙТЫС БОЛҒАН"),
        },
        ..PersonDetails::default()
    };
    // The summary's birth place is "locality, oblast, country".
    let mut parts = p.birth_place.split(", ");
    let (city, oblast, land) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    d.birth_place = RegAddress {
        country: Some(country(land)),
        district: place(oblast, "").0,
        city: city.into(),
        ar_code: format!("{:013}", rng.random_range(0..10_000_000_000_000u64)),
        ..RegAddress::default()
    };
    let civil_registry = |rng: &mut ChaCha8Rng, on| Certificate {
        number: format!("{:07}", rng.random_range(0..10_000_000u32)),
        begin_date: Some(on),
        issuer: "АХАТ бөлімі".into(),
    };
    match &p.document {
        Some(doc) if doc.kind == DocumentType::BirthCertificate => {
            d.birth_certificate = Some(Certificate {
                number: doc.number.clone(),
                begin_date: Some(doc.issue_date),
                issuer: doc.issuer.clone(),
            });
        }
        Some(doc) => {
            d.birth_certificate = Some(civil_registry(&mut rng, p.birth_date));
            let issuer = Reference::new("002", "МВД РК", &doc.issuer);
            // An older passport, expired, beside the current card for some.
            if rng.random_bool(0.4) {
                let begin = doc.issue_date - Days::new(3653);
                d.documents.push(PersonDocument {
                    kind: Reference::new(codes::PASSPORT, "ПАСПОРТ РК", "ҚР ПАСПОРТЫ"),
                    number: format!("N{:08}", rng.random_range(0..100_000_000u32)),
                    series: String::new(),
                    begin_date: begin,
                    end_date: Some(doc.issue_date),
                    issuer: issuer.clone(),
                    status: Reference::new(codes::EXPIRED, "ИСТЕК СРОК ДЕЙСТВИЯ", "МЕРЗІМІ ӨТКЕН"),
                    invalidity_date: None,
                });
            }
            d.documents.push(PersonDocument {
                kind: Reference::new(codes::ID_CARD, "УДОСТОВЕРЕНИЕ РК", "ҚР ЖЕКЕ КУӘЛІГІ"),
                number: doc.number.clone(),
                series: String::new(),
                begin_date: doc.issue_date,
                end_date: doc.expiry_date,
                issuer,
                status: Reference::new(codes::VALID, "ДОКУМЕНТ ДЕЙСТВИТЕЛЕН", "ҚҰЖАТ ЖАРАМДЫ"),
                invalidity_date: None,
            });
        }
        None => {}
    }
    if let Some(death) = p.death_date {
        d.death_certificate = Some(civil_registry(&mut rng, death));
    }
    if let Some(r) = &p.registration {
        d.reg_address = Some(RegAddress {
            begin_date: Some(r.date),
            status: Some(Reference::new(
                codes::REGISTERED,
                "ЗАРЕГИСТРИРОВАН",
                "ТІРКЕЛГЕН",
            )),
            ..reg_address(&r.address, &mut rng)
        });
    }
    if let Some(g) = &p.deregistration {
        let since = g.date - Days::new(rng.random_range(30..3650));
        d.reg_address = Some(RegAddress {
            begin_date: Some(since),
            end_date: Some(g.date),
            status: Some(Reference::new(
                codes::DEREGISTERED,
                "СНЯТ С РЕГИСТРАЦИИ",
                "ТІРКЕУДЕН ШЫҒАРЫЛҒАН",
            )),
            invalidity: Some(Reference::new(
                &format!("{:02}", g.reason.len() % 97),
                &g.reason,
                &g.reason,
            )),
            ..reg_address(&g.address, &mut rng)
        });
    }
    if let Some(t) = &p.temporary {
        d.addresses.push(RegAddress {
            kind: Some(Reference::new(
                codes::TEMPORARY,
                "ВРЕМЕННАЯ РЕГИСТРАЦИЯ",
                "УАҚЫТША ТІРКЕУ",
            )),
            begin_date: Some(t.date_from),
            end_date: Some(t.date_to),
            ..reg_address(&t.address, &mut rng)
        });
    }
    d
}

/// OKED activities the mock's entities carry: (code, Russian, Kazakh).
const OKED: &[(&str, &str, &str)] = &[
    (
        "41201",
        "Строительство жилых зданий",
        "Тұрғын ғимараттар салу",
    ),
    (
        "01110",
        "Выращивание зерновых культур",
        "Дәнді дақылдар өсіру",
    ),
    (
        "46900",
        "Неспециализированная оптовая торговля",
        "Мамандандырылмаған көтерме сауда",
    ),
    (
        "49410",
        "Деятельность грузового автотранспорта",
        "Жүк автокөлігінің қызметі",
    ),
    (
        "62010",
        "Разработка программного обеспечения",
        "Бағдарламалық қамтамасыз етуді әзірлеу",
    ),
    ("06100", "Добыча сырой нефти", "Шикі мұнай өндіру"),
    (
        "70220",
        "Консультирование по вопросам управления",
        "Басқару мәселелері бойынша кеңес беру",
    ),
];

/// The published parts of a legal-entity record.
pub fn entity_details(e: &LegalEntity) -> EntityDetails {
    let mut rng = rng_of(&e.bin);
    let reg_status = match e.status {
        EntityStatus::Active => Reference::new("1", "Зарегистрирован", "Тіркелген"),
        EntityStatus::Suspended => Reference::new("2", "Приостановлен", "Тоқтатыла тұрған"),
        EntityStatus::InLiquidation => {
            Reference::new("3", "В процессе ликвидации", "Таратылу үдерісінде")
        }
        EntityStatus::Liquidated => Reference::new("4", "Ликвидирован", "Таратылған"),
    };
    let (form_kz, form_ru) = e.legal_form.split_once(" / ").unwrap_or(("", ""));
    let form_code = match form_ru {
        "ТОО" => "10",
        "АО" => "20",
        _ => "30",
    };
    let leader = e.head.as_ref().map(|h| {
        let mut names = h.full_name.splitn(3, ' ');
        Leader {
            position: Some(Reference::new("1", &h.position, &h.position)),
            appointed: Some(e.registration_date),
            iin: h.iin.clone(),
            surname: names.next().unwrap_or("").into(),
            name: names.next().unwrap_or("").into(),
            middle_name: names.next().unwrap_or("").into(),
            citizen_country: Some(kazakhstan()),
        }
    });
    let main = OKED.choose(&mut rng).copied().unwrap_or(OKED[0]);
    let mut activities = vec![Activity {
        main: true,
        oked: main.0.into(),
        name_ru: main.1.into(),
        name_kz: main.2.into(),
    }];
    if rng.random_bool(0.3) {
        let (code, ru, kz) = OKED.choose(&mut rng).copied().unwrap_or(OKED[0]);
        if code != main.0 {
            activities.push(Activity {
                main: false,
                oked: code.into(),
                name_ru: ru.into(),
                name_kz: kz.into(),
            });
        }
    }
    let a = &e.legal_address;
    let oblast = REGIONS
        .iter()
        .position(|r| r.name == a.region)
        .map_or(0, |i| i + 1);
    EntityDetails {
        reg_status,
        registration_department: Reference::new(
            &format!("{oblast:02}10"),
            "Департамент юстиции",
            "Әділет департаменті",
        ),
        registration_last_date: None,
        liquidation_date: (e.status == EntityStatus::Liquidated)
            .then(|| e.registration_date + Days::new(365 * 3)),
        full_name_en: String::new(),
        short_name_ru: e.name_ru.clone(),
        short_name_kz: e.name_kk.clone(),
        org_form: Reference::new("1", "Юридическое лицо", "Заңды тұлға"),
        form_of_law: Some(Reference::new(form_code, form_ru, form_kz)),
        private_enterprise_type: Some(Reference::new("1", "Малое предприятие", "Шағын кәсіпорын")),
        tax_inactive: false,
        activities,
        leader,
        founders_count: Some(rng.random_range(1..=5)),
        address: Some(EntityAddress {
            rka: format!("{:016}", rng.random_range(0..10_000_000_000_000_000u64)),
            zip_code: format!(
                "{:06}",
                10_000 + oblast * 10_000 + e.registration_date.day() as usize
            ),
            kato: format!("{oblast:02}{:07}", rng.random_range(0..10_000_000u32)),
            district_ru: a.region.clone(),
            district_kz: a.region.clone(),
            region_ru: a.district.clone(),
            region_kz: a.district.clone(),
            city_ru: a.locality.clone(),
            city_kz: a.locality.clone(),
            street_ru: a.street.clone(),
            street_kz: a.street.clone(),
            building_number: a.house.clone(),
            corpus: String::new(),
            appartment_number: a.flat.clone(),
        }),
    }
}
