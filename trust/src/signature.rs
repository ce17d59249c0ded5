//! CMS detached signatures (RFC 5652) over a request's payload bytes, as the national signing
//! client produces them: SignedData with signed attributes (content type, message digest,
//! signing time) and the signer's certificate chain.

use std::sync::Arc;
use std::time::SystemTime;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::db::rfc5911::{ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::OctetString;
use der::{Decode, Encode};
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use x509_cert::time::Time;
use x509_cert::Certificate;

use super::{ChainError, Trust, Usage, VerifiedChain};
use crate::error::{SignatureFailure, TrustError};

/// A verified signature: who signed, and when they say they did.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The signer's validated certificate.
    pub chain: Arc<VerifiedChain>,
    /// The signing-time attribute, when present.
    pub signed_at: Option<SystemTime>,
}

fn fail(failure: SignatureFailure, index: usize, detail: impl std::fmt::Display) -> TrustError {
    TrustError::Signature {
        failure,
        detail: format!("signature {}: {detail}", index + 1),
    }
}

fn malformed(index: usize, detail: impl std::fmt::Display) -> TrustError {
    fail(SignatureFailure::Malformed, index, detail)
}

/// Maps a path-validation failure to the signature failure a signer can act on.
fn chain_failure(e: ChainError, index: usize) -> TrustError {
    let path = match e {
        ChainError::Revocation(g) => return g,
        ChainError::Certificate(c) => return malformed(index, c),
        ChainError::NotForSigning => {
            return fail(
                SignatureFailure::KeyUsage,
                index,
                "the signer's certificate does not allow digital signatures",
            )
        }
        // Only a TLS client's chain is checked for clientAuth; a signer's never is.
        ChainError::NotForClients => {
            return fail(
                SignatureFailure::KeyUsage,
                index,
                "the signer's certificate is not issued for signing documents",
            )
        }
        ChainError::Path(p) => p,
    };
    use webpki::Error as W;
    let (failure, detail) = match &path {
        W::CertExpired { .. } => (
            SignatureFailure::Expired,
            "the signer's certificate has expired",
        ),
        W::CertNotValidYet { .. } => (
            SignatureFailure::NotYetValid,
            "the signer's certificate is not valid yet",
        ),
        W::CertRevoked => (
            SignatureFailure::Revoked,
            "the signer's certificate is on the issuer's revocation list",
        ),
        W::RequiredEkuNotFoundContext(_) | W::CaUsedAsEndEntity => (
            SignatureFailure::KeyUsage,
            "the signer's certificate is not issued for signing documents",
        ),
        W::CrlExpired { .. } | W::UnknownRevocationStatus => {
            return TrustError::RevocationUnavailable(format!(
                "signature {}: no current revocation list covers the signer's issuer",
                index + 1
            ))
        }
        _ => (
            SignatureFailure::UnknownIssuer,
            "the signer's certificate does not chain to a root the gateway trusts",
        ),
    };
    fail(failure, index, format!("{detail} ({path:?})"))
}

fn signed_attribute(info: &SignerInfo, oid: const_oid::ObjectIdentifier) -> Option<&der::Any> {
    info.signed_attrs
        .as_ref()?
        .iter()
        .find(|a| a.oid == oid)
        .and_then(|a| a.values.get(0))
}

fn find_signer<'a>(
    signed: &'a SignedData,
    sid: &SignerIdentifier,
) -> Option<(&'a Certificate, Vec<&'a Certificate>)> {
    let SignerIdentifier::IssuerAndSerialNumber(isn) = sid else {
        return None;
    };
    let certs: Vec<&Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    let leaf = certs.iter().copied().find(|c| {
        c.tbs_certificate.issuer == isn.issuer
            && c.tbs_certificate.serial_number == isn.serial_number
    })?;
    let others = certs
        .into_iter()
        .filter(|c| !std::ptr::eq(*c, leaf))
        .collect();
    Some((leaf, others))
}

