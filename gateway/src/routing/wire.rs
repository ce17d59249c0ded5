//! A SyncChannel service's envelope settings and WS-Security, from its configuration: the
//! gateway's signer (key and certificate files), the reply policy, the intermediates that lead
//! from the service's signing certificate to `[trust] roots`.

use std::sync::Arc;
use std::time::Duration;

use kopir_adapters::syncchannel::{MessageSecurity, VerifyPolicy, Wire};
use kopir_trust::signing::KeyPair;
use kopir_trust::Trust;
use kopir_xmlsec::dsig::{is_gost, ECDSA_SHA256, RSA_SHA256};
use kopir_xmlsec::{KeySigner, XmlSigner};

use crate::config::{SyncChannelSettings, VerifyMode, WsseConfig};
use crate::error::GatewayError;

fn config(at: &str, detail: impl std::fmt::Display) -> GatewayError {
    GatewayError::Config {
        detail: format!("{at}.wsse: {detail}"),
    }
}

/// The adapter's [`Wire`] of the service configured at `at` (`registries.persons`,
/// `channel route X`), its replies' paths checked by `trust`.
pub fn wire(
    at: &str,
    settings: &SyncChannelSettings,
    wsse: Option<&WsseConfig>,
    trust: &Arc<Trust>,
) -> Result<Wire, GatewayError> {
    let security = wsse
        .map(|w| security(at, w, trust))
        .transpose()?
        .map(Arc::new);
    Ok(Wire {
        route_id: settings.route_id.clone(),
        properties: settings
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        success_codes: settings.success_codes.clone(),
        not_found_codes: settings.not_found_codes.clone(),
        credential_codes: settings.credential_codes.clone(),
        invalid_codes: settings.invalid_codes.clone(),
        failure_codes: settings.failure_codes.clone(),
        security,
    })
}

fn security(at: &str, w: &WsseConfig, trust: &Arc<Trust>) -> Result<MessageSecurity, GatewayError> {
    let signer: Option<Arc<dyn XmlSigner>> = match (&w.cert, &w.key) {
        (Some(cert), Some(key)) => Some(Arc::new(signer(at, w, cert, key)?)),
        (None, None) => None,
        _ => return Err(config(at, "cert and key go together")),
    };
    let mut intermediates = Vec::new();
    for path in &w.intermediates {
        intermediates.extend(kopir_trust::read_pem_certificates(path).map_err(|e| config(at, e))?);
    }
    Ok(MessageSecurity {
        signer,
        verify: match w.verify {
            VerifyMode::Require => VerifyPolicy::Require,
            VerifyMode::IfPresent => VerifyPolicy::IfPresent,
            VerifyMode::Off => VerifyPolicy::Off,
        },
        trust: trust.clone(),
        intermediates,
        lifetime: Duration::from_secs(w.timestamp_ttl_s.max(1)),
        skew: trust.clock_skew(),
    })
}

fn signer(
    at: &str,
    w: &WsseConfig,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<KeySigner, GatewayError> {
    if let Some(method) = &w.signature_method {
        if is_gost(method) {
            return Err(config(
                at,
                format!(
                    "signature_method {method} is a GOST algorithm of the national CA: this build \
                     has no GOST signer; plug one in (an implementation of kopir_xmlsec::XmlSigner, \
                     see README \"WS-Security\") or use an RSA or P-256 key"
                ),
            ));
        }
        if method != RSA_SHA256 && method != ECDSA_SHA256 {
            return Err(config(
                at,
                format!("signature_method {method} is not supported"),
            ));
        }
    }
    let chain = kopir_trust::read_pem_certificates(cert).map_err(|e| config(at, e))?;
    let leaf = chain
        .first()
        .ok_or_else(|| config(at, format!("{} holds no certificate", cert.display())))?;
    let pem = std::fs::read_to_string(key)
        .map_err(|e| config(at, format!("cannot read {}: {e}", key.display())))?;
    let key = KeyPair::from_pkcs8_pem(&pem).map_err(|e| config(at, e))?;
    let signer = KeySigner::new(key, leaf.to_vec());
    if let Some(method) = &w.signature_method {
        if method != signer.signature_method() {
            return Err(config(
                at,
                format!(
                    "signature_method {method} does not fit the key, which signs {}",
                    signer.signature_method()
                ),
            ));
        }
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gost_signature_method_is_refused_with_a_configuration_error_that_says_so() {
        let trust = Arc::new(Trust::new(&kopir_trust::config::TrustConfig::default()).unwrap());
        for method in [
            kopir_xmlsec::dsig::GOST_34310,
            "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512",
        ] {
            let w = WsseConfig {
                cert: Some("gateway-wsse.crt".into()),
                key: Some("gateway-wsse.key".into()),
                signature_method: Some(method.into()),
                verify: VerifyMode::Require,
                intermediates: Vec::new(),
                timestamp_ttl_s: 300,
            };
            let err = wire(
                "registries.persons",
                &SyncChannelSettings::default(),
                Some(&w),
                &trust,
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("registries.persons.wsse"), "{err}");
            assert!(err.contains("GOST") && err.contains("XmlSigner"), "{err}");
        }
    }
}
