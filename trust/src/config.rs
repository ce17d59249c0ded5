//! The `[trust]` section of the configuration: roots, CRLs, the gateway's own keys.

use std::path::PathBuf;

use serde::Deserialize;

/// Trust material and verification settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// PEM files of the root certificates that client and signer certificates must chain to.
    pub roots: Vec<PathBuf>,
    /// URLs of the CRLs to check revocation against (fetched at start, refreshed at nextUpdate).
    pub crls: Vec<url::Url>,
    /// The gateway's TLS certificate chain (PEM, leaf first) and key (PKCS #8 PEM).
    pub tls_cert: Option<PathBuf>,
    /// See `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// The gateway's sealing certificate chain and key; responses are sealed when set.
    pub seal_cert: Option<PathBuf>,
    /// See `seal_cert`.
    pub seal_key: Option<PathBuf>,
    /// Verified certificate paths kept, so a repeat signer costs only the signature check.
    pub chain_cache_entries: u64,
    /// Allowed difference between a signer's clock and the gateway's.
    pub max_clock_skew_s: u64,
    /// How long a signed request document stays usable after it was signed (its signatures'
    /// signing time), clock skew added; within it, each document (signer and nonce) is taken once.
    pub freshness_s: u64,
    /// How often the config file is checked for access-list changes.
    pub reload_interval_ms: u64,
    /// Certificate policy OIDs (dotted, e.g. a national CA's "legal entity authentication"
    /// policy) that make a certificate a client's even without the `clientAuth` extended key
    /// usage. Empty: only `clientAuth` does.
    pub client_policies: Vec<String>,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            roots: Vec::new(),
            crls: Vec::new(),
            tls_cert: None,
            tls_key: None,
            seal_cert: None,
            seal_key: None,
            chain_cache_entries: 10_000,
            max_clock_skew_s: 300,
            freshness_s: 300,
            reload_interval_ms: 1_000,
            client_policies: Vec::new(),
        }
    }
}
