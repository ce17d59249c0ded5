//! The e-government payment gateway (ЭҮТШ) over its REST/JSON API: the electronic checks it keeps
//! for payments that quote a pledge contract's unique number (seed 000 §3, §5).

use async_trait::async_trait;
use serde::Deserialize;

pub use kopir_core::model::payments::{tenge, ECheck, PaymentMatch};

use crate::error::AdapterError;
use crate::rest::{Call, RestClient};
use crate::syncchannel::Endpoint;
use crate::Registry;

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
    use chrono::Utc;

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
