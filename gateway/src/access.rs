//! The access list (which client may call which method) and the per-method signer rules, held
//! behind one swappable pointer so the config file can change them without a restart.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::config::{ClientAccess, Config};
use crate::error::GatewayError;
use kopir_trust::document::SignerRule;

pub use kopir_core::methods::covers;

/// The rules in force.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Access by client BIN.
    pub clients: BTreeMap<String, ClientAccess>,
    /// Signer rule by full method name.
    pub signatures: BTreeMap<String, SignerRule>,
    /// The generic channel's routes by service id.
    pub routes: BTreeMap<String, crate::config::ChannelRoute>,
}

impl Policy {
    fn from_config(config: &Config) -> Self {
        Self {
            clients: config.access.clone(),
            signatures: config.signatures.clone(),
            routes: config.channel.routes.clone(),
        }
    }

    /// Whether client `bin` may call `method`; the client's configured name when it may.
    pub fn allows(&self, bin: &str, method: &str) -> Result<&str, Option<&str>> {
        let Some(entry) = self.clients.get(bin) else {
            return Err(None);
        };
        if covers(&entry.allow, method) {
            Ok(&entry.name)
        } else {
            Err(Some(&entry.name))
        }
    }

    /// The legal basis on which client `bin` reads personal data through `method` without the
    /// person's consent, when it has one.
    pub fn lawful_basis(&self, bin: &str, method: &str) -> Option<&str> {
        let lawful = self.clients.get(bin)?.lawful.as_ref()?;
        covers(&lawful.methods, method).then_some(lawful.basis.as_str())
    }

    /// The configured name of client `bin`.
    pub fn client_name(&self, bin: &str) -> Option<&str> {
        self.clients.get(bin).map(|c| c.name.as_str())
    }

    /// Who must sign `method`'s requests.
    pub fn signer_rule(&self, method: &str) -> SignerRule {
        self.signatures.get(method).copied().unwrap_or_default()
    }
}

/// The swappable policy, shared by the authorize and signature stages.
#[derive(Debug, Clone)]
pub struct AccessControl {
    current: Arc<ArcSwap<Policy>>,
}

impl AccessControl {
    /// The configuration's policy.
    pub fn new(config: &Config) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(Policy::from_config(config))),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> arc_swap::Guard<Arc<Policy>> {
        self.current.load()
    }

    /// Checks `client_bin` against the list for `method`.
    pub fn authorize(&self, client_bin: &str, method: &str) -> Result<(), GatewayError> {
        let policy = self.current.load();
        policy
            .allows(client_bin, method)
            .map(|_| ())
            .map_err(|name| {
                let masked = kopir_core::identifiers::Bin::parse(client_bin)
                    .map(|b| b.masked())
                    .unwrap_or_else(|_| "?".into());
                GatewayError::PermissionDenied {
                    client: match name {
                        Some(n) => format!("{n:?} (BIN {masked})"),
                        None => format!("BIN {masked} (not in the access list)"),
                    },
                    method: method.to_string(),
                }
            })
    }

    /// Re-reads `path`; on a valid file with a changed policy, swaps it in. Returns whether it
    /// changed. An invalid file leaves the policy in force and says why.
    pub fn reload(&self, path: &std::path::Path) -> Result<bool, GatewayError> {
        let config = Config::load(path)?;
        let next = Policy::from_config(&config);
        if **self.current.load() == next {
            return Ok(false);
        }
        self.current.store(Arc::new(next));
        Ok(true)
    }

    /// Watches `path` (by modification time, every `interval`) and reloads on change.
    pub fn spawn_watch(&self, path: PathBuf, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let mut seen: Option<SystemTime> = modified(&path);
            loop {
                tokio::time::sleep(interval).await;
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                match this.reload(&path) {
                    Ok(true) => tracing::info!(file = %path.display(), "access list reloaded"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(
                        file = %path.display(),
                        error = %e,
                        "config change not applied; the previous access list stays in force"
                    ),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClientAccess, LawfulAccess};
    use kopir_core::methods::{identity_service, operator_service};

    const BANK: &str = "990140004565";

    fn policy() -> Policy {
        let mut clients = BTreeMap::new();
        clients.insert(
            BANK.to_string(),
            ClientAccess {
                name: "demo bank".into(),
                allow: vec![
                    "kopir.v1.IdentityService/*".into(),
                    operator_service::GET_REGISTRIES.into(),
                ],
                lawful: Some(LawfulAccess {
                    basis: "Law on banks, art. 1".into(),
                    methods: vec![identity_service::GET_ADDRESS_REFERENCE.into()],
                }),
            },
        );
        Policy {
            clients,
            ..Policy::default()
        }
    }

    #[test]
    fn the_list_covers_what_it_names_and_nothing_else() {
        let p = policy();
        assert_eq!(
            p.allows(BANK, identity_service::GET_PERSON),
            Ok("demo bank")
        );
        assert_eq!(
            p.allows(BANK, operator_service::GET_REGISTRIES),
            Ok("demo bank")
        );
        assert_eq!(
            p.allows(BANK, operator_service::RELOAD_CONFIG),
            Err(Some("demo bank"))
        );
        assert_eq!(
            p.allows("000000000000", identity_service::GET_PERSON),
            Err(None)
        );
        assert_eq!(
            p.lawful_basis(BANK, identity_service::GET_ADDRESS_REFERENCE),
            Some("Law on banks, art. 1")
        );
        assert_eq!(p.lawful_basis(BANK, identity_service::GET_PERSON), None);
        assert_eq!(
            p.signer_rule(identity_service::GET_PERSON),
            SignerRule::None
        );
    }

    #[test]
    fn the_embedded_list_names_only_methods_the_protos_declare() {
        let config = Config::embedded().expect("embedded config");
        for (bin, entry) in &config.access {
            for m in &entry.allow {
                let known = kopir_core::methods::ALL
                    .iter()
                    .any(|k| covers(std::slice::from_ref(m), k));
                assert!(known, "access.\"{bin}\" allows {m}, which covers no method");
            }
        }
    }
}
