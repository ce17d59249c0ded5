//! The metrics stage: counts every identified call by client, method and status, times it, and
//! publishes it to operators watching the live exchange stream.

use std::time::Instant;

use tower::{Service, ServiceExt};

use super::stage::Stage;
use super::{GatewayRequest, Reply};
use crate::error::GatewayError;
use crate::metrics::{Exchange, Metrics};

/// Records each call in [`Metrics`].
#[derive(Clone)]
pub struct Measure {
    /// Where to record.
    pub metrics: Metrics,
}

impl Stage for Measure {
    async fn call<S>(&self, req: GatewayRequest, inner: S) -> Result<Reply, GatewayError>
    where
        S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Send + 'static,
        S::Future: Send,
    {
        let ctx = req.ctx.clone();
        let subject = req.op.subject_masked();
        let started = Instant::now();
        let result = inner.oneshot(req).await;
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(e) => e.code(),
        };
        self.metrics.exchange(Exchange {
            request_id: ctx.request_id.clone(),
            client: ctx.client.to_string(),
            method: ctx.method,
            subject,
            code,
            took: started.elapsed(),
            received_at: ctx.received_at,
        });
        result
    }
}
