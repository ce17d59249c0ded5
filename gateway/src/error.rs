//! The gateway's one error type, and its one mapping to `tonic::Status`.

use kopir_adapters::error::Refusal;
use kopir_adapters::AdapterError;
pub use kopir_trust::error::SignatureFailure;
use kopir_trust::error::TrustError;
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
    /// The call's deadline ran out before the registry (or the routed service, or the
    /// gateway's own service) answered.
    #[error("{what} did not answer within the {deadline_ms} ms deadline ({source_of})")]
    DeadlineExceeded {
        /// Who did not answer: `persons registry`, `channel service "…"`, `the gateway's …`.
        what: String,
        /// The deadline that ran out.
        deadline_ms: u64,
        /// Whose deadline: the service's configured one, or the client's grpc-timeout.
        source_of: &'static str,
    },
    /// A registry attempt reached the call's due time (the deadline stage names the deadline).
    #[error("{registry} did not answer in the {left_ms} ms left of the call's deadline")]
    OutOfTime {
        /// The registry or route.
        registry: String,
        /// What was left when the attempt started.
        left_ms: u64,
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
    /// What the request names does not exist (a contract number the bank never submitted).
    #[error("{0}")]
    NotFound(String),
    /// Another submission already holds this identity (a contract number with other content).
    #[error("{0}")]
    AlreadyExists(String),
    /// The pledge outbox cannot store or read: nothing was accepted.
    #[error("the pledge outbox is unavailable: {0}")]
    Outbox(String),
    /// The store of signed documents already taken cannot be read or written, so a signed
    /// request cannot be told from a replay and is not answered.
    #[error(
        "the store of used signed documents is unavailable: {0}; the request was not answered"
    )]
    ReplayUnavailable(String),
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
    /// The client is not (or no longer) known: no client certificate, or a revoked one.
    #[error("{0}")]
    Unauthenticated(String),
    /// The client is known but not listed for this method.
    #[error("client {client} is not allowed to call {method}")]
    PermissionDenied {
        /// The client (its BIN and configured name).
        client: String,
        /// Full gRPC method name.
        method: String,
    },
    /// A signed request's signatures do not hold.
    #[error("{failure}: {detail}")]
    Signature {
        /// What failed, as a machine-readable reason.
        failure: SignatureFailure,
        /// Which signature and why, free of personal numbers beyond masked ones.
        detail: String,
    },
    /// Revocation status cannot be established (CRL unreachable or past its nextUpdate).
    #[error("revocation status cannot be checked: {0}")]
    RevocationUnavailable(String),
    /// The journal cannot record the call, so it is not answered.
    #[error("{0}; the request was not answered because it could not be journaled")]
    Journal(#[from] kopir_store::journal::JournalError),
    /// Personal data of someone else without their consent (seed 004).
    #[error("{failure}: {requester} may not read the {scope} of person {subject}: {detail}")]
    Consent {
        /// Which consent problem.
        failure: ConsentFailure,
        /// The requester (`bin:…` or a masked `iin:…`).
        requester: String,
        /// The masked IIN of the person.
        subject: String,
        /// What data ("person record", "address reference").
        scope: String,
        /// The specifics.
        detail: String,
    },
}

/// Why a read of personal data lacks consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentFailure {
    /// No consent at all.
    Missing,
    /// Consents exist but have lapsed.
    Expired,
    /// Consents exist but for other data.
    OutOfScope,
    /// The consent was withdrawn.
    Revoked,
}

impl ConsentFailure {
    /// The `google.rpc.ErrorInfo` reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "CONSENT_MISSING",
            Self::Expired => "CONSENT_EXPIRED",
            Self::OutOfScope => "CONSENT_OUT_OF_SCOPE",
            Self::Revoked => "CONSENT_REVOKED",
        }
    }
}

impl std::fmt::Display for ConsentFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "consent missing",
            Self::Expired => "consent expired",
            Self::OutOfScope => "consent out of scope",
            Self::Revoked => "consent revoked",
        })
    }
}

/// The status code of a refused signature.
fn signature_code(f: SignatureFailure) -> Code {
    match f {
        SignatureFailure::Malformed | SignatureFailure::WrongDocument => Code::InvalidArgument,
        SignatureFailure::SignerMismatch | SignatureFailure::NotForClient => Code::PermissionDenied,
        SignatureFailure::PartyMissing | SignatureFailure::Missing => Code::FailedPrecondition,
        _ => Code::Unauthenticated,
    }
}

