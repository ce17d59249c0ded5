//! Per-service deadline: the configured deadline of the target registry, or the client's own
//! grpc-timeout when that is shorter. Everything after this stage runs inside it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tower::{Service, ServiceExt};

use super::stage::Stage;
use super::{GatewayRequest, Reply};
use crate::config::{regulatory_deadline_ms, Config};
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
        // A registry operation has its registry's deadline (validation guarantees one); the
        // gateway's own services (journal, operators, pledge desk, channel) have the
        // regulations' 1.5 minutes unless the client asks for less.
        let (configured, configured_source) = match registry.and_then(|r| self.deadlines.get(&r)) {
            Some(d) => (*d, "the service deadline in config"),
            None => (
                Duration::from_millis(regulatory_deadline_ms()),
                "the gateway's default deadline",
            ),
        };
        // What is left of the client's deadline, less a reserve for what follows a timeout here:
        // the journal's durable commit of both records and the way back. So the gateway answers
        // its own DEADLINE_EXCEEDED (naming the registry) before tonic's transport timer answers
        // CANCELLED, and the answer still reaches the client in time.
        let client = req
            .ctx
            .client_deadline
            .map(|at| reserve_for_answer(at.saturating_duration_since(Instant::now())));
        let (deadline, source_of) = match client {
            Some(t) if t < configured => (t, "the client's grpc-timeout"),
            _ => (configured, configured_source),
        };
        let method = req.ctx.method;
        // Registry attempts end a little before this stage's own timer, so what the cache holds
        // can still stand in for a registry that did not answer.
        if let Some(due) =
            Instant::now().checked_add(deadline - (deadline / 10).min(Duration::from_millis(50)))
        {
            req.ctx.registry_due.set(due).ok();
        }
        let exceeded = || GatewayError::DeadlineExceeded {
            what: match registry {
                Some(r) => format!("{} registry", r.name()),
                None => format!("the gateway's own {method}"),
            },
            deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
            source_of,
        };
        match tokio::time::timeout(deadline, inner.oneshot(req)).await {
            // An attempt the due time ended: named as the deadline it came from.
            Ok(Err(GatewayError::OutOfTime { .. })) | Err(_) => Err(exceeded()),
            Ok(result) => result,
        }
    }
}

/// The part of `remaining` the registry call may use: a quarter is kept for answering, at most
/// 100 ms (a group commit under load takes tens of milliseconds on a busy machine).
fn reserve_for_answer(remaining: Duration) -> Duration {
    remaining.saturating_sub((remaining / 4).min(Duration::from_millis(100)))
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

    #[test]
    fn a_quarter_of_the_client_deadline_is_kept_for_the_answer_at_most_100_ms() {
        let ms = Duration::from_millis;
        assert_eq!(reserve_for_answer(ms(300)), ms(225));
        assert_eq!(reserve_for_answer(ms(2_000)), ms(1_900));
        assert_eq!(reserve_for_answer(Duration::ZERO), Duration::ZERO);
    }

    async fn timed_out(op: crate::call::Operation, method: &'static str) -> String {
        let config = Config::embedded().expect("embedded config");
        let mut ctx = crate::call::CallContext::internal("r-1", method);
        ctx.client_deadline = Instant::now().checked_add(Duration::from_millis(60));
        let slow = tower::service_fn(|_req: GatewayRequest| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err::<Reply, GatewayError>(GatewayError::Server("never".into()))
        });
        let req = GatewayRequest {
            ctx: Arc::new(ctx),
            op,
        };
        match Deadline::new(&config).call(req, slow).await {
            Err(e @ GatewayError::DeadlineExceeded { .. }) => e.to_string(),
            other => panic!("expected DEADLINE_EXCEEDED, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_deadline_names_what_did_not_answer() {
        let first11 = [8, 5, 0, 1, 0, 1, 3, 0, 0, 0, 1];
        let check = kopir_core::identifiers::check_digit(&first11).expect("a valid prefix");
        let digits: String = first11
            .iter()
            .chain([&check])
            .map(|d| d.to_string())
            .collect();
        let iin = kopir_core::identifiers::Iin::parse(&digits).expect("valid IIN");
        let msg = timed_out(
            crate::call::Operation::Registry(kopir_core::registry::RegistryOp::Person {
                iin,
                token: None,
            }),
            kopir_core::methods::identity_service::GET_PERSON,
        )
        .await;
        assert!(msg.starts_with("persons registry did not answer"), "{msg}");
        assert!(msg.contains("the client's grpc-timeout"), "{msg}");
        let msg = timed_out(
            crate::call::Operation::ReloadConfig,
            kopir_core::methods::operator_service::RELOAD_CONFIG,
        )
        .await;
        assert!(
            msg.starts_with(
                "the gateway's own kopir.v1.OperatorService/ReloadConfig did not answer"
            ),
            "{msg}"
        );
        assert!(!msg.contains("journal"), "{msg}");
    }
}
