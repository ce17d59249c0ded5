//! Köpir: a gRPC integration gateway between Kazakhstan's e-government registries.
//!
//! A request enters through a thin tonic service ([`api`]), crosses the [`pipeline`] of tower
//! layers, and reaches a registry through its adapter ([`routing`]).

pub mod access;
pub mod api;
pub mod call;
pub mod channel;
pub mod config;
pub mod console;
pub mod edge;
pub mod error;
pub mod health;
pub mod metrics;
pub mod pipeline;
pub mod pledge;
pub mod proto;
pub mod readiness;
pub mod routing;
pub mod server;
pub mod telemetry;
pub mod tls;

pub use config::Config;
pub use error::GatewayError;
pub use server::Gateway;
