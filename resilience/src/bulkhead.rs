//! A concurrency limit per registry with a bounded queue: up to `max_concurrency` calls in
//! flight, up to `max_queue` waiting for a slot, and anything beyond shed at once with
//! RESOURCE_EXHAUSTED. tower's `ConcurrencyLimit` queues without bound and `LoadShed` allows no
//! queue at all; this sits between them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

use crate::{BoxFuture, Refusal};

/// One service's limit, shared by every call to it; as a [`Layer`], it guards the service.
#[derive(Clone)]
pub struct Bulkhead {
    registry: Arc<str>,
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
    pub fn new(registry: impl Into<Arc<str>>, max_concurrency: usize, max_queue: usize) -> Self {
        Self {
            registry: registry.into(),
            slots: Arc::new(Semaphore::new(max_concurrency)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_concurrency,
            max_queue,
        }
    }

    fn shed(&self) -> Refusal {
        Refusal::Shed {
            name: self.registry.to_string(),
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

/// A service behind a [`Bulkhead`].
#[derive(Clone)]
pub struct BulkheadService<S> {
    bulkhead: Bulkhead,
    inner: S,
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: From<Refusal> + Send + 'static,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is the slot, taken per call inside the future.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let b = self.bulkhead.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let _permit = match b.slots.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    if b.waiting.fetch_add(1, Ordering::AcqRel) >= b.max_queue {
                        b.waiting.fetch_sub(1, Ordering::AcqRel);
                        return Err(b.shed().into());
                    }
                    let _queued = InQueue(b.waiting.clone());
                    b.slots
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(|_| b.shed())?
                }
            };
            inner.oneshot(req).await
        })
    }
}
