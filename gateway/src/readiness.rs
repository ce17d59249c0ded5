//! Whether this replica is fit to take calls, as a load balancer asks it: the journal's database
//! answers (no call is answered without its records), the sealing key signs, the revocation lists
//! are within their nextUpdate. Checked every half second; the overall `grpc.health.v1` entry
//! (`""`) and `kopir.v1.IdentityService` follow it, and so does `GET /ready` on the metrics port.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::task::JoinHandle;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use kopir_store::journal::Store;
use kopir_trust::seal::Sealer;
use kopir_trust::Trust;

/// How often the checks run.
const EVERY: Duration = Duration::from_millis(500);
/// How long the journal's database may take to answer a check.
const PING_WITHIN: Duration = Duration::from_secs(1);
/// The gRPC entries a load balancer asks about.
const ENTRIES: [&str; 2] = ["", "kopir.v1.IdentityService"];

/// What makes this replica fit; cheap to clone.
#[derive(Clone)]
pub struct Checks {
    /// The journal's store, when the journal is on.
    pub store: Option<Arc<dyn Store>>,
    /// The sealing key, when responses are sealed.
    pub sealer: Option<Arc<Sealer>>,
    /// The trust store (its revocation lists).
    pub trust: Arc<Trust>,
}

/// The latest verdict: why this replica is not ready, empty when it is.
#[derive(Clone, Default)]
pub struct Readiness {
    reasons: Arc<RwLock<Vec<String>>>,
}

impl Readiness {
    /// Why this replica is not ready now; empty when it is.
    pub fn reasons(&self) -> Vec<String> {
        self.reasons
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set(&self, reasons: Vec<String>) {
        match self.reasons.write() {
            Ok(mut r) => *r = reasons,
            Err(p) => *p.into_inner() = reasons,
        }
    }

    /// Runs the checks every half second, keeping the verdict and the health entries current.
    pub fn spawn(&self, checks: Checks, reporter: HealthReporter) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut was_ready = true;
            loop {
                let reasons = check(&checks).await;
                let ready = reasons.is_empty();
                if ready != was_ready {
                    if ready {
                        tracing::info!("ready again: serving");
                    } else {
                        tracing::warn!(reasons = %reasons.join("; "), "not ready: health says NOT_SERVING");
                    }
                    let status = if ready {
                        ServingStatus::Serving
                    } else {
                        ServingStatus::NotServing
                    };
                    set_entries(&reporter, status).await;
                    was_ready = ready;
                }
                this.set(reasons);
                tokio::time::sleep(EVERY).await;
            }
        })
    }

    /// `GET /ready`: 200 `ready`, or 503 with one reason a line.
    pub fn route(&self) -> axum::Router {
        let this = self.clone();
        axum::Router::new().route(
            "/ready",
            axum::routing::get(move || {
                let reasons = this.reasons();
                async move {
                    if reasons.is_empty() {
                        (StatusCode::OK, "ready\n".to_string())
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready:\n{}\n", reasons.join("\n")),
                        )
                    }
                }
            }),
        )
    }
}

/// Says NOT_SERVING on every entry at once (a replica that is stopping).
pub async fn draining(reporter: &HealthReporter) {
    set_entries(reporter, ServingStatus::NotServing).await;
}

async fn set_entries(reporter: &HealthReporter, status: ServingStatus) {
    for entry in ENTRIES {
        reporter.set_service_status(entry, status).await;
    }
}

async fn check(c: &Checks) -> Vec<String> {
    let mut reasons = Vec::new();
    if let Some(store) = &c.store {
        match tokio::time::timeout(PING_WITHIN, store.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => reasons.push(format!("the journal's database: {e}")),
            Err(_) => reasons.push(format!(
                "the journal's database did not answer within {} s",
                PING_WITHIN.as_secs()
            )),
        }
    }
    if let Some(sealer) = &c.sealer {
        if let Err(e) = sealer.seal(b"", "readiness", "", "readiness") {
            reasons.push(format!("the sealing key cannot sign: {e}"));
        }
    }
    if !c.trust.revocation().is_current() {
        reasons.push(
            "the revocation lists are past their nextUpdate and could not be fetched again".into(),
        );
    }
    reasons
}
