//! Mock personal-data access control service (КДП): issues citizens' consent tokens to the
//! gateway, which presents them to the persons database with every search; the persons database
//! asks this service whether a token holds (here: the store both mocks share, as the payment
//! gateway's ledger is shared with the cadastre). Its API is ours, as nothing public describes
//! the real one: `POST /api/v1/tokens` {requester, subject, scope, basis, holder} →
//! `201 {token, expires_at}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use kopir_core::identifiers::Iin;
use serde::Deserialize;
use serde_json::json;

use crate::MockError;

/// How long an issued token holds.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// What a token was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Grant {
    /// Who reads (`iin:…`, `bin:…`).
    pub requester: String,
    /// Whose data; none for a search by name or document.
    pub subject: Option<String>,
    /// The consent scope.
    pub scope: String,
    /// The basis the gateway stated.
    pub basis: String,
    /// The key (base64 DER certificate) the token is bound to.
    pub holder: String,
}

/// An issued token's grant and when it lapses.
type Issued = (Grant, DateTime<Utc>);

/// The tokens issued, shared with the persons database that checks them.
#[derive(Debug, Clone, Default)]
pub struct Tokens(Arc<Mutex<HashMap<String, Issued>>>);

impl Tokens {
    /// Why `token`, presented with `public_key`, does not open `subject`'s record, found by
    /// IIN or (`by_iin` false) by a search; `None` when it does. A search's token, issued for no
    /// one in particular, opens the persons a search finds, never a read by IIN.
    pub fn refusal(
        &self,
        token: &str,
        public_key: &str,
        subject: &str,
        by_iin: bool,
    ) -> Option<String> {
        if token.is_empty() {
            return Some("no consent token (kdpToken) was presented".into());
        }
        let Ok(tokens) = self.0.lock() else {
            return Some("the token store is unavailable".into());
        };
        match tokens.get(token) {
            None => Some("the consent token is unknown".into()),
            Some((_, until)) if *until <= Utc::now() => Some("the consent token has lapsed".into()),
            Some((g, _)) if g.subject.is_none() && by_iin => {
                Some("a search's consent token does not open a read by IIN".into())
            }
            Some((g, _)) if g.subject.as_deref().is_some_and(|s| s != subject) => {
                Some("the consent token was issued for another person".into())
            }
            Some((g, _)) if g.holder != public_key => {
                Some("the consent token is bound to another key (publicKey)".into())
            }
            Some(_) => None,
        }
    }

    /// The grant a token was issued for, while it holds.
    pub fn grant(&self, token: &str) -> Option<Grant> {
        let tokens = self.0.lock().ok()?;
        tokens
            .get(token)
            .filter(|(_, until)| *until > Utc::now())
            .map(|(g, _)| g.clone())
    }

    /// How many tokens were issued.
    pub fn issued(&self) -> usize {
        self.0.lock().map(|t| t.len()).unwrap_or(0)
    }
}

/// A running mock access control service.
pub struct MockKdp {
    /// Where it listens.
    pub addr: SocketAddr,
    tokens: Tokens,
}

#[derive(Clone)]
struct Served {
    tokens: Tokens,
    authorization: String,
}

impl MockKdp {
    /// Serves on `addr`, taking requests from `sender_id` with `sender_password` (basic auth).
    pub async fn start(
        addr: SocketAddr,
        tokens: Tokens,
        sender_id: &str,
        sender_password: &str,
    ) -> Result<Self, MockError> {
        use base64::Engine as _;
        let authorization = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{sender_id}:{sender_password}"))
        );
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/api/v1/tokens", post(issue))
            .layer(axum::middleware::from_fn(crate::trace::serve))
            .with_state(Served {
                tokens: tokens.clone(),
                authorization,
            });
        let (listener, addr) = crate::bind(addr).await?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "mock access control service stopped");
            }
        });
        Ok(Self { addr, tokens })
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tokens issued.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

async fn issue(State(s): State<Served>, headers: HeaderMap, Json(g): Json<Grant>) -> Response {
    if headers
        .get("authorization")
        .is_none_or(|a| a.as_bytes() != s.authorization.as_bytes())
    {
        return refuse(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "unknown sender");
    }
    match &g.subject {
        Some(subject) if Iin::parse(subject).is_err() => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_SUBJECT",
                "subject is not an IIN",
            );
        }
        None if !g.basis.starts_with("lawful access") => {
            return refuse(
                StatusCode::FORBIDDEN,
                "NO_BASIS",
                "a search's token is issued only under a lawful basis",
            );
        }
        _ => {}
    }
    if g.requester.is_empty() || g.scope.is_empty() || g.basis.is_empty() || g.holder.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_GRANT",
            "requester, scope, basis and holder are required",
        );
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let until = Utc::now() + chrono::Duration::from_std(TOKEN_LIFETIME).unwrap_or_default();
    match s.tokens.0.lock() {
        Ok(mut t) => {
            t.insert(token.clone(), (g, until));
        }
        Err(_) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "token store unavailable",
            )
        }
    }
    (
        StatusCode::CREATED,
        Json(json!({"token": token, "expires_at": kopir_core::time::rfc3339(until)})),
    )
        .into_response()
}
