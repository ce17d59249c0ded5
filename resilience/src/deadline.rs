//! A deadline over a whole protected call (its wait for a slot, its retries and the call
//! itself): past it the caller gets the service's own [`Refusal::Deadline`], named for what did
//! not answer, instead of tower's boxed `Elapsed`.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service, ServiceExt};

use crate::{BoxFuture, Refusal};

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
