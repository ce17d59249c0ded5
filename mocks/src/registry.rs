//! One mock registry: an HTTP server on its own port that can be stopped, restarted and slowed
//! down at run time, and counts the calls it serves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::sync::{oneshot, watch, Mutex};
use tokio::task::JoinHandle;

use crate::faults::{FaultState, Faults};
use crate::population::Population;
use crate::syncchannel;
use crate::wsse::ProviderSecurity;
use crate::MockError;

/// Which state database a mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryKind {
    /// Persons database (ГБД ФЛ).
    Persons,
    /// Legal-entities database (ГБД ЮЛ).
    LegalEntities,
}

impl RegistryKind {
    /// The registry's name as the gateway's config uses it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Persons => "persons",
            Self::LegalEntities => "legal_entities",
        }
    }
}

/// State shared by a mock registry's handlers.
pub struct RegistryState {
    /// Which database.
    pub kind: RegistryKind,
    /// The records it serves.
    pub population: Arc<Population>,
    /// How it misbehaves.
    pub faults: FaultState,
    /// Data calls received since start.
    pub calls: AtomicU64,
    /// The sender id it accepts.
    pub sender_id: String,
    /// The sender password it accepts.
    pub sender_password: String,
    /// True while stopping: calls left hanging by a timeout fault end then.
    pub stopping: watch::Sender<bool>,
    /// WS-Security, once installed: requests must be signed, replies are.
    security: std::sync::RwLock<Option<Arc<ProviderSecurity>>>,
    /// The last few SendMessage exchanges, newest last, as the bytes on the wire.
    last: std::sync::Mutex<std::collections::VecDeque<Exchange>>,
    /// The access control service's tokens, once required: a search must present one.
    consent_tokens: std::sync::RwLock<Option<crate::kdp::Tokens>>,
}

/// One request and its reply as they crossed the wire (for tests checking the bytes with tools
/// nobody here wrote).
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request body.
    pub request: axum::body::Bytes,
    /// The reply body.
    pub reply: axum::body::Bytes,
}

impl RegistryState {
    /// The access control service's tokens, when searches must present one.
    pub fn consent_tokens(&self) -> Option<crate::kdp::Tokens> {
        self.consent_tokens.read().ok().and_then(|t| t.clone())
    }

    /// The installed WS-Security, if any.
    pub fn security(&self) -> Option<Arc<ProviderSecurity>> {
        self.security.read().ok().and_then(|s| s.clone())
    }
}

/// A running (or stopped) mock registry.
pub struct MockRegistry {
    state: Arc<RegistryState>,
    addr: SocketAddr,
    up: AtomicBool,
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

fn router(state: Arc<RegistryState>) -> Router {
    Router::new()
        .route(
            "/SyncChannel",
            get(syncchannel::wsdl).post(syncchannel::send_message),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), capture))
        .layer(axum::middleware::from_fn(crate::trace::serve))
        .with_state(state)
}

/// How many exchanges a mock registry keeps for tests to look at.
const KEPT_EXCHANGES: usize = 8;

/// Keeps the last POSTs' request and reply bytes.
async fn capture(
    axum::extract::State(state): axum::extract::State<Arc<RegistryState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(sent) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(sent.clone()));
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(reply) => {
            if let Ok(mut last) = state.last.lock() {
                // Bytes are shared, not copied: the capture costs a reference count per call.
                if last.len() == KEPT_EXCHANGES {
                    last.pop_front();
                }
                last.push_back(Exchange {
                    request: sent,
                    reply: reply.clone(),
                });
            }
            axum::response::Response::from_parts(parts, axum::body::Body::from(reply))
        }
        // A reply cut on purpose (the reset fault) stays cut.
        Err(e) => axum::response::Response::from_parts(
            parts,
            axum::body::Body::from_stream(futures::stream::once(async move {
                Err::<axum::body::Bytes, _>(std::io::Error::other(e.to_string()))
            })),
        ),
    }
}

