//! A moka cache per registry: found records for `ttl_s`, "no such record" for `negative_ttl_s`,
//! concurrent misses for one key coalesced into one registry call, hits and misses counted.
//! It sits after access checks and the journal, so a cached answer skips neither.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kopir_adapters::AdapterError;
use moka::Expiry;
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

use super::{BoxFuture, GatewayRequest, Record, Reply};
use crate::config::{CacheConfig, Config};
use crate::error::GatewayError;
use crate::routing::RegistryId;

#[derive(Clone)]
enum Entry {
    Found(Arc<Record>),
    NotFound(AdapterError),
}

struct EntryExpiry {
    ttl: Duration,
    negative_ttl: Duration,
}

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        Some(match value {
            Entry::Found(_) => self.ttl,
            Entry::NotFound(_) => self.negative_ttl,
        })
    }
}

/// One registry's cache and its counters.
pub struct RegistryCache {
    cache: moka::future::Cache<String, Entry>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Hit and miss counts of one registry's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Answers that needed the registry.
    pub misses: u64,
    /// Entries held now (approximate, as moka counts them).
    pub entries: u64,
}

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
                    let cache = moka::future::Cache::builder()
                        .max_capacity(c.max_entries)
                        .expire_after(EntryExpiry {
                            ttl: Duration::from_secs(c.ttl_s),
                            negative_ttl: Duration::from_secs(c.negative_ttl_s),
                        })
                        .build();
                    let rc = RegistryCache {
                        cache,
                        hits: AtomicU64::new(0),
                        misses: AtomicU64::new(0),
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
        })
    }

    /// Drops every entry of a registry's cache.
    pub fn invalidate_all(&self, id: RegistryId) {
        if let Some(c) = self.by_registry.get(&id) {
            c.cache.invalidate_all();
        }
    }
}

/// Puts the caches in front of the inner service.
#[derive(Clone)]
pub struct CacheLayer {
    caches: Caches,
}

impl CacheLayer {
    /// A layer over these caches.
    pub fn new(caches: Caches) -> Self {
        Self { caches }
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = CacheService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CacheService {
            caches: self.caches.clone(),
            inner,
        }
    }
}

/// The service a [`CacheLayer`] makes.
#[derive(Clone)]
pub struct CacheService<S> {
    caches: Caches,
    inner: S,
}

impl<S> Service<GatewayRequest> for CacheService<S>
where
    S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Reply;
    type Error = GatewayError;
    type Future = BoxFuture<Result<Reply, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: GatewayRequest) -> Self::Future {
        let inner = self.inner.clone();
        let caches = self.caches.clone();
        Box::pin(async move {
            let registry = req.op.registry();
            let Some(rc) = caches.by_registry.get(&registry) else {
                return inner.oneshot(req).await;
            };
            let span = tracing::info_span!(
                "cache",
                registry = registry.name(),
                hit = tracing::field::Empty
            );
            let key = req.op.cache_key();
            let load = async move {
                match inner.oneshot(req).await {
                    Ok(reply) => Ok(Entry::Found(reply.record)),
                    Err(GatewayError::Adapter(e @ AdapterError::NotFound { .. })) => {
                        Ok(Entry::NotFound(e))
                    }
                    Err(e) => Err(e),
                }
            };
            let outcome = rc
                .cache
                .entry(key)
                .or_try_insert_with(load)
                .instrument(span.clone())
                .await;
            let entry = outcome.map_err(|e: Arc<GatewayError>| (*e).clone())?;
            // A fresh entry was loaded by this call; any other was already there (or loaded by a
            // concurrent call this one waited for): either way the registry was not asked again.
            let hit = !entry.is_fresh();
            span.record("hit", hit);
            if hit {
                rc.hits.fetch_add(1, Ordering::Relaxed);
            } else {
                rc.misses.fetch_add(1, Ordering::Relaxed);
            }
            match entry.into_value() {
                Entry::Found(record) => Ok(Reply {
                    record,
                    from_cache: hit,
                }),
                Entry::NotFound(e) => Err(GatewayError::Adapter(e)),
            }
        })
    }
}
