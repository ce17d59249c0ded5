//! The request pipeline of DESIGN.md, as tower layers written once for every method:
//!
//! identify → authorize → rate limit → deadline → signatures → consent → journal → cache → route
//!
//! The gRPC services translate their messages into a [`GatewayRequest`] and call the pipeline;
//! everything cross-cutting happens here.

pub mod cache;
pub mod check;
pub mod deadline;
pub mod rate_limit;
pub mod stage;
pub mod stages;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kopir_adapters::identifiers::{Bin, Iin};
use kopir_adapters::model::{Fetched, LegalEntity, Person};
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use crate::access::AccessControl;
use crate::config::Config;
use crate::error::GatewayError;
use crate::routing::{RegistryId, Router};
use crate::trust::document::{SignedDocument, Signers};
use crate::trust::Trust;
use rustls_pki_types::CertificateDer;

/// Who is calling, why, and under which ids; filled at the edge and by the identify stage.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The request id (client's or assigned).
    pub request_id: String,
    /// The business-process id.
    pub correlation_id: String,
    /// The requesting organisation's BIN as the request states it, if any.
    pub requester_bin: Option<Bin>,
    /// The client as identified by the identify stage.
    pub client: String,
    /// Stated purpose.
    pub purpose: String,
    /// Full gRPC method name, e.g. `kopir.v1.IdentityService/GetPerson`.
    pub method: &'static str,
    /// The client's own deadline (grpc-timeout), if it sent one.
    pub client_timeout: Option<Duration>,
    /// When the gateway received the request.
    pub received_at: DateTime<Utc>,
    /// The certificate chain the client presented in the TLS handshake (leaf first).
    pub peer_chain: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// The calling organisation, as identified (client certificate, or metadata in plaintext mode).
    pub client_bin: Option<Bin>,
    /// The signed request document, when the request carries one.
    pub signed: Option<Arc<SignedDocument>>,
    /// The verified signers (set by the signature stage).
    pub signers: Option<Arc<Signers>>,
}

/// What the caller wants done, in the gateway's terms.
#[derive(Debug, Clone)]
pub enum Operation {
    /// A person's record.
    Person(Iin),
    /// A legal entity's record.
    LegalEntity(Bin),
}

impl Operation {
    /// Whether repeating the operation has the effect of doing it once: every lookup is; the
    /// writes to come (pledge submissions) are not, and are never retried.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Self::Person(_) | Self::LegalEntity(_) => true,
        }
    }

    /// The registry that answers this operation.
    pub fn registry(&self) -> RegistryId {
        match self {
            Self::Person(_) => RegistryId::Persons,
            Self::LegalEntity(_) => RegistryId::LegalEntities,
        }
    }

    /// The identifier the request is about, masked for logs.
    pub fn subject_masked(&self) -> String {
        match self {
            Self::Person(iin) => iin.masked(),
            Self::LegalEntity(bin) => bin.masked(),
        }
    }

    /// The cache key: what the registry is asked, not who asks. Access checks run before the
    /// cache, so sharing entries between clients leaks nothing a client may not read anyway.
    pub fn cache_key(&self) -> String {
        match self {
            Self::Person(iin) => iin.as_str().to_string(),
            Self::LegalEntity(bin) => bin.as_str().to_string(),
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

/// A registry record. Always held in an `Arc` (see [`Reply`]), so the variants' sizes do not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// From the persons database.
    Person(Fetched<Person>),
    /// From the legal-entities database.
    LegalEntity(Fetched<LegalEntity>),
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

/// The future every pipeline service returns.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The assembled pipeline, cheap to clone and shareable between tasks.
pub type Pipeline = BoxCloneSyncService<GatewayRequest, Reply, GatewayError>;

/// What the trust stages share: the trust store and the swappable access policy.
#[derive(Debug, Clone)]
pub struct TrustStages {
    /// Roots, CRLs, chain cache.
    pub trust: Arc<Trust>,
    /// Access list and signer rules.
    pub access: AccessControl,
}

/// Assembles the pipeline over a router, in DESIGN.md's order.
pub fn build(
    config: &Config,
    trust: TrustStages,
    router: Router,
    caches: cache::Caches,
) -> Pipeline {
    let stack = ServiceBuilder::new()
        .layer(check::layer(stages::Identify {
            trust: trust.trust.clone(),
            plaintext: config.server.plaintext,
        }))
        .layer(check::layer(stages::Authorize {
            access: trust.access.clone(),
        }))
        .layer(check::layer(rate_limit::RateLimit::new(
            &config.rate_limits,
        )))
        .layer(stage::StageLayer::new(deadline::Deadline::new(config)))
        .layer(check::layer(stages::VerifySignatures {
            trust: trust.trust,
            access: trust.access,
        }))
        .layer(check::layer(stages::Consent))
        .layer(check::layer(stages::Journal))
        .layer(stage::StageLayer::new(cache::Cache::new(caches)))
        .service(router.into_service());
    BoxCloneSyncService::new(stack)
}
