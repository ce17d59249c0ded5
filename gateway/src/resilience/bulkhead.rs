//! A concurrency limit per registry with a bounded queue: up to `max_concurrency` calls in
//! flight, up to `max_queue` waiting for a slot, and anything beyond shed at once with
//! RESOURCE_EXHAUSTED. tower's `ConcurrencyLimit` queues without bound and `LoadShed` allows no
//! queue at all; this sits between them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

use crate::error::GatewayError;
use crate::pipeline::{BoxFuture, GatewayRequest};

/// One registry's limit, shared by every call to it.
#[derive(Clone)]
pub struct Bulkhead {
    registry: &'static str,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_concurrency: usize,
    max_queue: usize,
}

/// Leaves the queue when dropped, whether the call got its slot or was abandoned waiting.
struct InQueue(Arc<AtomicUsize>);

impl Drop for InQueue {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Bulkhead {
    /// A limit of `max_concurrency` in flight and `max_queue` waiting.
    pub fn new(registry: &'static str, max_concurrency: usize, max_queue: usize) -> Self {
        Self {
            registry,
            slots: Arc::new(Semaphore::new(max_concurrency)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_concurrency,
            max_queue,
        }
    }

    fn shed(&self) -> GatewayError {
        GatewayError::Shed {
            registry: self.registry.to_string(),
            max_concurrency: self.max_concurrency,
            max_queue: self.max_queue,
        }
    }
}

impl<S> Layer<S> for Bulkhead {
    type Service = BulkheadService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService {
            bulkhead: self.clone(),
            inner,
        }
    }
}

/// The service a [`Bulkhead`] makes.
#[derive(Clone)]
pub struct BulkheadService<S> {
    bulkhead: Bulkhead,
    inner: S,
}

impl<S, R> Service<GatewayRequest> for BulkheadService<S>
where
    S: Service<GatewayRequest, Response = R, Error = GatewayError> + Clone + Send + 'static,
    S::Future: Send,
    R: Send + 'static,
{
    type Response = R;
    type Error = GatewayError;
    type Future = BoxFuture<Result<R, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: GatewayRequest) -> Self::Future {
        let b = self.bulkhead.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let permit = match b.slots.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    if b.waiting.fetch_add(1, Ordering::AcqRel) >= b.max_queue {
                        b.waiting.fetch_sub(1, Ordering::AcqRel);
                        return Err(b.shed());
                    }
                    let queued = InQueue(b.waiting.clone());
                    let p = b
                        .slots
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(|_| b.shed())?;
                    drop(queued);
                    p
                }
            };
            let result = inner.oneshot(req).await;
            drop(permit);
            result
        })
    }
}
