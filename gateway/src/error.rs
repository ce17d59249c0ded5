//! The gateway's one error type, and its one mapping to `tonic::Status`.

use kopir_adapters::AdapterError;
use tonic::{Code, Status};

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

    /// What the caller (or the operator) can do about it.
    fn advice(&self) -> &'static str {
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
        Status::new(e.code(), format!("{e}; {}", e.advice()))
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