async fn spawn(
    state: Arc<RegistryState>,
    addr: SocketAddr,
) -> Result<(SocketAddr, oneshot::Sender<()>, JoinHandle<()>), MockError> {
    let (listener, local) = crate::bind(addr).await?;
    state.stopping.send_replace(false);
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(state);
    // Replies are small: without TCP_NODELAY they wait on the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                rx.await.ok();
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "mock registry server ended");
        }
    });
    Ok((local, tx, task))
}

impl MockRegistry {
    /// Starts serving `kind` on `addr` (port 0 picks a free port) with `faults`; a registry whose
    /// faults say `down` binds its port and closes it at once, so it can come up later on it.
    pub async fn start(
        kind: RegistryKind,
        population: Arc<Population>,
        addr: SocketAddr,
        faults: Faults,
        sender: (&str, &str),
    ) -> Result<Self, MockError> {
        let down = faults.down;
        let state = Arc::new(RegistryState {
            kind,
            population,
            faults: FaultState::new(faults),
            calls: AtomicU64::new(0),
            sender_id: sender.0.to_string(),
            sender_password: sender.1.to_string(),
            stopping: watch::Sender::new(false),
            security: std::sync::RwLock::new(None),
            last: std::sync::Mutex::new(std::collections::VecDeque::new()),
            consent_tokens: std::sync::RwLock::new(None),
        });
        let (addr, tx, task) = spawn(state.clone(), addr).await?;
        let registry = Self {
            state,
            addr,
            up: AtomicBool::new(true),
            running: Mutex::new(Some((tx, task))),
        };
        if down {
            registry.stop().await;
        }
        Ok(registry)
    }

    /// The state its handlers share.
    pub(crate) fn state(&self) -> &RegistryState {
        &self.state
    }

    /// Requires WS-Security on every request from now on and signs every reply.
    pub fn install_security(&self, security: Arc<ProviderSecurity>) {
        if let Ok(mut s) = self.state.security.write() {
            *s = Some(security);
        }
    }

    /// From now on a search must present a consent token that `tokens` issued for its subject
    /// and bound to the presenting key, as the real persons database requires.
    pub fn require_consent_tokens(&self, tokens: crate::kdp::Tokens) {
        if let Ok(mut t) = self.state.consent_tokens.write() {
            *t = Some(tokens);
        }
    }

    /// The last SendMessage exchange it served.
    pub fn last_exchange(&self) -> Option<Exchange> {
        self.state.last.lock().ok().and_then(|l| l.back().cloned())
    }

    /// The last few SendMessage exchanges it served, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state
            .last
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Which database this mock serves.
    pub fn kind(&self) -> RegistryKind {
        self.state.kind
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SyncChannel URL a gateway should call.
    pub fn url(&self) -> String {
        format!("http://{}/SyncChannel", self.addr)
    }

    /// Data calls received since start.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::Relaxed)
    }

    /// Whether its port is open.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The current faults, `down` included.
    pub fn faults(&self) -> Faults {
        Faults {
            down: !self.is_up(),
            ..self.state.faults.get()
        }
    }

    /// Sets the added latency per data call, keeping the other faults.
    pub fn set_latency_ms(&self, ms: u64) {
        self.state.faults.set(Faults {
            latency_ms: ms,
            ..self.state.faults.get()
        });
    }

    /// Replaces the faults; `down` stops or restarts the server.
    pub async fn set_faults(&self, faults: Faults) -> Result<(), MockError> {
        faults
            .validate()
            .map_err(|e| MockError::Faults(e.to_string()))?;
        let down = faults.down;
        self.state.faults.set(faults);
        if down {
            self.stop().await;
        } else {
            self.restart().await?;
        }
        Ok(())
    }

    /// Stops serving: the port closes, calls left hanging end, open connections close.
    pub async fn stop(&self) {
        if let Some((tx, task)) = self.running.lock().await.take() {
            self.up.store(false, Ordering::Relaxed);
            self.state.stopping.send_replace(true);
            tx.send(()).ok();
            task.await.ok();
        }
    }

    /// Serves again on the same port after [`stop`](Self::stop).
    pub async fn restart(&self) -> Result<(), MockError> {
        let mut running = self.running.lock().await;
        if running.is_none() {
            let (_, tx, task) = spawn(self.state.clone(), self.addr).await?;
            *running = Some((tx, task));
            self.up.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}
