//! Deadlines: one over a whole protected call (its wait for a slot, its retries and the call
//! itself), past which the caller gets the service's own [`Refusal::Deadline`], named for what did
//! not answer, instead of tower's boxed `Elapsed`; and [`DueTime`], which ends each attempt at
//! its request's due time ([`Due`]), so retries share the caller's deadline and the last attempt
//! never outlives it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower::{Layer, Service, ServiceExt};

use crate::{BoxFuture, Due, Refusal};

/// Each attempt ended at its request's due time, as [`Refusal::OutOfTime`] naming the service.
#[derive(Clone)]
pub struct DueTime {
    name: Arc<str>,
}

impl DueTime {
    /// Attempts at `name` (as the refusal names it).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self { name: name.into() }
    }
}

impl<S> Layer<S> for DueTime {
    type Service = DueTimeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DueTimeService {
            name: self.name.clone(),
            inner,
        }
    }
}

/// A service behind [`DueTime`].
#[derive(Clone)]
pub struct DueTimeService<S> {
    name: Arc<str>,
    inner: S,
}

impl<S, Req> Service<Req> for DueTimeService<S>
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
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let name = self.name.clone();
        let inner = self.inner.clone();
        let due = req.due();
        Box::pin(async move {
            let Some(due) = due else {
                return inner.oneshot(req).await;
            };
            let left = due.saturating_duration_since(Instant::now());
            let out_of_time = || {
                Refusal::OutOfTime {
                    name: name.to_string(),
                    left,
                }
                .into()
            };
            if left.is_zero() {
                return Err(out_of_time());
            }
            tokio::time::timeout(left, inner.oneshot(req))
                .await
                .unwrap_or_else(|_| Err(out_of_time()))
        })
    }
}

/// One service's deadline; as a [`Layer`], it bounds every call to the service.
#[derive(Clone)]
pub struct Deadline {
    name: Arc<str>,
    after: Duration,
}

impl Deadline {
    /// Calls to `name` (as the refusal names it) end after `after`.
    pub fn new(name: impl Into<Arc<str>>, after: Duration) -> Self {
        Self {
            name: name.into(),
            after,
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
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is made ready inside the future, so waiting for it counts too.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let d = self.deadline.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            match tokio::time::timeout(d.after, inner.oneshot(req)).await {
                Ok(result) => result,
                Err(_) => Err(Refusal::Deadline {
                    name: d.name.to_string(),
                    after: d.after,
                }
                .into()),
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
        let bounded = DueTime::new("persons").layer(slow);
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
        let slow = service_fn(|wait: u64| async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Ok::<_, Refusal>(wait)
        });
        let bounded = Deadline::new("echo", Duration::from_millis(50)).layer(slow);
        assert_eq!(bounded.clone().oneshot(1).await.ok(), Some(1));
        match bounded.oneshot(5_000).await {
            Err(Refusal::Deadline { name, after }) => {
                assert_eq!(name, "echo");
                assert_eq!(after, Duration::from_millis(50));
            }
            other => panic!("expected a deadline refusal, got {other:?}"),
        }
    }
}
