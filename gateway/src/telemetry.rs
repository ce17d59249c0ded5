//! Logging setup. Identifiers are masked where they are recorded (spans carry masked subjects),
//! so no format here needs to scrub them.

/// Installs the tracing subscriber: `RUST_LOG` filter, default `info`.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