impl Trust {
    /// Verifies signature number `index` (a DER CMS ContentInfo) over `payload`: the digest, the
    /// signature, the signer's path to a root, validity now and at signing time, revocation and
    /// key usage. Each failure names itself.
    pub async fn verify_signature(
        &self,
        payload: &[u8],
        cms_der: &[u8],
        index: usize,
    ) -> Result<VerifiedSignature, TrustError> {
        let info = ContentInfo::from_der(cms_der)
            .map_err(|e| malformed(index, format!("not a DER CMS ContentInfo ({e})")))?;
        if info.content_type != ID_SIGNED_DATA {
            return Err(malformed(index, "the CMS content is not SignedData"));
        }
        let signed: SignedData = info
            .content
            .decode_as()
            .map_err(|e| malformed(index, format!("unreadable SignedData ({e})")))?;
        if signed.encap_content_info.econtent.is_some() {
            return Err(malformed(
                index,
                "expected a detached signature; the payload travels beside it",
            ));
        }
        let [signer_info] = signed.signer_infos.0.as_slice() else {
            return Err(malformed(
                index,
                "expected exactly one signer per signature; send each party's signature separately",
            ));
        };
        if signer_info.digest_alg.oid != ID_SHA_256 {
            return Err(malformed(
                index,
                format!(
                    "unsupported digest algorithm {}",
                    signer_info.digest_alg.oid
                ),
            ));
        }
        let (leaf, others) = find_signer(&signed, &signer_info.sid).ok_or_else(|| {
            malformed(
                index,
                "the signer's certificate is not in the signature (include it, identified by issuer and serial number)",
            )
        })?;

        // The digest over the exact payload bytes, then the signature over the signed attributes.
        let digest = signed_attribute(signer_info, ID_MESSAGE_DIGEST)
            .and_then(|v| v.decode_as::<OctetString>().ok())
            .ok_or_else(|| malformed(index, "no message-digest signed attribute"))?;
        if digest.as_bytes() != Sha256::digest(payload).as_slice() {
            return Err(fail(
                SignatureFailure::Invalid,
                index,
                "the payload differs from the one that was signed",
            ));
        }
        let attrs = signer_info
            .signed_attrs
            .as_ref()
            .ok_or_else(|| malformed(index, "no signed attributes"))?
            .to_der()
            .map_err(|e| malformed(index, e))?;
        let algorithm = self
            .algorithms()
            .by_oid(&signer_info.signature_algorithm.oid)
            .ok_or_else(|| {
                malformed(
                    index,
                    format!(
                        "unsupported signature algorithm {}",
                        signer_info.signature_algorithm.oid
                    ),
                )
            })?;
        let leaf_der = CertificateDer::from(leaf.to_der().map_err(|e| malformed(index, e))?);
        let ee = webpki::EndEntityCert::try_from(&leaf_der)
            .map_err(|e| malformed(index, format!("unreadable signer certificate ({e:?})")))?;
        ee.verify_signature(algorithm, &attrs, signer_info.signature.as_bytes())
            .map_err(|_| {
                fail(
                    SignatureFailure::Invalid,
                    index,
                    "the signature does not verify with the key of the certificate it names",
                )
            })?;

        let intermediates = others
            .iter()
            .map(|c| c.to_der().map(CertificateDer::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| malformed(index, e))?;
        let chain = self
            .verify_chain(&leaf_der, &intermediates, Usage::Signing)
            .await
            .map_err(|e| chain_failure(e, index))?;

        let signed_at = signed_attribute(signer_info, ID_SIGNING_TIME)
            .and_then(|v| v.to_der().ok())
            .and_then(|d| Time::from_der(&d).ok())
            .map(|t| t.to_system_time());
        if let Some(at) = signed_at {
            if at > SystemTime::now() + self.clock_skew() {
                return Err(fail(
                    SignatureFailure::NotYetValid,
                    index,
                    "the signing time is in the future",
                ));
            }
            if at < chain.not_before {
                return Err(fail(
                    SignatureFailure::NotYetValid,
                    index,
                    "the signing time is before the certificate's validity began",
                ));
            }
            if at > chain.not_after {
                return Err(fail(
                    SignatureFailure::Expired,
                    index,
                    "the certificate had expired at the signing time",
                ));
            }
        }
        Ok(VerifiedSignature { chain, signed_at })
    }
}
