//! Prometheus metrics, served as text on an HTTP `/metrics` endpoint of their own (operators'
//! scrapers speak HTTP, not gRPC). Counters and histograms are recorded as calls happen; cache,
//! breaker and health state is read from the gateway's own structures at each scrape, so there is
//! one source of truth for them. Labels name methods, registries and client organisations, never
//! a person: no IIN, and no subject BIN.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::GatewayError;
use crate::health::RegistryHealth;
use crate::pipeline::cache::Caches;
use crate::resilience::breaker::BreakerState;
use crate::routing::{RegistryId, Router};

/// One call through the pipeline.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    client: String,
    method: String,
    code: String,
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

struct Inner {
    registry: RwLock<Registry>,
    calls: Family<CallLabels, Counter>,
    call_seconds: Histograms<MethodLabels>,
    registry_seconds: Histograms<RegistryLabels>,
    journal_commit_seconds: Histogram,
    journal_records: Counter,
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
        let journal_commit_seconds = latency();
        let journal_records = Counter::default();
        let mut registry = Registry::with_prefix("kopir");
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
        registry.register(
            "journal_commit_duration_seconds",
            "Time to make one batch of journal records durable",
            journal_commit_seconds.clone(),
        );
        registry.register(
            "journal_records",
            "Journal records made durable",
            journal_records.clone(),
        );
        Self(Arc::new(Inner {
            registry: RwLock::new(registry),
            calls,
            call_seconds,
            registry_seconds,
            journal_commit_seconds,
            journal_records,
        }))
    }

    /// Counts one call and its latency.
    pub fn call(&self, client: &str, method: &str, code: tonic::Code, took: Duration) {
        self.0
            .calls
            .get_or_create(&CallLabels {
                client: client.to_string(),
                method: method.to_string(),
                code: code_name(code).to_string(),
            })
            .inc();
        self.0
            .call_seconds
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records one registry call attempt.
    pub fn registry_call(&self, registry: RegistryId, ok: bool, took: Duration) {
        self.0
            .registry_seconds
            .get_or_create(&RegistryLabels {
                registry: registry.name().to_string(),
                outcome: if ok { "ok" } else { "error" }.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records one journal commit of `records` records.
    pub fn journal_commit(&self, records: usize, took: Duration) {
        self.0.journal_commit_seconds.observe(took.as_secs_f64());
        self.0.journal_records.inc_by(records as u64);
    }

    /// Adds the state read at each scrape (caches, breakers, registry health).
    pub fn watch(&self, caches: Caches, router: Router, health: RegistryHealth) {
        if let Ok(mut registry) = self.0.registry.write() {
            registry.register_collector(Box::new(GatewayState {
                caches,
                router,
                health,
            }));
        }
    }

    /// Everything, in the text exposition format.
    pub fn encode(&self) -> Result<String, GatewayError> {
        let registry = self
            .0
            .registry
            .read()
            .map_err(|_| GatewayError::Server("metrics registry lock poisoned".into()))?;
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .map_err(|e| GatewayError::Server(format!("metrics encoding: {e}")))?;
        Ok(out)
    }

    /// Serves `GET /metrics` on `listen` until the handle is aborted; the bound address.
    pub async fn serve(
        &self,
        listen: SocketAddr,
    ) -> Result<(SocketAddr, JoinHandle<()>), GatewayError> {
        let listener = TcpListener::bind(listen).await.map_err(|e| {
            GatewayError::Server(format!("metrics: cannot listen on {listen}: {e}"))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| GatewayError::Server(e.to_string()))?;
        let metrics = self.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move {
                    match metrics.encode() {
                        Ok(text) => (
                            axum::http::StatusCode::OK,
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            text,
                        ),
                        Err(e) => (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            [(axum::http::header::CONTENT_TYPE, "text/plain")],
                            e.to_string(),
                        ),
                    }
                }
            }),
        );
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "metrics endpoint stopped");
            }
        });
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        Ok((addr, task))
    }
}

/// The gRPC status name as Prometheus users know it (`OK`, `PERMISSION_DENIED`, ...).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// State read at scrape time.
struct GatewayState {
    caches: Caches,
    router: Router,
    health: RegistryHealth,
}

impl std::fmt::Debug for GatewayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayState")
    }
}

impl Collector for GatewayState {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let name = |id: RegistryId| id.name().to_string();
        {
            let mut family = encoder.encode_descriptor(
                "cache_events",
                "Cache answers (hit, miss, stale) and entries evicted for room, by registry",
                None,
                MetricType::Counter,
            )?;
            for id in RegistryId::ALL {
                let Some(s) = self.caches.stats(id) else {
                    continue;
                };
                for (event, n) in [
                    ("hit", s.hits),
                    ("miss", s.misses),
                    ("stale", s.stale_served),
                    ("eviction", s.evictions),
                ] {
                    let labels = [("registry", name(id)), ("event", event.to_string())];
                    ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "cache_entries",
                "Entries held in each registry's cache",
                None,
                MetricType::Gauge,
            )?;
            for id in RegistryId::ALL {
                if let Some(s) = self.caches.stats(id) {
                    let n = i64::try_from(s.entries).unwrap_or(i64::MAX);
                    ConstGauge::new(n).encode(family.encode_family(&[("registry", name(id))])?)?;
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "breaker_state",
                "Circuit breaker per registry: 0 closed, 1 half-open, 2 open",
                None,
                MetricType::Gauge,
            )?;
            for id in RegistryId::ALL {
                if let Some(state) = self.router.breaker_state(id) {
                    let v: i64 = match state {
                        BreakerState::Closed => 0,
                        BreakerState::HalfOpen => 1,
                        BreakerState::Open => 2,
                    };
                    ConstGauge::new(v).encode(family.encode_family(&[("registry", name(id))])?)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "registry_up",
            "1 while a registry answers its health probe, else 0",
            None,
            MetricType::Gauge,
        )?;
        for id in RegistryId::ALL {
            let up = i64::from(self.health.is_serving(id));
            ConstGauge::new(up).encode(family.encode_family(&[("registry", name(id))])?)?;
        }
        Ok(())
    }
}
