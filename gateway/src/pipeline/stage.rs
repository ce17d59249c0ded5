//! The one shape of every pipeline stage: given a request and the rest of the pipeline, do
//! something around the call (refuse, time, cache, limit, count). [`StageLayer`] turns a stage
//! into a tower layer, so each stage is written as its logic alone.

use std::future::Future;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::{BoxFuture, GatewayRequest, Reply};
use crate::error::GatewayError;

/// A pipeline stage.
pub trait Stage: Clone + Send + Sync + 'static {
    /// Handles `req`, calling `inner` (the rest of the pipeline) when it should go on.
    fn call<S>(
        &self,
        req: GatewayRequest,
        inner: S,
    ) -> impl Future<Output = Result<Reply, GatewayError>> + Send
    where
        S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Send + 'static,
        S::Future: Send;
}

/// A [`Stage`] as a tower layer.
#[derive(Clone)]
pub struct StageLayer<T> {
    stage: T,
}

impl<T> StageLayer<T> {
    /// The layer of `stage`.
    pub fn new(stage: T) -> Self {
        Self { stage }
    }
}

impl<T: Clone, S> Layer<S> for StageLayer<T> {
    type Service = StageService<T, S>;
    fn layer(&self, inner: S) -> Self::Service {
        StageService {
            stage: self.stage.clone(),
            inner,
        }
    }
}

/// The service a [`StageLayer`] makes.
#[derive(Clone)]
pub struct StageService<T, S> {
    stage: T,
    inner: S,
}

impl<T, S> Service<GatewayRequest> for StageService<T, S>
where
    T: Stage,
    S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Reply;
    type Error = GatewayError;
    type Future = BoxFuture<Result<Reply, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Every stage drives its inner service with `oneshot` on a clone, which waits for
        // readiness per call, so one slow call never holds up the others.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: GatewayRequest) -> Self::Future {
        let stage = self.stage.clone();
        let inner = self.inner.clone();
        Box::pin(async move { stage.call(req, inner).await })
    }
}
