//! Mock notary system (ЕНИС): notarised consents and powers of attorney over REST/JSON, as a
//! notary's office registers them. Seeded with a few consents for the demo bank; tests register
//! and revoke their own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, Utc};
use kopir_core::identifiers::Iin;
use kopir_core::model::notary::{NotarisedConsent, PowerOfAttorney};
use serde::Deserialize;
use serde_json::json;

use crate::population::Population;
use crate::MockError;

/// The notary system's state: consents by number.
pub struct NotaryState {
    consents: Mutex<BTreeMap<String, NotarisedConsent>>,
    powers: Mutex<BTreeMap<String, PowerOfAttorney>>,
    next: Mutex<u64>,
}

/// A running mock notary system.
pub struct MockNotary {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<NotaryState>,
}

/// What a notary registers (the number is assigned by the system).
#[derive(Debug, Clone, Deserialize)]
pub struct NewConsent {
    /// The person who consents.
    pub subject_iin: String,
    /// The person allowed, when a person is.
    #[serde(default)]
    pub grantee_iin: Option<String>,
    /// The organisation allowed, when one is.
    #[serde(default)]
    pub grantee_bin: Option<String>,
    /// Consent scopes.
    pub scope: Vec<String>,
    /// Days it holds from now (negative: lapsed already).
    pub valid_days: i64,
}

/// A power of attorney a notary certifies (the number is assigned by the system).
#[derive(Debug, Clone, Deserialize)]
pub struct NewPowerOfAttorney {
    /// Who grants it (IIN or BIN).
    pub principal: String,
    /// Who acts under it.
    pub agent_iin: String,
    /// What it covers.
    pub scope: Vec<String>,
    /// Days it holds from now (negative: lapsed already).
    pub valid_days: i64,
}

/// The term of an act registered now for `valid_days` (negative: one that lapsed that long ago).
fn term(valid_days: i64) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let now = Utc::now();
    if valid_days >= 0 {
        (now - Duration::days(1), now + Duration::days(valid_days))
    } else {
        (
            now + Duration::days(valid_days - 365),
            now + Duration::days(valid_days),
        )
    }
}

impl NotaryState {
    fn number(&self, prefix: &str) -> Result<String, String> {
        let mut n = self.next.lock().map_err(|_| "lock poisoned".to_string())?;
        *n += 1;
        Ok(format!("{prefix}-{:07}", *n))
    }

    fn certify(&self, p: NewPowerOfAttorney) -> Result<PowerOfAttorney, String> {
        Iin::parse(&p.agent_iin).map_err(|e| format!("agent_iin: {e}"))?;
        if p.principal.len() != 12 || !p.principal.bytes().all(|b| b.is_ascii_digit()) {
            return Err("principal: an IIN or BIN of 12 digits".into());
        }
        let number = self.number("PA")?;
        let (valid_from, valid_until) = term(p.valid_days);
        let poa = PowerOfAttorney {
            number: number.clone(),
            principal: p.principal,
            agent_iin: p.agent_iin,
            scope: p.scope,
            valid_from,
            valid_until,
            revoked: false,
            notary: "Нотариус А. Демо, Астана".into(),
        };
        self.powers
            .lock()
            .map_err(|_| "lock poisoned".to_string())?
            .insert(number, poa.clone());
        Ok(poa)
    }

    fn register(&self, c: NewConsent) -> Result<NotarisedConsent, String> {
        Iin::parse(&c.subject_iin).map_err(|e| format!("subject_iin: {e}"))?;
        if c.grantee_iin.is_none() && c.grantee_bin.is_none() {
            return Err("name grantee_iin or grantee_bin".into());
        }
        let number = self.number("NC")?;
        let (from, until) = term(c.valid_days);
        let consent = NotarisedConsent {
            number: number.clone(),
            subject_iin: c.subject_iin,
            grantee_iin: c.grantee_iin,
            grantee_bin: c.grantee_bin,
            scope: c.scope,
            valid_from: from,
            valid_until: until,
            revoked: false,
            notary: "Нотариус А. Демо, Астана".into(),
        };
        self.consents
            .lock()
            .map_err(|_| "lock poisoned".to_string())?
            .insert(number, consent.clone());
        Ok(consent)
    }
}

#[derive(Deserialize)]
struct BySubject {
    subject_iin: String,
}

