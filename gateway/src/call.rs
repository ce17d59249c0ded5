//! The call vocabulary every layer of the gateway speaks: who is calling and why
//! ([`CallContext`]), what they want done ([`Operation`]), and what comes back ([`Record`],
//! [`Reply`]). It imports no other module of the gateway, so the API, the pipeline, the routes,
//! the pledge desk and the channel all depend on it and not on each other.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kopir_core::identifiers::{Bin, Iin};
use kopir_core::principal::Principal;
use kopir_core::registry::{RegistryId, RegistryOp, RegistryRecord};
use kopir_trust::document::{SignedDocument, Signers};
use rustls_pki_types::CertificateDer;

use crate::error::GatewayError;

/// Who is calling, why, and under which ids; filled at the edge and by the identify stage.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The request id (client's or assigned).
    pub request_id: String,
    /// The business-process id.
    pub correlation_id: String,
    /// The requesting organisation's BIN as the request states it, if any.
    pub requester_bin: Option<Bin>,
    /// The client as identified by the identify stage (an organisation by its certificate's BIN,
    /// or in plaintext mode by `meta.requester_bin`; anonymous until then).
    pub client: Principal,
    /// Stated purpose.
    pub purpose: String,
    /// Full gRPC method name, e.g. `kopir.v1.IdentityService/GetPerson`.
    pub method: &'static str,
    /// When the client's own deadline (its grpc-timeout, counted from the request's arrival)
    /// runs out, if it sent one.
    pub client_deadline: Option<Instant>,
    /// When the gateway received the request.
    pub received_at: DateTime<Utc>,
    /// When every registry attempt for this call must have ended (set by the deadline stage a
    /// little before its own deadline, so a stale copy or the gateway's own refusal still goes
    /// out in time); unset for the gateway's own calls.
    pub registry_due: OnceLock<Instant>,
    /// The certificate chain the client presented in the TLS handshake (leaf first).
    pub peer_chain: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// The signed request document, when the request carries one.
    pub signed: Option<Arc<SignedDocument>>,
    /// The verified signers (set by the signature stage).
    pub signers: Option<Arc<Signers>>,
    /// What later stages learn about the call, for its journal record.
    pub trail: Arc<Trail>,
}

impl CallContext {
    /// The calling organisation's BIN, once identified.
    pub fn client_bin(&self) -> Option<&Bin> {
        self.client.bin()
    }

    /// The context of a call the gateway makes on its own (the pledge worker), under the request
    /// id of the submission it serves.
    pub fn internal(request_id: &str, method: &'static str) -> Self {
        Self {
            request_id: request_id.to_string(),
            correlation_id: request_id.to_string(),
            requester_bin: None,
            client: Principal::Gateway,
            purpose: String::new(),
            method,
            client_deadline: None,
            received_at: Utc::now(),
            registry_due: OnceLock::new(),
            peer_chain: None,
            signed: None,
            signers: None,
            trail: Arc::default(),
        }
    }
}

/// Facts later stages note for the journal stage, which wraps them: shared by every copy of the
/// call context.
#[derive(Debug, Default)]
pub struct Trail(std::sync::Mutex<TrailNotes>);

