//! Generic resilience middleware for any tower service, knowing nothing of the gateway:
//!
//! concurrency limit (bounded queue, shed beyond) → retry (idempotent requests only, budgeted) →
//! the request's due time (per attempt) → circuit breaker (per attempt) → the service
//!
//! The breaker sits inside the retry so every attempt counts and a retry meets an open breaker at
//! once; the concurrency limit sits outside so retries keep the slot they started with. What the
//! middleware must know of a request or an error it asks through the small traits below; what it
//! refuses on its own it reports as a [`Refusal`], which the caller's error type converts from.

pub mod backoff;
pub mod breaker;
pub mod bulkhead;
pub mod config;
pub mod deadline;
pub mod retry;
pub mod worker;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub use config::ResilienceConfig;

/// A boxed, sendable future: the middleware's services run their logic in one.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Whether sending a request twice has the effect of sending it once.
pub trait Idempotent {
    /// True for reads; a write must say false, and is then never retried.
    fn is_idempotent(&self) -> bool;
}

/// When the caller of a request stops waiting for it: no attempt runs past that, and none is
/// retried when its backoff would end after it.
pub trait Due {
    /// The instant every attempt must have ended by; `None` when the caller set no deadline.
    fn due(&self) -> Option<Instant>;
}

/// What the middleware needs to know of a failed call.
pub trait Classify {
    /// Whether another attempt may succeed (a transport failure, a timeout, a failing service),
    /// as opposed to an answer that will not change ("no such record", "refused").
    fn is_retryable(&self) -> bool;
    /// Whether the service is failing as a service: counts toward opening its breaker.
    fn is_failure(&self) -> bool {
        self.is_retryable()
    }
}

/// What the middleware refuses on its own, without calling the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The concurrency limit and its queue are full.
    #[error("{name} is at its limit of {max_concurrency} calls in flight and {max_queue} waiting")]
    Shed {
        /// The protected service's name.
        name: String,
        /// Calls in flight allowed.
        max_concurrency: usize,
        /// Calls waiting allowed.
        max_queue: usize,
    },
    /// The circuit breaker is open.
    #[error("{name}'s circuit breaker is open; next try in {} ms", retry_after.as_millis())]
    BreakerOpen {
        /// The protected service's name.
        name: String,
        /// When probes will be let through.
        retry_after: Duration,
    },
    /// The request's due time ([`Due`]) came before the service answered, or before another
    /// attempt could start.
    #[error("{name} did not answer in the {} ms left of the call's deadline", left.as_millis())]
    OutOfTime {
        /// The protected service's name.
        name: String,
        /// What was left of the deadline when the attempt started.
        left: Duration,
    },
    /// The deadline ran out before the service answered.
    #[error("{name} did not answer within {} ms", after.as_millis())]
    Deadline {
        /// What did not answer.
        name: String,
        /// The deadline.
        after: Duration,
    },
}

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(pub String);
