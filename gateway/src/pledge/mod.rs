//! Banks' electronic pledge contracts (seed 000 §4 C, D): the desk verifies a contract and stores
//! it in the outbox before answering ACCEPTED; the worker waits for the payment e-check, files the
//! contract with the legal cadastre, follows the registrar's decision, and calls the bank back
//! with every change until it acknowledges.

pub mod contract;
pub mod desk;
pub mod metrics;
pub mod outbox;
pub mod worker;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use contract::Contract;
pub use desk::Desk;

/// A contract's place in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Verified and stored.
    Accepted,
    /// No complete payment e-check yet.
    AwaitingPayment,
    /// Filed with the cadastre, undecided.
    Submitted,
    /// Registered.
    Registered,
    /// Refused.
    Refused,
    /// Suspended.
    Suspended,
    /// Preliminary refusal: hearing set, objection window open.
    PreliminaryRefusal,
    /// Objection filed; the hearing decides.
    Objection,
}

impl State {
    /// Every state, for parsing.
    const ALL: [State; 8] = [
        Self::Accepted,
        Self::AwaitingPayment,
        Self::Submitted,
        Self::Registered,
        Self::Refused,
        Self::Suspended,
        Self::PreliminaryRefusal,
        Self::Objection,
    ];

    /// The stored and notified name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Submitted => "submitted",
            Self::Registered => "registered",
            Self::Refused => "refused",
            Self::Suspended => "suspended",
            Self::PreliminaryRefusal => "preliminary_refusal",
            Self::Objection => "objection",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the registrar has decided for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Registered | Self::Refused)
    }

    /// Whether the contract has reached the cadastre.
    pub fn is_filed(self) -> bool {
        !matches!(self, Self::Accepted | Self::AwaitingPayment)
    }
}

/// A contract's status as the bank sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The submission's request id (the filing's message id).
    pub request_id: String,
    /// The pledgee bank's BIN.
    pub bank: String,
    /// The bank's unique contract number.
    pub contract_number: String,
    /// Where it is.
    pub state: State,
    /// The registrar's legal grounds.
    pub grounds: Vec<String>,
    /// What the gateway waits for, or the last delivery problem.
    pub detail: String,
    /// A preliminary refusal's hearing.
    pub hearing_at: Option<DateTime<Utc>>,
    /// A preliminary refusal's objection deadline.
    pub objection_deadline: Option<DateTime<Utc>>,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
    /// When it entered `state`.
    pub changed_at: DateTime<Utc>,
}

/// A verified submission as the API hands it to the pipeline.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The contract, from the request's typed fields.
    pub contract: Contract,
    /// SHA-256 (hex) of the signed document: the same contract resubmitted has the same digest.
    pub digest: String,
}

/// The full method name of status changes in the journal.
pub const STATUS_CHANGE: &str = "kopir.v1.PledgeService/StatusChange";
