//! Retries for idempotent reads only, with jittered exponential backoff and a retry budget, on
//! tower's `Retry` and `TpsBudget`: retries never exceed a set share of the traffic, so a failing
//! registry is not hammered by the gateway's own retries.

use std::sync::Arc;
use std::time::Duration;

use tower::retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use tower::retry::budget::{Budget, TpsBudget};
use tower::retry::Policy;
use tower::util::rng::HasherRng;

use crate::config::ResilienceConfig;
use crate::{Classify, Due, Idempotent, InvalidSetting};

/// The retry policy of one service; cloned per call, sharing the budget.
#[derive(Clone)]
pub struct RetryPolicy {
    max_retries: u32,
    retries: u32,
    deposited: bool,
    budget: Arc<TpsBudget>,
    backoff: ExponentialBackoff<HasherRng>,
}

impl RetryPolicy {
    /// A policy from a registry's resilience settings.
    pub fn new(cfg: &ResilienceConfig) -> Result<Self, InvalidSetting> {
        let mut maker = ExponentialBackoffMaker::new(
            Duration::from_millis(cfg.retry_backoff_ms),
            Duration::from_millis(cfg.retry_backoff_max_ms),
            1.0,
            HasherRng::default(),
        )
        .map_err(|e| InvalidSetting(format!("retry backoff: {e}")))?;
        Ok(Self {
            max_retries: cfg.retries,
            retries: 0,
            deposited: false,
            budget: Arc::new(TpsBudget::new(
                Duration::from_secs(10),
                cfg.retry_budget_min_per_s,
                cfg.retry_budget_percent / 100.0,
            )),
            backoff: maker.make_backoff(),
        })
    }
}

impl<Req, Res, E> Policy<Req, Res, E> for RetryPolicy
where
    Req: Idempotent + Due + Clone,
    E: Classify,
{
    type Future = tokio::time::Sleep;

    fn retry(&mut self, req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        let Err(e) = result else {
            return None;
        };
        if !req.is_idempotent() || !e.is_retryable() || self.retries >= self.max_retries {
            return None;
        }
        let backoff = self.backoff.next_backoff();
        // Another attempt must start before the caller stops waiting, or its failure is the
        // answer now (and a stale copy may stand in for it).
        if req
            .due()
            .is_some_and(|due| tokio::time::Instant::from_std(due) <= backoff.deadline())
        {
            return None;
        }
        if !self.budget.withdraw() {
            tracing::debug!("retry budget exhausted; returning the failure");
            return None;
        }
        self.retries += 1;
        Some(backoff)
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        if !req.is_idempotent() {
            return None;
        }
        // Called before every attempt; only the first earns retry credit.
        if !self.deposited {
            self.deposited = true;
            self.budget.deposit();
        }
        Some(req.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tower::{Service, ServiceExt};

    /// A service that is down: every failure may be retried.
    #[derive(Debug)]
    struct Down;
    impl Classify for Down {
        fn is_retryable(&self) -> bool {
            true
        }
    }

    #[derive(Clone)]
    struct Req(bool);
    impl Idempotent for Req {
        fn is_idempotent(&self) -> bool {
            self.0
        }
    }
    impl Due for Req {
        fn due(&self) -> Option<std::time::Instant> {
            None
        }
    }

    /// A read whose caller stops waiting at its due time.
    #[derive(Clone)]
    struct DueRead(std::time::Instant);
    impl Idempotent for DueRead {
        fn is_idempotent(&self) -> bool {
            true
        }
    }
    impl Due for DueRead {
        fn due(&self) -> Option<std::time::Instant> {
            Some(self.0)
        }
    }

    #[tokio::test]
    async fn no_retry_starts_after_the_callers_due_time() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = calls.clone();
        let failing = tower::service_fn(move |_req: DueRead| {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err::<(), Down>(Down))
        });
        let patient = RetryPolicy::new(&ResilienceConfig {
            retries: 3,
            retry_backoff_ms: 50,
            retry_backoff_max_ms: 50,
            ..ResilienceConfig::default()
        })
        .unwrap();
        // Due in 20 ms: a 50 ms backoff would end after it, so the one failure is the answer.
        let due = std::time::Instant::now() + Duration::from_millis(20);
        let svc = tower::retry::Retry::new(patient.clone(), failing.clone());
        svc.oneshot(DueRead(due)).await.ok();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Due in 10 s: all three retries fit.
        let due = std::time::Instant::now() + Duration::from_secs(10);
        let svc = tower::retry::Retry::new(patient, failing);
        svc.oneshot(DueRead(due)).await.ok();
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    fn failing(
        calls: Arc<AtomicU32>,
    ) -> impl Service<Req, Response = (), Error = Down, Future = std::future::Ready<Result<(), Down>>>
           + Clone {
        tower::service_fn(move |_req: Req| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err(Down))
        })
    }

    fn policy(retries: u32, percent: f32, min_per_s: u32) -> RetryPolicy {
        RetryPolicy::new(&ResilienceConfig {
            retries,
            retry_backoff_ms: 1,
            retry_backoff_max_ms: 2,
            retry_budget_percent: percent,
            retry_budget_min_per_s: min_per_s,
            ..ResilienceConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn writes_are_never_retried() {
        let calls = Arc::new(AtomicU32::new(0));
        let svc = tower::retry::Retry::new(policy(3, 100.0, 100), failing(calls.clone()));
        svc.oneshot(Req(false)).await.ok();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn reads_are_retried_up_to_the_limit() {
        let calls = Arc::new(AtomicU32::new(0));
        let svc = tower::retry::Retry::new(policy(3, 100.0, 100), failing(calls.clone()));
        svc.oneshot(Req(true)).await.ok();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_budget_caps_retries_as_a_share_of_traffic() {
        let calls = Arc::new(AtomicU32::new(0));
        // 10% of traffic, no free retries per second: 200 failing reads earn about 20 retries.
        let svc = tower::retry::Retry::new(policy(3, 10.0, 0), failing(calls.clone()));
        for _ in 0..200 {
            svc.clone().oneshot(Req(true)).await.ok();
        }
        let retries = calls.load(Ordering::SeqCst) - 200;
        assert!(retries <= 21, "{retries} retries for 200 requests");
        assert!(retries >= 15, "{retries} retries for 200 requests");
    }
}
