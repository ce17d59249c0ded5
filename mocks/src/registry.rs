//! One mock registry: an HTTP server on its own port that can be stopped, restarted and slowed
//! down at run time, and counts the calls it serves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::population::Population;
use crate::syncchannel;
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
    /// Added latency per data call.
    pub latency_ms: AtomicU64,
    /// Data calls served since start.
    pub calls: AtomicU64,
    /// The sender id it accepts.
    pub sender_id: String,
    /// The sender password it accepts.
    pub sender_password: String,
}

/// A running (or stopped) mock registry.
pub struct MockRegistry {
    state: Arc<RegistryState>,
    addr: SocketAddr,
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

#[derive(serde::Serialize)]
struct Stats {
    registry: &'static str,
    calls: u64,
    latency_ms: u64,
}

fn router(state: Arc<RegistryState>) -> Router {
    Router::new()
        .route(
            "/SyncChannel",
            get(syncchannel::wsdl).post(syncchannel::send_message),
        )
        .route(
            "/_mock/stats",
            get(|State(s): State<Arc<RegistryState>>| async move {
                Json(Stats {
                    registry: s.kind.name(),
                    calls: s.calls.load(Ordering::Relaxed),
                    latency_ms: s.latency_ms.load(Ordering::Relaxed),
                })
            }),
        )
        .route(
            "/_mock/latency/{ms}",
            put(
                |State(s): State<Arc<RegistryState>>, Path(ms): Path<u64>| async move {
                    s.latency_ms.store(ms, Ordering::Relaxed);
                    "ok"
                },
            ),
        )
        .with_state(state)
}

async fn spawn(
    state: Arc<RegistryState>,
    addr: SocketAddr,
) -> Result<(SocketAddr, oneshot::Sender<()>, JoinHandle<()>), MockError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| MockError::Bind(addr, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| MockError::Bind(addr, e))?;
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
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "mock registry server ended");
        }
    });
    Ok((local, tx, task))
}

impl MockRegistry {
    /// Starts serving `kind` on `addr` (port 0 picks a free port).
    pub async fn start(
        kind: RegistryKind,
        population: Arc<Population>,
        addr: SocketAddr,
        latency_ms: u64,
        sender: (&str, &str),
    ) -> Result<Self, MockError> {
        let state = Arc::new(RegistryState {
            kind,
            population,
            latency_ms: AtomicU64::new(latency_ms),
            calls: AtomicU64::new(0),
            sender_id: sender.0.to_string(),
            sender_password: sender.1.to_string(),
        });
        let (addr, tx, task) = spawn(state.clone(), addr).await?;
        Ok(Self {
            state,
            addr,
            running: Mutex::new(Some((tx, task))),
        })
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

    /// Data calls served since start.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::Relaxed)
    }

    /// Sets the added latency per data call.
    pub fn set_latency_ms(&self, ms: u64) {
        self.state.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Stops serving: the port closes and open connections end once idle.
    pub async fn stop(&self) {
        if let Some((tx, task)) = self.running.lock().await.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
    }

    /// Serves again on the same port after [`stop`](Self::stop).
    pub async fn restart(&self) -> Result<(), MockError> {
        let mut running = self.running.lock().await;
        if running.is_none() {
            let (_, tx, task) = spawn(self.state.clone(), self.addr).await?;
            *running = Some((tx, task));
        }
        Ok(())
    }
}