async fn list(State(state): State<Arc<NotaryState>>, Query(q): Query<BySubject>) -> Response {
    let Ok(consents) = state.consents.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let found: Vec<&NotarisedConsent> = consents
        .values()
        .filter(|c| c.subject_iin == q.subject_iin)
        .collect();
    Json(json!({ "consents": found })).into_response()
}

#[derive(Deserialize)]
struct ByNumber {
    number: String,
}

async fn power_of_attorney(
    State(state): State<Arc<NotaryState>>,
    Query(q): Query<ByNumber>,
) -> Response {
    let Ok(powers) = state.powers.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match powers.get(&q.number) {
        Some(p) => Json(p.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"code": "NOT_FOUND", "message": "no notarised power of attorney has this number"})),
        )
            .into_response(),
    }
}

async fn consent(State(state): State<Arc<NotaryState>>, Path(number): Path<String>) -> Response {
    let Ok(consents) = state.consents.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match consents.get(&number) {
        Some(c) => Json(c.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"code": "NOT_FOUND", "message": "no notarised consent has this number"})),
        )
            .into_response(),
    }
}

/// Every power of attorney a person granted or holds.
async fn powers_of(State(state): State<Arc<NotaryState>>, Path(iin): Path<String>) -> Response {
    let Ok(powers) = state.powers.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let found: Vec<&PowerOfAttorney> = powers
        .values()
        .filter(|p| p.principal == iin || p.agent_iin == iin)
        .collect();
    Json(json!({ "powers_of_attorney": found })).into_response()
}

async fn certify(
    State(state): State<Arc<NotaryState>>,
    Json(p): Json<NewPowerOfAttorney>,
) -> Response {
    match state.certify(p) {
        Ok(p) => (StatusCode::CREATED, Json(p)).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn create(State(state): State<Arc<NotaryState>>, Json(c): Json<NewConsent>) -> Response {
    match state.register(c) {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn revoke(State(state): State<Arc<NotaryState>>, Path(number): Path<String>) -> Response {
    let Ok(mut consents) = state.consents.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match consents.get_mut(&number) {
        Some(c) => {
            c.revoked = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl MockNotary {
    /// Serves on `addr`, seeded with consents of the population's first persons for `bank_bin`.
    pub async fn start(
        addr: SocketAddr,
        population: &Population,
        sender: (&str, &str),
        bank_bin: &str,
    ) -> Result<Self, MockError> {
        let state = Arc::new(NotaryState {
            consents: Mutex::new(BTreeMap::new()),
            powers: Mutex::new(BTreeMap::new()),
            next: Mutex::new(0),
        });
        for iin in population.person_order.iter().skip(1).take(5) {
            state
                .register(NewConsent {
                    subject_iin: iin.clone(),
                    grantee_iin: None,
                    grantee_bin: Some(bank_bin.to_string()),
                    scope: vec!["person".into(), "address".into()],
                    valid_days: 365,
                })
                .map_err(MockError::Faults)?;
        }
        // Reads need the gateway's sender credentials; notaries register through the same API.
        let sender = axum::middleware::from_fn_with_state(
            crate::sender::credentials(sender),
            crate::sender::require,
        );
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route(
                "/api/v1/consents",
                get(list).route_layer(sender.clone()).post(create),
            )
            .route(
                "/api/v1/consents/{number}",
                get(consent).route_layer(sender.clone()),
            )
            .route("/api/v1/consents/{number}/revoke", post(revoke))
            .route(
                "/api/v1/persons/{iin}/powers-of-attorney",
                get(powers_of).route_layer(sender.clone()),
            )
            .route(
                "/api/v1/powers-of-attorney",
                get(power_of_attorney).route_layer(sender).post(certify),
            )
            .layer(axum::middleware::from_fn(crate::trace::serve))
            .with_state(state.clone());
        let (listener, addr) = crate::bind(addr).await?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "mock notary stopped");
            }
        });
        Ok(Self { addr, state })
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Certifies a power of attorney, as a notary's office would.
    pub fn certify(&self, p: NewPowerOfAttorney) -> Result<PowerOfAttorney, String> {
        self.state.certify(p)
    }

    /// Registers a notarised consent, as a notary's office would.
    pub fn register(&self, c: NewConsent) -> Result<NotarisedConsent, String> {
        self.state.register(c)
    }
}
