//! The gateway's one TOML configuration file, validated on load. `config/kopir.toml` is both the
//! documented example and the embedded default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::GatewayError;
use kopir_core::registry::RegistryId;
pub use kopir_resilience::ResilienceConfig;
pub use kopir_store::journal::config::{BodyPolicy, JournalBackend, JournalConfig};
pub use kopir_trust::config::TrustConfig;
use kopir_trust::document::SignerRule;

/// The embedded default configuration.
pub const EMBEDDED: &str = include_str!("../config/kopir.toml");

/// A password: written in the file, or read at load from an environment variable or a file the
/// configuration names (`*_env`, `*_file`); never printed, not even by `{:?}`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(empty)"
        } else {
            "Secret(<redacted>)"
        })
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// Fills `secret` from `env` or `file` when the configuration names one; `key` names the
/// setting in errors (which never show the value).
fn resolve(
    secret: &mut Secret,
    env: Option<&str>,
    file: Option<&Path>,
    key: &str,
) -> Result<(), String> {
    let value = match (env, file) {
        (None, None) => return Ok(()),
        (Some(_), Some(_)) => {
            return Err(format!(
                "{key}: set one of {key}_env and {key}_file, not both"
            ))
        }
        _ if !secret.0.is_empty() => {
            return Err(format!(
                "{key}: the password is both written in the file and read from elsewhere; keep one"
            ))
        }
        (Some(var), None) => std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{key}_env: the environment variable {var} is not set"))?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("{key}_file: cannot read {}: {e}", path.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
    };
    secret.0 = value;
    Ok(())
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener settings.
    pub server: ServerConfig,
    /// Registries by name.
    pub registries: BTreeMap<String, RegistryConfig>,
    /// Per-client rate limits.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Roots, CRLs, the gateway's TLS and sealing keys.
    #[serde(default)]
    pub trust: TrustConfig,
    /// Which client (by BIN) may call which method; reloaded without a restart.
    #[serde(default)]
    pub access: BTreeMap<String, ClientAccess>,
    /// Who must sign each method's requests (full method name → rule); reloaded with `access`.
    #[serde(default)]
    pub signatures: BTreeMap<String, SignerRule>,
    /// Where the journal is kept, and which bodies for how long.
    #[serde(default)]
    pub journal: JournalConfig,
    /// The Prometheus metrics endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Log format and trace export.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Pledge contracts: outbox, fee, delivery timing, banks' callbacks.
    #[serde(default)]
    pub pledge: PledgeConfig,
    /// The generic channel: services routed by id; reloaded without a restart.
    #[serde(default)]
    pub channel: ChannelConfig,
    /// The file this configuration was read from, watched for access-list changes.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// One client organisation's entry in the access list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAccess {
    /// A name for logs and messages ("egov.kz portal").
    pub name: String,
    /// Full method names (`kopir.v1.IdentityService/GetPerson`) or a service's wildcard
    /// (`kopir.v1.IdentityService/*`).
    pub allow: Vec<String>,
    /// A state body's lawful access to personal data without the person's consent.
    #[serde(default)]
    pub lawful: Option<LawfulAccess>,
}

/// Reads of personal data a client may make on its own account without the person's consent,
/// and the law that allows it (journaled with every such read).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LawfulAccess {
    /// The legal basis, as it is to appear in the journal and the person's access log.
    pub basis: String,
    /// The methods it covers (full names or `Service/*`).
    pub methods: Vec<String>,
}

/// Log format and trace export.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/gRPC collector (`http://host:4317`); none exports no traces.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// One JSON object per log line instead of plain text.
    pub json_logs: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "kopir-gateway".into(),
            json_logs: false,
        }
    }
}

/// The operators' HTTP listener: metrics and, with a token, the web console.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// HTTP address of `GET /metrics` and `/console/`; none serves neither.
    pub listen: Option<std::net::SocketAddr>,
    /// The bearer token the web console's data needs; none serves no console.
    pub console_token: Option<String>,
}

