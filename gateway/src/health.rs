//! Registry health in `grpc.health.v1`: one entry per registry (`kopir.registry.<name>`), set by a
//! periodic probe in the registry's own protocol and by the outcome of every routed call, so a
//! registry that stops answering turns NOT_SERVING at its first failed call.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kopir_adapters::AdapterError;
use tokio::task::JoinHandle;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::config::Config;
use kopir_adapters::Registry;
use kopir_core::registry::RegistryId;

const UNKNOWN: u8 = 0;
const SERVING: u8 = 1;
const NOT_SERVING: u8 = 2;

/// Tracks each registry's health and publishes changes.
#[derive(Clone)]
pub struct RegistryHealth {
    reporter: HealthReporter,
    state: Arc<[AtomicU8; RegistryId::ALL.len()]>,
}

fn index(id: RegistryId) -> usize {
    // ALL lists the variants in declaration order, so the discriminant is the position.
    id as usize
}

impl RegistryHealth {
    /// Starts with every registry UNKNOWN until its first probe or call.
    pub async fn new(reporter: HealthReporter) -> Self {
        for id in RegistryId::ALL {
            reporter
                .set_service_status(id.health_name(), ServingStatus::Unknown)
                .await;
        }
        Self {
            reporter,
            state: Arc::new(std::array::from_fn(|_| AtomicU8::new(UNKNOWN))),
        }
    }

    /// Records a call's or probe's outcome. Only transport failures count against the registry:
    /// "no such record" or a refused request still show a registry that answers.
    pub async fn observe(&self, id: RegistryId, outcome: Result<(), &AdapterError>) {
        let serving = !matches!(
            outcome,
            Err(AdapterError::Unavailable { .. } | AdapterError::Timeout { .. })
        );
        let new = if serving { SERVING } else { NOT_SERVING };
        let old = self.state[index(id)].swap(new, Ordering::Relaxed);
        if old != new {
            let status = if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            tracing::info!(registry = id.name(), ?status, "registry health changed");
            self.reporter
                .set_service_status(id.health_name(), status)
                .await;
        }
    }

    /// Whether the registry was serving at the last probe or call.
    pub fn is_serving(&self, id: RegistryId) -> bool {
        self.state[index(id)].load(Ordering::Relaxed) == SERVING
    }

    /// Starts a probe loop per registry (its id and the adapter whose `ping` probes it) at its
    /// configured interval.
    pub fn spawn_probes(
        &self,
        probes: impl IntoIterator<Item = (RegistryId, Arc<dyn Registry>)>,
        config: &Config,
    ) -> Vec<JoinHandle<()>> {
        probes
            .into_iter()
            .filter_map(|(id, adapter)| {
                let interval = Duration::from_millis(config.registry(id).ok()?.health_interval_ms);
                let health = self.clone();
                Some(tokio::spawn(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        let outcome = adapter.ping().await;
                        health.observe(id, outcome.as_ref().map(|_| ())).await;
                    }
                }))
            })
            .collect()
    }
}

/// Each registry's health, read at each scrape (`registry_up`).
fn encode_health(
    state: &RegistryHealth,
    encoder: &mut prometheus_client::encoding::DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric;
    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::metrics::MetricType;
    let name = |id: RegistryId| id.name().to_string();
    let mut family = encoder.encode_descriptor(
        "registry_up",
        "1 while a registry answers its health probe, else 0",
        None,
        MetricType::Gauge,
    )?;
    for id in RegistryId::ALL {
        let up = i64::from(state.is_serving(id));
        ConstGauge::new(up).encode(family.encode_family(&[("registry", name(id))])?)?;
    }
    Ok(())
}

impl RegistryHealth {
    /// Its Prometheus collector.
    pub fn collector(&self) -> crate::metrics::Scraped<RegistryHealth> {
        crate::metrics::Scraped::new("health", self.clone(), encode_health)
    }
}
