//! TLS acceptance for the gRPC listener: a client certificate chained to the configured roots is
//! required; handshakes run here rather than inside tonic so that each failure (no certificate,
//! an unknown CA, an expired certificate, plaintext on the TLS port, a timeout) is counted in the
//! metrics and logged. tonic then serves the accepted streams and still sees the peer's chain.

use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::TrustConfig;
use crate::error::GatewayError;
use crate::metrics::Metrics;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn read(path: &Option<std::path::PathBuf>, what: &str) -> Result<Vec<u8>, GatewayError> {
    let p = path.as_ref().ok_or_else(|| GatewayError::Config {
        detail: format!("trust.{what} is required for TLS"),
    })?;
    std::fs::read(p).map_err(|e| GatewayError::Config {
        detail: format!("cannot read trust.{what} {}: {e}", p.display()),
    })
}

fn bad(what: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Config {
        detail: format!("TLS {what}: {e}"),
    }
}

/// The server side of TLS: the gateway's certificate and key, client certificates required and
/// chained to `trust.roots`, HTTP/2 by ALPN.
pub fn server_config(trust: &TrustConfig) -> Result<Arc<ServerConfig>, GatewayError> {
    let chain = CertificateDer::pem_slice_iter(&read(&trust.tls_cert, "tls_cert")?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("trust.tls_cert", e))?;
    let key = PrivateKeyDer::from_pem_slice(&read(&trust.tls_key, "tls_key")?)
        .map_err(|e| bad("trust.tls_key", e))?;
    let mut roots = RootCertStore::empty();
    for path in &trust.roots {
        let pem = std::fs::read(path).map_err(|e| GatewayError::Config {
            detail: format!("cannot read trust.roots {}: {e}", path.display()),
        })?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots
                .add(cert.map_err(|e| bad("trust.roots", e))?)
                .map_err(|e| bad("trust.roots", e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad("client verifier", e))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| bad("certificate and key", e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Why a handshake failed, as a metric label: from the rustls error tokio-rustls carries.
fn reason(e: &std::io::Error) -> &'static str {
    use rustls::{CertificateError, Error};
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(Error::NoCertificatesPresented) => "no_client_certificate",
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => "unknown_issuer",
        Some(Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        )) => "expired_certificate",
        Some(Error::InvalidMessage(_)) => "not_tls",
        _ => "other",
    }
}

/// Accepts connections on `listener`, completes each handshake in its own task, and yields the
/// established streams; failures are counted in `metrics` and logged at debug level.
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    metrics: Metrics,
) -> tokio_stream::wrappers::ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = mpsc::channel(128);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            // Once the server has stopped (the stream dropped), stop accepting and free the port.
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Small gRPC frames must not wait for Nagle's algorithm.
            tcp.set_nodelay(true).ok();
            let (acceptor, tx, metrics) = (acceptor.clone(), tx.clone(), metrics.clone());
            tokio::spawn(async move {
                let outcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                match outcome {
                    Ok(Ok(stream)) => {
                        tx.send(Ok(stream)).await.ok();
                    }
                    Ok(Err(e)) => {
                        let why = reason(&e);
                        metrics.tls_handshake_failed(why);
                        tracing::debug!(%peer, reason = why, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        metrics.tls_handshake_failed("timeout");
                        tracing::debug!(%peer, "TLS handshake timed out");
                    }
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
