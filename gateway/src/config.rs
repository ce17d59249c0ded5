//! The gateway's one TOML configuration file, validated on load. `config/kopir.toml` is both the
//! documented example and the embedded default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::GatewayError;
use crate::routing::RegistryId;

/// The embedded default configuration.
pub const EMBEDDED: &str = include_str!("../config/kopir.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener settings.
    pub server: ServerConfig,
    /// Registries by name.
    pub registries: BTreeMap<String, RegistryConfig>,
}

/// Listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// gRPC listen address.
    pub listen: SocketAddr,
}

/// A registry's native protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The e-gov gateway's SyncChannel SOAP envelope.
    Syncchannel,
}

/// One registry: where it is, how to speak to it, and the gateway's policies for it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Native protocol.
    pub protocol: Protocol,
    /// Endpoint URL.
    pub url: url::Url,
    /// SyncChannel sender id.
    pub sender_id: String,
    /// SyncChannel sender password; never printed.
    pub sender_password: String,
    /// Per-call deadline.
    pub deadline_ms: u64,
    /// TCP connect timeout.
    pub connect_timeout_ms: u64,
    /// Whole HTTP request timeout.
    pub request_timeout_ms: u64,
    /// Idle pooled connections.
    pub pool_max_idle: usize,
    /// Health probe period.
    pub health_interval_ms: u64,
    /// Cache policy.
    pub cache: CacheConfig,
}

impl std::fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryConfig")
            .field("protocol", &self.protocol)
            .field("url", &self.url.as_str())
            .field("sender_id", &self.sender_id)
            .field("sender_password", &"<redacted>")
            .field("deadline_ms", &self.deadline_ms)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// Cache policy of one registry.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How long a found record is served from cache.
    pub ttl_s: u64,
    /// How long a "no such record" answer is served from cache.
    pub negative_ttl_s: u64,
    /// Capacity; 0 turns the cache off.
    pub max_entries: u64,
}

impl RegistryConfig {
    /// The per-call deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

impl Config {
    /// Parses and validates TOML text; `origin` names the source in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, GatewayError> {
        let config: Config = toml::from_str(text).map_err(|e| GatewayError::Config {
            detail: format!("{origin}: {e}"),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Self, GatewayError> {
        let text = std::fs::read_to_string(path).map_err(|e| GatewayError::Config {
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The embedded default.
    pub fn embedded() -> Result<Self, GatewayError> {
        Self::parse(EMBEDDED, "embedded config/kopir.toml")
    }

    /// One registry's section; present after validation.
    pub fn registry(&self, id: RegistryId) -> Result<&RegistryConfig, GatewayError> {
        self.registries
            .get(id.name())
            .ok_or_else(|| GatewayError::Config {
                detail: format!("[registries.{}] is missing", id.name()),
            })
    }

    /// Mutable access, for the demo and tests that point a registry elsewhere.
    pub fn registry_mut(&mut self, id: RegistryId) -> Option<&mut RegistryConfig> {
        self.registries.get_mut(id.name())
    }

    fn validate(&self, origin: &str) -> Result<(), GatewayError> {
        let bad = |detail: String| GatewayError::Config {
            detail: format!("{origin}: {detail}"),
        };
        for id in RegistryId::ALL {
            if !self.registries.contains_key(id.name()) {
                return Err(bad(format!(
                    "[registries.{}] is missing; every routed registry needs a section",
                    id.name()
                )));
            }
        }
        for (name, r) in &self.registries {
            if RegistryId::from_name(name).is_none() {
                return Err(bad(format!(
                    "[registries.{name}] is not a known registry (known: {})",
                    RegistryId::ALL.map(RegistryId::name).join(", ")
                )));
            }
            if !matches!(r.url.scheme(), "http" | "https") {
                return Err(bad(format!("registries.{name}.url must be http or https")));
            }
            for (key, v) in [
                ("deadline_ms", r.deadline_ms),
                ("connect_timeout_ms", r.connect_timeout_ms),
                ("request_timeout_ms", r.request_timeout_ms),
                ("health_interval_ms", r.health_interval_ms),
            ] {
                if v == 0 {
                    return Err(bad(format!("registries.{name}.{key} must be above 0")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_config_is_valid() {
        let c = Config::embedded().unwrap();
        assert_eq!(c.registry(RegistryId::Persons).unwrap().deadline_ms, 3000);
        assert!(!format!("{c:?}").contains("demo-password"));
    }

    #[test]
    fn typos_and_gaps_are_named() {
        let typo = EMBEDDED.replace("deadline_ms = 3000", "deadlin_ms = 3000");
        let err = Config::parse(&typo, "t").unwrap_err().to_string();
        assert!(err.contains("deadlin_ms"), "{err}");
        let zero = EMBEDDED.replacen("deadline_ms = 3000", "deadline_ms = 0", 1);
        let err = Config::parse(&zero, "t").unwrap_err().to_string();
        assert!(err.contains("registries.persons.deadline_ms"), "{err}");
        let unknown = format!("{EMBEDDED}\n[registries.tax]\nprotocol = \"syncchannel\"\n");
        assert!(Config::parse(&unknown, "t").is_err());
    }
}
