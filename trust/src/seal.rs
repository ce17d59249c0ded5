//! Sealed responses: the gateway signs every response it relays. The seal is a CMS SignedData
//! whose attached content is a JSON statement (digest of the response, request id, registry,
//! method, time), signed with the gateway's sealing key.
//!
//! The seal travels in field [`SEAL_FIELD`] of each response message. Because protobuf writes
//! fields in number order and the seal has the highest number, the response as received is the
//! sealed bytes followed by the seal field; `kopir verify` cuts that field out and checks the rest.

use std::path::Path;

use crate::signing::{Content, KeyPair};
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::db::rfc5911::{ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use der::asn1::OctetString;
use der::{Decode, Encode};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::{read_pem_certificates, sha256_hex, Algorithms};
use crate::error::TrustError;

/// The response field number that carries the seal, in every response message.
pub const SEAL_FIELD: u32 = 15;

/// What a seal states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealStatement {
    /// SHA-256 (hex) of the response message's bytes without the seal field.
    pub payload_sha256: String,
    /// The request id.
    pub request_id: String,
    /// The registry that answered.
    pub registry: String,
    /// The gRPC method.
    pub method: String,
    /// When the gateway sealed it (RFC 3339, UTC).
    pub sealed_at: String,
}

/// The gateway's sealing key and certificate.
pub struct Sealer {
    key: KeyPair,
    cert: Certificate,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("algorithm", &self.key.algorithm())
            .finish_non_exhaustive()
    }
}

fn config_error(detail: String) -> TrustError {
    TrustError::Config(detail)
}

impl Sealer {
    /// Loads the sealing certificate (PEM, leaf first, then its intermediates) and key (PKCS #8).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TrustError> {
        let certs = read_pem_certificates(cert)?
            .iter()
            .map(|d| Certificate::from_der(d.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| config_error(format!("{}: {e}", cert.display())))?;
        let pem = std::fs::read_to_string(key)
            .map_err(|e| config_error(format!("cannot read {}: {e}", key.display())))?;
        let key_pair = KeyPair::from_pkcs8_pem(&pem)
            .map_err(|e| config_error(format!("{}: {e}", key.display())))?;
        let mut certs = certs.into_iter();
        let leaf = certs
            .next()
            .ok_or_else(|| config_error(format!("{} holds no certificate", cert.display())))?;
        if key_pair.public_key_info().ok().as_ref()
            != Some(&leaf.tbs_certificate.subject_public_key_info)
        {
            return Err(config_error(format!(
                "the sealing key {} does not belong to the certificate {}",
                key.display(),
                cert.display()
            )));
        }
        Ok(Self {
            key: key_pair,
            cert: leaf,
            chain: certs.collect(),
        })
    }

    /// Seals an encoded response (without its seal field).
    pub fn seal(
        &self,
        encoded: &[u8],
        request_id: &str,
        registry: &str,
        method: &str,
    ) -> Result<Vec<u8>, TrustError> {
        let statement = SealStatement {
            payload_sha256: sha256_hex(encoded),
            request_id: request_id.to_string(),
            registry: registry.to_string(),
            method: method.to_string(),
            sealed_at: kopir_core::time::rfc3339(chrono::Utc::now()),
        };
        let json = serde_json::to_vec(&statement)
            .map_err(|e| TrustError::Seal(format!("seal statement: {e}")))?;
        Ok(self
            .key
            .sign_cms(Content::Attached(&json), &self.cert, &self.chain)?)
    }
}

/// What `kopir verify` found.
#[derive(Debug, Clone)]
pub struct SealReport {
    /// The statement the gateway signed.
    pub statement: SealStatement,
    /// The sealing certificate's subject.
    pub sealed_by: String,
}

