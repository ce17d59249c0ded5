//! The request pipeline of DESIGN.md, as tower layers written once for every method:
//!
//! identify → metrics → journal → authorize → rate limit → deadline → signatures → consent →
//! cache → route
//!
//! The gRPC services translate their messages into a [`GatewayRequest`] and call the pipeline;
//! everything cross-cutting happens here.

pub mod cache;
pub mod check;
pub mod consent;
pub mod deadline;
pub mod journal;
pub mod local;
pub mod measure;
pub mod rate_limit;
pub mod stage;
pub mod stages;

use std::sync::Arc;

use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use crate::access::AccessControl;
use crate::config::Config;
use crate::error::GatewayError;
use crate::routing::Router;
use kopir_trust::Trust;

pub use crate::call::{
    CallContext, GatewayRequest, Operation, Record, RegistrySummary, Reply, Trail, TrailNotes,
};

/// The future every pipeline service returns.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The assembled pipeline, cheap to clone and shareable between tasks.
pub type Pipeline = BoxCloneSyncService<GatewayRequest, Reply, GatewayError>;

/// What the journal, consent and metrics stages share.
#[derive(Clone)]
pub struct AuditStages {
    /// Call counts and latencies.
    pub metrics: crate::metrics::Metrics,
    /// The journal, when one is configured.
    pub journal: Option<kopir_store::journal::Journal>,
    /// Which bodies the journal keeps.
    pub bodies: kopir_store::journal::retention::Policies,
}

/// What the trust stages share: the trust store and the swappable access policy.
#[derive(Debug, Clone)]
pub struct TrustStages {
    /// Roots, CRLs, chain cache.
    pub trust: Arc<Trust>,
    /// Access list and signer rules.
    pub access: AccessControl,
    /// Request documents already taken.
    pub replay: kopir_store::replay::Replay,
    /// The citizens' consent tokens obtained, and the key they are bound to.
    pub tokens: consent::Tokens,
}

/// Assembles the pipeline over a router, in DESIGN.md's order.
pub fn build(
    config: &Config,
    trust: TrustStages,
    audit: AuditStages,
    router: Router,
    caches: cache::Caches,
    services: local::Services,
) -> Pipeline {
    // The journal stage sits right after identify, not after consent as DESIGN.md first drew it,
    // so refusals (access list, signatures, consent) are journaled with the client who tried.
    let stack = ServiceBuilder::new()
        .layer(check::layer(stages::Identify {
            trust: trust.trust.clone(),
            plaintext: config.server.plaintext,
        }))
        .layer(stage::StageLayer::new(measure::Measure {
            metrics: audit.metrics.clone(),
        }))
        .layer(stage::StageLayer::new(journal::JournalStage {
            journal: audit.journal.clone(),
            bodies: audit.bodies.clone(),
        }))
        .layer(check::layer(stages::RefuseInvalid))
        .layer(check::layer(stages::Authorize {
            access: trust.access.clone(),
        }))
        .layer(check::layer(rate_limit::RateLimit::new(
            &config.rate_limits,
        )))
        .layer(stage::StageLayer::new(deadline::Deadline::new(config)))
        .layer(check::layer(stages::VerifySignatures {
            trust: trust.trust,
            access: trust.access.clone(),
            replay: trust.replay,
        }))
        .layer(check::layer(consent::Consent {
            access: trust.access.clone(),
            store: audit.journal.as_ref().map(|j| j.store().clone()),
            router: router.clone(),
            tokens: trust.tokens,
        }))
        .layer(stage::StageLayer::new(cache::Cache::new(caches)))
        .service(local::dispatch(router, audit.journal, services));
    BoxCloneSyncService::new(stack)
}
