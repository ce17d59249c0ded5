//! Köpir's stores: the [`journal`] (an append-only, hash-chained record of every exchange, on
//! SQLite or PostgreSQL) and the [`durable`] group-commit store that keeps what the gateway
//! accepted and still owes. They know nothing of gRPC, registries or the pipeline.

pub mod durable;
pub mod journal;
pub mod postgres;
pub mod replay;
