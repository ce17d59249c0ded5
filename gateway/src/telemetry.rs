//! Logs and traces. Logs go to stdout, plain or JSON by config; with `[telemetry] otlp_endpoint`
//! every span is also exported over OTLP/gRPC, one trace per request, continuing a client's
//! `traceparent`, and passed on to the registries (see `kopir_adapters::propagation`).
//! Identifiers are masked where they are recorded (spans carry masked subjects), so no layer here
//! needs to scrub them.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::TelemetryConfig;
use crate::error::GatewayError;

/// The installed telemetry; flush before exit so the last spans reach the collector.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the global subscriber (a second install keeps the first) and, when configured,
    /// the OTLP exporter. Call inside the Tokio runtime: the exporter runs on it.
    pub fn install(config: &TelemetryConfig) -> Result<Self, GatewayError> {
        Self::install_at(config, "info")
    }

    /// As [`install`](Self::install), with `level` as the filter when `RUST_LOG` is not set.
    pub fn install_at(config: &TelemetryConfig, level: &str) -> Result<Self, GatewayError> {
        // W3C trace context both ways, whether or not spans are exported.
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = match &config.otlp_endpoint {
            Some(endpoint) => Some(otlp(endpoint, &config.service_name)?),
            None => None,
        };
        let otel = provider
            .as_ref()
            .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("kopir")));
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
        let (json, plain) = if config.json_logs {
            (Some(tracing_subscriber::fmt::layer().json()), None)
        } else {
            // Colour codes only for a person at a terminal, never into a file or a collector.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            (None, Some(tracing_subscriber::fmt::layer().with_ansi(ansi)))
        };
        tracing_subscriber::registry()
            .with(filter)
            .with(json)
            .with(plain)
            .with(otel)
            .try_init()
            .ok();
        Ok(Self { provider })
    }

    /// Exports every finished span now. Blocks: call it off the async worker threads.
    pub fn flush(&self) {
        if let Some(p) = &self.provider {
            if let Err(e) = p.force_flush() {
                tracing::warn!(error = %e, "trace export flush failed");
            }
        }
    }

    /// Flushes and stops the exporter. Blocks like [`flush`](Self::flush).
    pub fn shutdown(self) {
        if let Some(p) = self.provider {
            if let Err(e) = p.shutdown() {
                tracing::warn!(error = %e, "trace exporter shutdown failed");
            }
        }
    }
}

fn otlp(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, GatewayError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| GatewayError::Config {
            detail: format!("telemetry.otlp_endpoint {endpoint}: {e}"),
        })?;
    // The batch processor on the Tokio runtime: the tonic exporter needs a reactor, which the
    // SDK's default processor thread does not have.
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service_name.to_string())
                .build(),
        )
        .build())
}

/// Plain logs at `level` (unless `RUST_LOG` says otherwise), no export: for the commands that
/// serve nothing.
pub fn init(level: &str) {
    Telemetry::install_at(&TelemetryConfig::default(), level).ok();
}