/// Pledge contracts: where accepted contracts and bank notices wait (the outbox), the fee the
/// payment must cover, the worker's timing, and where each bank is called back.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PledgeConfig {
    /// The outbox's SQLite file, created on first start.
    pub outbox: PathBuf,
    /// The registration fee a contract's e-checks must cover, in tiyn.
    pub registration_fee_tiyn: i64,
    /// How long an unpaid contract waits for its payment before it goes to the registrar, who
    /// refuses it for non-payment.
    #[serde(with = "humantime_serde")]
    pub payment_wait: Duration,
    /// The longest wait between two looks at the payment gateway while a contract waits for
    /// payment (a tenth of the time waited so far, at least 1 s, at most this).
    #[serde(with = "humantime_serde")]
    pub payment_poll: Duration,
    /// The longest wait between two looks at an undecided filing (as for `payment_poll`).
    #[serde(with = "humantime_serde")]
    pub status_poll: Duration,
    /// First and longest wait between delivery attempts (exponential, jittered).
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    /// See `retry_min`.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Failed attempts in a row after which a contract or notice becomes a dead letter, left
    /// alone until an operator re-drives it (OperatorService.RedriveOutbox).
    pub dead_after: u32,
    /// Most outbox writes committed in one transaction (group commit).
    pub batch_max: usize,
    /// Deliveries (to the cadastre, the payment gateway, the banks) in flight at once.
    pub concurrency: usize,
    /// Each bank's callback endpoint, by the bank's BIN.
    pub banks: BTreeMap<String, BankConfig>,
}

impl Default for PledgeConfig {
    fn default() -> Self {
        Self {
            outbox: PathBuf::from("kopir-outbox.db"),
            registration_fee_tiyn: 432_500,
            payment_wait: Duration::from_secs(3 * 24 * 3600),
            payment_poll: Duration::from_secs(30),
            status_poll: Duration::from_secs(5),
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(300),
            dead_after: 50,
            batch_max: 512,
            concurrency: 32,
            banks: BTreeMap::new(),
        }
    }
}

/// The generic channel: routes by service id, and when an unacknowledged reply is sent again.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelConfig {
    /// An open Receive stream sends an unacknowledged reply again after this long.
    #[serde(with = "humantime_serde")]
    pub redeliver_after: Duration,
    /// First and longest wait between the worker's attempts to deliver a submitted message
    /// (exponential, jittered).
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    /// See `retry_min`.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Services by id.
    pub routes: BTreeMap<String, ChannelRoute>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            redeliver_after: Duration::from_secs(30),
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_secs(300),
            routes: BTreeMap::new(),
        }
    }
}

/// How a routed service is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelProtocol {
    /// The e-gov gateway's SyncChannel SOAP envelope (the payload travels base64 in `data`).
    Syncchannel,
    /// The payload POSTed as it is, with its content type.
    Rest,
    /// The payload (a protobuf message) passed through to a gRPC method.
    Grpc,
}

/// One routed service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRoute {
    /// Its protocol.
    pub protocol: ChannelProtocol,
    /// The endpoint: the SyncChannel URL, the REST URL, or the gRPC server's base URL.
    pub url: url::Url,
    /// For gRPC: the full method path, `/package.Service/Method`.
    #[serde(default)]
    pub grpc_method: Option<String>,
    /// Credentials the service knows the gateway by (never logged).
    #[serde(default)]
    pub sender_id: String,
    /// See `sender_id`.
    #[serde(default)]
    pub sender_password: Secret,
    /// Reads `sender_password` from this environment variable at load.
    #[serde(default)]
    pub sender_password_env: Option<String>,
    /// Reads `sender_password` from this file at load.
    #[serde(default)]
    pub sender_password_file: Option<PathBuf>,
    /// Deadline of one call, retries included.
    #[serde(default = "default_route_deadline_ms")]
    pub deadline_ms: u64,
    /// Replies kept this long for the same payload (0: no cache).
    #[serde(default)]
    pub cache_ttl_s: u64,
    /// Retries of a failed call; only for a service whose calls are reads (`idempotent`).
    #[serde(default)]
    pub retries: u32,
    /// Whether a call may be repeated with the effect of one (a read).
    #[serde(default)]
    pub idempotent: bool,
    /// Who must sign a message: "none" or "requester".
    #[serde(default)]
    pub signers: SignerRule,
    /// The client organisations (BINs) that may call it.
    pub clients: Vec<String>,
    /// SyncChannel envelope settings (`syncchannel` routes).
    #[serde(default)]
    pub syncchannel: SyncChannelSettings,
    /// WS-Security of the messages to this service (`syncchannel` routes); absent: unsigned.
    #[serde(default)]
    pub wsse: Option<WsseConfig>,
}

