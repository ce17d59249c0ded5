//! Mock registries for Köpir: each state database's native API on its own port, serving a seeded
//! synthetic population, with latency that can be changed at run time. Used by the tests, the
//! demo and the benchmarks; the gateway reaches them only over real sockets.

pub mod names;
pub mod population;
pub mod registry;
pub mod syncchannel;
pub mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

pub use population::{Population, PopulationSpec};
pub use registry::{MockRegistry, RegistryKind};

/// The mocks' one error type.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A listen address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
}

/// Sender id the mocks accept by default (the gateway's embedded config uses it).
pub const DEFAULT_SENDER_ID: &str = "KOPIR-DEMO";
/// Sender password the mocks accept by default; a demo credential, not a secret.
pub const DEFAULT_SENDER_PASSWORD: &str = "demo-password";

/// How to start the set of mock registries.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// What population to generate.
    pub population: PopulationSpec,
    /// Persons database listen address.
    pub persons_addr: SocketAddr,
    /// Legal-entities database listen address.
    pub entities_addr: SocketAddr,
    /// Added latency per call of the persons database.
    pub persons_latency_ms: u64,
    /// Added latency per call of the legal-entities database.
    pub entities_latency_ms: u64,
    /// Accepted sender id.
    pub sender_id: String,
    /// Accepted sender password.
    pub sender_password: String,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            population: PopulationSpec::default(),
            persons_addr: SocketAddr::from(([127, 0, 0, 1], 18081)),
            entities_addr: SocketAddr::from(([127, 0, 0, 1], 18082)),
            persons_latency_ms: 3,
            entities_latency_ms: 3,
            sender_id: DEFAULT_SENDER_ID.into(),
            sender_password: DEFAULT_SENDER_PASSWORD.into(),
        }
    }
}

impl MockConfig {
    /// Sets both registries' added latency.
    pub fn with_latency_ms(self, ms: u64) -> Self {
        Self {
            persons_latency_ms: ms,
            entities_latency_ms: ms,
            ..self
        }
    }

    /// The same config on ports the OS picks, for tests running side by side.
    pub fn ephemeral() -> Self {
        Self {
            persons_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            entities_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}

/// Every mock registry, started together over one population.
pub struct MockSet {
    /// The generated data.
    pub population: Arc<Population>,
    /// Persons database.
    pub persons: MockRegistry,
    /// Legal-entities database.
    pub legal_entities: MockRegistry,
}

impl MockSet {
    /// Generates the population and starts every registry.
    pub async fn start(config: &MockConfig) -> Result<Self, MockError> {
        let population = Arc::new(Population::generate(config.population));
        let sender = (config.sender_id.as_str(), config.sender_password.as_str());
        let persons = MockRegistry::start(
            RegistryKind::Persons,
            population.clone(),
            config.persons_addr,
            config.persons_latency_ms,
            sender,
        )
        .await?;
        let legal_entities = MockRegistry::start(
            RegistryKind::LegalEntities,
            population.clone(),
            config.entities_addr,
            config.entities_latency_ms,
            sender,
        )
        .await?;
        Ok(Self {
            population,
            persons,
            legal_entities,
        })
    }
}
