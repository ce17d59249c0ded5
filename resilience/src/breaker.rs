//! A circuit breaker per registry: opens when the share of failed calls over a rolling window
//! passes a threshold, fails calls at once while open, lets a few probes through after a pause
//! (half-open), and closes when they all succeed. Tower has none; this is the small state machine
//! written by hand.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower::{Layer, Service, ServiceExt};

use crate::config::ResilienceConfig;
use crate::{BoxFuture, Classify, Refusal};

const BUCKETS: usize = 10;

/// The breaker's state, for health views and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls fail at once.
    Open,
    /// A few probe calls pass.
    HalfOpen,
}

impl BreakerState {
    /// Its name for operators: `closed`, `open`, `half-open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    epoch: u64,
    ok: u32,
    failed: u32,
}

enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

struct Inner {
    state: State,
    buckets: [Bucket; BUCKETS],
}

/// One service's breaker, shared by every call to it; as a [`Layer`], it guards the service.
#[derive(Clone)]
pub struct Breaker {
    registry: Arc<str>,
    inner: Arc<Mutex<Inner>>,
    started: Instant,
    bucket_len: Duration,
    ratio: f64,
    min_calls: u32,
    open_for: Duration,
    probes: u32,
    slow_after: Option<Duration>,
}

/// A call let through; reports its outcome when dropped, a call abandoned half-way (its deadline
/// ran out) counting as a failure, unless it was reported already as slow.
struct Permit {
    breaker: Breaker,
    failed: Option<bool>,
    reported: bool,
}

impl Permit {
    /// Counts the call as failed now, while it is still running: it has been slow too long.
    fn report_slow(&mut self) {
        if !self.reported {
            self.reported = true;
            self.breaker.record(true);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.record(self.failed.unwrap_or(true));
        }
    }
}

impl Breaker {
    /// A closed breaker for the service named `registry`.
    pub fn new(registry: impl Into<Arc<str>>, cfg: &ResilienceConfig) -> Self {
        let window = Duration::from_millis(cfg.breaker_window_ms);
        Self {
            registry: registry.into(),
            inner: Arc::new(Mutex::new(Inner {
                state: State::Closed,
                buckets: [Bucket::default(); BUCKETS],
            })),
            started: Instant::now(),
            bucket_len: (window / BUCKETS as u32).max(Duration::from_millis(1)),
            ratio: cfg.breaker_failure_ratio,
            min_calls: cfg.breaker_min_calls,
            open_for: Duration::from_millis(cfg.breaker_open_ms),
            probes: cfg.breaker_half_open_probes,
            slow_after: (cfg.breaker_slow_call_ms > 0)
                .then(|| Duration::from_millis(cfg.breaker_slow_call_ms)),
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let n = now.duration_since(self.started).as_nanos() / self.bucket_len.as_nanos().max(1);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// The state's lock; a panic elsewhere while holding it leaves counts, never a broken state.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        let g = self.lock();
        match g.state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if Instant::now() < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn acquire(&self) -> Result<Permit, Refusal> {
        let now = Instant::now();
        let mut g = self.lock();
        let refuse = |until: Instant| Refusal::BreakerOpen {
            name: self.registry.to_string(),
            retry_after: until.saturating_duration_since(now),
        };
        match g.state {
            State::Closed => {}
            State::Open { until } if now < until => return Err(refuse(until)),
            State::Open { .. } => {
                tracing::info!(
                    registry = &*self.registry,
                    "circuit breaker half-open: probing"
                );
                g.state = State::HalfOpen {
                    in_flight: 1,
                    succeeded: 0,
                };
            }
            State::HalfOpen {
                ref mut in_flight,
                succeeded,
            } => {
                if *in_flight + succeeded >= self.probes {
                    return Err(refuse(now + self.bucket_len));
                }
                *in_flight += 1;
            }
        }
        Ok(Permit {
            breaker: self.clone(),
            failed: None,
            reported: false,
        })
    }

    fn record(&self, failed: bool) {
        let now = Instant::now();
        let epoch = self.epoch(now);
        let mut g = self.lock();
        let g = &mut *g;
        match &mut g.state {
            State::Closed => {
                let slot = &mut g.buckets[(epoch % BUCKETS as u64) as usize];
                if slot.epoch != epoch {
                    *slot = Bucket {
                        epoch,
                        ok: 0,
                        failed: 0,
                    };
                }
                if failed {
                    slot.failed += 1;
                } else {
                    slot.ok += 1;
                }
                let (ok, bad) = g
                    .buckets
                    .iter()
                    .filter(|b| epoch.saturating_sub(b.epoch) < BUCKETS as u64)
                    .fold((0u32, 0u32), |(o, f), b| (o + b.ok, f + b.failed));
                let total = ok + bad;
                if total >= self.min_calls && f64::from(bad) >= self.ratio * f64::from(total) {
                    tracing::warn!(
                        registry = &*self.registry,
                        failed = bad,
                        calls = total,
                        "circuit breaker opened"
                    );
                    g.state = State::Open {
                        until: now + self.open_for,
                    };
                }
            }
            State::HalfOpen {
                in_flight,
                succeeded,
            } => {
                *in_flight = in_flight.saturating_sub(1);
                if failed {
                    tracing::warn!(
                        registry = &*self.registry,
                        "probe failed: circuit breaker open again"
                    );
                    g.state = State::Open {
                        until: now + self.open_for,
                    };
                } else {
                    *succeeded += 1;
                    if *succeeded >= self.probes {
                        tracing::info!(registry = &*self.registry, "circuit breaker closed");
                        g.state = State::Closed;
                        g.buckets = [Bucket::default(); BUCKETS];
                    }
                }
            }
            State::Open { .. } => {}
        }
    }
}

impl<S> Layer<S> for Breaker {
    type Service = BreakerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        BreakerService {
            breaker: self.clone(),
            inner,
        }
    }
}

/// A service behind a [`Breaker`].
#[derive(Clone)]
pub struct BreakerService<S> {
    breaker: Breaker,
    inner: S,
}

impl<S, Req> Service<Req> for BreakerService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: Classify + From<Refusal> + Send + 'static,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is driven with `oneshot` on a clone, which waits for its readiness
        // per call, so one slow call never holds up the others.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let breaker = self.breaker.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let mut permit = breaker.acquire()?;
            let call = inner.oneshot(req);
            let result = match breaker.slow_after {
                Some(after) => {
                    tokio::pin!(call);
                    tokio::select! {
                        result = &mut call => result,
                        () = tokio::time::sleep(after) => {
                            // A registry that stopped answering fails every call this way long
                            // before its request timeout: count it now, let it answer if it can.
                            permit.report_slow();
                            call.await
                        }
                    }
                }
                None => call.await,
            };
            permit.failed = Some(matches!(&result, Err(e) if e.is_failure()));
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(open_ms: u64) -> Breaker {
        Breaker::new(
            "persons",
            &ResilienceConfig {
                breaker_failure_ratio: 0.5,
                breaker_min_calls: 4,
                breaker_window_ms: 10_000,
                breaker_open_ms: open_ms,
                breaker_half_open_probes: 2,
                ..ResilienceConfig::default()
            },
        )
    }

