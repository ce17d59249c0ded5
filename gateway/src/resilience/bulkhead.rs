//! A concurrency limit per registry with a bounded queue: up to `max_concurrency` calls in
//! flight, up to `max_queue` waiting for a slot, and anything beyond shed at once with
//! RESOURCE_EXHAUSTED. tower's `ConcurrencyLimit` queues without bound and `LoadShed` allows no
//! queue at all; this sits between them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

use crate::error::GatewayError;
use crate::pipeline::stage::Stage;
use crate::pipeline::{GatewayRequest, Reply};

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

impl Stage for Bulkhead {
    async fn call<S>(&self, req: GatewayRequest, inner: S) -> Result<Reply, GatewayError>
    where
        S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Send + 'static,
        S::Future: Send,
    {
        let _permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(self.shed());
                }
                let _queued = InQueue(self.waiting.clone());
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| self.shed())?
            }
        };
        inner.oneshot(req).await
    }
}
