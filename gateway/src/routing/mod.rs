//! Routing: which registry answers an operation, and the one protected route to each.
//!
//! A registry is plugged in as one value ([`RegistryRoute`], a module each below) that answers
//! its operations through its adapter and probes its health; [`stack::protect`] wraps every
//! route, the generic channel's included, in the same middleware (concurrency limit → retry →
//! circuit breaker), so every outbound registry call is seen by the breaker, retries, metrics and
//! health.

pub mod cadastre;
pub mod kdp;
pub mod legal_entities;
pub mod notary;
pub mod payments;
pub mod persons;
pub mod stack;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kopir_adapters::syncchannel::Endpoint;
use kopir_adapters::{AdapterError, Registry};
use kopir_core::registry::{RegistryOp, RegistryRecord};
use kopir_resilience::breaker::{Breaker, BreakerState};
use tower::{service_fn, ServiceExt};
use tracing::Instrument;

use crate::call::{GatewayRequest, Operation, Record, Reply};
use crate::config::{Config, Protocol, RegistryConfig};
use crate::error::GatewayError;
use crate::health::RegistryHealth;
use crate::metrics::Metrics;

pub use kopir_core::registry::RegistryId;
pub use stack::Route;

/// One registry as the gateway plugs it in: the operations it answers, through its adapter, and
/// its health probe. Each registry module builds a [`Plug`] of its adapter; adding an operation
/// to a registry is one arm in its module's [`Answers`].
#[async_trait::async_trait]
pub trait RegistryRoute: Send + Sync + 'static {
    /// Which registry.
    fn id(&self) -> RegistryId;
    /// Answers `op` through the adapter; `None` when this registry does not answer it.
    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>>;
    /// The adapter, whose `ping` is the registry's health probe.
    fn probe(&self) -> Arc<dyn Registry>;
}

/// What a registry's adapter answers of the gateway's operations: one implementation per
/// registry module, one arm per operation.
#[async_trait::async_trait]
pub trait Answers: Registry {
    /// The record for `op`; `None` when this registry does not answer it.
    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>>;
}

/// A registry's adapter under its id: the plug-in every registry module builds.
pub struct Plug<A> {
    id: RegistryId,
    adapter: Arc<A>,
}

impl<A> Plug<A> {
    /// `adapter` as registry `id`'s plug-in.
    pub fn new(id: RegistryId, adapter: A) -> Self {
        Self {
            id,
            adapter: Arc::new(adapter),
        }
    }
}

#[async_trait::async_trait]
impl<A: Answers> RegistryRoute for Plug<A> {
    fn id(&self) -> RegistryId {
        self.id
    }

    async fn answer(
        &self,
        op: &RegistryOp,
        correlation_id: &str,
    ) -> Option<Result<RegistryRecord, AdapterError>> {
        self.adapter.answer(op, correlation_id).await
    }

    fn probe(&self) -> Arc<dyn Registry> {
        self.adapter.clone()
    }
}

/// Every registry, built from the configuration: one plug-in each; `trust` checks the
/// signatures of SyncChannel replies.
pub fn registries(
    config: &Config,
    trust: &Arc<kopir_trust::Trust>,
) -> Result<Vec<Arc<dyn RegistryRoute>>, GatewayError> {
    Ok(vec![
        Arc::new(persons::plug(config, trust)?),
        Arc::new(legal_entities::plug(config, trust)?),
        Arc::new(notary::plug(config)?),
        Arc::new(cadastre::plug(config)?),
        Arc::new(payments::plug(config)?),
        Arc::new(kdp::plug(config)?),
    ])
}

/// The adapters' endpoint settings of a registry.
pub(crate) fn endpoint(r: &RegistryConfig) -> Endpoint {
    Endpoint {
        url: r.url.clone(),
        sender_id: r.sender_id.clone(),
        sender_password: r.sender_password.expose().to_string(),
        connect_timeout: Duration::from_millis(r.connect_timeout_ms),
        request_timeout: Duration::from_millis(r.request_timeout_ms),
        pool_max_idle: r.pool_max_idle,
        wire: kopir_adapters::syncchannel::Wire::default(),
    }
}

/// The endpoint of a SyncChannel registry: [`endpoint`] with its envelope settings and
/// WS-Security.
pub(crate) fn syncchannel_endpoint(
    id: RegistryId,
    r: &RegistryConfig,
    trust: &Arc<kopir_trust::Trust>,
) -> Result<Endpoint, GatewayError> {
    let mut ep = endpoint(r);
    ep.wire = wire::wire(
        &format!("registries.{}", id.name()),
        &r.syncchannel,
        r.wsse.as_ref(),
        trust,
    )?;
    Ok(ep)
}

