//! Mock registries for Köpir: each state database's native API on its own port, serving a seeded
//! synthetic population, with latency that can be changed at run time. Used by the tests, the
//! demo and the benchmarks; the gateway reaches them only over real sockets.

pub mod bank;
pub mod cadastre;
pub mod control;
pub mod faults;
pub mod generic;
pub mod grpc_front;
pub mod kdp;
pub mod listen;
pub mod names;
pub mod notary;
pub mod payments;
pub mod pki;
pub mod population;
pub mod records;
pub mod registry;
mod sender;
pub mod switch;
pub mod syncchannel;
pub mod trace;
pub mod wsse;
pub mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

pub use faults::Faults;
pub use listen::MockArgs;
pub use population::{Population, PopulationSpec};
pub use registry::{MockRegistry, RegistryKind};

/// The mocks' one error type.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A listen address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// A fault setting is out of range.
    #[error("faults: {0}")]
    Faults(String),
    /// The WS-Security material could not be set up.
    #[error("mock PKI: {0}")]
    Pki(String),
}

/// Binds a listener, returning it with the address it got (port 0 picks a free one).
pub(crate) async fn bind(
    addr: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), MockError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| MockError::Bind(addr, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| MockError::Bind(addr, e))?;
    Ok((listener, local))
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
    /// Notary system (REST) listen address.
    pub notary_addr: SocketAddr,
    /// Legal cadastre (REST) listen address.
    pub cadastre_addr: SocketAddr,
    /// Payment gateway (REST) listen address.
    pub payments_addr: SocketAddr,
    /// The demo bank's callback endpoint listen address.
    pub bank_addr: SocketAddr,
    /// The personal-data access control service (REST) listen address.
    pub kdp_addr: SocketAddr,
    /// The generic registry (for the generic channel) listen address.
    pub generic_addr: SocketAddr,
    /// How the mock registrar decides and how fast.
    pub cadastre: cadastre::CadastreBehaviour,
    /// Control endpoint listen address; `None` runs without one.
    pub control_addr: Option<SocketAddr>,
    /// Listen address of the registries' direct gRPC front (benchmark floor); `None`: not served.
    pub grpc_front_addr: Option<SocketAddr>,
    /// Faults of the persons database at start.
    pub persons_faults: Faults,
    /// Faults of the legal-entities database at start.
    pub entities_faults: Faults,
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
            notary_addr: SocketAddr::from(([127, 0, 0, 1], 18084)),
            cadastre_addr: SocketAddr::from(([127, 0, 0, 1], 18085)),
            payments_addr: SocketAddr::from(([127, 0, 0, 1], 18086)),
            bank_addr: SocketAddr::from(([127, 0, 0, 1], 18087)),
            kdp_addr: SocketAddr::from(([127, 0, 0, 1], 18089)),
            generic_addr: SocketAddr::from(([127, 0, 0, 1], 18088)),
            cadastre: cadastre::CadastreBehaviour::default(),
            control_addr: Some(SocketAddr::from(([127, 0, 0, 1], 18080))),
            grpc_front_addr: None,
            persons_faults: Faults {
                latency_ms: 3,
                ..Faults::default()
            },
            entities_faults: Faults {
                latency_ms: 3,
                ..Faults::default()
            },
            sender_id: DEFAULT_SENDER_ID.into(),
            sender_password: DEFAULT_SENDER_PASSWORD.into(),
        }
    }
}

impl MockConfig {
    /// Sets both registries' added latency.
    pub fn with_latency_ms(mut self, ms: u64) -> Self {
        self.persons_faults.latency_ms = ms;
        self.entities_faults.latency_ms = ms;
        self
    }

    /// The same config on ports the OS picks, for tests running side by side.
    pub fn ephemeral() -> Self {
        Self {
            persons_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            entities_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            notary_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            cadastre_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            payments_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            bank_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            kdp_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            generic_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            control_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Self::default()
        }
    }
}

/// Every mock registry, started together over one population.
pub struct MockSet {
    /// The generated data.
    pub population: Arc<Population>,
    /// Persons database.
    pub persons: Arc<MockRegistry>,
    /// Legal-entities database.
    pub legal_entities: Arc<MockRegistry>,
    /// The notary system.
    pub notary: Arc<notary::MockNotary>,
    /// The legal cadastre.
    pub cadastre: Arc<cadastre::MockCadastre>,
    /// The payment gateway.
    pub payments: Arc<payments::MockPayments>,
    /// The demo bank's callback endpoint.
    pub bank: Arc<bank::MockBank>,
    /// The personal-data access control service.
    pub kdp: Arc<kdp::MockKdp>,
    /// The generic registry.
    pub generic: Arc<generic::MockGeneric>,
    /// The control endpoint's address, when it runs.
    pub control_addr: Option<SocketAddr>,
    /// The direct gRPC front's address, when it runs.
    pub grpc_front_addr: Option<SocketAddr>,
}

