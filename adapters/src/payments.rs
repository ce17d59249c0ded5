//! The e-government payment gateway (ЭҮТШ) over its REST/JSON API: the electronic checks it keeps
//! for payments that quote a pledge contract's unique number (seed 000 §3, §5).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;
use crate::Registry;

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

/// What the gateway asks of the payment gateway.
#[async_trait]
pub trait PaymentRegistry: Registry {
    /// Every e-check quoting `contract_number`.
    async fn echecks(
        &self,
        contract_number: &str,
        correlation_id: &str,
    ) -> Result<Vec<ECheck>, AdapterError>;
}

/// The payment gateway's REST API.
#[derive(Debug, Clone)]
pub struct RestPayments {
    rest: RestClient,
}

impl RestPayments {
    /// A client of the payment gateway API at `endpoint.url`.
    pub fn new(registry: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        Ok(Self {
            rest: RestClient::new(registry, endpoint)?,
        })
    }
}

#[derive(Deserialize)]
struct CheckList {
    echecks: Vec<ECheck>,
}

#[async_trait]
impl Registry for RestPayments {
    fn name(&self) -> &str {
        self.rest.name()
    }

    async fn ping(&self) -> Result<(), AdapterError> {
        self.rest.ping().await
    }
}

#[async_trait]
impl PaymentRegistry for RestPayments {
    async fn echecks(
        &self,
        contract_number: &str,
        correlation_id: &str,
    ) -> Result<Vec<ECheck>, AdapterError> {
        let call = Call {
            operation: "echecks",
            correlation_id,
            idempotency_key: None,
        };
        let list: Option<CheckList> = self
            .rest
            .get(
                "/api/v1/echecks",
                &[("contract_number", contract_number)],
                call,
            )
            .await?;
        Ok(list.map(|l| l.echecks).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(number: &str, amount: i64) -> ECheck {
        ECheck {
            payment_code: "P1".into(),
            payee: "payee".into(),
            bank: "bank".into(),
            payer: "900101300011".into(),
            amount_tiyn: amount,
            paid_at: Utc::now(),
            contract_number: number.into(),
        }
    }

    #[test]
    fn a_payment_is_complete_only_for_the_exact_number_and_the_whole_fee() {
        let due = 432_500;
        assert!(!PaymentMatch::of(vec![], "C-1", due).complete());
        assert!(!PaymentMatch::of(vec![check("C-10", due)], "C-1", due).complete());
        let part = PaymentMatch::of(vec![check("C-1", 200_000)], "C-1", due);
        assert!(!part.complete());
        assert!(part.shortfall().contains("2000.00 of the 4325.00"));
        assert!(PaymentMatch::of(
            vec![check("C-1", 200_000), check("C-1", 232_500)],
            "C-1",
            due
        )
        .complete());
    }
}
