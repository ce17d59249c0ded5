//! The operators' web console: a page served by the gateway on its HTTP listener (beside
//! `/metrics`) at `/console/`, and the JSON it polls. The page is plain HTML, CSS and JavaScript
//! from `gateway/console/`, compiled into the binary: it works offline and loads nothing from
//! elsewhere. The JSON needs `Authorization: Bearer <[console] token>`; without a token in the
//! configuration there is no console.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::call::RegistrySummary;
use crate::metrics::{Exchange, Metrics, Second};
use crate::pipeline::local::OperatorState;
use crate::routing::Router;
use kopir_store::journal::Journal;

const INDEX: &str = include_str!("../console/index.html");
const APP: &str = include_str!("../console/app.js");
const STYLE: &str = include_str!("../console/style.css");

/// What the console reads.
#[derive(Clone)]
pub struct Console {
    /// The bearer token its JSON requires.
    pub token: String,
    /// Health, caches, metrics.
    pub state: OperatorState,
    /// Breakers.
    pub router: Router,
    /// The journal, for searches.
    pub journal: Option<Journal>,
    /// The pledge outbox's backlog.
    pub outbox: Option<crate::pledge::metrics::OutboxMetrics>,
}

#[derive(Serialize)]
struct ExchangeView {
    request_id: String,
    client: String,
    method: &'static str,
    subject: String,
    code: &'static str,
    took_ms: f64,
    received_at: String,
}

impl From<Exchange> for ExchangeView {
    fn from(e: Exchange) -> Self {
        Self {
            request_id: e.request_id,
            client: e.client,
            method: e.method,
            subject: e.subject,
            code: crate::metrics::code_name(e.code),
            took_ms: e.took.as_secs_f64() * 1e3,
            received_at: e
                .received_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

#[derive(Serialize)]
struct Overview {
    registries: Vec<RegistrySummary>,
    timeline: Vec<Second>,
    errors: Vec<ExchangeView>,
    outbox: Option<crate::pledge::outbox::Backlog>,
}

/// A journal record as the console shows it: subject masked, no body.
#[derive(Serialize)]
struct RecordView {
    seq: i64,
    kind: &'static str,
    request_id: String,
    client: String,
    method: String,
    subject: String,
    outcome: &'static str,
    note: String,
}

#[derive(Serialize)]
struct Found {
    records: Vec<RecordView>,
}

#[derive(Deserialize)]
struct Search {
    request_id: String,
}

fn authorised(console: &Console, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared in constant time, so the time taken says nothing about the token.
    given.is_some_and(|g| {
        subtle::ConstantTimeEq::ct_eq(g.as_bytes(), console.token.as_bytes()).into()
    })
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "the console's data needs Authorization: Bearer <[console] token> (open the page as /console/#token=...)",
    )
        .into_response()
}

async fn overview(State(console): State<Console>, headers: HeaderMap) -> Response {
    if !authorised(&console, &headers) {
        return refused();
    }
    let metrics: &Metrics = &console.state.metrics;
    axum::Json(Overview {
        registries: console
            .state
            .registries(&console.router, Duration::from_secs(60)),
        timeline: metrics.timeline(),
        errors: metrics
            .recent_errors()
            .into_iter()
            .map(ExchangeView::from)
            .collect(),
        outbox: console.outbox.as_ref().and_then(|o| o.backlog()),
    })
    .into_response()
}

async fn journal(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(q): Query<Search>,
) -> Response {
    if !authorised(&console, &headers) {
        return refused();
    }
    let Some(journal) = &console.journal else {
        return (StatusCode::NOT_FOUND, "this gateway runs without a journal").into_response();
    };
    let query = kopir_store::journal::Query {
        request_id: Some(q.request_id),
        limit: 50,
        ..Default::default()
    };
    match journal.store().search(&query).await {
        Ok(records) => axum::Json(Found {
            records: records
                .into_iter()
                .map(|r| RecordView {
                    seq: r.seq,
                    kind: r.entry.kind.as_str(),
                    request_id: r.entry.request_id,
                    client: r.entry.client,
                    method: r.entry.method,
                    subject: kopir_core::identifiers::mask(&r.entry.subject),
                    outcome: r
                        .entry
                        .outcome
                        .map_or("", |c| crate::metrics::code_name(tonic::Code::from(c))),
                    note: r.entry.note,
                })
                .collect(),
        })
        .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The console's routes, under `/console/`.
pub fn routes(console: Console) -> axum::Router {
    axum::Router::new()
        .route(
            "/console",
            get(|| async { axum::response::Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/console/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP) }),
        )
        .route(
            "/console/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .route("/console/api/overview", get(overview))
        .route("/console/api/journal", get(journal))
        .with_state(console)
}
