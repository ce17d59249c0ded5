//! The mock registries' side of the SyncChannel envelope: reading requests, writing replies. Kept
//! apart from the adapters' code so that a mistake in one side is caught by the other.

use chrono::NaiveDate;
use kopir_core::model::entity::EntityAddress;
use kopir_core::model::person::{Reference, RegAddress};
use kopir_core::model::{LegalEntity, Person, Relation};
use quick_xml::escape::escape;

use crate::records::codes;

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
    /// A leaf only when `text` is not empty (the schemas' optional strings).
    pub fn some(&mut self, tag: &str, text: &str) -> &mut Self {
        if text.is_empty() {
            self
        } else {
            self.leaf(tag, text)
        }
    }
    /// A date leaf when there is a date.
    pub fn some_date(&mut self, tag: &str, d: Option<NaiveDate>) -> &mut Self {
        match d {
            Some(d) => self.date(tag, d),
            None => self,
        }
    }
    /// A ГБД ФЛ reference value: `code`, `nameRu`, `nameKz`, `changeDate`.
    pub fn reference(&mut self, tag: &str, r: &Reference) -> &mut Self {
        self.open(tag)
            .leaf("code", &r.code)
            .leaf("nameRu", &r.name_ru)
            .leaf("nameKz", &r.name_kz);
        if let Some(c) = &r.change_date {
            self.leaf("changeDate", c);
        }
        self.close(tag)
    }
    /// A reference value when there is one.
    pub fn some_reference(&mut self, tag: &str, r: Option<&Reference>) -> &mut Self {
        match r {
            Some(r) => self.reference(tag, r),
            None => self,
        }
    }
    /// A ГБД ЮЛ `DirectoryType` value: `Code`, `NameRu`, `NameKz`.
    pub fn directory(&mut self, tag: &str, r: &Reference) -> &mut Self {
        self.open(tag)
            .leaf("Code", &r.code)
            .leaf("NameRu", &r.name_ru)
            .leaf("NameKz", &r.name_kz)
            .close(tag)
    }
    /// The text written so far.
    pub fn finish(self) -> String {
        self.0
    }
}

/// The parts of a ГБД ФЛ address in the `RegAddress` / `Address` order, inside the open element.
fn address_parts(x: &mut Xml, a: &RegAddress, registration: bool) {
    if let Some(kind) = &a.kind {
        x.reference("type", kind);
    }
    x.some_reference("country", a.country.as_ref())
        .some_reference("district", a.district.as_ref())
        .some_reference("region", a.region.as_ref());
    if !a.foreign_district.is_empty() || !a.foreign_region.is_empty() {
        x.open("foreignData")
            .some("districtName", &a.foreign_district)
            .some("regionName", &a.foreign_region)
            .close("foreignData");
    }
    x.some("city", &a.city)
        .some("street", &a.street)
        .some("building", &a.building)
        .some("corpus", &a.corpus)
        .some("flat", &a.flat)
        .some_date("beginDate", a.begin_date)
        .some_date("endDate", a.end_date);
    if registration {
        x.some_reference("status", a.status.as_ref())
            .some_reference("invalidity", a.invalidity.as_ref());
    }
    x.some("arCode", &a.ar_code);
}

