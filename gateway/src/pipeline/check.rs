//! A pipeline stage that looks at (and may annotate) a request before passing it on, or refuses
//! it: the shape of identify, authorize, rate limit, signature, consent and journal checks.

use std::future::Future;
use std::task::{Context, Poll};

use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, GatewayRequest};
use crate::error::GatewayError;

/// One check on the way in.
pub trait Check: Clone + Send + Sync + 'static {
    /// Stage name for spans.
    const NAME: &'static str;
    /// Inspects or annotates the request; an error ends the call with that error.
    fn check(
        &self,
        req: &mut GatewayRequest,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;
}

/// Wraps a service with a [`Check`].
#[derive(Clone)]
pub struct CheckLayer<C> {
    check: C,
}

impl<C> CheckLayer<C> {
    /// A layer running `check` before the inner service.
    pub fn new(check: C) -> Self {
        Self { check }
    }
}

impl<C: Clone, S> Layer<S> for CheckLayer<C> {
    type Service = CheckService<C, S>;
    fn layer(&self, inner: S) -> Self::Service {
        CheckService {
            check: self.check.clone(),
            inner,
        }
    }
}

/// The service a [`CheckLayer`] makes.
#[derive(Clone)]
pub struct CheckService<C, S> {
    check: C,
    inner: S,
}

impl<C, S, R> Service<GatewayRequest> for CheckService<C, S>
where
    C: Check,
    S: Service<GatewayRequest, Response = R, Error = GatewayError> + Clone + Send + 'static,
    S::Future: Send,
    R: Send + 'static,
{
    type Response = R;
    type Error = GatewayError;
    type Future = BoxFuture<Result<R, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is taken per call on a clone (below), so one slow call never blocks others.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: GatewayRequest) -> Self::Future {
        let check = self.check.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            if let Err(e) = check.check(&mut req).await {
                tracing::info!(stage = C::NAME, code = ?e.code(), "request refused");
                return Err(e);
            }
            inner.oneshot(req).await
        })
    }
}
