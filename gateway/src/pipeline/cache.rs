//! A moka cache per registry: found records for `ttl_s`, "no such record" for `negative_ttl_s`,
//! concurrent misses for one key coalesced into one registry call, hits and misses counted.
//! Past its TTL a found record is kept for `stale_s` more, to stand in (marked stale) while the
//! registry cannot answer. It sits after access checks and the journal, so a cached answer skips
//! neither.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kopir_adapters::AdapterError;
use moka::Expiry;
use tower::{Service, ServiceExt};
use tracing::Instrument;

use super::stage::Stage;
use super::{GatewayRequest, Record, Reply};
use crate::config::{CacheConfig, Config};
use crate::error::GatewayError;
use crate::routing::RegistryId;

#[derive(Clone)]
enum Entry {
    Found { record: Arc<Record>, at: Instant },
    NotFound(AdapterError),
}

struct EntryExpiry {
    keep: Duration,
    negative_ttl: Duration,
}

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        Some(match value {
            // Found records stay past their TTL for the stale window; freshness is checked on read.
            Entry::Found { .. } => self.keep,
            Entry::NotFound(_) => self.negative_ttl,
        })
    }
}

/// One registry's cache and its counters.
pub struct RegistryCache {
    cache: moka::future::Cache<String, Entry>,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    stale_served: AtomicU64,
    /// Entries dropped for room (not for expiry or invalidation); shared with the listener.
    evictions: Arc<AtomicU64>,
}

