//! Trust: who a certificate names, whether it chains to the configured roots and is valid and not
//! revoked, and whether a CMS signature holds. Path validation, CRL checks and signature
//! arithmetic are rustls-webpki's; CMS and X.509 structures are parsed with the RustCrypto
//! `cms` and `x509-cert` crates. Keys and CMS signing ([`signing`]) and the gateway's seals
//! ([`seal`]) live here too. The access policy that uses these answers stays in the gateway.

pub mod config;
pub mod document;
pub mod error;
pub mod revocation;
pub mod seal;
pub mod signature;
pub mod signing;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use const_oid::db::rfc4519::SERIAL_NUMBER;
use const_oid::db::rfc5280::{
    ID_CE_CERTIFICATE_POLICIES, ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE, ID_KP_CLIENT_AUTH,
};
use der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use der::{Any, Decode};
use kopir_core::identifiers::{Bin, Iin};
use rustls_pki_types::{CertificateDer, UnixTime};
use rustls_pki_types::{SignatureVerificationAlgorithm, TrustAnchor};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::{CertificatePolicies, ExtendedKeyUsage, KeyUsage};
use x509_cert::Certificate;

use crate::config::TrustConfig;
use crate::error::TrustError;
pub use kopir_core::digest::sha256_hex;
pub use revocation::Revocation;

/// OID of the organisational unit attribute (2.5.4.11), where national certificates carry a BIN.
const ORGANIZATIONAL_UNIT: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("2.5.4.11");

/// id-kp-emailProtection (1.3.6.1.5.5.7.3.4), content bytes: the extended key usage national
/// signing certificates carry; a signing certificate that lists extended usages must list it.
const EKU_EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];

/// Whom a verified certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `serialNumber=IIN…`: the person.
    pub iin: Option<Iin>,
    /// `OU=BIN…`: the organisation.
    pub bin: Option<Bin>,
}

impl Holder {
    /// Masked, for logs and messages.
    pub fn masked(&self) -> String {
        match (&self.iin, &self.bin) {
            (Some(i), Some(b)) => format!("IIN {} of BIN {}", i.masked(), b.masked()),
            (Some(i), None) => format!("IIN {}", i.masked()),
            (None, Some(b)) => format!("BIN {}", b.masked()),
            (None, None) => "no IIN or BIN".to_string(),
        }
    }
}

/// A certificate whose path to a root was validated (and, with CRLs configured, found not revoked).
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    /// Whom it names.
    pub holder: Holder,
    /// Start of the certificate's validity.
    pub not_before: SystemTime,
    /// End of the certificate's validity.
    pub not_after: SystemTime,
}

/// What a certificate is being checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usage {
    /// A TLS client of the gateway.
    Client,
    /// A document signer.
    Signing,
}

/// Why a path did not validate.
#[derive(Debug)]
pub enum ChainError {
    /// Path validation failed.
    Path(webpki::Error),
    /// The certificate is readable by webpki but not by us, or names nobody.
    Certificate(String),
    /// Revocation status could not be established.
    Revocation(TrustError),
    /// The certificate's key usage does not allow signing documents.
    NotForSigning,
    /// The certificate is not issued for TLS client authentication (no `clientAuth` extended
    /// key usage, no configured client policy).
    NotForClients,
}

/// The signature algorithms the gateway accepts, by OID. Pluggable: a national algorithm (GOST
/// 34.310) is one more `SignatureVerificationAlgorithm` registered here.
#[derive(Debug)]
pub struct Algorithms {
    by_oid: Vec<(
        const_oid::ObjectIdentifier,
        &'static dyn SignatureVerificationAlgorithm,
    )>,
    all: Vec<&'static dyn SignatureVerificationAlgorithm>,
}

impl Default for Algorithms {
    fn default() -> Self {
        use const_oid::db::rfc5912::{
            ECDSA_WITH_SHA_256, RSA_ENCRYPTION, SHA_256_WITH_RSA_ENCRYPTION,
        };
        let rsa = webpki::ring::RSA_PKCS1_2048_8192_SHA256;
        let ec = webpki::ring::ECDSA_P256_SHA256;
        Self {
            // CMS signers write either the combined OID or rsaEncryption beside a SHA-256 digest.
            by_oid: vec![
                (SHA_256_WITH_RSA_ENCRYPTION, rsa),
                (RSA_ENCRYPTION, rsa),
                (ECDSA_WITH_SHA_256, ec),
            ],
            all: vec![rsa, ec],
        }
    }
}

impl Algorithms {
    /// The verifier for a CMS or X.509 signature algorithm OID.
    pub fn by_oid(
        &self,
        oid: &const_oid::ObjectIdentifier,
    ) -> Option<&'static dyn SignatureVerificationAlgorithm> {
        self.by_oid.iter().find(|(o, _)| o == oid).map(|(_, a)| *a)
    }
}

