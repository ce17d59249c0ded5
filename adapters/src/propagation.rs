//! W3C trace context across HTTP hops: the gateway's registry calls carry `traceparent` (and
//! `tracestate`) of the span they run in, and a server continues the caller's trace from them.
//! Both ends go through OpenTelemetry's global propagator; with tracing off the context is empty
//! and nothing is sent.

use std::collections::HashMap;

use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The current span's trace context as header names and values.
pub fn trace_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
    headers
}

/// `request` with the current trace context in its headers.
pub fn with_trace(mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    for (name, value) in trace_headers() {
        request = request.header(name, value);
    }
    request
}

/// Makes `span` continue the trace whose context the request's headers carry (no-op without
/// one); `header` reads one header by name, so HTTP headers and gRPC metadata are read in place.
pub fn continue_trace<'a>(span: &tracing::Span, header: impl Fn(&'static str) -> Option<&'a str>) {
    let carrier: HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|name| Some((name.to_string(), header(name)?.to_string())))
        .collect();
    if carrier.is_empty() {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    // A span already closed or a subscriber without OpenTelemetry: the trace simply starts here.
    span.set_parent(cx).ok();
}
