//! Mock "generic registry" for the generic channel: one server answering any service id, in two
//! protocols, by transforming the payload as the service id or path says. `echo` returns it,
//! `upper` upper-cases its text, `reverse` reverses its bytes, `refuse` answers the service's own
//! error status, `fail` answers as a registry that is failing.
//!
//! - REST: `POST /rest/{transform}` with the payload as the body, its content type kept.
//! - SyncChannel: `POST /SyncChannel`, the transform being the service id's first dot-separated
//!   part (`UPPER.DEMO.v1` upper-cases), the payload base64 in `<payload contentType="…">`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use quick_xml::escape::escape;
use roxmltree::Document;

use crate::syncchannel::{fault, find, reply, text};
use crate::MockError;

/// A running generic registry.
pub struct MockGeneric {
    /// Where it listens.
    pub addr: SocketAddr,
    calls: Arc<AtomicU64>,
}

enum Transformed {
    Payload(Vec<u8>),
    Refused(&'static str, &'static str),
    Failing,
}

fn transform(name: &str, payload: &[u8]) -> Transformed {
    match name.to_ascii_lowercase().as_str() {
        "echo" => Transformed::Payload(payload.to_vec()),
        "upper" => Transformed::Payload(payload.to_ascii_uppercase()),
        "reverse" => Transformed::Payload(payload.iter().rev().copied().collect()),
        "refuse" => Transformed::Refused("BAD_INPUT", "the service refuses this payload"),
        "fail" => Transformed::Failing,
        _ => Transformed::Refused("NO_SUCH_SERVICE", "the registry knows no such service"),
    }
}

async fn rest(
    State(calls): State<Arc<AtomicU64>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    calls.fetch_add(1, Ordering::Relaxed);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    match transform(&name, &body) {
        Transformed::Payload(p) => ([(header::CONTENT_TYPE, content_type)], p).into_response(),
        Transformed::Refused(code, message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"code": code, "message": message})),
        )
            .into_response(),
        Transformed::Failing => (StatusCode::SERVICE_UNAVAILABLE, "failing").into_response(),
    }
}

async fn syncchannel(State(calls): State<Arc<AtomicU64>>, body: String) -> Response {
    calls.fetch_add(1, Ordering::Relaxed);
    let Ok(doc) = Document::parse(&body) else {
        return fault("Client", "request is not well-formed XML");
    };
    let root = doc.root_element();
    let Some(info) = find(root, "requestInfo") else {
        return fault("Client", "SendMessage lacks requestInfo");
    };
    let (message_id, correlation_id) = (text(info, "messageId"), text(info, "correlationId"));
    let service_id = text(info, "serviceId");
    let Some(payload) = find(root, "payload") else {
        return reply(message_id, correlation_id, "VLDT001", "no payload", "");
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let Ok(bytes) = b64.decode(payload.text().unwrap_or("").trim()) else {
        return reply(
            message_id,
            correlation_id,
            "VLDT001",
            "payload is not base64",
            "",
        );
    };
    let content_type = payload.attribute("contentType").unwrap_or("");
    let name = service_id.split('.').next().unwrap_or("");
    match transform(name, &bytes) {
        Transformed::Payload(p) => reply(
            message_id,
            correlation_id,
            "SCSS001",
            "",
            &format!(
                "<payload contentType=\"{}\">{}</payload>",
                escape(content_type),
                b64.encode(p)
            ),
        ),
        Transformed::Refused(code, message) => reply(message_id, correlation_id, code, message, ""),
        Transformed::Failing => reply(
            message_id,
            correlation_id,
            "SRVC001",
            "registry failure",
            "",
        ),
    }
}

impl MockGeneric {
    /// Serves on `addr`.
    pub async fn start(addr: SocketAddr) -> Result<Self, MockError> {
        let calls = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/rest/{transform}", post(rest))
            .route("/SyncChannel", post(syncchannel))
            .layer(axum::middleware::from_fn(crate::trace::serve))
            .with_state(calls.clone());
        let (listener, addr) = crate::bind(addr).await?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "mock generic registry stopped");
            }
        });
        Ok(Self { addr, calls })
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Calls received.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}
