//! Which bodies the journal keeps, for how long, and the task that prunes them once expired.
//! Pruning drops a body only: its digest stays in the chained record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::config::BodyPolicy;
use super::{JournalError, Store};

/// Body policies by method or `Service/*`.
#[derive(Debug, Clone, Default)]
pub struct Policies(BTreeMap<String, BodyPolicy>);

impl Policies {
    /// The configured policies.
    pub fn new(policies: BTreeMap<String, BodyPolicy>) -> Self {
        Self(policies)
    }

    /// The policy of a method: its own entry, else its service's `Service/*`, else keep nothing.
    pub fn of(&self, method: &str) -> BodyPolicy {
        let service = method.split('/').next().unwrap_or("");
        self.0
            .get(method)
            .or_else(|| self.0.get(&format!("{service}/*")))
            .copied()
            .unwrap_or_default()
    }

    /// Prunes every expired body now; how many were pruned.
    pub async fn prune(&self, store: &dyn Store) -> Result<u64, JournalError> {
        let mut pruned = 0;
        for (pattern, policy) in &self.0 {
            if let Some(keep) = policy.retention {
                let keep = chrono::Duration::from_std(keep)
                    .map_err(|e| JournalError::Config(format!("retention of {pattern}: {e}")))?;
                pruned += store.prune_bodies(pattern, Utc::now() - keep).await?;
            }
        }
        Ok(pruned)
    }

    /// Prunes every `interval`, logging what it did.
    pub fn spawn_pruner(
        self,
        store: Arc<dyn Store>,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                match self.prune(store.as_ref()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(bodies = n, "journal bodies past retention pruned"),
                    Err(e) => {
                        tracing::warn!(error = %e, "journal pruning failed; tried again next round")
                    }
                }
            }
        })
    }
}
