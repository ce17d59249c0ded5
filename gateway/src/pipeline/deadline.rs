//! Per-service deadline: the configured deadline of the target registry, or the client's own
//! grpc-timeout when that is shorter. Everything after this stage runs inside it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tower::{Service, ServiceExt};

use super::stage::Stage;
use super::{GatewayRequest, Reply};
use crate::config::Config;
use crate::error::GatewayError;
use crate::routing::RegistryId;

/// Applies deadlines from the configuration.
#[derive(Clone)]
pub struct Deadline {
    deadlines: Arc<HashMap<RegistryId, Duration>>,
}

impl Deadline {
    /// Reads each registry's `deadline_ms`.
    pub fn new(config: &Config) -> Self {
        let deadlines = RegistryId::ALL
            .into_iter()
            .filter_map(|id| config.registry(id).ok().map(|r| (id, r.deadline())))
            .collect();
        Self {
            deadlines: Arc::new(deadlines),
        }
    }
}

impl Stage for Deadline {
    async fn call<S>(&self, req: GatewayRequest, inner: S) -> Result<Reply, GatewayError>
    where
        S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Send + 'static,
        S::Future: Send,
    {
        let registry = req.op.registry();
        // Validation guarantees every routed registry has a deadline; the fallback is only a
        // guard against a config built by hand.
        let configured = registry
            .and_then(|r| self.deadlines.get(&r))
            .copied()
            .unwrap_or(Duration::from_secs(90));
        // The client's deadline is cut by a little slack so the gateway answers with its own
        // DEADLINE_EXCEEDED (naming the registry) before tonic's transport timer answers CANCELLED,
        // and the answer still reaches the client in time.
        let client = req
            .ctx
            .client_timeout
            .map(|t| t.saturating_sub((t / 5).min(Duration::from_millis(50))));
        let (deadline, source_of) = match client {
            Some(t) if t < configured => (t, "the client's grpc-timeout"),
            _ => (configured, "the service deadline in config"),
        };
        match tokio::time::timeout(deadline, inner.oneshot(req)).await {
            Ok(result) => result,
            Err(_) => Err(GatewayError::DeadlineExceeded {
                registry: registry.map_or("journal", |r| r.name()).to_string(),
                deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
                source_of,
            }),
        }
    }
}

/// Parses a gRPC `grpc-timeout` header value: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_values() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("m"), None);
        assert_eq!(parse_grpc_timeout("12x"), None);
        assert_eq!(parse_grpc_timeout("123456789m"), None);
        assert_eq!(parse_grpc_timeout("-5m"), None);
    }
}