impl MockSet {
    /// Makes the state databases as strict as the real provider side: from now on they refuse
    /// a request not signed (WS-Security) by a certificate of `pki`'s CA, whose root is
    /// `root_pem` (a file), and sign every reply with `pki.registry_wsse`.
    pub fn secure(&self, pki: &pki::DemoPki, root_pem: &std::path::Path) -> Result<(), MockError> {
        let trust = kopir_trust::Trust::new(&kopir_trust::config::TrustConfig {
            roots: vec![root_pem.to_path_buf()],
            ..Default::default()
        })
        .map_err(|e| MockError::Pki(e.to_string()))?;
        let cert = pki
            .registry_wsse
            .cert_der()
            .map_err(|e| MockError::Pki(e.to_string()))?;
        let intermediate = {
            use der::Encode;
            pki.ca
                .intermediate()
                .to_der()
                .map_err(|e| MockError::Pki(e.to_string()))?
        };
        let security = Arc::new(wsse::ProviderSecurity::new(
            kopir_xmlsec::KeySigner::new(pki.registry_wsse.key.clone(), cert),
            Arc::new(trust),
            vec![rustls_pki_types::CertificateDer::from(intermediate)],
        ));
        self.persons.install_security(security.clone());
        self.legal_entities.install_security(security);
        Ok(())
    }

    /// Generates the population and starts every registry.
    pub async fn start(config: &MockConfig) -> Result<Self, MockError> {
        let population = Arc::new(Population::generate(config.population));
        let sender = (config.sender_id.as_str(), config.sender_password.as_str());
        let persons = MockRegistry::start(
            RegistryKind::Persons,
            population.clone(),
            config.persons_addr,
            config.persons_faults.clone(),
            sender,
        )
        .await?;
        let legal_entities = MockRegistry::start(
            RegistryKind::LegalEntities,
            population.clone(),
            config.entities_addr,
            config.entities_faults.clone(),
            sender,
        )
        .await?;
        let notary = Arc::new(
            notary::MockNotary::start(config.notary_addr, &population, sender, pki::DEMO_BANK_BIN)
                .await?,
        );
        let ledger = payments::Ledger::default();
        let payments =
            Arc::new(payments::MockPayments::start(config.payments_addr, ledger.clone()).await?);
        let cadastre = Arc::new(
            cadastre::MockCadastre::start(
                config.cadastre_addr,
                &population,
                ledger,
                config.cadastre.clone(),
                sender,
            )
            .await?,
        );
        let bank = Arc::new(bank::MockBank::start(config.bank_addr).await?);
        let tokens = kdp::Tokens::default();
        let kdp = Arc::new(
            kdp::MockKdp::start(config.kdp_addr, tokens.clone(), sender.0, sender.1).await?,
        );
        persons.require_consent_tokens(tokens);
        let generic = Arc::new(generic::MockGeneric::start(config.generic_addr).await?);
        let persons = Arc::new(persons);
        let legal_entities = Arc::new(legal_entities);
        let control_addr = match config.control_addr {
            Some(addr) => {
                let regs = vec![persons.clone(), legal_entities.clone()];
                let listed = vec![
                    control::Listed::new("notary", notary.url(), None),
                    control::Listed::counting("cadastre", cadastre.url(), &cadastre, |c| c.posts()),
                    control::Listed::new("payments", payments.url(), None),
                    control::Listed::new("kdp", kdp.url(), None),
                    control::Listed::counting("bank", bank.callback_url(), &bank, |b| b.posts()),
                    control::Listed::counting("generic", generic.url(), &generic, |g| g.calls()),
                ];
                Some(control::serve(addr, regs, listed).await?.0)
            }
            None => None,
        };
        let grpc_front_addr = match config.grpc_front_addr {
            Some(addr) => Some(
                grpc_front::serve(addr, persons.clone(), legal_entities.clone())
                    .await?
                    .0,
            ),
            None => None,
        };
        Ok(Self {
            population,
            persons,
            legal_entities,
            notary,
            cadastre,
            payments,
            bank,
            kdp,
            generic,
            control_addr,
            grpc_front_addr,
        })
    }
}
