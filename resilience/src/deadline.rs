//! Deadlines, as one layer with two bounds: [`Deadline::new`] over a whole protected call (its
//! wait for a slot, its retries and the call itself), past which the caller gets the service's own
//! [`Refusal::Deadline`], named for what did not answer, instead of tower's boxed `Elapsed`; and
//! [`Deadline::due`], which ends each attempt at its request's due time ([`Due`]) as
//! [`Refusal::OutOfTime`], so retries share the caller's deadline and the last attempt never
//! outlives it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower::{Layer, Service, ServiceExt};

use crate::{BoxFuture, Due, Refusal};

#[derive(Clone, Copy)]
enum Bound {
    /// A fixed time from the call's start.
    After(Duration),
    /// The request's own due time, if it has one.
    Due,
}

/// One service's deadline; as a [`Layer`], it bounds every call to the service.
#[derive(Clone)]
pub struct Deadline {
    name: Arc<str>,
    bound: Bound,
}

impl Deadline {
    /// Calls to `name` (as the refusal names it) end after `after`.
    pub fn new(name: impl Into<Arc<str>>, after: Duration) -> Self {
        Self {
            name: name.into(),
            bound: Bound::After(after),
        }
    }

    /// Calls to `name` end at their request's due time; a request without one is not bounded.
    pub fn due(name: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            bound: Bound::Due,
        }
    }

    /// How long `req` may run; `None` when nothing bounds it.
    fn limit(&self, req: &impl Due) -> Option<Duration> {
        match self.bound {
            Bound::After(after) => Some(after),
            Bound::Due => req
                .due()
                .map(|at| at.saturating_duration_since(Instant::now())),
        }
    }

    /// The refusal of a call that ran out of `limit`; built only then.
    fn refusal(&self, limit: Duration) -> Refusal {
        let name = self.name.to_string();
        match self.bound {
            Bound::After(after) => Refusal::Deadline { name, after },
            Bound::Due => Refusal::OutOfTime { name, left: limit },
        }
    }
}

impl<S> Layer<S> for Deadline {
    type Service = DeadlineService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            deadline: self.clone(),
            inner,
        }
    }
}

/// A service behind a [`Deadline`].
#[derive(Clone)]
pub struct DeadlineService<S> {
    deadline: Deadline,
    inner: S,
}

impl<S, Req> Service<Req> for DeadlineService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: From<Refusal> + Send + 'static,
    Req: Due + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is made ready inside the future, so waiting for it counts too.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let limit = self.deadline.limit(&req);
        let deadline = self.deadline.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some(limit) = limit else {
                return inner.oneshot(req).await;
            };
            if limit.is_zero() {
                return Err(deadline.refusal(limit).into());
            }
            match tokio::time::timeout(limit, inner.oneshot(req)).await {
                Ok(result) => result,
                Err(_) => Err(deadline.refusal(limit).into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::service_fn;

    #[derive(Clone, Copy)]
    struct Wait {
        ms: u64,
        due: Option<Instant>,
    }
    impl Due for Wait {
        fn due(&self) -> Option<Instant> {
            self.due
        }
    }

    #[tokio::test]
    async fn an_attempt_ends_at_its_due_time_and_none_starts_after_it() {
        let slow = service_fn(|w: Wait| async move {
            tokio::time::sleep(Duration::from_millis(w.ms)).await;
            Ok::<_, Refusal>(w.ms)
        });
        let bounded = Deadline::due("persons").layer(slow);
        let soon = Some(Instant::now() + Duration::from_millis(60));
        assert_eq!(
            bounded
                .clone()
                .oneshot(Wait { ms: 1, due: soon })
                .await
                .ok(),
            Some(1)
        );
        assert_eq!(
            bounded
                .clone()
                .oneshot(Wait { ms: 100, due: None })
                .await
                .ok(),
            Some(100)
        );
        let started = Instant::now();
        match bounded
            .clone()
            .oneshot(Wait {
                ms: 5_000,
                due: soon,
            })
            .await
        {
            Err(Refusal::OutOfTime { name, .. }) => assert_eq!(name, "persons"),
            other => panic!("expected out of time, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_millis(1_000));
        let past = Some(Instant::now() - Duration::from_millis(1));
        assert!(matches!(
            bounded.oneshot(Wait { ms: 1, due: past }).await,
            Err(Refusal::OutOfTime { .. })
        ));
    }

    #[tokio::test]
    async fn a_slow_call_is_refused_by_name_and_a_quick_one_answers() {
        let slow = service_fn(|w: Wait| async move {
            tokio::time::sleep(Duration::from_millis(w.ms)).await;
            Ok::<_, Refusal>(w.ms)
        });
        let bounded = Deadline::new("echo", Duration::from_millis(50)).layer(slow);
        let wait = |ms| Wait { ms, due: None };
        assert_eq!(bounded.clone().oneshot(wait(1)).await.ok(), Some(1));
        match bounded.oneshot(wait(5_000)).await {
            Err(Refusal::Deadline { name, after }) => {
                assert_eq!(name, "echo");
                assert_eq!(after, Duration::from_millis(50));
            }
            other => panic!("expected a deadline refusal, got {other:?}"),
        }
    }
}
