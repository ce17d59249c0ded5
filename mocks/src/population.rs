//! A seeded synthetic population: the same seed always gives the same persons and entities, with
//! valid IIN and BIN check digits, Kazakh and Russian names, real regions, and some deregistered
//! and deceased persons.

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, Days, NaiveDate};
use kopir_core::identifiers::{check_digit, Iin};
use kopir_core::model::{
    Address, Deregistration, DocumentType, EntityHead, EntityStatus, IdentityDocument, LegalEntity,
    LifeStatus, Person, Registration, Relation, TemporaryRegistration,
};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::names::*;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct PopulationSpec {
    /// RNG seed.
    pub seed: u64,
    /// Number of persons.
    pub persons: usize,
    /// Number of legal entities.
    pub entities: usize,
}

impl Default for PopulationSpec {
    fn default() -> Self {
        Self {
            seed: 20_140_224,
            persons: 10_000,
            entities: 1_000,
        }
    }
}

/// The generated records, keyed by IIN and BIN; ordered maps keep iteration deterministic.
#[derive(Debug, Clone)]
pub struct Population {
    /// Persons by IIN.
    pub persons: BTreeMap<String, Person>,
    /// Legal entities by BIN.
    pub entities: BTreeMap<String, LegalEntity>,
    /// IINs in generation order, for sampling.
    pub person_order: Vec<String>,
    /// BINs in generation order.
    pub entity_order: Vec<String>,
    /// Close relatives by IIN (spouses, parents, children), both directions recorded.
    pub relatives: BTreeMap<String, Vec<(String, Relation)>>,
}

/// The day the population is "as of": fixed so the same seed gives the same data on any day.
pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

fn digits(s: &str) -> [u8; 11] {
    let mut d = [0u8; 11];
    for (slot, b) in d.iter_mut().zip(s.bytes()) {
        *slot = b.wrapping_sub(b'0');
    }
    d
}

/// Completes 11 leading digits with the check digit, or `None` when no number starts so.
fn complete(first11: &str) -> Option<String> {
    check_digit(&digits(first11)).map(|c| format!("{first11}{c}"))
}

fn date_between(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(1) as u64;
    from.checked_add_days(Days::new(rng.random_range(0..span)))
        .unwrap_or(from)
}

fn address(rng: &mut ChaCha8Rng) -> Address {
    let region = REGIONS.choose(rng).unwrap_or(&REGIONS[0]);
    let (district, locality) = region.places.choose(rng).copied().unwrap_or(("", ""));
    let flat = if rng.random_bool(0.7) {
        rng.random_range(1..=220).to_string()
    } else {
        String::new()
    };
    Address {
        country: "ҚАЗАҚСТАН".into(),
        region: region.name.into(),
        district: district.into(),
        locality: locality.into(),
        street: STREETS.choose(rng).copied().unwrap_or_default().into(),
        house: rng.random_range(1..=180).to_string(),
        flat,
    }
}