/// What a [`Trail`] holds.
#[derive(Debug, Default, Clone)]
pub struct TrailNotes {
    /// The person who signed the request (`iin:<IIN>`).
    pub actor: String,
    /// The registry called and the time it took.
    pub registry: Option<(&'static str, Duration)>,
    /// The legal basis of access to personal data.
    pub basis: String,
    /// The purpose the signed request document states (what its signer signed).
    pub signed_purpose: Option<String>,
}

impl Trail {
    fn with(&self, f: impl FnOnce(&mut TrailNotes)) {
        if let Ok(mut notes) = self.0.lock() {
            f(&mut notes);
        }
    }
    /// Notes the signer.
    pub fn actor(&self, actor: String) {
        self.with(|n| n.actor = actor);
    }
    /// Notes a registry call (the last attempt's registry; times add up over retries).
    pub fn registry(&self, name: &'static str, took: Duration) {
        self.with(|n| {
            let before = n.registry.map_or(Duration::ZERO, |(_, d)| d);
            n.registry = Some((name, before + took));
        });
    }
    /// Notes the basis on which personal data was read.
    pub fn basis(&self, basis: String) {
        self.with(|n| n.basis = basis);
    }
    /// Notes the purpose the signed document states.
    pub fn signed_purpose(&self, purpose: String) {
        self.with(|n| n.signed_purpose = Some(purpose));
    }
    /// What was noted.
    pub fn notes(&self) -> TrailNotes {
        self.0.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

/// What the caller wants done, in the gateway's terms.
#[derive(Debug, Clone)]
pub enum Operation {
    /// A registry operation, routed to the registry that answers it.
    Registry(RegistryOp),
    /// The reads of a person's data, from the journal (the person's access log).
    ListAccesses {
        /// Whose accesses.
        iin: Iin,
        /// Paging.
        page: kopir_store::journal::Query,
    },
    /// A journal search (operators).
    SearchJournal(kopir_store::journal::Query),
    /// A consent given through the portal, to store.
    GrantConsent(kopir_store::journal::ConsentRecord),
    /// A consent to withdraw.
    RevokeConsent {
        /// The person who gave it.
        subject: Iin,
        /// Its id.
        id: String,
    },
    /// Every registry's health, breaker and recent calls (operators).
    RegistryStatus {
        /// The window of the call figures.
        window: Duration,
    },
    /// Drops one key of a registry's cache, or all of it (operators).
    InvalidateCache {
        /// Whose cache.
        registry: RegistryId,
        /// The key; none drops everything.
        key: Option<String>,
    },
    /// Re-reads the configuration file (operators).
    ReloadConfig,
    /// Opens the live exchange stream; after the checks the API serves the stream itself.
    WatchExchanges,
    /// A bank's pledge contract to verify and accept into the outbox.
    SubmitPledge(Arc<kopir_core::pledge::Submission>),
    /// A contract's status, by the calling bank's contract number.
    PledgeStatus(String),
    /// An objection to a contract's preliminary refusal.
    Objection {
        /// The contract number.
        number: String,
        /// The objection's text.
        text: String,
    },
    /// The pledge outbox's backlog and waiting items (operators).
    ListOutbox {
        /// Only dead letters.
        only_dead: bool,
        /// Most items of each kind.
        limit: usize,
    },
    /// Puts failed outbox work back in line (operators): one submission's, or every dead letter.
    RedriveOutbox(Option<String>),
    /// A generic-channel message to deliver now and answer with the reply (Send).
    ChannelSend(Arc<kopir_core::channel::ChannelCall>),
    /// A generic-channel message to store and deliver later (Submit).
    ChannelSubmit(Arc<kopir_core::channel::ChannelCall>),
    /// Opens the caller's reply stream; after the checks the API serves the stream itself.
    ChannelReceive,
    /// Acknowledges the caller's replies by message id.
    ChannelAck(Vec<String>),
    /// One delivery to a routed service (inside the hub's route stack).
    ChannelDeliver(Arc<kopir_core::channel::ChannelCall>),
    /// A request the API could not read into an operation (a field missing or malformed): it
    /// still crosses identification, metrics and the journal, and is refused right after them.
    Invalid {
        /// The field's path in the request message.
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl Operation {
    /// Whether repeating the operation has the effect of doing it once: every lookup is; the
    /// writes to come (pledge submissions) are not, and are never retried.
    pub fn is_idempotent(&self) -> bool {
        !matches!(
            self,
            Self::GrantConsent(_)
                | Self::RevokeConsent { .. }
                | Self::SubmitPledge(_)
                | Self::Objection { .. }
                | Self::RedriveOutbox(_)
                | Self::ChannelSubmit(_)
                | Self::ChannelAck(_)
        ) && !matches!(self, Self::ChannelSend(c) | Self::ChannelDeliver(c) if !c.idempotent)
            && !matches!(self, Self::Registry(op) if !op.is_idempotent())
    }

    /// The registry that answers this operation; none for the gateway's own services.
    pub fn registry(&self) -> Option<RegistryId> {
        match self {
            Self::Registry(op) => Some(op.registry()),
            _ => None,
        }
    }

    /// The IIN or BIN the request is about, empty when none.
    pub fn subject(&self) -> &str {
        match self {
            Self::Registry(op) => op.subject(),
            Self::ListAccesses { iin, .. } => iin.as_str(),
            Self::RevokeConsent { subject, .. } => subject.as_str(),
            Self::GrantConsent(c) => &c.subject,
            Self::SearchJournal(q) => q.subject.as_deref().unwrap_or(""),
            Self::InvalidateCache { key, .. } => key.as_deref().unwrap_or(""),
            Self::PledgeStatus(number) | Self::Objection { number, .. } => number,
            Self::SubmitPledge(s) => &s.contract.number,
            Self::RedriveOutbox(id) => id.as_deref().unwrap_or(""),
            Self::ChannelSend(c) | Self::ChannelSubmit(c) | Self::ChannelDeliver(c) => {
                &c.service_id
            }
            Self::ChannelReceive | Self::ChannelAck(_) => "",
            Self::ListOutbox { .. } => "",
            Self::RegistryStatus { .. } | Self::ReloadConfig | Self::WatchExchanges => "",
            Self::Invalid { .. } => "",
        }
    }

    /// The identifier the request is about, masked for logs.
    pub fn subject_masked(&self) -> String {
        match self {
            Self::Registry(op) => op.subject_masked(),
            Self::ListAccesses { iin, .. } => iin.masked(),
            Self::RevokeConsent { subject, .. } => subject.masked(),
            Self::InvalidateCache { key: Some(k), .. } => kopir_core::identifiers::mask(k),
            _ => String::new(),
        }
    }

    /// The cache key: what the registry is asked, not who asks. Access checks run before the
    /// cache, so sharing entries between clients leaks nothing a client may not read anyway.
    /// None for what is never cached.
    pub fn cache_key(&self) -> Option<String> {
        match self {
            Self::Registry(op) => op.cache_key(),
            _ => None,
        }
    }
}

/// One request through the pipeline.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    /// Ids and caller; shared, so the retry layer's copy of a request costs a reference count.
    pub ctx: Arc<CallContext>,
    /// What to do.
    pub op: Operation,
}

impl kopir_resilience::Due for GatewayRequest {
    fn due(&self) -> Option<Instant> {
        self.ctx.registry_due.get().copied()
    }
}

impl kopir_resilience::Idempotent for GatewayRequest {
    fn is_idempotent(&self) -> bool {
        self.op.is_idempotent()
    }
}

/// A registry record. Always held in an `Arc` (see [`Reply`]), so the variants' sizes do not matter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// Journal records (a search, or a person's accesses).
    Journal {
        /// The page.
        records: Vec<kopir_store::journal::Record>,
        /// The cursor of the next page, when there is one.
        next: Option<i64>,
    },
    /// A stored consent.
    Consent(kopir_store::journal::ConsentRecord),
    /// Every registry's state.
    Registries(Vec<RegistrySummary>),
    /// A cache invalidated.
    Invalidated {
        /// Whose cache.
        registry: String,
        /// Whether all of it.
        all: bool,
    },
    /// The configuration re-read.
    Reloaded {
        /// Whether the access list or signature rules changed.
        changed: bool,
        /// The file.
        file: String,
    },
    /// A pledge contract's status.
    Pledge {
        /// The status.
        status: kopir_core::pledge::Status,
        /// True when a submission repeated one already accepted.
        duplicate: bool,
    },
    /// The pledge outbox as operators inspect it.
    Outbox {
        /// Backlog figures.
        backlog: kopir_core::pledge::Backlog,
        /// Waiting items.
        items: Vec<kopir_core::pledge::Item>,
    },
    /// Outbox rows re-driven.
    Redriven(u64),
    /// A routed service's reply (Send).
    Channel(kopir_core::channel::ChannelReply),
    /// A routed service's raw reply (inside the hub's route stack).
    ChannelIncoming(kopir_adapters::channel::Incoming),
    /// A stored message's receipt (Submit).
    ChannelSubmitted {
        /// The message id.
        message_id: String,
        /// When it was first accepted.
        accepted_at: DateTime<Utc>,
        /// True for a message id submitted before.
        duplicate: bool,
    },
    /// The identified client whose replies a Receive streams.
    ChannelClient(String),
    /// Replies acknowledged.
    ChannelAcked(u32),
    /// Done, nothing to return.
    Done,
    /// A registry's answer (serialized as the record itself, with no wrapper; serde wants
    /// untagged variants last).
    #[serde(untagged)]
    Registry(RegistryRecord),
}

/// One registry as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistrySummary {
    /// Config name.
    pub name: String,
    /// Whether its health probe passes.
    pub serving: bool,
    /// Its circuit breaker (serialized `closed`, `open` or `half-open`).
    pub breaker: kopir_resilience::breaker::BreakerState,
    /// Its calls over the window asked for.
    pub recent: Recent,
    /// Its cache's counters since start, when its cache is on.
    pub cache: Option<CacheStats>,
}

/// The pipeline's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The record, shared with the cache.
    pub record: Arc<Record>,
    /// True when served from the cache.
    pub from_cache: bool,
    /// True when the cached record is past its TTL and stood in for a registry that could not
    /// answer.
    pub stale: bool,
}

pub use kopir_metrics::Recent;

/// Hit and miss counts of one registry's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Answers that needed the registry.
    pub misses: u64,
    /// Entries held now (approximate, as moka counts them).
    pub entries: u64,
    /// Answers served stale because the registry could not answer.
    pub stale_served: u64,
    /// Entries dropped to make room.
    pub evictions: u64,
}

