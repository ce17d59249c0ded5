//! The registries the gateway routes to, by the name used in config, health and logs.

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
}

impl RegistryId {
    /// Every routed registry, in declaration order (health state is indexed by it).
    pub const ALL: [RegistryId; 5] = [
        Self::Persons,
        Self::LegalEntities,
        Self::Notary,
        Self::Cadastre,
        Self::Payments,
    ];

    /// The name used in config, health and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Persons => "persons",
            Self::LegalEntities => "legal_entities",
            Self::Notary => "notary",
            Self::Cadastre => "cadastre",
            Self::Payments => "payments",
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
