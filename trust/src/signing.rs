//! Signing keys and CMS signatures (RFC 5652), as the national signing client makes them and as
//! the gateway seals what it relays. RSA-2048 and ECDSA P-256, both with SHA-256.

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use const_oid::db::rfc5911::ID_DATA;
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::OctetString;
use der::{Any, Encode};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core06::OsRng;
use sha2::{Digest, Sha256};
use signature::{Keypair, SignatureEncoding, Signer};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SubjectPublicKeyInfoOwned,
};
use x509_cert::Certificate;

/// A key that cannot be made, read, written or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing key or signature material is unusable: {0}")]
pub struct KeyError(pub String);

/// The public-key algorithms a key can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA, 2048-bit modulus, PKCS #1 v1.5 signatures with SHA-256.
    Rsa2048,
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
}

/// A private key that signs with SHA-256.
#[derive(Clone)]
pub enum KeyPair {
    /// An RSA key (boxed: it is much larger than an EC key).
    Rsa(Box<RsaKey>),
    /// A P-256 key.
    Ec(EcKey),
}

/// An RSA key that signs through *ring*: its Montgomery arithmetic is several times faster than
/// the pure-Rust `rsa` crate's, and a gateway with a national CA's RSA key signs every message
/// to a registry with it. The `rsa` crate's key is kept for encoding and the public half.
#[derive(Clone)]
pub struct RsaKey {
    key: rsa::RsaPrivateKey,
    verifying: rsa::pkcs1v15::VerifyingKey<Sha256>,
    ring: std::sync::Arc<ring::signature::RsaKeyPair>,
}

impl RsaKey {
    fn new(key: rsa::RsaPrivateKey) -> Result<Self, KeyError> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| key_error("PKCS #8 encoding", e))?;
        let ring = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| key_error("RSA key", e))?;
        Ok(Self {
            verifying: rsa::pkcs1v15::VerifyingKey::new(key.to_public_key()),
            key,
            ring: std::sync::Arc::new(ring),
        })
    }
}

/// The signer the generic builders see for an RSA key: RustCrypto's types, ring's arithmetic.
struct RingRsaSigner<'a> {
    key: &'a RsaKey,
}

impl Keypair for RingRsaSigner<'_> {
    type VerifyingKey = rsa::pkcs1v15::VerifyingKey<Sha256>;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.key.verifying.clone()
    }
}

impl spki::SignatureAlgorithmIdentifier for RingRsaSigner<'_> {
    type Params = der::asn1::AnyRef<'static>;
    const SIGNATURE_ALGORITHM_IDENTIFIER: spki::AlgorithmIdentifier<Self::Params> =
        rsa::pkcs1v15::SigningKey::<Sha256>::SIGNATURE_ALGORITHM_IDENTIFIER;
}

impl Signer<rsa::pkcs1v15::Signature> for RingRsaSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<rsa::pkcs1v15::Signature, signature::Error> {
        let mut sig = vec![0u8; self.key.ring.public().modulus_len()];
        self.key
            .ring
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                msg,
                &mut sig,
            )
            .map_err(|_| signature::Error::new())?;
        rsa::pkcs1v15::Signature::try_from(sig.as_slice())
    }
}

/// A P-256 key that signs through *ring*: its constant-time ECDSA is several times faster than
/// the pure-Rust arithmetic, and the gateway seals every response with it.
#[derive(Clone)]
pub struct EcKey {
    secret: p256::SecretKey,
    // Derived once: it is a scalar multiplication.
    verifying: p256::ecdsa::VerifyingKey,
    ring: std::sync::Arc<ring::signature::EcdsaKeyPair>,
}

impl EcKey {
    fn new(secret: p256::SecretKey) -> Result<Self, KeyError> {
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| key_error("PKCS #8 encoding", e))?;
        let ring = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            der.as_bytes(),
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| key_error("P-256 key", e))?;
        Ok(Self {
            verifying: *p256::ecdsa::SigningKey::from(&secret).verifying_key(),
            secret,
            ring: std::sync::Arc::new(ring),
        })
    }
}

