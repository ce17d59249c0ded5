//! The gateway's one error type, and its one mapping to `tonic::Status`.

use kopir_adapters::AdapterError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Everything a call through the gateway can end in, other than success.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// A request field is missing or malformed; `field` is its path in the request message.
    #[error("field `{field}`: {reason}")]
    InvalidArgument {
        /// Field path, e.g. `iin.value`.
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The call's deadline ran out before the registry answered.
    #[error(
        "{registry} registry did not answer within the {deadline_ms} ms deadline ({source_of})"
    )]
    DeadlineExceeded {
        /// Registry name.
        registry: String,
        /// The deadline that ran out.
        deadline_ms: u64,
        /// Whose deadline: the service's configured one, or the client's grpc-timeout.
        source_of: &'static str,
    },
    /// The client sent more than its rate allows.
    #[error("client {client} is over its rate limit of {per_second} requests per second")]
    RateLimited {
        /// Client id.
        client: String,
        /// Its sustained rate.
        per_second: u32,
        /// When the next request will be let through.
        retry_after: std::time::Duration,
    },
    /// The registry's concurrency limit and queue are full.
    #[error("{registry} registry is at its limit of {max_concurrency} calls in flight and {max_queue} waiting")]
    Shed {
        /// Registry name.
        registry: String,
        /// Calls in flight allowed.
        max_concurrency: usize,
        /// Calls waiting allowed.
        max_queue: usize,
    },
    /// The registry's circuit breaker is open: the gateway is not calling it for now.
    #[error("{registry} registry's circuit breaker is open after repeated failures; the gateway will try it again in {} ms", retry_after.as_millis())]
    BreakerOpen {
        /// Registry name.
        registry: String,
        /// When probes will be let through.
        retry_after: std::time::Duration,
    },
    /// The request is well-formed but the data does not allow the operation.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The registry call failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// The configuration is unusable.
    #[error("configuration: {detail}")]
    Config {
        /// What is wrong, and where.
        detail: String,
    },
    /// The gateway could not start or serve (bind, transport).
    #[error("server: {0}")]
    Server(String),
}

impl GatewayError {
    /// A missing or malformed field.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// The gRPC code for this error.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } => Code::InvalidArgument,
            Self::DeadlineExceeded { .. } => Code::DeadlineExceeded,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::RateLimited { .. } | Self::Shed { .. } => Code::ResourceExhausted,
            Self::BreakerOpen { .. } => Code::Unavailable,
            Self::Adapter(a) => match a {
                AdapterError::NotFound { .. } => Code::NotFound,
                AdapterError::Unavailable { .. } => Code::Unavailable,
                AdapterError::Timeout { .. } => Code::DeadlineExceeded,
                // The gateway validated the request, so a registry refusing it on validity or
                // credentials is the gateway's fault, not the caller's.
                AdapterError::Registry { code, .. }
                    if code.starts_with("AUTH") || code.starts_with("VLDT") =>
                {
                    Code::Internal
                }
                AdapterError::Registry { .. } => Code::Unavailable,
                AdapterError::Malformed { .. } | AdapterError::Config { .. } => Code::Internal,
            },
            Self::Config { .. } | Self::Server(_) => Code::Internal,
        }
    }

    /// Whether the same read may succeed if sent again to the registry at once: transport
    /// failures and registry-side faults, not answers about the data or the gateway's own refusals.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Adapter(a) => match a {
                AdapterError::Unavailable { .. }
                | AdapterError::Timeout { .. }
                | AdapterError::Malformed { .. } => true,
                AdapterError::Registry { code, .. } => {
                    !(code.starts_with("AUTH") || code.starts_with("VLDT"))
                }
                AdapterError::NotFound { .. } | AdapterError::Config { .. } => false,
            },
            _ => false,
        }
    }

    /// Whether the registry is failing as a service (counts against its circuit breaker); "no
    /// such record" or a refusal of the gateway's credentials are answers, not failures.
    pub fn is_registry_failure(&self) -> bool {
        self.is_retryable()
    }

    /// Whether a cached record past its TTL may stand in: the registry cannot answer at all.
    pub fn allows_stale(&self) -> bool {
        matches!(
            self,
            Self::BreakerOpen { .. }
                | Self::Adapter(AdapterError::Unavailable { .. } | AdapterError::Timeout { .. })
        )
    }

    /// When the client may usefully try again, for `google.rpc.RetryInfo`.
    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::BreakerOpen { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// What the caller (or the operator) can do about it.
    fn advice(&self) -> &'static str {
        if let Self::RateLimited { .. } = self {
            return "slow down: the status details carry the delay before the next request is let through";
        }
        if let Self::Shed { .. } = self {
            return "retry after a short, jittered backoff";
        }
        match self.code() {
            Code::InvalidArgument => "correct the field and send the request again",
            Code::NotFound => "check the number with its holder; a new registration can take a day to reach the registry",
            Code::Unavailable => "retry with backoff; grpc.health.v1 shows when the registry serves again",
            Code::DeadlineExceeded => "retry later, or give the call a longer grpc-timeout if the service deadline allows it",
            Code::FailedPrecondition => "this request cannot succeed for this subject; do not retry",
            _ => "this is the gateway's or the registry's fault, not the request's; report it to the gateway operators with the request id",
        }
    }
}

impl From<GatewayError> for Status {
    fn from(e: GatewayError) -> Self {
        let message = format!("{e}; {}", e.advice());
        match e.retry_after() {
            Some(delay) => Status::with_error_details(
                e.code(),
                message,
                ErrorDetails::with_retry_info(Some(delay)),
            ),
            None => Status::new(e.code(), message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_name_the_problem_and_the_remedy() {
        let s = Status::from(GatewayError::invalid(
            "iin.value",
            "check digit does not match",
        ));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().starts_with("field `iin.value`: check digit"));
        assert!(s.message().contains("correct the field"));
        let s = Status::from(GatewayError::Adapter(AdapterError::Unavailable {
            registry: "persons".into(),
            reason: "connection failed".into(),
        }));
        assert_eq!(s.code(), Code::Unavailable);
        let s = Status::from(GatewayError::Adapter(AdapterError::Registry {
            registry: "persons".into(),
            code: "AUTH001".into(),
            message: "sender is not authorised".into(),
        }));
        assert_eq!(s.code(), Code::Internal);
        assert!(s.message().contains("operators"));
    }
}
