//! Mock e-government payment gateway (ЭҮТШ): a payer pays quoting the pledge contract's unique
//! number; the gateway keeps the electronic check and passes it to the legal cadastre (seed 000
//! §4 C steps 4–5). Payments are made through its API (`POST /api/v1/payments`), as a bank's
//! payment page would; the gateway reads the checks by contract number.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use kopir_core::model::payments::ECheck;
use serde::Deserialize;
use serde_json::json;

use crate::MockError;

/// The e-checks the payment gateway keeps; shared with the mock cadastre, to which the real
/// payment gateway sends every check.
#[derive(Debug, Clone, Default)]
pub struct Ledger(Arc<Mutex<HashMap<String, Vec<ECheck>>>>);

impl Ledger {
    /// The checks quoting `contract_number`.
    pub fn for_contract(&self, contract_number: &str) -> Vec<ECheck> {
        self.0
            .lock()
            .ok()
            .and_then(|l| l.get(contract_number).cloned())
            .unwrap_or_default()
    }

    fn push(&self, check: ECheck) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|_| "lock poisoned".to_string())?
            .entry(check.contract_number.clone())
            .or_default()
            .push(check);
        Ok(())
    }
}

/// A payment as a payer makes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Payment {
    /// Payer's IIN or BIN.
    pub payer: String,
    /// The pledge contract's unique number.
    pub contract_number: String,
    /// Amount in tiyn.
    pub amount_tiyn: i64,
}

/// A running mock payment gateway.
pub struct MockPayments {
    /// Where it listens.
    pub addr: SocketAddr,
    ledger: Ledger,
    down: Arc<AtomicBool>,
}

impl MockPayments {
    /// Serves on `addr` over `ledger`.
    pub async fn start(addr: SocketAddr, ledger: Ledger) -> Result<Self, MockError> {
        let down = Arc::new(AtomicBool::new(false));
        let outage = down.clone();
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/api/v1/echecks", get(list))
            .route("/api/v1/payments", post(pay))
            // An outage answers as a failing gateway does: 503, nothing read or taken.
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let outage = outage.clone();
                    async move {
                        if outage.load(Ordering::SeqCst) {
                            return (
                                StatusCode::SERVICE_UNAVAILABLE,
                                "payment gateway unavailable",
                            )
                                .into_response();
                        }
                        next.run(req).await
                    }
                },
            ))
            .layer(axum::middleware::from_fn(crate::trace::serve))
            .with_state(ledger.clone());
        let (listener, addr) = crate::bind(addr).await?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "mock payment gateway stopped");
            }
        });
        Ok(Self { addr, ledger, down })
    }

    /// Starts (true) or ends an outage: meanwhile every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Takes a payment, as a payer's bank would through the payment gateway: the e-check made.
    pub fn pay(&self, payment: Payment) -> Result<ECheck, String> {
        take(&self.ledger, payment)
    }

    /// The e-checks kept.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

fn take(ledger: &Ledger, p: Payment) -> Result<ECheck, String> {
    if p.amount_tiyn <= 0 {
        return Err("amount_tiyn must be positive".into());
    }
    if p.contract_number.is_empty() {
        return Err("quote the pledge contract's unique number".into());
    }
    let check = ECheck {
        payment_code: format!("UPC-{}", uuid::Uuid::now_v7().simple()).to_uppercase(),
        payee: "НАО «Государственная корпорация «Правительство для граждан»".into(),
        bank: "АО «Демо Банк»".into(),
        payer: p.payer,
        amount_tiyn: p.amount_tiyn,
        paid_at: Utc::now(),
        contract_number: p.contract_number,
    };
    ledger.push(check.clone())?;
    Ok(check)
}

#[derive(Deserialize)]
struct ByContract {
    contract_number: String,
}

async fn list(State(ledger): State<Ledger>, Query(q): Query<ByContract>) -> Response {
    Json(json!({ "echecks": ledger.for_contract(&q.contract_number) })).into_response()
}

async fn pay(State(ledger): State<Ledger>, Json(p): Json<Payment>) -> Response {
    match take(&ledger, p) {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "BAD_PAYMENT", "message": e})),
        )
            .into_response(),
    }
}
