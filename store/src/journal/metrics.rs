//! The journal's own Prometheus collectors, registered by the journal into the gateway's registry.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Commit latency and records made durable; cheap to clone.
#[derive(Clone)]
pub struct JournalMetrics {
    commit_seconds: Histogram,
    records: Counter,
}

impl JournalMetrics {
    /// Registers `journal_commit_duration_seconds` and `journal_records` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        // 0.1 ms to about 26 s, doubling: the gateway's latency buckets.
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 19));
        let records = Counter::default();
        registry.register(
            "journal_commit_duration_seconds",
            "Time to make one batch of journal records durable",
            commit_seconds.clone(),
        );
        registry.register(
            "journal_records",
            "Journal records made durable",
            records.clone(),
        );
        Self {
            commit_seconds,
            records,
        }
    }

    /// Records one commit of `records` records.
    pub fn commit(&self, records: usize, took: Duration) {
        self.commit_seconds.observe(took.as_secs_f64());
        self.records.inc_by(records as u64);
    }
}
