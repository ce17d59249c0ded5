//! The REST mocks' check of the sender credentials the gateway presents (HTTP Basic), as one
//! middleware, answering as a registry does: 401 with `{"code", "message"}`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Whether the request's HTTP Basic credentials are `credentials` (`id:password`).
fn basic_auth_is(headers: &HeaderMap, credentials: &str) -> bool {
    use base64::Engine;
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .is_some_and(|d| d == credentials.as_bytes())
}

/// Lets a request through only with the sender credentials `id:password`.
pub(crate) async fn require(
    State(credentials): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    if basic_auth_is(request.headers(), &credentials) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"code": "UNKNOWN_SENDER", "message": "unknown sender"})),
        )
            .into_response()
    }
}

/// The credentials [`require`] expects for `sender` (`(id, password)`).
pub(crate) fn credentials(sender: (&str, &str)) -> Arc<str> {
    Arc::from(format!("{}:{}", sender.0, sender.1))
}