/// The signer the generic builders see for a P-256 key: RustCrypto's types, ring's arithmetic.
struct RingEcSigner<'a> {
    key: &'a EcKey,
    verifying: p256::ecdsa::VerifyingKey,
}

impl Keypair for RingEcSigner<'_> {
    type VerifyingKey = p256::ecdsa::VerifyingKey;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.verifying
    }
}

impl spki::SignatureAlgorithmIdentifier for RingEcSigner<'_> {
    type Params = der::asn1::AnyRef<'static>;
    const SIGNATURE_ALGORITHM_IDENTIFIER: spki::AlgorithmIdentifier<Self::Params> =
        p256::ecdsa::SigningKey::SIGNATURE_ALGORITHM_IDENTIFIER;
}

impl Signer<p256::ecdsa::DerSignature> for RingEcSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<p256::ecdsa::DerSignature, signature::Error> {
        let sig = self
            .key
            .ring
            .sign(&ring::rand::SystemRandom::new(), msg)
            .map_err(|_| signature::Error::new())?;
        p256::ecdsa::DerSignature::from_bytes(sig.as_ref())
    }
}

impl std::fmt::Debug for KeyPair {
    // A private key never appears in logs or debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({:?})", self.algorithm())
    }
}

/// What a CMS signature covers.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// Detached: the signature covers these bytes, which travel beside it.
    Detached(&'a [u8]),
    /// Attached: the bytes are carried inside the SignedData.
    Attached(&'a [u8]),
}

fn key_error(what: &str, e: impl std::fmt::Display) -> KeyError {
    KeyError(format!("{what}: {e}"))
}

/// Runs `$body` with `$signer` bound to the concrete RustCrypto signer of `$key` and `$Sig` to its
/// signature type, so generic builders are written once for both algorithms.
macro_rules! with_signer {
    ($key:expr, |$signer:ident, $Sig:ident| $body:expr) => {
        match $key {
            KeyPair::Rsa(k) => {
                type $Sig = rsa::pkcs1v15::Signature;
                let $signer = RingRsaSigner { key: k };
                $body
            }
            KeyPair::Ec(k) => {
                type $Sig = p256::ecdsa::DerSignature;
                let $signer = RingEcSigner {
                    key: k,
                    verifying: k.verifying,
                };
                $body
            }
        }
    };
}

impl KeyPair {
    /// A fresh random key.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        match algorithm {
            KeyAlgorithm::Rsa2048 => {
                let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048)
                    .map_err(|e| key_error("RSA key generation", e))?;
                Ok(Self::Rsa(Box::new(RsaKey::new(key)?)))
            }
            KeyAlgorithm::EcdsaP256 => {
                Ok(Self::Ec(EcKey::new(p256::SecretKey::random(&mut OsRng))?))
            }
        }
    }

    /// Reads a PKCS #8 PEM private key (RSA or P-256).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        if let Ok(k) = p256::SecretKey::from_pkcs8_pem(pem) {
            return Ok(Self::Ec(EcKey::new(k)?));
        }
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| key_error("not a PKCS #8 RSA or P-256 private key", e))?;
        Ok(Self::Rsa(Box::new(RsaKey::new(key)?)))
    }

    /// The key as PKCS #8 PEM.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let pem = match self {
            Self::Rsa(k) => k.key.to_pkcs8_pem(LineEnding::LF),
            Self::Ec(k) => k.secret.to_pkcs8_pem(LineEnding::LF),
        };
        pem.map(|p| p.to_string())
            .map_err(|e| key_error("PKCS #8 encoding", e))
    }

    /// Which algorithm the key uses.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Rsa(_) => KeyAlgorithm::Rsa2048,
            Self::Ec(_) => KeyAlgorithm::EcdsaP256,
        }
    }

    /// The public half, as a certificate carries it.
    pub fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, KeyError> {
        let der = with_signer!(self, |s, _Sig| s.verifying_key().to_public_key_der())
            .map_err(|e| key_error("public key encoding", e))?;
        SubjectPublicKeyInfoOwned::try_from(der.as_bytes())
            .map_err(|e| key_error("public key encoding", e))
    }

    /// The signature algorithm identifier its signatures carry (sha256WithRSAEncryption or
    /// ecdsa-with-SHA256).
    pub fn signature_algorithm(&self) -> Result<AlgorithmIdentifierOwned, KeyError> {
        with_signer!(self, |s, _Sig| s.signature_algorithm_identifier())
            .map_err(|e| key_error("signature algorithm", e))
    }

    /// Signs `message` (hashing it with SHA-256): PKCS #1 v1.5 bytes for RSA, DER for ECDSA.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        with_signer!(self, |s, Sig| {
            let sig: Sig = s.try_sign(message).map_err(|e| key_error("signing", e))?;
            Ok(sig.to_vec())
        })
    }

    /// A CMS SignedData (as DER ContentInfo) over `content`, signed by this key under `cert`, with
    /// `cert` and `chain` (intermediates) included so a verifier can build the path to its roots.
    pub fn sign_cms(
        &self,
        content: Content<'_>,
        cert: &Certificate,
        chain: &[Certificate],
    ) -> Result<Vec<u8>, KeyError> {
        self.sign_cms_at(content, cert, chain, std::time::SystemTime::now())
    }

    /// As [`sign_cms`](Self::sign_cms), with `at` as the signing-time attribute (a signer's
    /// clock, or a test's).
    pub fn sign_cms_at(
        &self,
        content: Content<'_>,
        cert: &Certificate,
        chain: &[Certificate],
        at: std::time::SystemTime,
    ) -> Result<Vec<u8>, KeyError> {
        let cms_error = |e: &dyn std::fmt::Display| key_error("CMS signing", e);
        let (econtent, digest) = match content {
            Content::Detached(bytes) => (None, Some(Sha256::digest(bytes).to_vec())),
            Content::Attached(bytes) => {
                let octets = OctetString::new(bytes).map_err(|e| cms_error(&e))?;
                (
                    Some(Any::encode_from(&octets).map_err(|e| cms_error(&e))?),
                    None,
                )
            }
        };
        let eci = EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent,
        };
        let sha256 = AlgorithmIdentifierOwned {
            oid: ID_SHA_256,
            parameters: None,
        };
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        });
        let info = with_signer!(self, |s, Sig| {
            let mut builder = SignedDataBuilder::new(&eci);
            builder
                .add_digest_algorithm(sha256.clone())
                .map_err(|e| cms_error(&e))?;
            for c in std::iter::once(cert).chain(chain) {
                builder
                    .add_certificate(CertificateChoices::Certificate(c.clone()))
                    .map_err(|e| cms_error(&e))?;
            }
            let mut signer_info = SignerInfoBuilder::new(&s, sid, sha256, &eci, digest.as_deref())
                .map_err(|e| cms_error(&e))?;
            signer_info
                .add_signed_attribute(signing_time(at).map_err(|e| cms_error(&e))?)
                .map_err(|e| cms_error(&e))?;
            builder
                .add_signer_info::<_, Sig>(signer_info)
                .map_err(|e| cms_error(&e))?;
            builder.build().map_err(|e| cms_error(&e))?
        });
        info.to_der().map_err(|e| cms_error(&e))
    }
}

/// The CMS signing-time attribute of `at`: UTCTime from 1950 to 2049, GeneralizedTime outside
/// (RFC 5652 §11.3), as the `cms` crate's own builder encodes the current time.
fn signing_time(at: std::time::SystemTime) -> der::Result<x509_cert::attr::Attribute> {
    // UTCTime covers exactly 1950 to 2049, and refuses any other year.
    let time = match der::asn1::UtcTime::from_system_time(at) {
        Ok(utc) => x509_cert::time::Time::UtcTime(utc),
        Err(_) => {
            x509_cert::time::Time::GeneralTime(der::asn1::GeneralizedTime::from_system_time(at)?)
        }
    };
    let value = Any::encode_from(&time)?;
    let mut values = der::asn1::SetOfVec::new();
    values.insert(value)?;
    Ok(x509_cert::attr::Attribute {
        oid: const_oid::db::rfc5911::ID_SIGNING_TIME,
        values,
    })
}
