//! The mocks' control endpoint, on a port of its own so that it answers while a registry is
//! down: what each registry is doing, and its faults changed at run time.
//!
//! - `GET /registries`: every mock running, with its URL and protocol; the SyncChannel registries
//!   with their state, call count and faults, the REST mocks with their call count where they
//!   keep one
//! - `PUT /registries/{name}/faults`: replace a SyncChannel registry's faults (JSON [`Faults`];
//!   the body replaces every key, and omitted keys mean healthy), `down: true` closes its port
//!   and `down: false` opens it again

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::faults::Faults;
use crate::registry::MockRegistry;
use crate::MockError;

/// A mock without fault injection (the REST registries, the bank, the generic registry), listed
/// so the endpoint names every mock that runs.
#[derive(Clone)]
pub struct Listed {
    /// Its name, as in the demo's banner.
    pub name: &'static str,
    /// Its base URL.
    pub url: String,
    /// The requests it has taken, where it counts them.
    pub calls: Option<Arc<dyn Fn() -> u64 + Send + Sync>>,
}

impl Listed {
    /// A mock at `url`, with its request counter when it keeps one.
    pub fn new(
        name: &'static str,
        url: String,
        calls: Option<Arc<dyn Fn() -> u64 + Send + Sync>>,
    ) -> Self {
        Self { name, url, calls }
    }

    /// A mock at `url` whose requests `count` reads off it.
    pub fn counting<T: Send + Sync + 'static>(
        name: &'static str,
        url: String,
        mock: &Arc<T>,
        count: fn(&T) -> u64,
    ) -> Self {
        let mock = mock.clone();
        Self::new(name, url, Some(Arc::new(move || count(&mock))))
    }
}

struct Mocks {
    registries: Vec<Arc<MockRegistry>>,
    listed: Vec<Listed>,
}

type Shared = Arc<Mocks>;

#[derive(Serialize)]
struct MockView {
    name: &'static str,
    protocol: &'static str,
    url: String,
    up: bool,
    calls: Option<u64>,
    faults: Option<Faults>,
}

fn view(r: &MockRegistry) -> MockView {
    MockView {
        name: r.kind().name(),
        protocol: "syncchannel",
        url: r.url(),
        up: r.is_up(),
        calls: Some(r.calls()),
        faults: Some(r.faults()),
    }
}

async fn list(State(mocks): State<Shared>) -> Json<Vec<MockView>> {
    let listed = mocks.listed.iter().map(|l| MockView {
        name: l.name,
        protocol: "rest",
        url: l.url.clone(),
        up: true,
        calls: l.calls.as_ref().map(|count| count()),
        faults: None,
    });
    Json(
        mocks
            .registries
            .iter()
            .map(|r| view(r))
            .chain(listed)
            .collect(),
    )
}

async fn set_faults(
    State(mocks): State<Shared>,
    Path(name): Path<String>,
    Json(faults): Json<Faults>,
) -> Result<Json<MockView>, (StatusCode, String)> {
    let Some(r) = mocks.registries.iter().find(|r| r.kind().name() == name) else {
        let known: Vec<_> = mocks.registries.iter().map(|r| r.kind().name()).collect();
        let why = if mocks.listed.iter().any(|l| l.name == name) {
            format!("{name} takes no faults")
        } else {
            format!("no mock {name:?}")
        };
        return Err((
            StatusCode::NOT_FOUND,
            format!("{why}; faults are injected into {}", known.join(", ")),
        ));
    };
    r.set_faults(faults)
        .await
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Json(view(r)))
}

/// Serves the control endpoint on `addr`; returns the bound address and the server task.
pub async fn serve(
    addr: SocketAddr,
    registries: Vec<Arc<MockRegistry>>,
    listed: Vec<Listed>,
) -> Result<(SocketAddr, JoinHandle<()>), MockError> {
    let (listener, local) = crate::bind(addr).await?;
    let app = Router::new()
        .route("/registries", get(list))
        .route("/registries/{name}/faults", put(set_faults))
        .with_state(Arc::new(Mocks { registries, listed }));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "mock control endpoint ended");
        }
    });
    Ok((local, task))
}
