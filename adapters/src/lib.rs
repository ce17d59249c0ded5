//! Köpir registry adapters: one module per registry, each implementing that registry's trait and
//! mapping the gateway's types to the registry's native protocol and back. No pipeline logic lives
//! here: deadlines, caching, journal and access control are the gateway's.

pub mod bank;
pub mod cadastre;
pub mod channel;
pub mod error;
pub mod kdp;
pub mod legal_entities;
pub mod notary;
pub mod payments;
pub mod persons;
pub mod propagation;
pub mod rest;
pub mod syncchannel;

pub use error::AdapterError;

/// What every registry adapter offers beside its own lookups.
#[async_trait::async_trait]
pub trait Registry: Send + Sync + 'static {
    /// The registry's configured name ("persons", "legal_entities", ...).
    fn name(&self) -> &str;
    /// A cheap liveness check in the registry's own protocol.
    async fn ping(&self) -> Result<(), AdapterError>;
}
