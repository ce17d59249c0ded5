//! XML Signature (XMLDSig 1.0) pieces shared by the WS-Security header and the enveloped
//! signature: algorithm URIs, the [`XmlSigner`] plug-in, `SignedInfo` building, and checking a
//! `ds:Signature`'s references and value.

use base64::Engine as _;
use roxmltree::{Node, NodeId};
use sha2::{Digest, Sha256};

use crate::c14n::{self, Method};
use crate::error::XmlSecError;
use kopir_trust::signing::{KeyAlgorithm, KeyPair};

/// The XML Signature namespace.
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// RSA PKCS #1 v1.5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// ECDSA with SHA-256 (the value is `r || s`, RFC 4050).
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// SHA-256 digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// GOST 34.310-2004 with GOST 34.311-95, as the national CA's KalkanCrypt writes it.
pub const GOST_34310: &str = "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311";
/// The prefix of the national CA's GOST R 34.10-2015 / 34.11-2015 algorithm family.
pub const GOST_2015_PREFIX: &str = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:";

/// Whether `uri` names one of the national CA's GOST algorithms (signature or digest), which
/// this build recognises but cannot compute without a plugged-in [`XmlSigner`] and verifier.
pub fn is_gost(uri: &str) -> bool {
    uri == GOST_34310
        || uri.starts_with(GOST_2015_PREFIX)
        || uri == "http://www.w3.org/2001/04/xmldsig-more#gost34311"
}

/// Signs `SignedInfo` for one key: the plug-in point for other algorithms (a GOST signer backed
/// by the national CA's provider implements this trait).
pub trait XmlSigner: Send + Sync + std::fmt::Debug {
    /// The `SignatureMethod` URI.
    fn signature_method(&self) -> &str;
    /// The `DigestMethod` URI of the references.
    fn digest_method(&self) -> &str;
    /// The digest of `data` under [`Self::digest_method`].
    fn digest(&self, data: &[u8]) -> Vec<u8>;
    /// The `SignatureValue` bytes over canonical `SignedInfo`.
    fn sign(&self, signed_info: &[u8]) -> Result<Vec<u8>, XmlSecError>;
    /// The signer's certificate (DER), carried as the `BinarySecurityToken`.
    fn certificate(&self) -> &[u8];
}

/// An RSA-SHA256 or ECDSA-SHA256 signer over a key of the trust crate.
#[derive(Debug, Clone)]
pub struct KeySigner {
    key: KeyPair,
    certificate: Vec<u8>,
}

impl KeySigner {
    /// A signer of `key` whose certificate is `certificate` (DER).
    pub fn new(key: KeyPair, certificate: Vec<u8>) -> Self {
        Self { key, certificate }
    }
}

impl XmlSigner for KeySigner {
    fn signature_method(&self) -> &str {
        match self.key.algorithm() {
            KeyAlgorithm::Rsa2048 => RSA_SHA256,
            KeyAlgorithm::EcdsaP256 => ECDSA_SHA256,
        }
    }

    fn digest_method(&self) -> &str {
        SHA256
    }

    fn digest(&self, data: &[u8]) -> Vec<u8> {
        Sha256::digest(data).to_vec()
    }

    fn sign(&self, signed_info: &[u8]) -> Result<Vec<u8>, XmlSecError> {
        let sig = self
            .key
            .sign(signed_info)
            .map_err(|e| XmlSecError::Signer(e.to_string()))?;
        match self.key.algorithm() {
            KeyAlgorithm::Rsa2048 => Ok(sig),
            // XMLDSig carries ECDSA as the fixed-size r || s, not DER.
            KeyAlgorithm::EcdsaP256 => p256::ecdsa::Signature::from_der(&sig)
                .map(|s| s.to_bytes().to_vec())
                .map_err(|e| XmlSecError::Signer(format!("ECDSA signature encoding: {e}"))),
        }
    }

    fn certificate(&self) -> &[u8] {
        &self.certificate
    }
}

/// One `ds:Reference` to write: its `URI` (`#id`, or `""` for the enveloping document), its
/// transforms' algorithm URIs in order, and the canonical bytes it covers.
pub struct Reference<'a> {
    /// The `URI` attribute.
    pub uri: &'a str,
    /// The transforms' algorithms.
    pub transforms: &'a [&'a str],
    /// The octets the transforms produce from the referenced node set.
    pub canonical: &'a [u8],
}