/// One `person` of a ГБД ФЛ `Response`, in the published `Person` order.
pub fn person(x: &mut Xml, p: &Person) {
    let d = &p.details;
    x.open("person")
        .leaf("iin", &p.iin)
        .some("surname", &p.surname)
        .some("name", &p.given_name)
        .some("patronymic", &p.patronymic)
        .date("birthDate", p.birth_date)
        .some_date("deathDate", p.death_date)
        .reference("gender", &d.gender)
        .reference("nationality", &d.nationality)
        .reference("citizenship", &d.citizenship)
        .reference("lifeStatus", &d.life_status);
    for (tag, c) in [
        ("birthCertificate", &d.birth_certificate),
        ("deathCertificate", &d.death_certificate),
    ] {
        if let Some(c) = c {
            x.open(tag)
                .leaf("number", &c.number)
                .some_date("beginDate", c.begin_date)
                .some("issueOrganisation", &c.issuer)
                .close(tag);
        }
    }
    let b = &d.birth_place;
    x.open("birthPlace")
        .some_reference("country", b.country.as_ref())
        .some_reference("district", b.district.as_ref())
        .some_reference("region", b.region.as_ref())
        .some("city", &b.city)
        .some("birthTeCodeAR", &b.ar_code)
        .close("birthPlace");
    if let Some(r) = &d.reg_address {
        x.open("regAddress");
        address_parts(x, r, true);
        x.close("regAddress");
    }
    if let Some(c) = &d.capacity {
        x.open("personCapableStatus")
            .reference("capableStatus", &c.status)
            .date("capableDate", c.since)
            .some_date("capableEndDate", c.until)
            .leaf("capableNumber", &c.case_number)
            .reference("court", &c.court)
            .close("personCapableStatus");
    }
    for (tag, prefix, w) in [
        ("missingStatus", "missing", &d.missing),
        ("disappearStatus", "disappear", &d.disappeared),
    ] {
        if let Some(w) = w {
            x.open(tag)
                .leaf(prefix, if w.active { "true" } else { "false" })
                .date(&format!("{prefix}Date"), w.since)
                .some_date(&format!("{prefix}EndDate"), w.until)
                .leaf(&format!("{prefix}Number"), &w.case_number)
                .reference("gpTerritorial", &w.authority)
                .close(tag);
        }
    }
    if let Some(e) = &d.excluded {
        x.open("excludeStatus")
            .reference("excludeReason", &e.reason)
            .some_date("excludeReasonDate", e.since)
            .some_date("excludeDate", e.until)
            .some_reference("excludeParticipant", e.source.as_ref())
            .close("excludeStatus");
    }
    if !d.documents.is_empty() {
        x.open("documents");
        for doc in &d.documents {
            x.open("document")
                .reference("type", &doc.kind)
                .leaf("number", &doc.number)
                .some("series", &doc.series)
                .date("beginDate", doc.begin_date)
                .some_date("endDate", doc.end_date)
                .reference("issueOrganization", &doc.issuer)
                .reference("status", &doc.status)
                .some_date("invalidityDate", doc.invalidity_date)
                .some("surname", &p.surname)
                .some("name", &p.given_name)
                .some("patronymic", &p.patronymic)
                .date("birthDate", p.birth_date)
                .close("document");
        }
        x.close("documents");
    }
    if !d.addresses.is_empty() {
        x.open("addresses");
        for a in &d.addresses {
            x.open("address");
            address_parts(x, a, false);
            x.close("address");
        }
        x.close("addresses");
    }
    if d.removed {
        x.leaf("removed", "true");
    }
    x.close("person");
}

/// The ГБД ФЛ participants and result of a reply: (code, Russian, Kazakh).
pub type Result3<'a> = (&'a str, &'a str, &'a str);

/// The head of a ГБД ФЛ reply (`messageId` … `messageResult`), as `<data>`'s first children.
pub fn gbdfl_head(x: &mut Xml, request_id: &str, receiver: &str, result: Result3<'_>) {
    x.leaf("messageId", &uuid::Uuid::new_v4().to_string())
        .leaf(
            "messageDate",
            &kopir_core::time::xs_datetime_local(chrono::Utc::now()),
        )
        .leaf("requestId", request_id)
        .reference("sender", &Reference::new("GBDFL", "ГБД ФЛ", "ЖТ МДБ"))
        .reference("receiver", &Reference::new(receiver, receiver, receiver))
        .reference(
            "messageResult",
            &Reference::new(result.0, result.1, result.2),
        );
}

/// A ГБД ФЛ search reply's children: the head, then `persons` when any matched.
pub fn gbdfl_search(
    request_id: &str,
    receiver: &str,
    result: Result3<'_>,
    found: &[&Person],
) -> String {
    let mut x = Xml::default();
    gbdfl_head(&mut x, request_id, receiver, result);
    if !found.is_empty() {
        x.open("persons");
        for p in found {
            person(&mut x, p);
        }
        x.close("persons");
    }
    x.finish()
}

