//! The gateway's metrics: Prometheus counters and histograms recorded as calls happen, the
//! registries' recent windows and the console's timeline. Each subsystem registers its own
//! metrics through [`Metrics::register`] (the journal's commits, the outbox's backlog) or a
//! [`Scraped`] collector that reads its state at each scrape (caches, breakers, health), so there
//! is one source of truth for them and this crate knows none of them. Labels name methods,
//! registries and client organisations, never a person: no IIN, and no subject BIN.

pub mod status;
pub mod window;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use kopir_core::registry::RegistryId;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use status::code_name;
use window::Ring;

/// What the metrics cannot do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// A panic while the registry was locked.
    #[error("metrics registry lock poisoned")]
    Poisoned,
    /// A collector failed to encode.
    #[error("metrics encoding failed")]
    Encoding,
}

/// One call through the pipeline.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    client: String,
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistryLabels {
    registry: String,
    outcome: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.1 ms to about 26 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

/// One call through the gateway as operators may watch it: metadata only, the subject masked.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request id.
    pub request_id: String,
    /// `bin:<BIN>` of the calling organisation.
    pub client: String,
    /// Full method name.
    pub method: &'static str,
    /// The masked IIN or BIN the call was about.
    pub subject: String,
    /// The outcome.
    pub code: tonic::Code,
    /// Time in the pipeline.
    pub took: Duration,
    /// When the gateway received it.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// A registry's calls over a recent window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recent {
    /// Call attempts.
    pub calls: u64,
    /// Failed attempts.
    pub errors: u64,
    /// Latency percentiles, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
}

/// The registries' recent window: 10-second slots over 5 minutes.
const RECENT_SLOT_S: u64 = 10;
const RECENT_SLOTS: usize = 30;
/// The console's timeline: 1-second slots over 2 minutes; and how many failed exchanges it keeps.
const TIMELINE_S: usize = 120;
const RECENT_ERRORS: usize = 50;

/// One second of calls through the gateway, for the console's charts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Second {
    /// Unix time, seconds.
    pub at: u64,
    /// Calls answered in that second.
    pub calls: u64,
    /// Of which not OK.
    pub errors: u64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
}

struct Timeline {
    seconds: Ring,
    errors: std::collections::VecDeque<Exchange>,
}

struct Inner {
    registry: RwLock<Registry>,
    timeline: std::sync::Mutex<Timeline>,
    recent: std::sync::Mutex<std::collections::HashMap<RegistryId, Ring>>,
    exchanges: tokio::sync::broadcast::Sender<Exchange>,
    calls: Family<CallLabels, Counter>,
    call_seconds: Histograms<MethodLabels>,
    registry_seconds: Histograms<RegistryLabels>,
    tls_failures: Family<ReasonLabels, Counter>,
}

/// A subsystem's state read at each scrape: the subsystem says how it is encoded, this is the
/// one collector shape they all register.
pub struct Scraped<T> {
    name: &'static str,
    state: T,
    encode: fn(&T, &mut DescriptorEncoder) -> Result<(), std::fmt::Error>,
}

impl<T> Scraped<T> {
    /// `state`, encoded at each scrape by `encode`; `name` is for debugging.
    pub fn new(
        name: &'static str,
        state: T,
        encode: fn(&T, &mut DescriptorEncoder) -> Result<(), std::fmt::Error>,
    ) -> Self {
        Self {
            name,
            state,
            encode,
        }
    }
}

impl<T> std::fmt::Debug for Scraped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraped").field("name", &self.name).finish()
    }
}

impl<T: Send + Sync + 'static> prometheus_client::collector::Collector for Scraped<T> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        (self.encode)(&self.state, &mut encoder)
    }
}

