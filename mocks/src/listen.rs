//! The mock registries' addresses and latency as command-line options, shared by `kopir-mocks`
//! and `kopir demo` so both start the registries where the README says (defaults from
//! [`MockConfig::default`]).

use std::net::SocketAddr;

use crate::MockConfig;

/// Where each mock registry listens, and how slow they are.
#[derive(Debug, Clone, clap::Args)]
pub struct MockArgs {
    /// Persons database (ГБД ФЛ, SyncChannel) listen address.
    #[arg(long, default_value_t = MockConfig::default().persons_addr)]
    pub persons_listen: SocketAddr,
    /// Legal-entities database (ГБД ЮЛ, SyncChannel) listen address.
    #[arg(long, default_value_t = MockConfig::default().entities_addr)]
    pub entities_listen: SocketAddr,
    /// Notary system (REST/JSON) listen address.
    #[arg(long, default_value_t = MockConfig::default().notary_addr)]
    pub notary_listen: SocketAddr,
    /// Legal cadastre (REST/JSON) listen address.
    #[arg(long, default_value_t = MockConfig::default().cadastre_addr)]
    pub cadastre_listen: SocketAddr,
    /// Payment gateway (REST/JSON) listen address.
    #[arg(long, default_value_t = MockConfig::default().payments_addr)]
    pub payments_listen: SocketAddr,
    /// Personal-data access control service (consent tokens, REST/JSON) listen address.
    #[arg(long, default_value_t = MockConfig::default().kdp_addr)]
    pub kdp_listen: SocketAddr,
    /// The demo bank's callback endpoint listen address.
    #[arg(long, default_value_t = MockConfig::default().bank_addr)]
    pub bank_listen: SocketAddr,
    /// The generic registry's listen address (REST and SyncChannel, any service id).
    #[arg(long, default_value_t = MockConfig::default().generic_addr)]
    pub generic_listen: SocketAddr,
    /// Control endpoint listen address (GET /registries, PUT /registries/{name}/faults).
    #[arg(long, default_value = "127.0.0.1:18080")]
    pub control_listen: SocketAddr,
    /// Mock certification authority listen address (GET /crl, POST /revoke/{serial_hex}).
    #[arg(long, default_value = "127.0.0.1:18083")]
    pub ca_listen: SocketAddr,
    /// Added latency per call of every registry, in milliseconds.
    #[arg(long, default_value_t = 3)]
    pub latency_ms: u64,
}

impl MockArgs {
    /// The mock set's configuration at these addresses and latency (the CA is started apart).
    pub fn config(&self) -> MockConfig {
        MockConfig {
            persons_addr: self.persons_listen,
            entities_addr: self.entities_listen,
            notary_addr: self.notary_listen,
            cadastre_addr: self.cadastre_listen,
            payments_addr: self.payments_listen,
            bank_addr: self.bank_listen,
            kdp_addr: self.kdp_listen,
            generic_addr: self.generic_listen,
            control_addr: Some(self.control_listen),
            ..MockConfig::default().with_latency_ms(self.latency_ms)
        }
    }
}