/// SyncChannel v10 envelope settings of a registry or route.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncChannelSettings {
    /// `routeId`, when the e-government gateway routes this service further.
    pub route_id: Option<String>,
    /// `properties` (key = value) sent with every request, as agreed with the service.
    pub properties: BTreeMap<String, String>,
    /// Status codes meaning success (default `SCSS001` and `Success`).
    pub success_codes: Vec<String>,
    /// Status codes meaning "no such record": a registry's own convention (none is published).
    pub not_found_codes: Vec<String>,
    /// Status codes refusing the gateway's credentials (answered `INTERNAL`: operators act).
    pub credential_codes: Vec<String>,
    /// Status codes calling the gateway's (validated) request invalid (`INTERNAL`: a defect).
    pub invalid_codes: Vec<String>,
    /// Channel routes: status codes meaning the service is failing (retried, breaker), not
    /// answering; any other status is relayed to the sender as the service's answer.
    pub failure_codes: Vec<String>,
}

impl Default for SyncChannelSettings {
    fn default() -> Self {
        Self {
            route_id: None,
            properties: BTreeMap::new(),
            success_codes: kopir_adapters::syncchannel::default_success_codes(),
            not_found_codes: Vec::new(),
            credential_codes: Vec::new(),
            invalid_codes: Vec::new(),
            failure_codes: Vec::new(),
        }
    }
}

/// How replies' WS-Security signatures are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    /// Every reply must be signed, by a certificate that chains to `[trust] roots`.
    Require,
    /// Signed replies are checked; unsigned ones pass.
    IfPresent,
    /// Not checked.
    Off,
}

/// WS-Security of the messages to one SyncChannel service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsseConfig {
    /// The gateway's signing certificate (PEM, leaf first); with `key`, every request is signed.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Its PKCS #8 private key (RSA or P-256).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The `SignatureMethod` URI; left out, the key's (RSA-SHA256 or ECDSA-SHA256). The national
    /// CA's GOST URIs are recognised and refused until a GOST signer is plugged in.
    #[serde(default)]
    pub signature_method: Option<String>,
    /// How replies are checked.
    #[serde(default = "default_verify")]
    pub verify: VerifyMode,
    /// Intermediate certificates (PEM) between the service's signing certificate and a root.
    #[serde(default)]
    pub intermediates: Vec<PathBuf>,
    /// How long a request's `wsu:Timestamp` is valid.
    #[serde(default = "default_timestamp_ttl_s")]
    pub timestamp_ttl_s: u64,
}

fn default_verify() -> VerifyMode {
    VerifyMode::Require
}

fn default_timestamp_ttl_s() -> u64 {
    300
}

fn default_route_deadline_ms() -> u64 {
    10_000
}

/// A bank's callback endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankConfig {
    /// Where status notices are POSTed.
    pub callback_url: url::Url,
    /// Bound on one delivery attempt.
    #[serde(default = "default_callback_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_callback_timeout_ms() -> u64 {
    5000
}

/// A rate: sustained requests per second and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// Per-client rate limits: a default, and overrides by client id (`bin:<BIN>`, `anonymous`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// The rate of any client without its own entry.
    pub default: Rate,
    /// Rates by client id.
    pub clients: BTreeMap<String, Rate>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            default: Rate {
                per_second: 1_000,
                burst: 2_000,
            },
            clients: BTreeMap::new(),
        }
    }
}

/// Listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Development only: serve without TLS and take the client from `meta.requester_bin`.
    #[serde(default)]
    pub plaintext: bool,
    /// The largest request message taken, in bytes; a larger one is RESOURCE_EXHAUSTED.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
}

/// 8 MiB: twice gRPC's customary 4 MiB, so a channel message with a payload at its 4 MiB limit
/// still fits with its metadata and signed document.
fn default_max_message_bytes() -> usize {
    8 * 1024 * 1024
}

/// A registry's native protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The e-gov gateway's SyncChannel SOAP envelope.
    Syncchannel,
    /// Plain REST/JSON (the notary system).
    Rest,
}

