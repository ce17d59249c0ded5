//! `kopir demo`: the mock registries and the gateway in one process, on embedded defaults.

use std::net::SocketAddr;

use kopir_mocks::{MockConfig, MockSet};

use crate::config::Config;
use crate::error::GatewayError;
use crate::routing::RegistryId;
use crate::server::Gateway;

/// Where the demo listens and how slow its registries are.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Gateway gRPC address.
    pub listen: SocketAddr,
    /// The mock registries.
    pub mocks: MockConfig,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            mocks: MockConfig::default(),
        }
    }
}

/// A running demo: mocks and gateway.
pub struct Demo {
    /// The mock registries.
    pub mocks: MockSet,
    /// The gateway.
    pub gateway: Gateway,
}

/// Points a configuration at the running mocks.
pub fn point_at_mocks(config: &mut Config, mocks: &MockSet) -> Result<(), GatewayError> {
    for (id, url) in [
        (RegistryId::Persons, mocks.persons.url()),
        (RegistryId::LegalEntities, mocks.legal_entities.url()),
    ] {
        let r = config
            .registry_mut(id)
            .ok_or_else(|| GatewayError::Config {
                detail: format!("[registries.{}] is missing", id.name()),
            })?;
        r.url = url::Url::parse(&url).map_err(|e| GatewayError::Config {
            detail: format!("mock URL {url}: {e}"),
        })?;
    }
    Ok(())
}

/// Starts mocks and gateway; `config` defaults to the embedded one.
pub async fn start(options: &DemoOptions, config: Option<Config>) -> Result<Demo, GatewayError> {
    let mocks = MockSet::start(&options.mocks)
        .await
        .map_err(|e| GatewayError::Server(e.to_string()))?;
    let mut config = match config {
        Some(c) => c,
        None => Config::embedded()?,
    };
    config.server.listen = options.listen;
    point_at_mocks(&mut config, &mocks)?;
    let gateway = Gateway::start(config).await?;
    Ok(Demo { mocks, gateway })
}

impl Demo {
    /// What a person needs to try the demo.
    pub fn banner(&self) -> String {
        let pop = &self.mocks.population;
        let iin = pop
            .sample_person()
            .map(|p| p.iin.clone())
            .unwrap_or_default();
        let dereg = pop
            .sample_deregistered()
            .map(|p| p.iin.clone())
            .unwrap_or_default();
        let bin = pop
            .sample_entity()
            .map(|e| e.bin.clone())
            .unwrap_or_default();
        let addr = self.gateway.addr;
        format!(
            "Köpir demo (synthetic data only)\n\
             gateway (gRPC, plaintext): {addr}\n\
             persons database mock: {}\n\
             legal-entities database mock: {}\n\
             mock control endpoint: {}\n\
             sample IIN: {iin}\n\
             sample deregistered IIN: {dereg}\n\
             sample BIN: {bin}\n\
             try:\n  \
             grpcurl -plaintext -d '{{\"iin\":{{\"value\":\"{iin}\"}}}}' {addr} kopir.v1.IdentityService/GetPerson\n  \
             grpcurl -plaintext -d '{{\"bin\":{{\"value\":\"{bin}\"}}}}' {addr} kopir.v1.IdentityService/GetLegalEntity\n  \
             grpcurl -plaintext -d '{{\"service\":\"kopir.registry.persons\"}}' {addr} grpc.health.v1.Health/Check\n\
             Ctrl-C stops.",
            self.mocks.persons.url(),
            self.mocks.legal_entities.url(),
            self.mocks
                .control_addr
                .map(|a| format!("http://{a}/registries"))
                .unwrap_or_default(),
        )
    }
}