    #[derive(Debug)]
    struct Failed;
    impl Classify for Failed {
        fn is_retryable(&self) -> bool {
            true
        }
    }
    impl From<Refusal> for Failed {
        fn from(_: Refusal) -> Self {
            Self
        }
    }

    #[tokio::test]
    async fn calls_slower_than_the_slow_call_time_open_it_while_they_still_run() {
        let slow_after = |ms| {
            Breaker::new(
                "persons",
                &ResilienceConfig {
                    breaker_min_calls: 4,
                    breaker_slow_call_ms: ms,
                    ..ResilienceConfig::default()
                },
            )
        };
        let b = slow_after(50);
        // Four calls that take 2 s and then succeed: slow, so failures for the breaker at 50 ms.
        let frozen = b.clone().layer(tower::service_fn(|()| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok::<_, Failed>(())
        }));
        let started = Instant::now();
        let running: Vec<_> = (0..4)
            .map(|_| tokio::spawn(frozen.clone().oneshot(())))
            .collect();
        while b.state() != BreakerState::Open {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "the breaker stayed closed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for r in running {
            r.abort();
        }
        // A quick call is not counted twice, and one under the slow-call time counts as a success.
        let quick = slow_after(500);
        let svc = quick
            .clone()
            .layer(tower::service_fn(|()| async { Ok::<_, Failed>(()) }));
        for _ in 0..10 {
            svc.clone().oneshot(()).await.unwrap();
        }
        assert_eq!(quick.state(), BreakerState::Closed);
    }

    fn call(b: &Breaker, failed: bool) -> bool {
        match b.acquire() {
            Ok(mut p) => {
                p.failed = Some(failed);
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn opens_on_failure_ratio_and_closes_after_probes() {
        let b = breaker(30);
        assert!(call(&b, false));
        assert!(call(&b, true));
        assert!(call(&b, true));
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "3 calls are under min_calls"
        );
        assert!(call(&b, true));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!call(&b, false), "open: refused at once");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(call(&b, false));
        assert!(call(&b, false));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens_and_an_abandoned_call_counts_as_failed() {
        let b = breaker(20);
        for _ in 0..4 {
            call(&b, true);
        }
        std::thread::sleep(Duration::from_millis(30));
        let probe = b.acquire().expect("probe allowed");
        drop(probe); // never reported: a cancelled call
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn successes_keep_it_closed() {
        let b = breaker(20);
        for i in 0..100 {
            assert!(call(&b, i % 3 == 1));
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
