//! The registries the gateway routes to, by the name used in config, health and logs; what is
//! asked of them ([`RegistryOp`]) and what they answer ([`RegistryRecord`]).

use std::sync::Arc;

use crate::identifiers::{Bin, CadastralNumber, Iin};
use crate::model::cadastre::{FilingStatus, PledgeFiling, RealEstate, Rights};
use crate::model::notary::{NotarisedConsent, PowerOfAttorney};
use crate::model::payments::ECheck;
use crate::model::person::{IssuedToken, KdpToken, TokenGrant};
use crate::model::{Fetched, LegalEntity, Person, PersonQuery, Relative};

/// The registries the typed API routes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegistryId {
    /// Persons database (ГБД ФЛ).
    Persons,
    /// Legal-entities database (ГБД ЮЛ).
    LegalEntities,
    /// Notary system (ЕНИС).
    Notary,
    /// Legal cadastre (real-estate rights registry).
    Cadastre,
    /// E-government payment gateway (ЭҮТШ).
    Payments,
    /// Personal-data access control service (КДП): citizens' consent tokens.
    Kdp,
}

impl RegistryId {
    /// Every routed registry, in declaration order (health state is indexed by it).
    pub const ALL: [RegistryId; 6] = [
        Self::Persons,
        Self::LegalEntities,
        Self::Notary,
        Self::Cadastre,
        Self::Payments,
        Self::Kdp,
    ];

    /// The name used in config, health and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Persons => "persons",
            Self::LegalEntities => "legal_entities",
            Self::Notary => "notary",
            Self::Cadastre => "cadastre",
            Self::Payments => "payments",
            Self::Kdp => "kdp",
        }
    }

    /// The registry of a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.name() == name)
    }

    /// Its entry in `grpc.health.v1`.
    pub fn health_name(self) -> String {
        format!("kopir.registry.{}", self.name())
    }
}

/// What the gateway asks of a registry: one variant per registry operation. Adding an operation
/// is a variant here (with its arms below), an arm in its registry's routing module and the API
/// method that asks it.
#[derive(Debug, Clone)]
pub enum RegistryOp {
    /// A person's record (persons database), with the citizen's consent token for the reader.
    Person {
        /// Whose record.
        iin: Iin,
        /// The consent token the consent stage obtained (`None` before it ran).
        token: Option<KdpToken>,
    },
    /// The persons a search matches (persons database).
    FindPersons {
        /// The criterion.
        query: PersonQuery,
        /// The consent token for the search (its subject is the query).
        token: Option<KdpToken>,
    },
    /// A legal entity's record (legal-entities database), asked by an organisation.
    LegalEntity {
        /// Which entity.
        bin: Bin,
        /// The asking organisation's BIN (`RequestorBIN`), when known.
        requestor: Option<Bin>,
    },
    /// A person's spouse, parents and children from the persons database (a minor's legal
    /// representative is checked against them).
    Relatives(Iin),
    /// A person's notarised consents from the notary system (the consent stage judges them).
    NotarisedConsents(Iin),
    /// A power of attorney from the notary system (the caller judges it against the request).
    PowerOfAttorney {
        /// Its number.
        number: String,
        /// The agent the caller expects.
        agent: Iin,
    },
    /// A real-estate object from the legal cadastre.
    RealEstate(CadastralNumber),
    /// An object's rights and encumbrances.
    Rights(CadastralNumber),
    /// Files a pledge with the cadastre (the pledge worker; never retried).
    FilePledge(Arc<PledgeFiling>),
    /// A filed pledge's status at the cadastre, by the filing's message id.
    FilingStatus(String),
    /// Files an objection with the cadastre.
    FileObjection {
        /// The filing's message id.
        message_id: String,
        /// The objection's text.
        text: String,
    },
    /// The payment gateway's e-checks for a contract number (the pledge worker).
    PaymentChecks(String),
    /// A consent token from the access control service (the consent stage, once it found a
    /// basis).
    ConsentToken(Arc<TokenGrant>),
}

impl RegistryOp {
    /// The registry that answers it.
    pub fn registry(&self) -> RegistryId {
        match self {
            Self::Person { .. } | Self::FindPersons { .. } | Self::Relatives(_) => {
                RegistryId::Persons
            }
            Self::LegalEntity { .. } => RegistryId::LegalEntities,
            Self::PowerOfAttorney { .. } | Self::NotarisedConsents(_) => RegistryId::Notary,
            Self::RealEstate(_)
            | Self::Rights(_)
            | Self::FilePledge(_)
            | Self::FilingStatus(_)
            | Self::FileObjection { .. } => RegistryId::Cadastre,
            Self::PaymentChecks(_) => RegistryId::Payments,
            Self::ConsentToken(_) => RegistryId::Kdp,
        }
    }