/// The gateway's trust store and verification caches.
pub struct Trust {
    anchors: Vec<TrustAnchor<'static>>,
    algorithms: Algorithms,
    revocation: Arc<Revocation>,
    chains: moka::sync::Cache<(u64, [u8; 32]), Arc<VerifiedChain>>,
    clock_skew: Duration,
    freshness: Duration,
    client_policies: Vec<const_oid::ObjectIdentifier>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("anchors", &self.anchors.len())
            .field("cached_chains", &self.chains.entry_count())
            .finish_non_exhaustive()
    }
}

/// Reads every certificate of a PEM file.
pub fn read_pem_certificates(
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            TrustError::Config(format!(
                "cannot read certificates from {}: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(TrustError::Config(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn attribute_text(value: &Any) -> Option<String> {
    if let Ok(s) = Utf8StringRef::try_from(value) {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = PrintableStringRef::try_from(value) {
        return Some(s.as_str().to_string());
    }
    Ia5StringRef::try_from(value)
        .ok()
        .map(|s| s.as_str().to_string())
}

/// Whom a certificate names, by the national profile: `serialNumber=IIN…`, `OU=BIN…`.
pub fn holder_of(cert: &Certificate) -> Holder {
    let mut holder = Holder {
        iin: None,
        bin: None,
    };
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let Some(text) = attribute_text(&atv.value) else {
                continue;
            };
            if atv.oid == SERIAL_NUMBER {
                if let Some(iin) = text.strip_prefix("IIN").and_then(|d| Iin::parse(d).ok()) {
                    holder.iin = Some(iin);
                }
            } else if atv.oid == ORGANIZATIONAL_UNIT {
                if let Some(bin) = text.strip_prefix("BIN").and_then(|d| Bin::parse(d).ok()) {
                    holder.bin = Some(bin);
                }
            }
        }
    }
    holder
}

/// Whether the certificate's key usage (if it states one) allows signing documents.
fn may_sign(cert: &Certificate) -> bool {
    let Some(ext) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_KEY_USAGE)
    else {
        return true;
    };
    KeyUsage::from_der(ext.extn_value.as_bytes())
        .map(|ku| ku.digital_signature() || ku.non_repudiation())
        .unwrap_or(false)
}

/// Whether `cert` is issued for TLS client authentication: its extended key usage names
/// `clientAuth`, or its certificate policies name one of `policies`. A certificate without an
/// extended key usage is not taken as a client's, whatever else it may be (a seal, a signer's).
fn for_clients(cert: &Certificate, policies: &[const_oid::ObjectIdentifier]) -> bool {
    let extension = |id| {
        cert.tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(move |e| e.extn_id == id)
    };
    let eku = extension(ID_CE_EXT_KEY_USAGE)
        .and_then(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|eku| eku.0.contains(&ID_KP_CLIENT_AUTH));
    eku || extension(ID_CE_CERTIFICATE_POLICIES)
        .and_then(|e| CertificatePolicies::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|p| {
            p.0.iter()
                .any(|info| policies.contains(&info.policy_identifier))
        })
}