/// A family-links reply's children: the head, then `links` (the mock's own service shape).
pub fn gbdfl_links(
    request_id: &str,
    receiver: &str,
    result: Result3<'_>,
    links: &[(String, Relation)],
) -> String {
    let mut x = Xml::default();
    gbdfl_head(&mut x, request_id, receiver, result);
    if !links.is_empty() {
        x.open("links");
        for (iin, relation) in links {
            let r = match relation {
                Relation::Spouse => Reference::new("01", "СУПРУГ(А)", "ЖҰБАЙЫ"),
                Relation::Parent => Reference::new("02", "РОДИТЕЛЬ", "АТА-АНАСЫ"),
                Relation::Child => Reference::new("03", "РЕБЕНОК", "БАЛАСЫ"),
            };
            x.open("link")
                .leaf("iin", iin)
                .reference("relation", &r)
                .close("link");
        }
        x.close("links");
    }
    x.finish()
}

fn entity_address(x: &mut Xml, a: &EntityAddress) {
    x.open("Address")
        .some("RKA", &a.rka)
        .some("ZIPCode", &a.zip_code)
        .some("KATO", &a.kato)
        .some("DistrictRu", &a.district_ru)
        .some("DistrictKz", &a.district_kz)
        .some("RegionRu", &a.region_ru)
        .some("RegionKz", &a.region_kz)
        .leaf("CityRu", &a.city_ru)
        .leaf("CityKz", &a.city_kz)
        .some("StreetRu", &a.street_ru)
        .some("StreetKz", &a.street_kz)
        .some("BuildingNumber", &a.building_number)
        .some("Corpus", &a.corpus)
        .some("AppartmentNumber", &a.appartment_number)
        .close("Address");
}

/// A ГБД ЮЛ `Response` document (namespace `GbdulInfoByBin_v2`), before its signature.
pub fn gbdul_response(status: Result3<'_>, entity: Option<&LegalEntity>) -> String {
    let mut x = Xml::default();
    x.0.push_str(r#"<ns3:Response xmlns:ns3="http://gbdulinfobybin_v2.egp.gbdul.tamur.kz">"#);
    x.directory("Status", &Reference::new(status.0, status.1, status.2));
    if let Some(e) = entity {
        let d = &e.details;
        x.open("Organization")
            .leaf("BIN", &e.bin)
            .directory("RegStatus", &d.reg_status)
            .directory("RegistrationDepartment", &d.registration_department)
            .date("RegistrationDate", e.registration_date)
            .some_date("RegistrationLastDate", d.registration_last_date)
            .some_date("LiquidationDate", d.liquidation_date)
            .leaf("FullNameRu", &e.name_ru)
            .leaf("FullNameKz", &e.name_kk)
            .some("FullNameEn", &d.full_name_en)
            .some("ShortNameRu", &d.short_name_ru)
            .some("ShortNameKz", &d.short_name_kz)
            .directory("OrgForm", &d.org_form);
        if let Some(f) = &d.form_of_law {
            x.directory("FormOfLaw", f);
        }
        if let Some(t) = &d.private_enterprise_type {
            x.directory("PrivateEnterpriseType", t);
        }
        x.leaf(
            "TaxOrgStatus",
            if d.tax_inactive { "true" } else { "false" },
        );
        if let Some(l) = &d.leader {
            x.open("OrganizationLeader");
            if let Some(p) = &l.position {
                x.open("Position").directory("PositionType", p);
                x.some_date("IssueDate", l.appointed).close("Position");
            }
            if let Some(c) = &l.citizen_country {
                x.directory("CitizenCountry", c);
            }
            x.some("IIN", &l.iin)
                .some("SurName", &l.surname)
                .some("Name", &l.name)
                .some("MiddleName", &l.middle_name)
                .close("OrganizationLeader");
        }
        for a in &d.activities {
            x.open("Activity")
                .leaf("Main", if a.main { "true" } else { "false" })
                .some("OKED", &a.oked)
                .leaf("ActivityNameKz", &a.name_kz)
                .leaf("ActivityNameRu", &a.name_ru)
                .close("Activity");
        }
        if let Some(a) = &d.address {
            entity_address(&mut x, a);
        }
        if let Some(c) = d.founders_count {
            x.leaf("FoundersCount", &c.to_string());
        }
        x.close("Organization");
    }
    x.0.push_str("</ns3:Response>");
    x.finish()
}

/// The codes of a document the mock keeps as an identity document (searchable by number).
pub fn is_identity_document(kind: &Reference) -> bool {
    kind.code == codes::ID_CARD || kind.code == codes::PASSPORT
}
