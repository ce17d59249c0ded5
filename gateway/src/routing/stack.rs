//! The one stack every outbound call to a registry or a routed service runs through: deadline
//! (for routes that have their own) → concurrency limit (bounded queue) → retry (idempotent
//! operations only, budgeted, none started past the call's due time) → each attempt ended at the
//! call's due time → circuit breaker (slow calls count) → the call. Typed registries and the generic
//! channel's routes are both built here.

use kopir_resilience::breaker::Breaker;
use kopir_resilience::bulkhead::Bulkhead;
use kopir_resilience::deadline::Deadline;
use kopir_resilience::retry::RetryPolicy;
use kopir_resilience::ResilienceConfig;
use tower::retry::RetryLayer;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder};

use crate::call::{GatewayRequest, Reply};
use crate::error::GatewayError;

/// A protected route, cheap to clone.
pub type Route = BoxCloneSyncService<GatewayRequest, Reply, GatewayError>;

/// `call` behind `name`'s concurrency limit, retries and `breaker` (kept by the caller, whose
/// state operators read), all within `deadline` when the route has one.
pub fn protect<S>(
    name: &str,
    res: &ResilienceConfig,
    breaker: Breaker,
    deadline: Option<Deadline>,
    call: S,
) -> Result<Route, GatewayError>
where
    S: Service<GatewayRequest, Response = Reply, Error = GatewayError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    Ok(BoxCloneSyncService::new(
        ServiceBuilder::new()
            .option_layer(deadline)
            .layer(Bulkhead::new(name, res.max_concurrency, res.max_queue))
            .layer(RetryLayer::new(RetryPolicy::new(res)?))
            .layer(Deadline::due(name))
            .layer(breaker)
            .service(call),
    ))
}
