//! What trust checks end in, other than success.

/// A failed trust check or unusable trust material.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TrustError {
    /// A signed request's signatures do not hold.
    #[error("{failure}: {detail}")]
    Signature {
        /// What failed, as a machine-readable reason.
        failure: SignatureFailure,
        /// Which signature and why, free of personal numbers beyond masked ones.
        detail: String,
    },
    /// A TLS client's certificate does not identify it.
    #[error("{0}")]
    Unauthenticated(String),
    /// Revocation status cannot be established (CRL unreachable or past its nextUpdate).
    #[error("revocation status cannot be checked: {0}")]
    RevocationUnavailable(String),
    /// Trust material (roots, keys, certificates) is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A seal or signature could not be made.
    #[error("{0}")]
    Seal(String),
}

/// Why a signed request was refused; the `reason` of the status's `google.rpc.ErrorInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFailure {
    /// The signed document or a signature is not well-formed CMS.
    Malformed,
    /// The method requires a signature and the request has none.
    Missing,
    /// A signature does not verify over the payload bytes (changed payload or wrong key).
    Invalid,
    /// The signer's certificate does not chain to a configured root.
    UnknownIssuer,
    /// The signer's certificate has expired (or was not valid when it signed).
    Expired,
    /// The signer's certificate is not valid yet.
    NotYetValid,
    /// The signer's certificate is revoked.
    Revoked,
    /// The signer's certificate may not sign documents.
    KeyUsage,
    /// A signer is not the party the document names.
    SignerMismatch,
    /// A party the document names has not signed it.
    PartyMissing,
    /// The document is for another method or subject than the request.
    WrongDocument,
    /// The document names another organisation it is sent through than the calling client, or
    /// none.
    NotForClient,
    /// The document was signed longer ago than the freshness window allows.
    Stale,
    /// The document (its signer and nonce) was accepted before.
    Replayed,
}

impl SignatureFailure {
    /// The `ErrorInfo.reason` string.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "SIGNATURE_MALFORMED",
            Self::Missing => "SIGNATURE_MISSING",
            Self::Invalid => "SIGNATURE_INVALID",
            Self::UnknownIssuer => "CERTIFICATE_UNKNOWN_ISSUER",
            Self::Expired => "CERTIFICATE_EXPIRED",
            Self::NotYetValid => "CERTIFICATE_NOT_YET_VALID",
            Self::Revoked => "CERTIFICATE_REVOKED",
            Self::KeyUsage => "CERTIFICATE_KEY_USAGE",
            Self::SignerMismatch => "SIGNER_MISMATCH",
            Self::PartyMissing => "PARTY_SIGNATURE_MISSING",
            Self::WrongDocument => "SIGNED_DOCUMENT_MISMATCH",
            Self::NotForClient => "DOCUMENT_NOT_FOR_CLIENT",
            Self::Stale => "DOCUMENT_STALE",
            Self::Replayed => "DOCUMENT_REPLAYED",
        }
    }
}

impl std::fmt::Display for SignatureFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed signed document",
            Self::Missing => "signature missing",
            Self::Invalid => "bad signature",
            Self::UnknownIssuer => "signer certificate from an unknown issuer",
            Self::Expired => "signer certificate expired",
            Self::NotYetValid => "signer certificate not valid yet",
            Self::Revoked => "signer certificate revoked",
            Self::KeyUsage => "signer certificate not for signing",
            Self::SignerMismatch => "signer mismatch",
            Self::PartyMissing => "missing party signature",
            Self::WrongDocument => "signed document does not match the request",
            Self::NotForClient => "signed document not for this client",
            Self::Stale => "signed document too old",
            Self::Replayed => "signed document already used",
        })
    }
}

impl From<crate::signing::KeyError> for TrustError {
    fn from(e: crate::signing::KeyError) -> Self {
        Self::Seal(e.to_string())
    }
}