impl Trust {
    /// Loads the configured roots and sets up CRL fetching (nothing is fetched yet).
    pub fn new(config: &TrustConfig) -> Result<Self, TrustError> {
        let client_policies = config
            .client_policies
            .iter()
            .map(|oid| {
                const_oid::ObjectIdentifier::new(oid).map_err(|e| {
                    TrustError::Config(format!(
                        "trust.client_policies: {oid:?} is not a dotted OID: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut anchors = Vec::new();
        for path in &config.roots {
            for der in read_pem_certificates(path)? {
                let anchor = webpki::anchor_from_trusted_cert(&der).map_err(|e| {
                    TrustError::Config(format!(
                        "{}: not a usable root certificate: {e:?}",
                        path.display()
                    ))
                })?;
                anchors.push(anchor.to_owned());
            }
        }
        Ok(Self {
            anchors,
            algorithms: Algorithms::default(),
            revocation: Arc::new(Revocation::new(config.crls.clone())?),
            chains: moka::sync::Cache::builder()
                .max_capacity(config.chain_cache_entries)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            clock_skew: Duration::from_secs(config.max_clock_skew_s),
            freshness: Duration::from_secs(config.freshness_s),
            client_policies,
        })
    }

    /// The CRL holder, for the background refresher.
    pub fn revocation(&self) -> &Arc<Revocation> {
        &self.revocation
    }

    /// The accepted signature algorithms.
    pub fn algorithms(&self) -> &Algorithms {
        &self.algorithms
    }

    /// Allowed clock difference between a signer and the gateway.
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }

    /// How long a request document is usable after it was signed (clock skew not included).
    pub fn freshness(&self) -> Duration {
        self.freshness
    }

    /// Validates `leaf`'s path through `intermediates` to a root for `usage`, now, against the
    /// CRLs in force. Results are cached per CRL generation, so a repeat certificate costs a
    /// hash and a lookup until the CRLs change or it expires.
    pub async fn verify_chain(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        usage: Usage,
    ) -> Result<Arc<VerifiedChain>, ChainError> {
        let crls = self
            .revocation
            .current()
            .await
            .map_err(ChainError::Revocation)?;
        let mut hasher = Sha256::new();
        hasher.update([usage as u8]);
        hasher.update(leaf.as_ref());
        for i in intermediates {
            hasher.update((i.len() as u64).to_be_bytes());
            hasher.update(i.as_ref());
        }
        let key = (crls.generation, hasher.finalize().into());
        if let Some(hit) = self.chains.get(&key) {
            if SystemTime::now() < hit.not_after {
                return Ok(hit);
            }
        }
        let ee = webpki::EndEntityCert::try_from(leaf).map_err(ChainError::Path)?;
        let crl_refs: Vec<&webpki::CertRevocationList<'_>> = crls.lists.iter().collect();
        let revocation = if crl_refs.is_empty() {
            None
        } else {
            Some(
                webpki::RevocationOptionsBuilder::new(&crl_refs)
                    .map_err(|_| ChainError::Certificate("no revocation lists".into()))?
                    .with_depth(webpki::RevocationCheckDepth::EndEntity)
                    .with_status_policy(webpki::UnknownStatusPolicy::Deny)
                    .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
                    .build(),
            )
        };
        let eku = match usage {
            Usage::Client => webpki::KeyUsage::client_auth(),
            Usage::Signing => webpki::KeyUsage::required_if_present(EKU_EMAIL_PROTECTION),
        };
        ee.verify_for_usage(
            &self.algorithms.all,
            &self.anchors,
            intermediates,
            UnixTime::now(),
            eku,
            revocation,
            None,
        )
        .map_err(ChainError::Path)?;
        let cert = Certificate::from_der(leaf.as_ref())
            .map_err(|e| ChainError::Certificate(e.to_string()))?;
        if usage == Usage::Signing && !may_sign(&cert) {
            return Err(ChainError::NotForSigning);
        }
        if usage == Usage::Client && !for_clients(&cert, &self.client_policies) {
            return Err(ChainError::NotForClients);
        }
        let validity = &cert.tbs_certificate.validity;
        let verified = Arc::new(VerifiedChain {
            holder: holder_of(&cert),
            not_before: validity.not_before.to_system_time(),
            not_after: validity.not_after.to_system_time(),
        });
        self.chains.insert(key, verified.clone());
        Ok(verified)
    }

    /// Identifies a TLS client by the chain it presented (already validated by the handshake):
    /// its BIN, after a revocation check. Errors are UNAUTHENTICATED with the reason.
    pub async fn client(
        &self,
        chain: &[CertificateDer<'static>],
    ) -> Result<Arc<VerifiedChain>, TrustError> {
        let (leaf, intermediates) = chain.split_first().ok_or_else(|| {
            TrustError::Unauthenticated("the TLS handshake carried no client certificate".into())
        })?;
        let verified = self
            .verify_chain(leaf, intermediates, Usage::Client)
            .await
            .map_err(|e| match e {
                ChainError::Revocation(g) => g,
                ChainError::Path(webpki::Error::CertRevoked) => {
                    TrustError::Unauthenticated("the client certificate is revoked".into())
                }
                ChainError::Path(p) => TrustError::Unauthenticated(format!(
                    "the client certificate does not validate: {p:?}"
                )),
                ChainError::Certificate(c) => TrustError::Unauthenticated(format!(
                    "the client certificate is unreadable: {c}"
                )),
                ChainError::NotForSigning => {
                    TrustError::Unauthenticated("the client certificate is not usable".into())
                }
                ChainError::NotForClients => TrustError::Unauthenticated(
                    "the certificate is not issued for client authentication (its extended key usage does not name clientAuth): connect with your organisation's TLS client certificate, not a signing or sealing one".into(),
                ),
            })?;
        if verified.holder.bin.is_none() {
            return Err(TrustError::Unauthenticated(
                "the client certificate names no organisation (subject OU=BIN<12 digits>)".into(),
            ));
        }
        Ok(verified)
    }

    /// Number of cached verified chains (for the benchmark and tests).
    pub fn cached_chains(&self) -> u64 {
        self.chains.run_pending_tasks();
        self.chains.entry_count()
    }

    /// Drops every cached chain (the benchmark's cold path).
    pub fn forget_chains(&self) {
        self.chains.invalidate_all();
    }
}
