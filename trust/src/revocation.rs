//! Certificate revocation lists: fetched from the configured URLs, kept in memory, refreshed when
//! their nextUpdate passes, and handed to path validation (which checks each CRL's signature
//! against the certificate's issuer).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use der::Decode;
use x509_cert::crl::CertificateList;

use crate::error::TrustError;

/// The CRLs in force, with a generation number that changes on every refresh: verification
/// results cached under one generation are not trusted under the next.
#[derive(Debug)]
pub struct CrlSet {
    /// The parsed lists, as path validation takes them.
    pub lists: Vec<webpki::CertRevocationList<'static>>,
    /// The earliest nextUpdate among them.
    pub next_update: Option<SystemTime>,
    /// Increases with every successful refresh.
    pub generation: u64,
}

/// Fetches and holds the CRLs.
#[derive(Debug)]
pub struct Revocation {
    sources: Vec<url::Url>,
    http: reqwest::Client,
    current: ArcSwap<CrlSet>,
    // One refresh at a time; callers that find the set stale wait for the one in flight.
    refreshing: tokio::sync::Mutex<()>,
}

fn unavailable(detail: String) -> TrustError {
    TrustError::RevocationUnavailable(detail)
}

/// A CRL's nextUpdate, which path validation needs but does not expose.
fn next_update(der: &[u8]) -> Result<Option<SystemTime>, String> {
    let crl = CertificateList::from_der(der).map_err(|e| e.to_string())?;
    Ok(crl.tbs_cert_list.next_update.map(|t| t.to_system_time()))
}

impl Revocation {
    /// A holder for `sources`; nothing is fetched until [`refresh`](Self::refresh).
    pub fn new(sources: Vec<url::Url>) -> Result<Self, TrustError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TrustError::Config(format!("CRL client: {e}")))?;
        Ok(Self {
            sources,
            http,
            current: ArcSwap::from_pointee(CrlSet {
                lists: Vec::new(),
                next_update: None,
                generation: 0,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// Whether any CRL source is configured.
    pub fn is_configured(&self) -> bool {
        !self.sources.is_empty()
    }

    /// Fetches every source and swaps the set in whole, or leaves the old one and says why.
    pub async fn refresh(&self) -> Result<(), TrustError> {
        let mut lists = Vec::with_capacity(self.sources.len());
        let mut earliest: Option<SystemTime> = None;
        for url in &self.sources {
            let bytes = self
                .http
                .get(url.clone())
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| unavailable(format!("cannot fetch the revocation list {url}: {e}")))?
                .bytes()
                .await
                .map_err(|e| unavailable(format!("cannot read the revocation list {url}: {e}")))?;
            let next = next_update(&bytes)
                .map_err(|e| unavailable(format!("revocation list {url} is not a CRL: {e}")))?;
            let list = webpki::OwnedCertRevocationList::from_der(&bytes)
                .map_err(|e| unavailable(format!("revocation list {url} is unusable: {e:?}")))?;
            lists.push(webpki::CertRevocationList::Owned(list));
            if let Some(n) = next {
                earliest = Some(earliest.map_or(n, |e| e.min(n)));
            }
        }
        let generation = self.current.load().generation + 1;
        self.current.store(Arc::new(CrlSet {
            lists,
            next_update: earliest,
            generation,
        }));
        tracing::info!(
            generation,
            sources = self.sources.len(),
            "revocation lists refreshed"
        );
        Ok(())
    }

    /// The CRLs in force, fetched again first if their nextUpdate has passed.
    pub async fn current(&self) -> Result<Arc<CrlSet>, TrustError> {
        let set = self.current.load_full();
        if !self.is_configured() || !Self::is_stale(&set) {
            return Ok(set);
        }
        let _guard = self.refreshing.lock().await;
        // Someone else may have refreshed while this call waited.
        let set = self.current.load_full();
        if !Self::is_stale(&set) {
            return Ok(set);
        }
        self.refresh().await?;
        Ok(self.current.load_full())
    }

    /// Whether the revocation lists in force are within their nextUpdate (true when none are
    /// configured): past it, certificates cannot be checked until a refresh succeeds.
    pub fn is_current(&self) -> bool {
        !self.is_configured() || !Self::is_stale(&self.current.load_full())
    }

    fn is_stale(set: &CrlSet) -> bool {
        set.generation == 0 || set.next_update.is_some_and(|n| SystemTime::now() >= n)
    }

    /// Refreshes in the background at each nextUpdate, so calls rarely wait for a fetch.
    pub fn spawn_refresher(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        if !self.is_configured() {
            return None;
        }
        let this = self.clone();
        Some(tokio::spawn(async move {
            loop {
                let wait = this
                    .current
                    .load()
                    .next_update
                    .and_then(|n| n.duration_since(SystemTime::now()).ok())
                    .unwrap_or(Duration::from_secs(1))
                    .clamp(Duration::from_millis(200), Duration::from_secs(3600));
                tokio::time::sleep(wait).await;
                if let Err(e) = this.current().await {
                    tracing::warn!(error = %e, "revocation list refresh failed; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }))
    }
}
