//! The pledge outbox's own Prometheus metrics, registered by the pledge worker's owner: the
//! backlog gauges (refreshed every second by the worker) and the delivery counters.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::outbox::Backlog;

/// Which outbox figure a gauge holds.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    what: String,
}

/// A delivery's target and result.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    target: String,
    result: String,
}

/// The outbox's gauges and counters, and the backlog as last measured; cheap to clone.
#[derive(Clone, Default)]
pub struct OutboxMetrics {
    gauges: Family<OutboxLabels, Gauge>,
    deliveries: Family<DeliveryLabels, Counter>,
    last: Arc<Mutex<Option<Backlog>>>,
}

impl OutboxMetrics {
    /// Registers `outbox` and `outbox_deliveries` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "outbox",
            "Pledge outbox backlog: open_pledges, undelivered_notices, oldest_notice_age_seconds, dead_letters",
            m.gauges.clone(),
        );
        registry.register(
            "outbox_deliveries",
            "Pledge worker steps (registries) and bank callbacks (bank), by result",
            m.deliveries.clone(),
        );
        m
    }

    /// Sets the backlog gauges.
    pub fn backlog_is(&self, b: Backlog) {
        for (what, v) in [
            ("open_pledges", b.open_pledges),
            ("undelivered_notices", b.undelivered_notices),
            ("oldest_notice_age_seconds", b.oldest_notice_age_s),
            ("dead_letters", b.dead_letters),
        ] {
            self.gauges
                .get_or_create(&OutboxLabels { what: what.into() })
                .set(i64::try_from(v).unwrap_or(i64::MAX));
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(b);
    }

    /// The backlog as last measured; none before the worker's first measurement.
    pub fn backlog(&self) -> Option<Backlog> {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one delivery step.
    pub fn delivery(&self, target: &str, ok: bool) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                target: target.into(),
                result: if ok { "ok" } else { "failed" }.into(),
            })
            .inc();
    }
}
