//! The per-registry `resilience` section of the configuration.

use serde::Deserialize;

/// How the gateway protects itself and a service it calls from each other.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Retries after a failed read (writes are never retried); 0 turns retries off.
    pub retries: u32,
    /// First backoff before a retry; doubles each time, with jitter.
    pub retry_backoff_ms: u64,
    /// Longest backoff.
    pub retry_backoff_max_ms: u64,
    /// Retries may add at most this share of the registry's traffic (percent)...
    pub retry_budget_percent: f32,
    /// ...plus this many retries per second however little the traffic.
    pub retry_budget_min_per_s: u32,
    /// The breaker opens when this share of calls in the window failed...
    pub breaker_failure_ratio: f64,
    /// ...and at least this many calls were made in it.
    pub breaker_min_calls: u32,
    /// The window the failure share is measured over.
    pub breaker_window_ms: u64,
    /// How long the breaker stays open before letting probes through.
    pub breaker_open_ms: u64,
    /// Probe calls let through half-open; all must succeed to close.
    pub breaker_half_open_probes: u32,
    /// A call still unanswered after this long counts as failed toward opening the breaker at
    /// that moment (it may still answer its caller); 0 counts only calls that failed. A registry
    /// that freezes opens the breaker this soon under load, not after its request timeout.
    pub breaker_slow_call_ms: u64,
    /// Calls in flight to the registry at once.
    pub max_concurrency: usize,
    /// Calls waiting for a slot; beyond that, calls are shed with RESOURCE_EXHAUSTED.
    pub max_queue: usize,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            retries: 2,
            retry_backoff_ms: 10,
            retry_backoff_max_ms: 200,
            retry_budget_percent: 20.0,
            retry_budget_min_per_s: 10,
            breaker_failure_ratio: 0.5,
            breaker_min_calls: 20,
            breaker_window_ms: 10_000,
            breaker_open_ms: 5_000,
            breaker_half_open_probes: 3,
            breaker_slow_call_ms: 1_000,
            max_concurrency: 128,
            max_queue: 512,
        }
    }
}