/// `id`'s configuration, refused unless it speaks `protocol`.
pub(crate) fn configured(
    config: &Config,
    id: RegistryId,
    protocol: Protocol,
) -> Result<&RegistryConfig, GatewayError> {
    let r = config.registry(id)?;
    if r.protocol == protocol {
        Ok(r)
    } else {
        Err(GatewayError::Config {
            detail: format!(
                "registries.{}.protocol: this registry speaks {protocol:?}, not {:?}",
                id.name(),
                r.protocol
            ),
        })
    }
}

/// "The registry holds no such record", for lookups whose adapter answers `None`.
pub(crate) fn not_found(registry: RegistryId, what: &str) -> AdapterError {
    AdapterError::NotFound {
        registry: registry.name().into(),
        what: what.into(),
    }
}

/// The innermost step of a route: asks the registry's plug-in and reports the outcome to the
/// registry's health and metrics.
async fn call(
    registry: Arc<dyn RegistryRoute>,
    health: RegistryHealth,
    metrics: Metrics,
    req: GatewayRequest,
) -> Result<Reply, GatewayError> {
    let id = registry.id();
    let span = tracing::info_span!("adapter", registry = id.name());
    async move {
        let started = std::time::Instant::now();
        let answered = match &req.op {
            Operation::Registry(op) => registry.answer(op, &req.ctx.request_id).await,
            _ => None,
        };
        let result = answered.unwrap_or_else(|| {
            Err(AdapterError::Config {
                registry: id.name().into(),
                detail: "no adapter call for this operation".into(),
            })
        });
        req.ctx.trail.registry(id.name(), started.elapsed());
        metrics.registry_call(id, result.is_ok(), started.elapsed());
        health.observe(id, result.as_ref().map(|_| ())).await;
        Ok(Reply {
            record: Arc::new(Record::Registry(result?)),
            from_cache: false,
            stale: false,
        })
    }
    .instrument(span)
    .await
}

/// Routes each operation to its registry through that registry's protected route.
#[derive(Clone)]
pub struct Router {
    routes: Arc<HashMap<RegistryId, Route>>,
    breakers: Arc<HashMap<RegistryId, Breaker>>,
}

impl Router {
    /// Builds each registry's route from its configuration.
    pub fn new(
        registries: &[Arc<dyn RegistryRoute>],
        health: RegistryHealth,
        metrics: Metrics,
        config: &Config,
    ) -> Result<Self, GatewayError> {
        let mut routes = HashMap::new();
        let mut breakers = HashMap::new();
        for registry in registries {
            let id = registry.id();
            let res = config.registry(id)?.resilience;
            let breaker = Breaker::new(id.name(), &res);
            let (r, h, m) = (registry.clone(), health.clone(), metrics.clone());
            let route = stack::protect(
                id.name(),
                &res,
                breaker.clone(),
                None,
                service_fn(move |req| call(r.clone(), h.clone(), m.clone(), req)),
            )?;
            routes.insert(id, route);
            breakers.insert(id, breaker);
        }
        Ok(Self {
            routes: Arc::new(routes),
            breakers: Arc::new(breakers),
        })
    }

    /// The state of a registry's circuit breaker.
    pub fn breaker_state(&self, id: RegistryId) -> Option<BreakerState> {
        self.breakers.get(&id).map(Breaker::state)
    }

    /// Calls the route of the request's registry.
    pub async fn route(&self, req: GatewayRequest) -> Result<Reply, GatewayError> {
        match req.op.registry().and_then(|r| self.routes.get(&r)).cloned() {
            Some(route) => route.oneshot(req).await,
            None => Err(GatewayError::Config {
                detail: "no route for this operation".into(),
            }),
        }
    }

    /// The router as the pipeline's innermost service.
    pub fn into_service(self) -> Route {
        tower::util::BoxCloneSyncService::new(service_fn(move |req| {
            let router = self.clone();
            async move { router.route(req).await }
        }))
    }
}

/// The breakers' states, read at each scrape (`breaker_state`).
fn encode_breakers(
    state: &Router,
    encoder: &mut prometheus_client::encoding::DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric;

    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::metrics::MetricType;
    let name = |id: RegistryId| id.name().to_string();
    {
        let mut family = encoder.encode_descriptor(
            "breaker_state",
            "Circuit breaker per registry: 0 closed, 1 half-open, 2 open",
            None,
            MetricType::Gauge,
        )?;
        for id in RegistryId::ALL {
            if let Some(state) = state.breaker_state(id) {
                let v: i64 = match state {
                    kopir_resilience::breaker::BreakerState::Closed => 0,
                    kopir_resilience::breaker::BreakerState::HalfOpen => 1,
                    kopir_resilience::breaker::BreakerState::Open => 2,
                };
                ConstGauge::new(v).encode(family.encode_family(&[("registry", name(id))])?)?;
            }
        }
    }
    Ok(())
}

impl Router {
    /// Its Prometheus collector.
    pub fn collector(&self) -> crate::metrics::Scraped<Router> {
        crate::metrics::Scraped::new("breakers", self.clone(), encode_breakers)
    }
}
