//! The `/metrics` endpoint: the metrics themselves are `kopir-metrics`' (re-exported here), served
//! as text over HTTP on a port of their own (operators' scrapers speak HTTP, not gRPC), beside
//! the console's routes.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::GatewayError;
pub use kopir_metrics::{code_name, Exchange, Metrics, Recent, Scraped, Second};

/// Serves `GET /metrics` on `listen` until the handle is aborted; the bound address.
/// `extra` routes (the console) are served beside it.
pub async fn serve(
    metrics: &Metrics,
    listen: SocketAddr,
    extra: axum::Router,
) -> Result<(SocketAddr, JoinHandle<()>), GatewayError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| GatewayError::Server(format!("metrics: cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| GatewayError::Server(e.to_string()))?;
    let metrics = metrics.clone();
    let app = extra.route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                match metrics.encode() {
                    Ok(text) => (
                        axum::http::StatusCode::OK,
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    ),
                    Err(e) => (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        [(axum::http::header::CONTENT_TYPE, "text/plain")],
                        e.to_string(),
                    ),
                }
            }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    });
    tracing::info!(%addr, "metrics on http://{addr}/metrics");
    Ok((addr, task))
}