fn pick(rng: &mut ChaCha8Rng, list: &[&'static str]) -> &'static str {
    list.choose(rng).copied().unwrap_or_default()
}

struct Name {
    surname: String,
    given: String,
    patronymic: String,
}

fn name(rng: &mut ChaCha8Rng, male: bool) -> Name {
    if rng.random_bool(0.7) {
        let father = pick(rng, KK_MALE);
        let surname = pick(rng, KK_SURNAMES);
        Name {
            surname: if male {
                surname.into()
            } else {
                format!("{surname}а")
            },
            given: pick(rng, if male { KK_MALE } else { KK_FEMALE }).into(),
            patronymic: format!("{father}{}", if male { "ұлы" } else { "қызы" }),
        }
    } else {
        let surname = pick(rng, RU_SURNAMES);
        let stem = pick(rng, RU_PATRONYMIC_STEMS);
        Name {
            surname: if male {
                surname.into()
            } else {
                format!("{surname}а")
            },
            given: pick(rng, if male { RU_MALE } else { RU_FEMALE }).into(),
            patronymic: format!("{stem}{}", if male { "ич" } else { "на" }),
        }
    }
}

fn iin(rng: &mut ChaCha8Rng, birth: NaiveDate, male: bool, taken: &mut HashSet<String>) -> String {
    let century = match (birth.year() / 100, male) {
        (18, true) => 1,
        (18, false) => 2,
        (19, true) => 3,
        (19, false) => 4,
        (_, true) => 5,
        (_, false) => 6,
    };
    let prefix = format!(
        "{:02}{:02}{:02}{century}",
        birth.year() % 100,
        birth.month(),
        birth.day()
    );
    let start: u32 = rng.random_range(0..10_000);
    (0..10_000u32)
        .map(|k| (start + k) % 10_000)
        .filter_map(|serial| complete(&format!("{prefix}{serial:04}")))
        .find(|candidate| taken.insert(candidate.clone()))
        .unwrap_or_default()
}

fn person(rng: &mut ChaCha8Rng, taken: &mut HashSet<String>) -> Person {
    let today = as_of();
    let male = rng.random_bool(0.5);
    let birth_date = date_between(
        rng,
        NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or(today),
        NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or(today),
    );
    let n = name(rng, male);
    let iin = iin(rng, birth_date, male, taken);
    let deceased = rng.random_bool(0.03);
    let death_date = deceased.then(|| date_between(rng, birth_date, today));
    let adult = today.years_since(birth_date).unwrap_or(0) >= 16;
    let issue_date = date_between(rng, birth_date.max(today - Days::new(3650)), today);
    let document = Some(IdentityDocument {
        kind: if adult {
            DocumentType::IdCard
        } else {
            DocumentType::BirthCertificate
        },
        number: format!("{:09}", rng.random_range(0..1_000_000_000u32)),
        issue_date,
        issuer: if adult { "ҚР ІІМ" } else { "ҚР ӘМ" }.into(),
        // A birth certificate does not expire.
        expiry_date: adult.then(|| issue_date + Days::new(3652)),
    });
    let home = address(rng);
    let registered_on = date_between(rng, birth_date, today);
    let (registration, deregistration) = if rng.random_bool(0.05) {
        let date = date_between(rng, registered_on, today);
        let reason = pick(rng, DEREGISTRATION_REASONS).to_string();
        (
            None,
            Some(Deregistration {
                date,
                reason,
                address: home,
            }),
        )
    } else {
        (
            Some(Registration {
                address: home,
                date: registered_on,
            }),
            None,
        )
    };
    let temporary = (registration.is_some() && !deceased && rng.random_bool(0.1)).then(|| {
        let date_from = date_between(rng, today - Days::new(365), today);
        TemporaryRegistration {
            address: address(rng),
            date_from,
            date_to: date_from + Days::new(rng.random_range(30..=365)),
        }
    });
    let birth_region = REGIONS.choose(rng).unwrap_or(&REGIONS[0]);
    let (_, birth_locality) = birth_region.places.choose(rng).copied().unwrap_or(("", ""));
    Person {
        iin,
        surname: n.surname,
        given_name: n.given,
        patronymic: n.patronymic,
        birth_date,
        birth_place: format!("{birth_locality}, {}, ҚАЗАҚСТАН", birth_region.name),
        citizenship: if rng.random_bool(0.97) {
            "ҚАЗАҚСТАН"
        } else {
            "РЕСЕЙ"
        }
        .into(),
        life_status: if deceased {
            LifeStatus::Deceased
        } else {
            LifeStatus::Alive
        },
        death_date,
        document,
        registration,
        temporary,
        deregistration,
        details: Default::default(),
    }
}

fn entity(rng: &mut ChaCha8Rng, taken: &mut HashSet<String>, heads: &[&Person]) -> LegalEntity {
    let registration_date = date_between(
        rng,
        NaiveDate::from_ymd_opt(1995, 1, 1).unwrap_or_default(),
        as_of(),
    );
    // YYMM, 4 = resident legal entity, 0 = head office, then a serial and the check digit.
    let prefix = format!(
        "{:02}{:02}40",
        registration_date.year() % 100,
        registration_date.month()
    );
    let start: u32 = rng.random_range(0..100_000);
    let bin = (0..100_000u32)
        .map(|k| (start + k) % 100_000)
        .filter_map(|serial| complete(&format!("{prefix}{serial:05}")))
        .find(|candidate| taken.insert(candidate.clone()))
        .unwrap_or_default();
    let word = pick(rng, COMPANY_WORDS);
    let (act_kk, act_ru) = ACTIVITIES.choose(rng).copied().unwrap_or(("", ""));
    let (form_kk, form_ru) = LEGAL_FORMS.choose(rng).copied().unwrap_or(("ЖШС", "ТОО"));
    let status = match rng.random_range(0..100) {
        0..=89 => EntityStatus::Active,
        90..=93 => EntityStatus::Suspended,
        94..=96 => EntityStatus::InLiquidation,
        _ => EntityStatus::Liquidated,
    };
    let head = heads.choose(rng).map(|p| EntityHead {
        iin: p.iin.clone(),
        full_name: p.full_name(),
        position: if form_ru == "АО" {
            "Басқарма төрағасы"
        } else {
            "Директор"
        }
        .into(),
    });
    LegalEntity {
        bin,
        name_kk: format!("«{word} {act_kk}» {form_kk}"),
        name_ru: format!("{form_ru} «{word} {act_ru}»"),
        registration_date,
        // The published reply carries no registration number; drawn still, so that every
        // record after it stays as it was.
        registration_number: {
            let _drawn = (rng.random_range(1000..99999), rng.random_range(1..=20));
            String::new()
        },
        legal_form: format!("{form_kk} / {form_ru}"),
        status,
        head,
        legal_address: address(rng),
        details: Default::default(),
    }
}

/// Families without using the RNG (so adding them changed no other record): consecutive persons
/// in generation order form households of three; the two eldest adults marry, and the youngest
/// is their child when at least 18 years younger than both.
fn families(
    order: &[String],
    persons: &BTreeMap<String, Person>,
) -> BTreeMap<String, Vec<(String, Relation)>> {
    let mut links: BTreeMap<String, Vec<(String, Relation)>> = BTreeMap::new();
    let mut link = |a: &Person, b: &Person, b_is: Relation, a_is: Relation| {
        links
            .entry(a.iin.clone())
            .or_default()
            .push((b.iin.clone(), b_is));
        links
            .entry(b.iin.clone())
            .or_default()
            .push((a.iin.clone(), a_is));
    };
    for household in order.chunks_exact(3) {
        let mut members: Vec<&Person> = household.iter().filter_map(|i| persons.get(i)).collect();
        members.sort_by_key(|p| p.birth_date);
        let [a, b, c] = members[..] else { continue };
        let adult = |p: &Person| as_of().years_since(p.birth_date).unwrap_or(0) >= 18;
        if !(adult(a) && adult(b)) {
            continue;
        }
        link(a, b, Relation::Spouse, Relation::Spouse);
        if b.birth_date.years_since(c.birth_date).is_none()
            && c.birth_date.years_since(b.birth_date).unwrap_or(0) >= 18
        {
            link(a, c, Relation::Child, Relation::Parent);
            link(b, c, Relation::Child, Relation::Parent);
        }
    }
    links
}

impl Population {
    /// Generates the population for a spec; deterministic in the spec.
    pub fn generate(spec: PopulationSpec) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let mut taken = HashSet::with_capacity(spec.persons + spec.entities);
        let mut person_order = Vec::with_capacity(spec.persons);
        let mut persons = BTreeMap::new();
        for _ in 0..spec.persons {
            let mut p = person(&mut rng, &mut taken);
            p.details = crate::records::person_details(&p);
            person_order.push(p.iin.clone());
            persons.insert(p.iin.clone(), p);
        }
        let adults: Vec<&Person> = person_order
            .iter()
            .filter_map(|iin| persons.get(iin))
            .filter(|p| {
                p.life_status == LifeStatus::Alive
                    && as_of().years_since(p.birth_date).unwrap_or(0) >= 21
            })
            .collect();
        let mut entity_order = Vec::with_capacity(spec.entities);
        let mut entities = BTreeMap::new();
        for _ in 0..spec.entities {
            let mut e = entity(&mut rng, &mut taken, &adults);
            e.details = crate::records::entity_details(&e);
            entity_order.push(e.bin.clone());
            entities.insert(e.bin.clone(), e);
        }
        let relatives = families(&person_order, &persons);
        Self {
            persons,
            entities,
            person_order,
            entity_order,
            relatives,
        }
    }

    /// Two persons the population links as `relation` (the second is the first's `relation`).
    pub fn sample_relatives(&self, relation: Relation) -> Option<(String, String)> {
        self.person_order.iter().find_map(|iin| {
            self.relatives
                .get(iin)?
                .iter()
                .find(|(_, r)| *r == relation)
                .map(|(other, _)| (iin.clone(), other.clone()))
        })
    }

    /// A living adult with a permanent registration, to show in demos (an adult, so the demo
    /// citizen can sign for themself).
    pub fn sample_person(&self) -> Option<&Person> {
        self.adults().find(|p| p.registration.is_some())
    }

    /// Living adults (18 or over today), in the population's order: people who sign contracts.
    pub fn adults(&self) -> impl Iterator<Item = &Person> {
        let today = chrono::Utc::now().date_naive();
        self.person_order
            .iter()
            .filter_map(|i| self.persons.get(i))
            .filter(move |p| {
                p.life_status == LifeStatus::Alive
                    && Iin::parse(&p.iin).is_ok_and(|i| !i.is_minor_on(today))
            })
    }

    /// A deregistered person, to show the address reference's variant (b).
    pub fn sample_deregistered(&self) -> Option<&Person> {
        self.person_order
            .iter()
            .filter_map(|i| self.persons.get(i))
            .find(|p| p.deregistration.is_some())
    }

    /// An active legal entity, to show in demos.
    pub fn sample_entity(&self) -> Option<&LegalEntity> {
        self.entity_order
            .iter()
            .filter_map(|b| self.entities.get(b))
            .find(|e| e.status == EntityStatus::Active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kopir_core::identifiers::{Bin, Iin};

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let spec = PopulationSpec {
            seed: 7,
            persons: 500,
            entities: 50,
        };
        let a = Population::generate(spec);
        let b = Population::generate(spec);
        assert_eq!(a.persons, b.persons);
        assert_eq!(a.entities, b.entities);
        let c = Population::generate(PopulationSpec { seed: 8, ..spec });
        assert_ne!(a.person_order, c.person_order);
    }

    #[test]
    fn default_population_is_valid_and_varied() {
        let pop = Population::generate(PopulationSpec::default());
        assert_eq!(pop.persons.len(), 10_000);
        assert_eq!(pop.entities.len(), 1_000);
        assert!(pop.persons.keys().all(|k| Iin::parse(k).is_ok()));
        assert!(pop.entities.keys().all(|k| Bin::parse(k).is_ok()));
        let deceased = pop
            .persons
            .values()
            .filter(|p| p.life_status == LifeStatus::Deceased)
            .count();
        let deregistered = pop
            .persons
            .values()
            .filter(|p| p.deregistration.is_some())
            .count();
        assert!((150..=500).contains(&deceased), "deceased {deceased}");
        assert!(
            (300..=800).contains(&deregistered),
            "deregistered {deregistered}"
        );
        let regions: HashSet<_> = pop
            .persons
            .values()
            .filter_map(|p| p.registration.as_ref())
            .map(|r| r.address.region.as_str())
            .collect();
        assert_eq!(regions.len(), REGIONS.len());
        // Both name traditions appear.
        assert!(pop.persons.values().any(|p| p.patronymic.ends_with("ұлы")));
        assert!(pop.persons.values().any(|p| p.patronymic.ends_with("ович")));
        // The IIN's 7th digit encodes century and sex.
        assert!(pop.persons.values().all(|p| {
            let d = p.iin.as_bytes()[6] - b'0';
            (p.birth_date.year() >= 2000) == (d >= 5)
        }));
    }
}
