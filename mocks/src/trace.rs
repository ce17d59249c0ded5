//! The registries' own span: every request a mock serves runs in a `registry.serve` span that
//! continues the caller's trace (W3C `traceparent`), so a gateway trace shows the registry's time
//! under the gateway's call. The path is recorded, never the query (it may hold an IIN).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The request's headers as OpenTelemetry reads a carrier: the registry's own extraction,
/// separate from the gateway's.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Axum middleware: serves the request inside a `registry.serve` span.
pub async fn serve(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "registry.serve",
        http.method = %request.method(),
        http.path = %request.uri().path(),
    );
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(request.headers())));
    // Without a caller's context (or an OpenTelemetry subscriber) the trace simply starts here.
    span.set_parent(cx).ok();
    next.run(request).instrument(span).await
}
