//! The adapters' one error type: what went wrong between the gateway and a registry.

/// What a registry's refusal means for the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The registry refused the gateway's own credentials: operators must act.
    Credentials,
    /// The registry found the request invalid, though the gateway validated it: a defect.
    Invalid,
    /// The registry failed as a service: another attempt may succeed.
    Failure,
}

impl Refusal {
    /// The kind of a status code: `AUTH…` credentials, `VLDT…` validation, anything else a
    /// failure of the registry's own.
    pub fn of_code(code: &str) -> Self {
        if code.starts_with("AUTH") {
            Self::Credentials
        } else if code.starts_with("VLDT") {
            Self::Invalid
        } else {
            Self::Failure
        }
    }
}

/// A failed registry call, by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The registry answered that it holds no such record.
    #[error("{registry} registry has no record for the requested {what}")]
    NotFound {
        /// Registry name.
        registry: String,
        /// What was looked up ("IIN", "BIN", ...).
        what: String,
    },
    /// The registry could not be reached or said it is not serving.
    #[error("{registry} registry is unavailable: {reason}")]
    Unavailable {
        /// Registry name.
        registry: String,
        /// Transport-level reason, free of personal data.
        reason: String,
    },
    /// The registry did not answer within the adapter's request timeout.
    #[error("{registry} registry did not answer within {timeout_ms} ms")]
    Timeout {
        /// Registry name.
        registry: String,
        /// The timeout that ran out.
        timeout_ms: u64,
    },
    /// The registry answered with an error status of its own protocol.
    #[error("{registry} registry refused the request: {code} {message}")]
    Registry {
        /// Registry name.
        registry: String,
        /// What kind of refusal the code is, as the adapter reads its registry's codes.
        kind: Refusal,
        /// The registry's status code.
        code: String,
        /// The registry's message.
        message: String,
    },
    /// The registry's reply could not be understood.
    #[error("{registry} registry sent a reply the adapter cannot read: {detail}")]
    Malformed {
        /// Registry name.
        registry: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The adapter's own configuration is unusable (bad URL, client build failure).
    #[error("adapter for {registry} is misconfigured: {detail}")]
    Config {
        /// Registry name.
        registry: String,
        /// What is wrong.
        detail: String,
    },
    /// Key or signature material is unusable (unreadable key, unsupported algorithm, encoding).
    #[error("signing key or signature material is unusable: {0}")]
    Key(String),
    /// The registry refused the citizen's consent token (missing, lapsed, or issued for another
    /// requester, subject or purpose).
    #[error("{registry} registry refused the consent token: {reason}")]
    ConsentRefused {
        /// Registry name.
        registry: String,
        /// The registry's reason.
        reason: String,
    },
    /// The registry's reply failed its signature check (WS-Security or the payload's enveloped
    /// signature): it is not served.
    #[error("{registry} registry's reply is not trusted: {reason}")]
    Untrusted {
        /// Registry name.
        registry: String,
        /// Which check failed and why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_are_typed_once() {
        assert_eq!(Refusal::of_code("AUTH001"), Refusal::Credentials);
        assert_eq!(Refusal::of_code("VLDT001"), Refusal::Invalid);
        assert_eq!(Refusal::of_code("SRVC001"), Refusal::Failure);
        assert_eq!(Refusal::of_code("HTTP503"), Refusal::Failure);
        assert_eq!(Refusal::of_code(""), Refusal::Failure);
    }
}