/// A `ds:SignedInfo` element in canonical exclusive form, declaring the `ds` prefix itself, so
/// that the bytes signed are the bytes a verifier's canonicalization produces in place.
pub fn signed_info(signer: &dyn XmlSigner, references: &[Reference<'_>]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut s = format!(
        concat!(
            r#"<ds:SignedInfo xmlns:ds="{ds}"><ds:CanonicalizationMethod Algorithm="{c14n}"></ds:CanonicalizationMethod>"#,
            r#"<ds:SignatureMethod Algorithm="{sig}"></ds:SignatureMethod>"#
        ),
        ds = DS_NS,
        c14n = c14n::EXC_C14N,
        sig = signer.signature_method(),
    );
    for r in references {
        s.push_str(&format!(r#"<ds:Reference URI="{}"><ds:Transforms>"#, r.uri));
        for t in r.transforms {
            s.push_str(&format!(r#"<ds:Transform Algorithm="{t}"></ds:Transform>"#));
        }
        s.push_str(&format!(
            concat!(
                r#"</ds:Transforms><ds:DigestMethod Algorithm="{dm}"></ds:DigestMethod>"#,
                "<ds:DigestValue>{dv}</ds:DigestValue></ds:Reference>"
            ),
            dm = signer.digest_method(),
            dv = b64.encode(signer.digest(r.canonical)),
        ));
    }
    s.push_str("</ds:SignedInfo>");
    s
}

/// What a checked `ds:Signature` covered.
#[derive(Debug)]
pub struct Checked {
    /// The elements its references resolved to, in order (`None` for `URI=""`, the document).
    pub covered: Vec<Option<NodeId>>,
}

/// A parsed `ds:Signature`, not yet checked.
pub struct SignatureElement<'a, 'i> {
    /// The `ds:Signature` element.
    pub element: Node<'a, 'i>,
    signed_info: Node<'a, 'i>,
    method: String,
    value: Vec<u8>,
}

fn ds_child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| {
        n.is_element() && n.tag_name().namespace() == Some(DS_NS) && n.tag_name().name() == name
    })
}

fn required<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Result<Node<'a, 'i>, XmlSecError> {
    ds_child(node, name).ok_or_else(|| {
        XmlSecError::Malformed(format!("<{}> lacks <ds:{name}>", node.tag_name().name()))
    })
}

fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, XmlSecError> {
    node.attribute("Algorithm").ok_or_else(|| {
        XmlSecError::Malformed(format!("<ds:{}> lacks Algorithm", node.tag_name().name()))
    })
}

/// The base64 text of `node` (whitespace ignored), decoded.
pub(crate) fn base64_text(node: Node<'_, '_>) -> Result<Vec<u8>, XmlSecError> {
    let text: String = node
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .flat_map(|t| t.chars().filter(|c| !c.is_whitespace()))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| XmlSecError::Malformed(format!("<{}> is not base64", node.tag_name().name())))
}

fn refuse_unsupported(uri: &str, what: &str) -> XmlSecError {
    if is_gost(uri) {
        XmlSecError::Unsupported(format!(
            "{what} {uri} is a GOST algorithm of the national CA: this build has no GOST \
             provider; plug one in behind the XmlSigner trait, or ask the registry for RSA-SHA256"
        ))
    } else {
        XmlSecError::Unsupported(format!("{what} {uri} is not accepted"))
    }
}

impl<'a, 'i> SignatureElement<'a, 'i> {
    /// Reads `element` (a `ds:Signature`).
    pub fn parse(element: Node<'a, 'i>) -> Result<Self, XmlSecError> {
        let signed_info = required(element, "SignedInfo")?;
        let c14n = algorithm(required(signed_info, "CanonicalizationMethod")?)?;
        if Method::from_uri(c14n).is_none() {
            return Err(refuse_unsupported(c14n, "canonicalization"));
        }
        let method = algorithm(required(signed_info, "SignatureMethod")?)?.to_string();
        if method != RSA_SHA256 && method != ECDSA_SHA256 {
            return Err(refuse_unsupported(&method, "signature method"));
        }
        let value = base64_text(required(element, "SignatureValue")?)?;
        Ok(Self {
            element,
            signed_info,
            method,
            value,
        })
    }

    /// The `KeyInfo` element, when present.
    pub fn key_info(&self) -> Option<Node<'a, 'i>> {
        ds_child(self.element, "KeyInfo")
    }

    /// Checks every reference's digest (each URI resolved by `resolve`; `URI=""` is the
    /// enveloping `document` element, the signature itself left out) and the signature value
    /// under `certificate` (DER).
    pub fn check(
        &self,
        document: Node<'a, 'i>,
        resolve: &dyn Fn(&str) -> Result<Node<'a, 'i>, XmlSecError>,
        certificate: &[u8],
    ) -> Result<Checked, XmlSecError> {
        let mut covered = Vec::new();
        let references: Vec<_> = self
            .signed_info
            .children()
            .filter(|n| {
                n.is_element()
                    && n.tag_name().namespace() == Some(DS_NS)
                    && n.tag_name().name() == "Reference"
            })
            .collect();
        if references.is_empty() {
            return Err(XmlSecError::Malformed(
                "SignedInfo holds no Reference".into(),
            ));
        }
        for reference in references {
            let uri = reference.attribute("URI").unwrap_or("");
            let (target, id) = if uri.is_empty() {
                (document, None)
            } else if let Some(id) = uri.strip_prefix('#') {
                let node = resolve(id)?;
                (node, Some(node.id()))
            } else {
                return Err(XmlSecError::Unsupported(format!(
                    "reference URI {uri:?}: only same-document references are accepted"
                )));
            };
            let mut method = Method::exclusive();
            let mut enveloped = false;
            let mut c14n_seen = false;
            if let Some(transforms) = ds_child(reference, "Transforms") {
                for t in transforms.children().filter(Node::is_element) {
                    let alg = algorithm(t)?;
                    if alg == ENVELOPED {
                        enveloped = true;
                    } else if let Some(m) = Method::from_uri(alg) {
                        method = m;
                        if method.exclusive {
                            method.inclusive_prefixes = inclusive_prefixes(t);
                        }
                        c14n_seen = true;
                    } else {
                        return Err(refuse_unsupported(alg, "transform"));
                    }
                }
            }
            if !c14n_seen {
                // A node set turned into octets without a named canonicalization: inclusive
                // C14N 1.0 without comments (XMLDSig §4.3.3.2).
                method = Method {
                    exclusive: false,
                    comments: false,
                    inclusive_prefixes: Vec::new(),
                };
            }
            // URI="" and "#id" select their nodes without comments (XMLDSig 4.3.3.3), whatever
            // canonicalization the transforms name.
            method.comments = false;
            let digest_method = algorithm(required(reference, "DigestMethod")?)?;
            if digest_method != SHA256 {
                return Err(refuse_unsupported(digest_method, "digest method"));
            }
            let omit = enveloped.then(|| self.element.id());
            if !enveloped && target.ancestors().any(|a| a.id() == self.element.id()) {
                return Err(XmlSecError::Malformed(
                    "a reference points inside its own signature".into(),
                ));
            }
            let canonical = c14n::canonicalize(target, omit, &method)?;
            let expected = base64_text(required(reference, "DigestValue")?)?;
            if Sha256::digest(&canonical).as_slice() != expected.as_slice() {
                return Err(XmlSecError::DigestMismatch(if uri.is_empty() {
                    "the signed document".to_string()
                } else {
                    format!("element {uri}")
                }));
            }
            covered.push(id);
        }
        let mut signed_info_method = Method::from_uri(algorithm(required(
            self.signed_info,
            "CanonicalizationMethod",
        )?)?)
        .unwrap_or_else(Method::exclusive);
        if let Some(cm) = ds_child(self.signed_info, "CanonicalizationMethod") {
            if signed_info_method.exclusive {
                signed_info_method.inclusive_prefixes = inclusive_prefixes(cm);
            }
        }
        let canonical = c14n::canonicalize(self.signed_info, None, &signed_info_method)?;
        verify_value(&self.method, certificate, &canonical, &self.value)?;
        Ok(Checked { covered })
    }
}

/// The `PrefixList` of an `ec:InclusiveNamespaces` child of a transform.
fn inclusive_prefixes(transform: Node<'_, '_>) -> Vec<String> {
    transform
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "InclusiveNamespaces")
        .and_then(|n| n.attribute("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Checks `value` over `message` with the public key of `certificate` (DER).
fn verify_value(
    method: &str,
    certificate: &[u8],
    message: &[u8],
    value: &[u8],
) -> Result<(), XmlSecError> {
    let der = rustls_pki_types::CertificateDer::from(certificate);
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| XmlSecError::Certificate(format!("{e:?}")))?;
    let (alg, sig): (
        &dyn rustls_pki_types::SignatureVerificationAlgorithm,
        Vec<u8>,
    ) = match method {
        RSA_SHA256 => (webpki::ring::RSA_PKCS1_2048_8192_SHA256, value.to_vec()),
        ECDSA_SHA256 => {
            let raw = p256::ecdsa::Signature::from_slice(value).map_err(|_| {
                XmlSecError::Malformed(
                    "an ECDSA-SHA256 SignatureValue is not 64 bytes r || s".into(),
                )
            })?;
            (
                webpki::ring::ECDSA_P256_SHA256,
                raw.to_der().as_bytes().to_vec(),
            )
        }
        other => return Err(refuse_unsupported(other, "signature method")),
    };
    cert.verify_signature(alg, message, &sig)
        .map_err(|_| XmlSecError::BadSignature)
}
