//! Per-registry protection, between the cache and the adapter:
//!
//! concurrency limit (bounded queue, shed beyond) → retry (reads only, budgeted) → circuit
//! breaker (per attempt) → adapter
//!
//! The breaker sits inside the retry so every attempt counts and a retry meets an open breaker at
//! once; the concurrency limit sits outside so retries keep the slot they started with.

pub mod backoff;
pub mod breaker;
pub mod bulkhead;
pub mod retry;
