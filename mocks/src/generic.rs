//! Mock "generic registry" for the generic channel: one server answering any service id, in two
//! protocols, by transforming the payload as the service id or path says. `echo` returns it,
//! `upper` upper-cases its text, `reverse` reverses its bytes, `refuse` answers the service's own
//! error status, `fail` answers as a registry that is failing.
//!
//! - REST: `POST /rest/{transform}` with the payload as the body, its content type kept.
//! - SyncChannel: `POST /SyncChannel`, the transform being the service id's first dot-separated
//!   part (`UPPER.DEMO.v1` upper-cases), applied to `<data>`'s content (element content or an
//!   `xs:string`), answered in the same form while the result is still XML, else as text.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roxmltree::Document;

use crate::syncchannel::{fault, find, is_string, reply, text, Data, Signing};
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

/// `<data>`'s content as the request carried it: the element content's source text, or the text
/// of an `xs:string`.
fn data_content<'a>(
    input: &'a str,
    data: roxmltree::Node<'a, '_>,
) -> (bool, std::borrow::Cow<'a, str>) {
    if is_string(data) {
        return (false, std::borrow::Cow::Borrowed(data.text().unwrap_or("")));
    }
    let whole = &input[data.range()];
    if whole.ends_with("/>") {
        return (true, std::borrow::Cow::Borrowed(""));
    }
    let open = whole.find('>').map_or(whole.len(), |i| i + 1);
    let close = whole.rfind("</").unwrap_or(whole.len()).max(open);
    (true, std::borrow::Cow::Borrowed(&whole[open..close]))
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
    let correlation_id = text(info, "correlationId");
    let service_id = text(info, "serviceId");
    let plain = Signing::NONE;
    let Some(data) = find(root, "requestData").and_then(|r| find(r, "data")) else {
        return reply(
            plain,
            correlation_id,
            "VLDT001",
            "no data",
            Data::Element(""),
        );
    };
    let (element, content) = data_content(&body, data);
    let name = service_id.split('.').next().unwrap_or("");
    match transform(name, content.as_bytes()) {
        Transformed::Payload(p) => {
            let text = String::from_utf8_lossy(&p);
            // Element content stays element content while it is still XML.
            let still_xml = element && Document::parse(&format!("<data>{text}</data>")).is_ok();
            let data = if still_xml {
                Data::Element(&text)
            } else {
                Data::Text(&text)
            };
            reply(plain, correlation_id, "SCSS001", "", data)
        }
        Transformed::Refused(code, message) => {
            reply(plain, correlation_id, code, message, Data::Element(""))
        }
        Transformed::Failing => reply(
            plain,
            correlation_id,
            "SRVC001",
            "registry failure",
            Data::Element(""),
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