/// One registry: where it is, how to speak to it, and the gateway's policies for it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Native protocol.
    pub protocol: Protocol,
    /// Endpoint URL.
    pub url: url::Url,
    /// Sender id the registry knows the gateway by (SyncChannel sender, REST basic auth user).
    #[serde(default)]
    pub sender_id: String,
    /// Sender password; never printed.
    #[serde(default)]
    pub sender_password: Secret,
    /// Reads `sender_password` from this environment variable at load.
    #[serde(default)]
    pub sender_password_env: Option<String>,
    /// Reads `sender_password` from this file at load.
    #[serde(default)]
    pub sender_password_file: Option<PathBuf>,
    /// Per-call deadline, retries included. Default: the regulations' per-step limit for a
    /// request to a state database, 1.5 min (seed 003 §4.3 table 2 action 3; seed 002 §4).
    #[serde(default = "regulatory_deadline_ms")]
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
    #[serde(default)]
    pub cache: CacheConfig,
    /// Retries, circuit breaker and concurrency limit.
    #[serde(default)]
    pub resilience: ResilienceConfig,
    /// SyncChannel envelope settings (`syncchannel` registries).
    #[serde(default)]
    pub syncchannel: SyncChannelSettings,
    /// WS-Security of the messages to this registry (`syncchannel` registries); absent: unsigned.
    #[serde(default)]
    pub wsse: Option<WsseConfig>,
    /// The persons database's services and result codes (`[registries.persons.gbdfl]`).
    #[serde(default)]
    pub gbdfl: GbdflConfig,
    /// The legal-entities database's service and status codes
    /// (`[registries.legal_entities.gbdul]`).
    #[serde(default)]
    pub gbdul: GbdulConfig,
}

/// The persons database's services: ids, the gateway's sender code, `messageResult` codes.
/// Defaults: the published `GBDFLUniversal_token`; the family-links id and the result codes are
/// placeholders of the mock registries (nothing public names them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdflConfig {
    /// The search service id.
    pub search_service: String,
    /// The family-links service id.
    pub family_links_service: String,
    /// The `senderCode` issued to the gateway.
    pub sender_code: String,
    /// `messageResult` codes of a search that found persons.
    pub found_codes: Vec<String>,
    /// `messageResult` codes saying no person matched (`NOT_FOUND`).
    pub not_found_codes: Vec<String>,
    /// `messageResult` codes calling the criteria invalid (`INTERNAL`: the gateway validated them).
    pub invalid_codes: Vec<String>,
    /// `messageResult` codes refusing the consent token (`PERMISSION_DENIED`).
    pub token_refused_codes: Vec<String>,
}

impl Default for GbdflConfig {
    fn default() -> Self {
        let d = kopir_adapters::persons::PersonsServices::default();
        Self {
            search_service: d.search,
            family_links_service: d.family_links,
            sender_code: d.sender_code,
            found_codes: d.results.found,
            not_found_codes: d.results.not_found,
            invalid_codes: d.results.invalid,
            token_refused_codes: d.results.consent_refused,
        }
    }
}

impl From<&GbdflConfig> for kopir_adapters::persons::PersonsServices {
    fn from(c: &GbdflConfig) -> Self {
        Self {
            search: c.search_service.clone(),
            family_links: c.family_links_service.clone(),
            sender_code: c.sender_code.clone(),
            results: kopir_adapters::syncchannel::ResultCodes {
                found: c.found_codes.clone(),
                not_found: c.not_found_codes.clone(),
                invalid: c.invalid_codes.clone(),
                consent_refused: c.token_refused_codes.clone(),
            },
        }
    }
}

/// The legal-entities database's service: its id, the fallback `RequestorBIN`, `Status` codes.
/// Defaults: the published `GbdulInfoByBin_v2` and its success code `002`; the other codes are
/// the mock registries' (nothing public names them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdulConfig {
    /// The service id.
    pub info_by_bin_service: String,
    /// `RequestorBIN` for a caller without a BIN of its own (the gateway operator's BIN).
    pub requestor_bin: String,
    /// `Status` codes of an answered request.
    pub found_codes: Vec<String>,
    /// `Status` codes saying no entity has the BIN (`NOT_FOUND`).
    pub not_found_codes: Vec<String>,
    /// `Status` codes calling the request invalid (`INTERNAL`).
    pub invalid_codes: Vec<String>,
}