/// One of the gateway's own services that the pipeline's innermost step asks (the pledge desk,
/// the channel's hub): it answers the operations that are its own and leaves the others.
#[async_trait::async_trait]
pub trait OwnService: Send + Sync + 'static {
    /// The record for `req`, or `None` when the operation is not this service's.
    async fn answer(&self, req: &GatewayRequest) -> Result<Option<Record>, GatewayError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_idempotent_and_writes_never() {
        let number =
            kopir_core::identifiers::CadastralNumber::parse("21-320-000-101").expect("valid");
        assert!(Operation::Registry(RegistryOp::RealEstate(number)).is_idempotent());
        assert!(!Operation::Registry(RegistryOp::FileObjection {
            message_id: "m".into(),
            text: "t".into()
        })
        .is_idempotent());
        assert!(!Operation::RedriveOutbox(None).is_idempotent());
        assert!(!Operation::ChannelAck(vec![]).is_idempotent());
        let call = |idempotent| {
            Arc::new(kopir_core::channel::ChannelCall {
                service_id: "echo.v1".into(),
                message_id: "m".into(),
                payload: Vec::new(),
                content_type: String::new(),
                idempotent,
            })
        };
        assert!(Operation::ChannelSend(call(true)).is_idempotent());
        assert!(!Operation::ChannelSend(call(false)).is_idempotent());
        assert!(!Operation::ChannelSubmit(call(true)).is_idempotent());
    }

    #[test]
    fn registry_operations_name_their_registry() {
        let op = Operation::Registry(RegistryOp::PaymentChecks("C-1".into()));
        assert_eq!(op.registry(), Some(RegistryId::Payments));
        assert_eq!(Operation::ReloadConfig.registry(), None);
        assert_eq!(Operation::ReloadConfig.cache_key(), None);
    }

    #[test]
    fn a_registry_record_serializes_as_before_the_wrapper() {
        let record = Record::Registry(RegistryRecord::PaymentChecks(Vec::new()));
        let json = serde_json::to_string(&record).expect("serializes");
        assert_eq!(json, r#"{"PaymentChecks":[]}"#);
    }
}
