//! Payment e-checks and how a contract's payment is matched against what is due.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An electronic check (seed 000 §5: ElectronicCheck).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ECheck {
    /// Unique payment code.
    pub payment_code: String,
    /// Payee name.
    pub payee: String,
    /// The bank (or organisation doing certain banking operations) that took the payment.
    pub bank: String,
    /// The payer's IIN or BIN.
    pub payer: String,
    /// Amount in tiyn.
    pub amount_tiyn: i64,
    /// When it was paid.
    pub paid_at: DateTime<Utc>,
    /// The pledge contract's unique number the payer quoted.
    pub contract_number: String,
}

/// What the e-checks for a contract number add up to, against the fee due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMatch {
    /// The checks whose contract number equals the contract's.
    pub checks: Vec<ECheck>,
    /// Their sum in tiyn.
    pub paid_tiyn: i64,
    /// The fee due in tiyn.
    pub due_tiyn: i64,
}

impl PaymentMatch {
    /// Matches `checks` to `contract_number` (exact, as the registrar does) against `due_tiyn`.
    pub fn of(checks: Vec<ECheck>, contract_number: &str, due_tiyn: i64) -> Self {
        let checks: Vec<ECheck> = checks
            .into_iter()
            .filter(|c| c.contract_number == contract_number)
            .collect();
        let paid_tiyn = checks.iter().map(|c| c.amount_tiyn.max(0)).sum();
        Self {
            checks,
            paid_tiyn,
            due_tiyn,
        }
    }

    /// Whether the payment is complete.
    pub fn complete(&self) -> bool {
        !self.checks.is_empty() && self.paid_tiyn >= self.due_tiyn
    }

    /// What is missing, for the bank's status detail.
    pub fn shortfall(&self) -> String {
        if self.checks.is_empty() {
            "no payment e-check quotes the contract number yet".into()
        } else {
            format!(
                "the e-checks for the contract number add up to {} of the {} tenge due",
                tenge(self.paid_tiyn),
                tenge(self.due_tiyn)
            )
        }
    }
}

/// Tiyn as tenge text ("4325.00").
pub fn tenge(tiyn: i64) -> String {
    format!("{}.{:02}", tiyn / 100, (tiyn % 100).abs())
}
