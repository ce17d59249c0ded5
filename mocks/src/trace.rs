//! The registries' own span: every request a mock serves runs in a `registry.serve` span that
//! continues the caller's trace (W3C `traceparent`), so a gateway trace shows the registry's time
//! under the gateway's call. The path is recorded, never the query (it may hold an IIN).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Axum middleware: serves the request inside a `registry.serve` span.
pub async fn serve(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "registry.serve",
        http.method = %request.method(),
        http.path = %request.uri().path(),
    );
    kopir_adapters::propagation::continue_trace(&span, |name| {
        request.headers().get(name)?.to_str().ok()
    });
    next.run(request).instrument(span).await
}
