//! What checking or making an XML signature ends in, other than success.

use crate::c14n::C14nError;

/// A signature that could not be made or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlSecError {
    /// The message carries no WS-Security signature (or `<data>` no enveloped one).
    #[error("unsigned: {0}")]
    Unsigned(String),
    /// The XML or the signature's structure is not what XMLDSig or WS-Security prescribe.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// An algorithm, transform or reference form this build does not accept.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A reference's digest does not match: the signed content was changed.
    #[error("digest mismatch: {0} was changed after it was signed")]
    DigestMismatch(String),
    /// The signature value does not verify under the certificate's key.
    #[error("the signature value does not verify under the signer's certificate")]
    BadSignature,
    /// The signature holds but does not cover what it must (signature wrapping).
    #[error("signature does not cover the message: {0}")]
    Wrapping(String),
    /// The signed `wsu:Timestamp` is expired or not yet valid.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// The signer's certificate cannot be read.
    #[error("signer certificate: {0}")]
    Certificate(String),
    /// The signer could not sign.
    #[error("signer: {0}")]
    Signer(String),
    /// Canonicalization failed.
    #[error(transparent)]
    C14n(#[from] C14nError),
}
