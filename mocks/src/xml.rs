//! The mock registries' side of the SyncChannel envelope: reading requests, writing replies. Kept
//! apart from the adapters' code so that a mistake in one side is caught by the other.

use chrono::NaiveDate;
use kopir_core::model::{Address, LegalEntity, Person};
use quick_xml::escape::escape;

/// A small XML writer: elements and escaped text, nothing more.
#[derive(Default)]
pub struct Xml(String);

impl Xml {
    /// `<tag>`
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }
    /// `</tag>`
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }
    /// `<tag>text</tag>`, text escaped.
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.0.push_str(&escape(text));
        self.close(tag)
    }
    /// A date leaf in `YYYY-MM-DD`.
    pub fn date(&mut self, tag: &str, d: NaiveDate) -> &mut Self {
        self.leaf(tag, &d.format("%Y-%m-%d").to_string())
    }
    /// The address components, inside whatever element is open.
    pub fn address_parts(&mut self, a: &Address) -> &mut Self {
        self.leaf("country", &a.country)
            .leaf("region", &a.region)
            .leaf("district", &a.district)
            .leaf("locality", &a.locality)
            .leaf("street", &a.street)
            .leaf("house", &a.house)
            .leaf("flat", &a.flat)
    }
    /// The text written so far.
    pub fn finish(self) -> String {
        self.0
    }
}

/// The persons database's `<person>` record.
pub fn person(p: &Person) -> String {
    use kopir_core::model::{DocumentType, LifeStatus};
    let mut x = Xml::default();
    x.open("person")
        .leaf("iin", &p.iin)
        .leaf("surname", &p.surname)
        .leaf("name", &p.given_name)
        .leaf("patronymic", &p.patronymic)
        .date("birthDate", p.birth_date);
    // The registry keeps the birth place as components: locality, region, country.
    let mut parts = p.birth_place.split(", ");
    x.open("birthPlace")
        .leaf("locality", parts.next().unwrap_or(""))
        .leaf("region", parts.next().unwrap_or(""))
        .leaf("country", parts.next().unwrap_or(""))
        .close("birthPlace");
    x.leaf("citizenship", &p.citizenship).leaf(
        "lifeStatus",
        match p.life_status {
            LifeStatus::Alive => "ALIVE",
            LifeStatus::Deceased => "DECEASED",
        },
    );
    if let Some(d) = p.death_date {
        x.date("deathDate", d);
    }
    if let Some(doc) = &p.document {
        let kind = match doc.kind {
            DocumentType::IdCard => "ID_CARD",
            DocumentType::Passport => "PASSPORT",
            DocumentType::BirthCertificate => "BIRTH_CERTIFICATE",
            DocumentType::ResidencePermit => "RESIDENCE_PERMIT",
        };
        x.open("documents")
            .open("document")
            .leaf("type", kind)
            .leaf("number", &doc.number)
            .date("issueDate", doc.issue_date)
            .date("expiryDate", doc.expiry_date)
            .leaf("issuer", &doc.issuer)
            .close("document")
            .close("documents");
    }
    if let Some(r) = &p.registration {
        x.open("regAddress")
            .address_parts(&r.address)
            .date("registrationDate", r.date)
            .close("regAddress");
    }
    if let Some(t) = &p.temporary {
        x.open("tempAddress")
            .address_parts(&t.address)
            .date("dateFrom", t.date_from)
            .date("dateTo", t.date_to)
            .close("tempAddress");
    }
    if let Some(d) = &p.deregistration {
        x.open("deregistration")
            .date("date", d.date)
            .leaf("reason", &d.reason)
            .open("address")
            .address_parts(&d.address)
            .close("address")
            .close("deregistration");
    }
    x.close("person");
    x.finish()
}

/// The legal-entities database's `<legalEntity>` record.
pub fn legal_entity(e: &LegalEntity) -> String {
    use kopir_core::model::EntityStatus;
    let mut x = Xml::default();
    x.open("legalEntity")
        .leaf("bin", &e.bin)
        .leaf("nameKk", &e.name_kk)
        .leaf("nameRu", &e.name_ru)
        .date("registrationDate", e.registration_date)
        .leaf("registrationNumber", &e.registration_number)
        .leaf("legalForm", &e.legal_form)
        .leaf(
            "status",
            match e.status {
                EntityStatus::Active => "ACTIVE",
                EntityStatus::Suspended => "SUSPENDED",
                EntityStatus::InLiquidation => "IN_LIQUIDATION",
                EntityStatus::Liquidated => "LIQUIDATED",
            },
        );
    if let Some(h) = &e.head {
        x.open("head")
            .leaf("iin", &h.iin)
            .leaf("fullName", &h.full_name)
            .leaf("position", &h.position)
            .close("head");
    }
    x.open("legalAddress")
        .address_parts(&e.legal_address)
        .close("legalAddress")
        .close("legalEntity");
    x.finish()
}

/// The persons database's `<relatives>` list.
pub fn relatives(list: &[(String, kopir_core::model::Relation)]) -> String {
    let mut x = Xml::default();
    x.open("relatives");
    for (iin, relation) in list {
        x.open("relative")
            .leaf("iin", iin)
            .leaf("relation", relation.code())
            .close("relative");
    }
    x.close("relatives");
    x.finish()
}