/// The gateway's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, registered under the `kopir` prefix.
    pub fn new() -> Self {
        let calls = Family::<CallLabels, Counter>::default();
        let call_seconds: Histograms<MethodLabels> = Family::new_with_constructor(latency);
        let registry_seconds: Histograms<RegistryLabels> = Family::new_with_constructor(latency);
        let tls_failures = Family::<ReasonLabels, Counter>::default();
        let mut registry = Registry::with_prefix("kopir");
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed, by reason",
            tls_failures.clone(),
        );
        registry.register(
            "requests",
            "Calls through the pipeline by client organisation, method and gRPC status",
            calls.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from identification to answer, by method",
            call_seconds.clone(),
        );
        registry.register(
            "registry_duration_seconds",
            "Registry calls (each attempt) by registry and outcome",
            registry_seconds.clone(),
        );
        // A watcher that falls this far behind skips ahead (and is told how many it missed).
        let (exchanges, _) = tokio::sync::broadcast::channel(1024);
        Self(Arc::new(Inner {
            registry: RwLock::new(registry),
            recent: std::sync::Mutex::new(std::collections::HashMap::new()),
            timeline: std::sync::Mutex::new(Timeline {
                seconds: Ring::new(1, TIMELINE_S),
                errors: std::collections::VecDeque::new(),
            }),
            exchanges,
            calls,
            call_seconds,
            registry_seconds,
            tls_failures,
        }))
    }

    /// Records one registry call attempt.
    pub fn registry_call(&self, registry: RegistryId, ok: bool, took: Duration) {
        self.remember(registry, ok, took);
        self.0
            .registry_seconds
            .get_or_create(&RegistryLabels {
                registry: registry.name().to_string(),
                outcome: if ok { "ok" } else { "error" }.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    fn remember(&self, registry: RegistryId, ok: bool, took: Duration) {
        if let Ok(mut recent) = self.0.recent.lock() {
            recent
                .entry(registry)
                .or_insert_with(|| Ring::new(RECENT_SLOT_S, RECENT_SLOTS))
                .record(ok, took);
        }
    }

    /// A registry's calls over the last `window` (rounded up to whole 10-second buckets, at
    /// most 5 minutes).
    pub fn recent(&self, registry: RegistryId, window: Duration) -> Recent {
        let Ok(recent) = self.0.recent.lock() else {
            return Recent::default();
        };
        let Some(ring) = recent.get(&registry) else {
            return Recent::default();
        };
        let (all, errors) = ring.over(window);
        Recent {
            calls: all.len(),
            errors,
            p50_us: all.quantile(0.5),
            p90_us: all.quantile(0.9),
            p99_us: all.quantile(0.99),
        }
    }

    /// Records one call through the pipeline: counts it by client, method and status, times
    /// it, adds it to the timeline (a failed one to the recent errors too) and publishes it to
    /// every watcher (none listening costs nothing).
    pub fn exchange(&self, exchange: Exchange) {
        let code = code_name(exchange.code);
        self.0
            .calls
            .get_or_create(&CallLabels {
                client: exchange.client.clone(),
                method: exchange.method.to_string(),
                code: code.to_string(),
            })
            .inc();
        self.0
            .call_seconds
            .get_or_create(&MethodLabels {
                method: exchange.method.to_string(),
            })
            .observe(exchange.took.as_secs_f64());
        let failed = exchange.code != tonic::Code::Ok;
        if let Ok(mut t) = self.0.timeline.lock() {
            t.seconds.record(!failed, exchange.took);
            if failed {
                t.errors.push_back(exchange.clone());
                while t.errors.len() > RECENT_ERRORS {
                    t.errors.pop_front();
                }
            }
        }
        self.0.exchanges.send(exchange).ok();
    }

    /// Calls per second over the last two minutes, oldest first (seconds without calls absent).
    pub fn timeline(&self) -> Vec<Second> {
        self.0
            .timeline
            .lock()
            .map(|t| {
                t.seconds
                    .slots
                    .iter()
                    .map(|s| Second {
                        at: s.at,
                        calls: s.latency.len(),
                        errors: s.errors,
                        p50_us: s.latency.quantile(0.5),
                        p99_us: s.latency.quantile(0.99),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The last failed exchanges, newest first.
    pub fn recent_errors(&self) -> Vec<Exchange> {
        self.0
            .timeline
            .lock()
            .map(|t| t.errors.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// The live stream of exchanges from now on.
    pub fn watch_exchanges(&self) -> tokio::sync::broadcast::Receiver<Exchange> {
        self.0.exchanges.subscribe()
    }

    /// Counts one failed TLS handshake.
    pub fn tls_handshake_failed(&self, reason: &str) {
        self.0
            .tls_failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Registers a subsystem's own metrics: it is handed the registry once, at start, and
    /// keeps what it registered (or registers a collector read at each scrape).
    pub fn register<T>(&self, with: impl FnOnce(&mut Registry) -> T) -> Option<T> {
        let mut registry = self.0.registry.write().ok()?;
        Some(with(&mut registry))
    }

    /// Everything, in the text exposition format.
    pub fn encode(&self) -> Result<String, MetricsError> {
        let registry = self.0.registry.read().map_err(|_| MetricsError::Poisoned)?;
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .map_err(|_| MetricsError::Encoding)?;
        Ok(out)
    }
}