impl Default for GbdulConfig {
    fn default() -> Self {
        let d = kopir_adapters::legal_entities::LegalEntitiesServices::default();
        Self {
            info_by_bin_service: d.info_by_bin,
            requestor_bin: d.requestor_bin,
            found_codes: d.results.found,
            not_found_codes: d.results.not_found,
            invalid_codes: d.results.invalid,
        }
    }
}

impl From<&GbdulConfig> for kopir_adapters::legal_entities::LegalEntitiesServices {
    fn from(c: &GbdulConfig) -> Self {
        Self {
            info_by_bin: c.info_by_bin_service.clone(),
            requestor_bin: c.requestor_bin.clone(),
            results: kopir_adapters::syncchannel::ResultCodes {
                found: c.found_codes.clone(),
                not_found: c.not_found_codes.clone(),
                invalid: c.invalid_codes.clone(),
                consent_refused: Vec::new(),
            },
        }
    }
}

/// The regulations' 1.5-minute limit for sending a request to a state database and getting its
/// answer (seed 003 §4.3, table 2, action 3; seed 002 §4, "sending the request").
pub fn regulatory_deadline_ms() -> u64 {
    90_000
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
    /// How long past `ttl_s` a record may still be served, marked stale, while the registry
    /// cannot answer (breaker open or unreachable); 0 never serves stale data.
    #[serde(default)]
    pub stale_s: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl_s: 60,
            negative_ttl_s: 10,
            max_entries: 10_000,
            stale_s: 0,
        }
    }
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
        let mut config: Config = toml::from_str(text).map_err(|e| GatewayError::Config {
            detail: format!("{origin}: {e}"),
        })?;
        config
            .resolve_secrets()
            .map_err(|detail| GatewayError::Config {
                detail: format!("{origin}: {detail}"),
            })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Reads each password the configuration says is kept elsewhere.
    fn resolve_secrets(&mut self) -> Result<(), String> {
        for (name, r) in &mut self.registries {
            resolve(
                &mut r.sender_password,
                r.sender_password_env.as_deref(),
                r.sender_password_file.as_deref(),
                &format!("registries.{name}.sender_password"),
            )?;
        }
        for (id, route) in &mut self.channel.routes {
            resolve(
                &mut route.sender_password,
                route.sender_password_env.as_deref(),
                route.sender_password_file.as_deref(),
                &format!("channel.routes.\"{id}\".sender_password"),
            )?;
        }
        Ok(())
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Self, GatewayError> {
        let text = std::fs::read_to_string(path).map_err(|e| GatewayError::Config {
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.source = Some(path.to_path_buf());
        Ok(config)
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

    /// Checks every section once, at load: a configuration that loads is usable as typed values.
    fn validate(&self, origin: &str) -> Result<(), GatewayError> {
        [
            self.validate_server(),
            self.validate_registries(),
            self.validate_channel(),
            self.validate_rate_limits(),
            self.validate_methods(),
            self.validate_journal(),
            self.validate_trust(),
        ]
        .into_iter()
        .collect::<Result<(), String>>()
        .map_err(|detail| GatewayError::Config {
            detail: format!("{origin}: {detail}"),
        })
    }

    /// `[server]`: a message limit that lets a request through.
    fn validate_server(&self) -> Result<(), String> {
        if self.server.max_message_bytes < 1024 {
            return Err("server.max_message_bytes must be at least 1024".into());
        }
        Ok(())
    }

    /// `[registries.*]`: one section per routed registry, usable URLs, timings and resilience.
    fn validate_registries(&self) -> Result<(), String> {
        for id in RegistryId::ALL {
            if !self.registries.contains_key(id.name()) {
                return Err(format!(
                    "[registries.{}] is missing; every routed registry needs a section",
                    id.name()
                ));
            }
        }
        for (name, r) in &self.registries {
            if RegistryId::from_name(name).is_none() {
                return Err(format!(
                    "[registries.{name}] is not a known registry (known: {})",
                    RegistryId::ALL.map(RegistryId::name).join(", ")
                ));
            }
            if !matches!(r.url.scheme(), "http" | "https") {
                return Err(format!("registries.{name}.url must be http or https"));
            }
            for (key, v) in [
                ("deadline_ms", r.deadline_ms),
                ("connect_timeout_ms", r.connect_timeout_ms),
                ("request_timeout_ms", r.request_timeout_ms),
                ("health_interval_ms", r.health_interval_ms),
                (
                    "resilience.breaker_window_ms",
                    r.resilience.breaker_window_ms,
                ),
                ("resilience.breaker_open_ms", r.resilience.breaker_open_ms),
                (
                    "resilience.retry_backoff_max_ms",
                    r.resilience.retry_backoff_max_ms,
                ),
                (
                    "resilience.max_concurrency",
                    r.resilience.max_concurrency as u64,
                ),
                (
                    "resilience.breaker_half_open_probes",
                    u64::from(r.resilience.breaker_half_open_probes),
                ),
            ] {
                if v == 0 {
                    return Err(format!("registries.{name}.{key} must be above 0"));
                }
            }
            let res = &r.resilience;
            if !(0.0..=1.0).contains(&res.breaker_failure_ratio) || res.breaker_failure_ratio == 0.0
            {
                return Err(format!(
                    "registries.{name}.resilience.breaker_failure_ratio must be above 0 and at most 1"
                ));
            }
            if !(0.0..=1000.0).contains(&res.retry_budget_percent) {
                return Err(format!(
                    "registries.{name}.resilience.retry_budget_percent must be between 0 and 1000"
                ));
            }
            if res.retry_backoff_ms > res.retry_backoff_max_ms {
                return Err(format!(
                    "registries.{name}.resilience.retry_backoff_ms must not exceed retry_backoff_max_ms"
                ));
            }
        }
        Ok(())
    }

    /// `[channel]`: the worker's backoff; `[channel.routes]`: service ids, gRPC method names,
    /// deadlines.
    fn validate_channel(&self) -> Result<(), String> {
        let c = &self.channel;
        if c.retry_min.is_zero() || c.retry_min > c.retry_max {
            return Err(
                "channel.retry_min must be above 0 and not exceed channel.retry_max".into(),
            );
        }
        for (id, route) in &self.channel.routes {
            if id.is_empty() || id.len() > 128 {
                return Err(format!(
                    "channel.routes: service id {id:?} must be 1 to 128 characters"
                ));
            }
            if route.protocol == ChannelProtocol::Grpc
                && !route
                    .grpc_method
                    .as_deref()
                    .is_some_and(|m| m.starts_with('/') && m[1..].contains('/'))
            {
                return Err(format!(
                    "channel.routes.\"{id}\".grpc_method: a gRPC route names its method as /package.Service/Method"
                ));
            }
            if route.deadline_ms == 0 {
                return Err(format!(
                    "channel.routes.\"{id}\".deadline_ms must be above 0"
                ));
            }
        }
        Ok(())
    }

    /// `[rate_limits]`: rates above zero.
    fn validate_rate_limits(&self) -> Result<(), String> {
        for (client, rate) in std::iter::once(("default", &self.rate_limits.default)).chain(
            self.rate_limits
                .clients
                .iter()
                .map(|(k, v)| (k.as_str(), v)),
        ) {
            if rate.per_second == 0 || rate.burst == 0 {
                return Err(format!(
                    "rate_limits for {client}: per_second and burst must be above 0"
                ));
            }
        }
        Ok(())
    }

    /// `[access]`, `[journal.bodies]`, `[signatures]`: every method named is one the protos declare.
    fn validate_methods(&self) -> Result<(), String> {
        let methods = kopir_core::methods::ALL;
        let known = |m: &str| {
            methods.contains(&m)
                || m.strip_suffix("/*")
                    .is_some_and(|svc| methods.iter().any(|k| k.starts_with(&format!("{svc}/"))))
        };
        for (bin, entry) in &self.access {
            kopir_core::identifiers::Bin::parse(bin)
                .map_err(|e| format!("access.\"{bin}\": not a BIN: {e}"))?;
            for m in &entry.allow {
                if !known(m) {
                    return Err(format!(
                        "access.\"{bin}\".allow: unknown method {m:?} (known: {})",
                        methods.join(", ")
                    ));
                }
            }
        }
        for (bin, entry) in &self.access {
            for m in entry.lawful.iter().flat_map(|l| &l.methods) {
                if !known(m) {
                    return Err(format!("access.\"{bin}\".lawful: unknown method {m:?}"));
                }
            }
        }
        for m in self.journal.bodies.keys() {
            if !known(m) {
                return Err(format!("journal.bodies: unknown method {m:?}"));
            }
        }
        for m in self.signatures.keys() {
            if !methods.iter().any(|k| k == m) {
                return Err(format!("signatures: unknown method {m:?}"));
            }
        }
        Ok(())
    }

    /// `[journal]`: a PostgreSQL backend needs its URL.
    fn validate_journal(&self) -> Result<(), String> {
        if self.journal.backend == JournalBackend::Postgres && self.journal.url.is_none() {
            return Err("journal.url is required with journal.backend = \"postgres\"".into());
        }
        Ok(())
    }

    /// `[trust]` with `[server]`: TLS material unless in plaintext mode; the seal certificate with its key.
    fn validate_trust(&self) -> Result<(), String> {
        if !self.server.plaintext
            && (self.trust.tls_cert.is_none()
                || self.trust.tls_key.is_none()
                || self.trust.roots.is_empty())
        {
            return Err(
                "TLS needs trust.tls_cert, trust.tls_key and at least one trust.roots file; \
                 set server.plaintext = true only for development"
                    .into(),
            );
        }
        if self.trust.seal_cert.is_some() != self.trust.seal_key.is_some() {
            return Err("trust.seal_cert and trust.seal_key go together".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded file with the persons registry's password line replaced by `line`.
    fn with_password(line: &str) -> Result<Config, GatewayError> {
        let text = EMBEDDED.replacen("sender_password = \"demo-password\"", line, 1);
        assert_ne!(
            text, EMBEDDED,
            "the embedded config writes the demo password"
        );
        Config::parse(&text, "test")
    }

    #[test]
    fn a_password_comes_from_the_environment_or_a_file_and_is_never_printed() {
        let persons = |c: &Config| {
            c.registry(RegistryId::Persons)
                .unwrap()
                .sender_password
                .clone()
        };
        // Only this test sets this variable, so the parallel tests do not race on it.
        std::env::set_var("KOPIR_TEST_PERSONS_PASSWORD", "from-the-environment");
        let c = with_password("sender_password_env = \"KOPIR_TEST_PERSONS_PASSWORD\"").unwrap();
        assert_eq!(persons(&c).expose(), "from-the-environment");
        let debug = format!("{:?}", c.registry(RegistryId::Persons).unwrap());
        assert!(!debug.contains("from-the-environment"), "{debug}");
        assert_eq!(format!("{:?}", persons(&c)), "Secret(<redacted>)");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("persons.password");
        std::fs::write(&file, "from-a-file\n").unwrap();
        let c = with_password(&format!(
            "sender_password_file = {:?}",
            file.display().to_string()
        ))
        .unwrap();
        assert_eq!(
            persons(&c).expose(),
            "from-a-file",
            "the newline is dropped"
        );

        let e = with_password("sender_password_env = \"KOPIR_TEST_UNSET_VARIABLE\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("KOPIR_TEST_UNSET_VARIABLE is not set"), "{e}");
        let e = with_password(
            "sender_password = \"s3cr3t-value\"\nsender_password_env = \"KOPIR_TEST_PERSONS_PASSWORD\"",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("keep one") && !e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn embedded_config_is_valid() {
        let c = Config::embedded().unwrap();
        // Left out of the file: the regulations' 1.5 minutes.
        assert_eq!(c.registry(RegistryId::Persons).unwrap().deadline_ms, 90_000);
        assert_eq!(
            c.registry(RegistryId::LegalEntities)
                .unwrap()
                .resilience
                .max_queue,
            256
        );
        assert_eq!(c.rate_limits.clients["anonymous"].per_second, 200);
        assert!(!format!("{c:?}").contains("demo-password"));
    }

    #[test]
    fn typos_and_gaps_are_named() {
        let typo = EMBEDDED.replace("negative_ttl_s", "negativ_ttl_s");
        let err = Config::parse(&typo, "t").unwrap_err().to_string();
        assert!(err.contains("negativ_ttl_s"), "{err}");
        let zero = EMBEDDED.replacen("# deadline_ms = 90000", "deadline_ms = 0", 1);
        let err = Config::parse(&zero, "t").unwrap_err().to_string();
        assert!(err.contains("registries.persons.deadline_ms"), "{err}");
        let unknown = format!("{EMBEDDED}\n[registries.tax]\nprotocol = \"syncchannel\"\n");
        assert!(Config::parse(&unknown, "t").is_err());
    }
}