impl RegistryCache {
    fn fresh(&self, entry: &Entry) -> bool {
        match entry {
            Entry::Found { at, .. } => at.elapsed() < self.ttl,
            Entry::NotFound(_) => true,
        }
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub use crate::call::CacheStats;

/// The caches of every registry whose cache is on.
#[derive(Clone, Default)]
pub struct Caches {
    by_registry: Arc<HashMap<RegistryId, RegistryCache>>,
}

impl Caches {
    /// Builds a cache for each registry with `max_entries > 0`.
    pub fn new(config: &Config) -> Self {
        let by_registry = RegistryId::ALL
            .into_iter()
            .filter_map(|id| {
                let c: CacheConfig = config.registry(id).ok()?.cache;
                (c.max_entries > 0).then(|| {
                    let evictions = Arc::new(AtomicU64::new(0));
                    let counted = evictions.clone();
                    let cache = moka::future::Cache::builder()
                        .max_capacity(c.max_entries)
                        .expire_after(EntryExpiry {
                            keep: Duration::from_secs(c.ttl_s.saturating_add(c.stale_s)),
                            negative_ttl: Duration::from_secs(c.negative_ttl_s),
                        })
                        .eviction_listener(move |_key, _value, cause| {
                            if cause == moka::notification::RemovalCause::Size {
                                counted.fetch_add(1, Ordering::Relaxed);
                            }
                        })
                        .build();
                    let rc = RegistryCache {
                        cache,
                        ttl: Duration::from_secs(c.ttl_s),
                        hits: AtomicU64::new(0),
                        misses: AtomicU64::new(0),
                        stale_served: AtomicU64::new(0),
                        evictions,
                    };
                    (id, rc)
                })
            })
            .collect();
        Self {
            by_registry: Arc::new(by_registry),
        }
    }

    /// Counters of a registry's cache, `None` when its cache is off.
    pub fn stats(&self, id: RegistryId) -> Option<CacheStats> {
        self.by_registry.get(&id).map(|c| CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            entries: c.cache.entry_count(),
            stale_served: c.stale_served.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
        })
    }

    /// Drops one entry of a registry's cache (the IIN or BIN asked about).
    pub async fn invalidate(&self, id: RegistryId, key: &str) {
        if let Some(c) = self.by_registry.get(&id) {
            c.cache.invalidate(key).await;
        }
    }

    /// Drops every entry of a registry's cache.
    pub fn invalidate_all(&self, id: RegistryId) {
        if let Some(c) = self.by_registry.get(&id) {
            c.cache.invalidate_all();
        }
    }
}

fn answer(entry: Entry, from_cache: bool, stale: bool) -> Result<Reply, GatewayError> {
    match entry {
        Entry::Found { record, .. } => Ok(Reply {
            record,
            from_cache,
            stale,
        }),
        Entry::NotFound(e) => Err(GatewayError::Adapter(e)),
    }
}

/// Runs the inner service and turns its answer into a cache entry; "no such record" is an entry
/// too, other failures are not.
async fn load<S>(inner: S, req: GatewayRequest) -> Result<Entry, GatewayError>
where
    S: Service<GatewayRequest, Response = Reply, Error = GatewayError>,
{
    match inner.oneshot(req).await {
        Ok(reply) => Ok(Entry::Found {
            record: reply.record,
            at: Instant::now(),
        }),
        Err(GatewayError::Adapter(e @ AdapterError::NotFound { .. })) => Ok(Entry::NotFound(e)),
        Err(e) => Err(e),
    }
}

/// Puts the caches in front of the inner service.
#[derive(Clone)]
pub struct Cache {
    caches: Caches,
}

impl Cache {
    /// The stage over these caches.
    pub fn new(caches: Caches) -> Self {
        Self { caches }
    }
}

impl Stage for Cache {
    async fn call<S>(&self, req: GatewayRequest, inner: S) -> Result<Reply, GatewayError>
    where
        S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Send + 'static,
        S::Future: Send,
    {
        let caches = self.caches.clone();
        {
            let (Some(registry), Some(key)) = (req.op.registry(), req.op.cache_key()) else {
                return inner.oneshot(req).await;
            };
            let Some(rc) = caches.by_registry.get(&registry) else {
                return inner.oneshot(req).await;
            };
            let span = tracing::info_span!(
                "cache",
                registry = registry.name(),
                hit = tracing::field::Empty,
                stale = tracing::field::Empty
            );
            match rc.cache.get(&key).await {
                Some(entry) if rc.fresh(&entry) => {
                    span.record("hit", true);
                    rc.count(true);
                    answer(entry, true, false)
                }
                Some(old) => {
                    // Past its TTL: ask the registry; if it cannot answer, the old record stands
                    // in, marked stale, for as long as the entry lives.
                    span.record("hit", false);
                    rc.count(false);
                    match load(inner, req).instrument(span.clone()).await {
                        Ok(entry) => {
                            rc.cache.insert(key, entry.clone()).await;
                            answer(entry, false, false)
                        }
                        Err(e) if e.allows_stale() && matches!(old, Entry::Found { .. }) => {
                            span.record("stale", true);
                            rc.stale_served.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(parent: &span, error = %e, "registry cannot answer: serving a stale record");
                            answer(old, true, true)
                        }
                        Err(e) => Err(e),
                    }
                }
                None => {
                    let outcome = rc
                        .cache
                        .entry(key)
                        .or_try_insert_with(load(inner, req))
                        .instrument(span.clone())
                        .await;
                    let entry = outcome.map_err(|e: Arc<GatewayError>| (*e).clone())?;
                    // A fresh entry was loaded by this call; any other was loaded by a concurrent
                    // call this one waited for: either way the registry was asked once.
                    let hit = !entry.is_fresh();
                    span.record("hit", hit);
                    rc.count(hit);
                    answer(entry.into_value(), hit, false)
                }
            }
        }
    }
}

/// The caches' counters and sizes, read at each scrape (`cache_events`, `cache_entries`).
fn encode_caches(
    state: &Caches,
    encoder: &mut prometheus_client::encoding::DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric;
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::metrics::MetricType;
    let name = |id: RegistryId| id.name().to_string();
    {
        let mut family = encoder.encode_descriptor(
            "cache_events",
            "Cache answers (hit, miss, stale) and entries evicted for room, by registry",
            None,
            MetricType::Counter,
        )?;
        for id in RegistryId::ALL {
            let Some(s) = state.stats(id) else {
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
            if let Some(s) = state.stats(id) {
                let n = i64::try_from(s.entries).unwrap_or(i64::MAX);
                ConstGauge::new(n).encode(family.encode_family(&[("registry", name(id))])?)?;
            }
        }
    }
    Ok(())
}

impl Caches {
    /// Its Prometheus collector.
    pub fn collector(&self) -> crate::metrics::Scraped<Caches> {
        crate::metrics::Scraped::new("caches", self.clone(), encode_caches)
    }
}
