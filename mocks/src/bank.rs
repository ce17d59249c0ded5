//! Mock bank information system: the callback endpoint the gateway notifies of every status
//! change of the bank's pledge contracts. It acknowledges each event by id, keeps one record per
//! event however often it arrives, and can be told to fail the next N deliveries.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kopir_core::model::bank::{PledgeNotice, SealedNotice};
use serde_json::json;

use crate::MockError;

/// What the bank has received.
#[derive(Default)]
pub struct BankState {
    /// Notices by event id, each once.
    received: Mutex<BTreeMap<String, SealedNotice>>,
    /// Event ids in the order first received, with when.
    order: Mutex<Vec<String>>,
    received_at: Mutex<BTreeMap<String, chrono::DateTime<chrono::Utc>>>,
    posts: AtomicU64,
    fail_next: AtomicU32,
}

/// A running mock bank callback endpoint.
pub struct MockBank {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<BankState>,
}

async fn callback(State(state): State<Arc<BankState>>, Json(n): Json<SealedNotice>) -> Response {
    state.posts.fetch_add(1, Ordering::Relaxed);
    // A bank system in trouble answers 503 and acknowledges nothing.
    if state
        .fail_next
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "bank IS unavailable").into_response();
    }
    let id = n.notice.event_id.clone();
    let (Ok(mut received), Ok(mut order), Ok(mut at)) = (
        state.received.lock(),
        state.order.lock(),
        state.received_at.lock(),
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if !received.contains_key(&id) {
        order.push(id.clone());
        at.insert(id.clone(), chrono::Utc::now());
        received.insert(id.clone(), n);
    }
    Json(json!({ "event_id": id })).into_response()
}

impl MockBank {
    /// Serves `POST /callbacks/pledge` on `addr`.
    pub async fn start(addr: SocketAddr) -> Result<Self, MockError> {
        let state = Arc::new(BankState::default());
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/callbacks/pledge", post(callback))
            .layer(axum::middleware::from_fn(crate::trace::serve))
            .with_state(state.clone());
        let (listener, addr) = crate::bind(addr).await?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "mock bank stopped");
            }
        });
        Ok(Self { addr, state })
    }

    /// The callback URL to configure in the gateway.
    pub fn callback_url(&self) -> String {
        format!("http://{}/callbacks/pledge", self.addr)
    }

    /// Fails the next `n` deliveries with 503.
    pub fn fail_next(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::Relaxed);
    }

    /// Delivery attempts received, failed and repeated ones included.
    pub fn posts(&self) -> u64 {
        self.state.posts.load(Ordering::Relaxed)
    }

    /// The notices recorded for a contract number, in the order received, each event once.
    pub fn notices(&self, contract_number: &str) -> Vec<SealedNotice> {
        let (Ok(received), Ok(order)) = (self.state.received.lock(), self.state.order.lock())
        else {
            return Vec::new();
        };
        order
            .iter()
            .filter_map(|id| received.get(id))
            .filter(|n| n.notice.contract_number == contract_number)
            .cloned()
            .collect()
    }

    /// The states notified for a contract number, in order.
    pub fn states(&self, contract_number: &str) -> Vec<String> {
        self.notices(contract_number)
            .into_iter()
            .map(|n: SealedNotice| n.notice.state)
            .collect()
    }

    /// When each notice in `state` was first received, by contract number.
    pub fn received(&self, state: &str) -> BTreeMap<String, chrono::DateTime<chrono::Utc>> {
        let (Ok(received), Ok(at)) = (self.state.received.lock(), self.state.received_at.lock())
        else {
            return BTreeMap::new();
        };
        received
            .iter()
            .filter(|(_, n)| n.notice.state == state)
            .filter_map(|(id, n)| Some((n.notice.contract_number.clone(), *at.get(id)?)))
            .collect()
    }

    /// Every notice recorded.
    pub fn all(&self) -> Vec<PledgeNotice> {
        self.state
            .received
            .lock()
            .map(|r| r.values().map(|n| n.notice.clone()).collect())
            .unwrap_or_default()
    }
}
