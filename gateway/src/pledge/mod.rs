//! Banks' electronic pledge contracts (seed 000 §4 C, D): the desk verifies a contract and stores
//! it in the outbox before answering ACCEPTED; the worker waits for the payment e-check, files the
//! contract with the legal cadastre, follows the registrar's decision, and calls the bank back
//! with every change until it acknowledges.

pub mod contract;
pub mod desk;
pub mod error;
pub mod metrics;
pub mod outbox;
pub mod worker;

pub use desk::Desk;
pub use error::PledgeError;
pub use kopir_core::pledge::Contract;

pub use kopir_core::pledge::{State, Status, Submission};

/// The full method name of status changes in the journal.
pub const STATUS_CHANGE: &str = "kopir.v1.PledgeService/StatusChange";
