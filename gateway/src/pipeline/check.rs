//! A pipeline stage that looks at (and may annotate) a request before passing it on, or refuses
//! it: the shape of identify, authorize, rate limit, signature, consent and journal checks.

use std::future::Future;

use tower::{Service, ServiceExt};

use super::stage::{Stage, StageLayer};
use super::{GatewayRequest, Reply};
use crate::error::GatewayError;

/// One check on the way in.
pub trait Check: Clone + Send + Sync + 'static {
    /// Stage name for logs.
    const NAME: &'static str;
    /// Inspects or annotates the request; an error ends the call with that error.
    fn check(
        &self,
        req: &mut GatewayRequest,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;
}

/// A [`Check`] run as a stage.
#[derive(Clone)]
pub struct Checked<C>(C);

impl<C: Check> Stage for Checked<C> {
    async fn call<S>(&self, mut req: GatewayRequest, inner: S) -> Result<Reply, GatewayError>
    where
        S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Send + 'static,
        S::Future: Send,
    {
        use tracing::Instrument;
        // One span per check; `otel.name` names it in traces after the stage.
        let span = tracing::info_span!("stage", otel.name = C::NAME);
        if let Err(e) = self.0.check(&mut req).instrument(span).await {
            tracing::info!(stage = C::NAME, code = ?e.code(), "request refused");
            return Err(e);
        }
        inner.oneshot(req).await
    }
}

/// The layer of a check.
pub fn layer<C: Check>(check: C) -> StageLayer<Checked<C>> {
    StageLayer::new(Checked(check))
}
