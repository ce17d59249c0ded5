//! The mocks' control endpoint, on a port of its own so that it answers while a registry is
//! down: what each registry is doing, and its faults changed at run time.
//!
//! - `GET /registries`: every registry with its URL, state, call count and faults
//! - `PUT /registries/{name}/faults`: replace a registry's faults (JSON [`Faults`]; omitted keys
//!   mean healthy), `down: true` closes its port and `down: false` opens it again

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

type Registries = Arc<Vec<Arc<MockRegistry>>>;

#[derive(Serialize)]
struct RegistryView {
    name: &'static str,
    url: String,
    up: bool,
    calls: u64,
    faults: Faults,
}

fn view(r: &MockRegistry) -> RegistryView {
    RegistryView {
        name: r.kind().name(),
        url: r.url(),
        up: r.is_up(),
        calls: r.calls(),
        faults: r.faults(),
    }
}

async fn list(State(regs): State<Registries>) -> Json<Vec<RegistryView>> {
    Json(regs.iter().map(|r| view(r)).collect())
}

async fn set_faults(
    State(regs): State<Registries>,
    Path(name): Path<String>,
    Json(faults): Json<Faults>,
) -> Result<Json<RegistryView>, (StatusCode, String)> {
    let Some(r) = regs.iter().find(|r| r.kind().name() == name) else {
        let known: Vec<_> = regs.iter().map(|r| r.kind().name()).collect();
        return Err((
            StatusCode::NOT_FOUND,
            format!("no registry {name:?}; known: {}", known.join(", ")),
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
) -> Result<(SocketAddr, JoinHandle<()>), MockError> {
    let (listener, local) = crate::bind(addr).await?;
    let app = Router::new()
        .route("/registries", get(list))
        .route("/registries/{name}/faults", put(set_faults))
        .with_state(Arc::new(registries));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "mock control endpoint ended");
        }
    });
    Ok((local, task))
}