/// Splits a response into the bytes before the seal field and the seal itself.
fn split_seal(message: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut rest = message;
    let mut sealed = Vec::with_capacity(message.len());
    let mut seal = None;
    while !rest.is_empty() {
        let start = rest;
        let key = prost::encoding::decode_varint(&mut rest).map_err(|e| e.to_string())?;
        let (field, wire) = (key >> 3, key & 7);
        let value_len = match wire {
            0 => {
                prost::encoding::decode_varint(&mut rest).map_err(|e| e.to_string())?;
                0
            }
            1 => 8,
            2 => usize::try_from(
                prost::encoding::decode_varint(&mut rest).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?,
            5 => 4,
            w => return Err(format!("wire type {w} is not protobuf")),
        };
        if value_len > rest.len() {
            return Err("a field runs past the end of the file".into());
        }
        let (value, after) = rest.split_at(value_len);
        let whole = &start[..start.len() - after.len()];
        if field == u64::from(SEAL_FIELD) && wire == 2 {
            if seal.is_some() {
                return Err("the response carries two seals".into());
            }
            seal = Some(value.to_vec());
        } else {
            sealed.extend_from_slice(whole);
        }
        rest = after;
    }
    let seal = seal.ok_or("the response carries no seal (field 15)")?;
    Ok((sealed, seal))
}

/// Checks a sealed response (a response message's protobuf bytes) with the gateway's sealing
/// certificate: the seal's signature, that it was made by that certificate's key, and that the
/// statement's digest is the digest of the response's other bytes.
pub fn verify_sealed(message: &[u8], seal_cert: &CertificateDer<'_>) -> Result<SealReport, String> {
    let (sealed, seal) = split_seal(message)?;
    verify_seal(&sealed, &seal, seal_cert)
}

/// Checks a detached seal (a bank notice's) over `sealed`, the exact bytes the gateway sealed.
pub fn verify_seal(
    sealed: &[u8],
    seal: &[u8],
    seal_cert: &CertificateDer<'_>,
) -> Result<SealReport, String> {
    let info = ContentInfo::from_der(seal).map_err(|e| format!("the seal is not CMS: {e}"))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err("the seal is not CMS SignedData".into());
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|e| format!("the seal's SignedData is unreadable: {e}"))?;
    let statement_bytes = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("the seal carries no statement")?
        .decode_as::<OctetString>()
        .map_err(|e| format!("the seal's statement is unreadable: {e}"))?;
    let [signer] = signed.signer_infos.0.as_slice() else {
        return Err("the seal must have exactly one signer".into());
    };
    let digest = signer
        .signed_attrs
        .as_ref()
        .and_then(|a| a.iter().find(|a| a.oid == ID_MESSAGE_DIGEST))
        .and_then(|a| a.values.get(0))
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or("the seal has no message-digest attribute")?;
    if digest.as_bytes() != Sha256::digest(statement_bytes.as_bytes()).as_slice() {
        return Err("the seal's statement was changed after sealing".into());
    }
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or("the seal has no signed attributes")?
        .to_der()
        .map_err(|e| e.to_string())?;
    let algorithm = Algorithms::default()
        .by_oid(&signer.signature_algorithm.oid)
        .ok_or_else(|| {
            format!(
                "unsupported seal algorithm {}",
                signer.signature_algorithm.oid
            )
        })?;
    let ee = webpki::EndEntityCert::try_from(seal_cert)
        .map_err(|e| format!("the sealing certificate is unreadable: {e:?}"))?;
    ee.verify_signature(algorithm, &attrs, signer.signature.as_bytes())
        .map_err(|_| {
            "the seal's signature does not verify with this sealing certificate".to_string()
        })?;
    let statement: SealStatement = serde_json::from_slice(statement_bytes.as_bytes())
        .map_err(|e| format!("the seal's statement is not the gateway's: {e}"))?;
    if statement.payload_sha256 != sha256_hex(sealed) {
        return Err("the response differs from the one the gateway sealed".into());
    }
    let cert = Certificate::from_der(seal_cert.as_ref()).map_err(|e| e.to_string())?;
    Ok(SealReport {
        statement,
        sealed_by: cert.tbs_certificate.subject.to_string(),
    })
}