pub use kopir_metrics::code_name;

/// Domain of the gateway's `google.rpc.ErrorInfo` details.
pub const ERROR_DOMAIN: &str = "kopir.kz";

impl GatewayError {
    /// A registry route answered with another record than its operation's: a defect of the
    /// gateway, never the caller's.
    pub fn other_record() -> Self {
        Self::Server("a registry route returned another kind of record".into())
    }

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
            Self::DeadlineExceeded { .. } | Self::OutOfTime { .. } => Code::DeadlineExceeded,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::Outbox(_) | Self::ReplayUnavailable(_) => Code::Unavailable,
            Self::RateLimited { .. } | Self::Shed { .. } => Code::ResourceExhausted,
            Self::BreakerOpen { .. } | Self::RevocationUnavailable(_) => Code::Unavailable,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied { .. } | Self::Consent { .. } => Code::PermissionDenied,
            Self::Journal(j) => match j {
                kopir_store::journal::JournalError::Database(_)
                | kopir_store::journal::JournalError::Closed => Code::Unavailable,
                _ => Code::Internal,
            },
            Self::Signature { failure, .. } => signature_code(*failure),
            Self::Adapter(a) => match a {
                AdapterError::NotFound { .. } => Code::NotFound,
                AdapterError::ConsentRefused { .. } => Code::PermissionDenied,
                // A reply whose signature fails is the registry's (or a path's) fault: the
                // caller may try later; operators see the reason in the journal and logs.
                AdapterError::Unavailable { .. } | AdapterError::Untrusted { .. } => {
                    Code::Unavailable
                }
                AdapterError::Timeout { .. } => Code::DeadlineExceeded,
                // The gateway validated the request, so a registry refusing it on validity or
                // credentials is the gateway's fault, not the caller's.
                AdapterError::Registry {
                    kind: Refusal::Credentials | Refusal::Invalid,
                    ..
                } => Code::Internal,
                AdapterError::Registry { .. } => Code::Unavailable,
                AdapterError::Malformed { .. }
                | AdapterError::Config { .. }
                | AdapterError::Key(_) => Code::Internal,
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
                AdapterError::Registry { kind, .. } => *kind == Refusal::Failure,
                AdapterError::NotFound { .. }
                | AdapterError::ConsentRefused { .. }
                | AdapterError::Config { .. }
                | AdapterError::Untrusted { .. }
                | AdapterError::Key(_) => false,
            },
            _ => false,
        }
    }

    /// Whether the registry is failing as a service (counts against its circuit breaker); "no
    /// such record" or a refusal of the gateway's credentials are answers, not failures.
    pub fn is_registry_failure(&self) -> bool {
        // An attempt the call's deadline ended never got its answer: the registry was too slow.
        self.is_retryable() || matches!(self, Self::OutOfTime { .. })
    }

    /// Whether a cached record past its TTL may stand in: the registry cannot answer at all.
    pub fn allows_stale(&self) -> bool {
        matches!(
            self,
            Self::BreakerOpen { .. }
                | Self::OutOfTime { .. }
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
        if let Self::Consent { .. } = self {
            return "the person gives consent by one-time code on the egov.kz portal (ConsentService.GrantConsent), or a notarised consent is registered in the notary system; close relatives (spouse, parents, children) need none";
        }
        if let Self::Adapter(AdapterError::ConsentRefused { .. }) = self {
            return "the registry holds the citizen's consent token (КДП) to be missing, lapsed or issued for another request: the citizen gives consent again, or the gateway's operators check the token service";
        }
        if let Self::Outbox(_) = self {
            return "nothing was accepted: submit the same contract again (a resubmission is answered once, never registered twice)";
        }
        if let Self::AlreadyExists(_) = self {
            return "give a new contract its own unique number; resubmit an accepted contract only unchanged";
        }
        if let Self::Shed { .. } = self {
            return "retry after a short, jittered backoff";
        }
        if let Self::Signature { failure, .. } = self {
            return match failure {
                SignatureFailure::Revoked
                | SignatureFailure::Expired
                | SignatureFailure::NotYetValid => {
                    "sign again with a valid certificate from the national certification authority"
                }
                SignatureFailure::Invalid | SignatureFailure::Malformed => {
                    "sign the exact payload bytes again and send them unchanged"
                }
                SignatureFailure::UnknownIssuer => {
                    "sign with a certificate issued by a certification authority the gateway trusts"
                }
                SignatureFailure::KeyUsage => {
                    "sign with a signing (not an authentication) certificate"
                }
                SignatureFailure::SignerMismatch
                | SignatureFailure::PartyMissing
                | SignatureFailure::Missing => {
                    "have every party the document names sign it with their own certificate"
                }
                SignatureFailure::WrongDocument => "sign a document for this method and subject",
                SignatureFailure::NotForClient => {
                    "the signer names in the document (`via`) the organisation that sends it; a document signed for one client is not sent by another"
                }
                SignatureFailure::Stale | SignatureFailure::Replayed => {
                    "have the signer sign a new document, with a new nonce, just before it is sent; a signed document is taken once, within minutes of its signing"
                }
            };
        }
        match self.code() {
            Code::Unauthenticated => "present a valid client certificate issued to your organisation",
            Code::PermissionDenied => "ask the gateway operators to list your organisation for this method",
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
        let reason = match &e {
            GatewayError::Signature { failure, .. } => Some(failure.reason()),
            GatewayError::Consent { failure, .. } => Some(failure.reason()),
            GatewayError::Adapter(AdapterError::ConsentRefused { .. }) => {
                Some("CONSENT_TOKEN_REFUSED")
            }
            _ => None,
        };
        if let Some(reason) = reason {
            return Status::with_error_details(
                e.code(),
                message,
                ErrorDetails::with_error_info(
                    reason,
                    ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                ),
            );
        }
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

impl From<kopir_store::durable::DurableError> for GatewayError {
    fn from(e: kopir_store::durable::DurableError) -> Self {
        Self::Outbox(e.to_string())
    }
}

impl kopir_resilience::Classify for GatewayError {
    fn is_retryable(&self) -> bool {
        GatewayError::is_retryable(self)
    }
    fn is_failure(&self) -> bool {
        self.is_registry_failure()
    }
}

impl From<kopir_resilience::Refusal> for GatewayError {
    fn from(r: kopir_resilience::Refusal) -> Self {
        use kopir_resilience::Refusal;
        match r {
            Refusal::Shed {
                name,
                max_concurrency,
                max_queue,
            } => Self::Shed {
                registry: name,
                max_concurrency,
                max_queue,
            },
            Refusal::BreakerOpen { name, retry_after } => Self::BreakerOpen {
                registry: name,
                retry_after,
            },
            Refusal::OutOfTime { name, left } => Self::OutOfTime {
                registry: name,
                left_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
            },
            // Only routes with a deadline of their own (the channel's `deadline_ms`) have one in
            // their stack; the registries' deadline is the pipeline's stage.
            Refusal::Deadline { name, after } => Self::DeadlineExceeded {
                what: name,
                deadline_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                source_of: "route deadline_ms",
            },
        }
    }
}

impl From<kopir_resilience::InvalidSetting> for GatewayError {
    fn from(e: kopir_resilience::InvalidSetting) -> Self {
        Self::Config { detail: e.0 }
    }
}

impl From<TrustError> for GatewayError {
    fn from(e: TrustError) -> Self {
        match e {
            TrustError::Signature { failure, detail } => Self::Signature { failure, detail },
            TrustError::Unauthenticated(m) => Self::Unauthenticated(m),
            TrustError::RevocationUnavailable(m) => Self::RevocationUnavailable(m),
            TrustError::Config(detail) => Self::Config { detail },
            TrustError::Seal(m) => Self::Server(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_consent_token_is_permission_denied_with_its_reason() {
        let e = GatewayError::Adapter(AdapterError::ConsentRefused {
            registry: "persons".into(),
            reason: "the consent token has lapsed (00003)".into(),
        });
        assert!(!e.is_retryable() && !e.is_registry_failure());
        let s = Status::from(e);
        assert_eq!(s.code(), Code::PermissionDenied);
        assert!(s.message().contains("lapsed"), "{}", s.message());
        let details = tonic_types::StatusExt::get_error_details(&s);
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("CONSENT_TOKEN_REFUSED")
        );
    }

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
            kind: Refusal::Credentials,
            code: "AUTH001".into(),
            message: "sender is not authorised".into(),
        }));
        assert_eq!(s.code(), Code::Internal);
        assert!(s.message().contains("operators"));
    }
}
