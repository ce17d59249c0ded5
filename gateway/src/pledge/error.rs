//! What the pledge desk and worker refuse or fail at, and how that maps to the gateway's error
//! (and so to a gRPC status), keeping the messages and reasons banks already see.

use kopir_store::durable::DurableError;

use crate::error::{GatewayError, SignatureFailure};

/// A pledge request the desk refuses, or work it cannot do.
#[derive(Debug, thiserror::Error)]
pub enum PledgeError {
    /// The caller is not identified as a bank by its own client certificate.
    #[error("{0}")]
    NotABank(&'static str),
    /// A field of the contract is missing or malformed; `field` is its path in the request.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// Field path, e.g. `contract.pledgors[0].iin`.
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The parties' signatures do not hold for this contract.
    #[error("{failure}: {detail}")]
    Signature {
        /// What failed, as a machine-readable reason.
        failure: SignatureFailure,
        /// Which party and why.
        detail: String,
    },
    /// The registries' records or the contract's state do not allow it (owners, powers of
    /// attorney, guardianship, the objection window).
    #[error("{0}")]
    Refused(String),
    /// The calling bank submitted no contract of this number.
    #[error("this bank has submitted no pledge contract numbered {0}")]
    Unknown(String),
    /// The contract number was accepted before with other content.
    #[error("contract number {number} was accepted at {accepted_at} with other content (request {request_id})")]
    Conflict {
        /// The contract number.
        number: String,
        /// When the first submission was accepted (RFC 3339).
        accepted_at: String,
        /// The first submission's request id.
        request_id: String,
    },
    /// The outbox cannot store or read: nothing was accepted.
    #[error(transparent)]
    Outbox(#[from] DurableError),
    /// A registry call on the way failed (its breaker, its deadline, its own refusal).
    #[error(transparent)]
    Route(Box<GatewayError>),
    /// A defect of the gateway (a route answered with another record, a notice not encodable).
    #[error("{0}")]
    Defect(String),
}

impl PledgeError {
    /// A missing or malformed field.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// A route answered with another record than its operation's.
    pub fn other_record() -> Self {
        Self::Route(Box::new(GatewayError::other_record()))
    }
}

/// The errors of the routes the desk calls, and of the request readers it shares with the API.
impl From<GatewayError> for PledgeError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::InvalidArgument { field, reason } => Self::Invalid { field, reason },
            other => Self::Route(Box::new(other)),
        }
    }
}

impl From<PledgeError> for GatewayError {
    fn from(e: PledgeError) -> Self {
        use PledgeError as P;
        let message = e.to_string();
        match e {
            P::NotABank(_) => Self::Unauthenticated(message),
            P::Invalid { field, reason } => Self::InvalidArgument { field, reason },
            P::Signature { failure, detail } => Self::Signature { failure, detail },
            P::Refused(_) => Self::FailedPrecondition(message),
            P::Unknown(_) => Self::NotFound(message),
            P::Conflict { .. } => Self::AlreadyExists(message),
            P::Outbox(e) => Self::Outbox(e.to_string()),
            P::Route(e) => *e,
            P::Defect(_) => Self::Server(message),
        }
    }
}
