//! OTLP traces end to end: the gateway exports to a collector served here over a real socket; a
//! request that carries a client's `traceparent` becomes one trace from the gateway's edge down
//! to the registry's own span, with no IIN in any attribute. One test per binary: the tracing
//! subscriber is global.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use kopir_gateway::config::TelemetryConfig;
use kopir_gateway::telemetry::Telemetry;
use kopir_tests::{person_request, test_config, Env};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

/// An OTLP trace collector that keeps what it receives.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                kept.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn text(span: &Span) -> Vec<String> {
    span.attributes
        .iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(format!("{}={s}", kv.key)),
            other => Some(format!("{}={other:?}", kv.key)),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_one_trace_from_the_edge_to_the_registry() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let telemetry = Arc::new(
        Telemetry::install(&TelemetryConfig {
            otlp_endpoint: Some(format!("http://{addr}")),
            ..TelemetryConfig::default()
        })
        .unwrap(),
    );

    let env = Env::start(test_config()).await;
    let iin = env.sample_iin();
    const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CLIENT_SPAN: &str = "00f067aa0ba902b7";
    let mut request = tonic::Request::new(person_request(&iin));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01")
            .parse()
            .unwrap(),
    );
    env.identity().get_person(request).await.unwrap();

    // Spans end as the call unwinds; flush (blocking) once they have.
    let mut trace: Vec<Span> = Vec::new();
    for _ in 0..50 {
        let t = telemetry.clone();
        tokio::task::spawn_blocking(move || t.flush())
            .await
            .unwrap();
        trace = collector
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| hex::encode(&s.trace_id) == CLIENT_TRACE)
            .cloned()
            .collect();
        if trace.iter().any(|s| s.name == "request") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    let by_name = |name: &str| {
        trace
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {names:?}"))
    };
    let request = by_name("request");
    assert_eq!(
        hex::encode(&request.parent_span_id),
        CLIENT_SPAN,
        "the client's trace goes on"
    );
    for stage in [
        "identify",
        "authorize",
        "consent",
        "journal.commit",
        "cache",
    ] {
        by_name(stage);
    }
    let adapter = by_name("adapter");
    let call = by_name("registry.call");
    let serve = by_name("registry.serve");
    assert_eq!(
        call.parent_span_id, adapter.span_id,
        "registry call under the adapter"
    );
    assert_eq!(
        serve.parent_span_id, call.span_id,
        "the registry's span under the call"
    );
    assert!(serve.end_time_unix_nano > serve.start_time_unix_nano);

    // Masked identifiers only.
    let masked = format!("{}******{}", &iin[..4], &iin[10..]);
    assert!(
        text(request).contains(&format!("subject={masked}")),
        "{:?}",
        text(request)
    );
    for span in &trace {
        for attribute in text(span) {
            assert!(!attribute.contains(&iin), "{}: {attribute}", span.name);
        }
    }
}