    /// Whether repeating it has the effect of doing it once: every lookup is, the filings are not
    /// (they are never retried).
    pub fn is_idempotent(&self) -> bool {
        !matches!(self, Self::FilePledge(_) | Self::FileObjection { .. })
    }

    /// The identifier it is about (IIN, BIN, cadastral number, contract number or message id).
    pub fn subject(&self) -> &str {
        match self {
            Self::Person { iin, .. } | Self::Relatives(iin) | Self::NotarisedConsents(iin) => {
                iin.as_str()
            }
            Self::FindPersons { query, .. } => match query {
                PersonQuery::Iin(iin) => iin.as_str(),
                PersonQuery::Name { surname, .. } => surname,
                PersonQuery::Document(number) => number,
            },
            Self::PowerOfAttorney { agent, .. } => agent.as_str(),
            Self::LegalEntity { bin, .. } => bin.as_str(),
            Self::RealEstate(n) | Self::Rights(n) => n.as_str(),
            Self::FilePledge(f) => &f.contract_number,
            Self::FilingStatus(id) | Self::FileObjection { message_id: id, .. } => id,
            Self::PaymentChecks(number) => number,
            Self::ConsentToken(grant) => grant
                .subject
                .as_ref()
                .map_or("", crate::identifiers::Iin::as_str),
        }
    }

    /// The personal number it is about, masked for logs; empty when it names no person or
    /// organisation.
    pub fn subject_masked(&self) -> String {
        match self {
            Self::Person { iin, .. } | Self::Relatives(iin) | Self::NotarisedConsents(iin) => {
                iin.masked()
            }
            Self::FindPersons { query, .. } => match query {
                PersonQuery::Iin(iin) => iin.masked(),
                // Names and document numbers are personal data too: shown by their kind only.
                PersonQuery::Name { .. } => "(a name and birth date)".into(),
                PersonQuery::Document(_) => "(a document number)".into(),
            },
            Self::PowerOfAttorney { agent, .. } => agent.masked(),
            Self::LegalEntity { bin, .. } => bin.masked(),
            Self::ConsentToken(grant) => grant
                .subject
                .as_ref()
                .map(crate::identifiers::Iin::masked)
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The cache key: what the registry is asked, not who asks; none for what is never cached.
    pub fn cache_key(&self) -> Option<String> {
        match self {
            Self::Person { .. } | Self::LegalEntity { .. } => Some(self.subject().to_string()),
            _ => None,
        }
    }
}

/// What a registry answered: one variant per kind of record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[allow(clippy::large_enum_variant)]
pub enum RegistryRecord {
    /// From the persons database.
    Person(Fetched<Person>),
    /// The persons a search matched, none when no one did.
    Persons(Fetched<Vec<Person>>),
    /// From the legal-entities database.
    LegalEntity(Fetched<LegalEntity>),
    /// A person's relatives.
    Relatives(Vec<Relative>),
    /// A person's notarised consents, in force or not.
    NotarisedConsents(Vec<NotarisedConsent>),
    /// A power of attorney, when the notary system holds it.
    PowerOfAttorney(Option<PowerOfAttorney>),
    /// A real-estate object.
    RealEstate(RealEstate),
    /// Rights and encumbrances.
    Rights(Rights),
    /// A filing's status at the cadastre, when it holds the filing.
    Filing(Option<FilingStatus>),
    /// E-checks for a contract number.
    PaymentChecks(Vec<ECheck>),
    /// A consent token.
    ConsentToken(IssuedToken),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_name_their_registry_and_filings_are_never_repeated() {
        let number = CadastralNumber::parse("21-320-000-101").expect("valid");
        assert_eq!(
            RegistryOp::Rights(number.clone()).registry(),
            RegistryId::Cadastre
        );
        assert_eq!(
            RegistryOp::PaymentChecks("C-1".into()).registry(),
            RegistryId::Payments
        );
        assert!(RegistryOp::RealEstate(number).is_idempotent());
        assert!(RegistryOp::FilingStatus("m".into()).is_idempotent());
        assert!(!RegistryOp::FileObjection {
            message_id: "m".into(),
            text: "t".into()
        }
        .is_idempotent());
        assert_eq!(RegistryOp::FilingStatus("m".into()).cache_key(), None);
    }
}
