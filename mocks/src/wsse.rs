//! The mock providers' WS-Security: how they sign replies and check the gateway's requests, as
//! the real provider side does (a request whose signature, timestamp or certificate fails is
//! refused with a WS-Security fault code).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use roxmltree::Document;
use rustls_pki_types::CertificateDer;

use kopir_trust::{Trust, Usage};
use kopir_xmlsec::{wsse, KeySigner, XmlSecError};

/// A provider's signing key and the trust its clients' certificates must chain to.
#[derive(Debug)]
pub struct ProviderSecurity {
    signer: KeySigner,
    trust: Arc<Trust>,
    intermediates: Vec<CertificateDer<'static>>,
}

impl ProviderSecurity {
    /// Signs with `signer`; requests must be signed by a certificate chaining through
    /// `intermediates` to `trust`'s roots.
    pub fn new(
        signer: KeySigner,
        trust: Arc<Trust>,
        intermediates: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self {
            signer,
            trust,
            intermediates,
        }
    }

    /// A signed envelope around `body`.
    pub fn sign(&self, body: &str) -> Result<String, XmlSecError> {
        wsse::sign_envelope(body, &self.signer, Utc::now(), Duration::from_secs(300))
    }

    /// Signs a payload document enveloped, as the registry signs what `<data>` carries.
    pub fn sign_enveloped(&self, payload: &str) -> Result<String, XmlSecError> {
        kopir_xmlsec::enveloped::sign(payload, &self.signer)
    }

    /// Checks a payload's enveloped signature (required) and its signer's certificate path.
    pub async fn check_enveloped(&self, payload: &str) -> Result<(), String> {
        let cert = match kopir_xmlsec::enveloped::verify(payload) {
            Ok(kopir_xmlsec::enveloped::Enveloped::Valid(cert)) => cert,
            Ok(kopir_xmlsec::enveloped::Enveloped::Absent) => {
                return Err("the request is not signed".into())
            }
            Err(e) => return Err(format!("the request's signature: {e}")),
        };
        self.trust
            .verify_chain(
                &CertificateDer::from(cert),
                &self.intermediates,
                Usage::Signing,
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("the request's signer is not trusted: {e:?}"))
    }

    /// Checks a request's signature: `Err((fault code, message))` when it fails.
    pub async fn check(&self, doc: &Document<'_>) -> Result<(), (String, String)> {
        let verified =
            wsse::verify_envelope(doc, Utc::now(), Duration::from_secs(300)).map_err(|e| {
                let code = match e {
                    XmlSecError::Unsigned(_) | XmlSecError::Malformed(_) => "wsse:InvalidSecurity",
                    XmlSecError::Timestamp(_) => "wsse:MessageExpired",
                    XmlSecError::Certificate(_) => "wsse:InvalidSecurityToken",
                    _ => "wsse:FailedCheck",
                };
                (code.to_string(), format!("WS-Security: {e}"))
            })?;
        let leaf = CertificateDer::from(verified.certificate);
        self.trust
            .verify_chain(&leaf, &self.intermediates, Usage::Signing)
            .await
            .map(|_| ())
            .map_err(|e| {
                (
                    "wsse:FailedAuthentication".to_string(),
                    format!("the signer's certificate is not trusted: {e:?}"),
                )
            })
    }
}
