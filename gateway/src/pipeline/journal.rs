//! The journal stage: a request record on the way in, a response record on the way out, and no
//! answer leaves before both are durable (group commit makes that cheap; see [`kopir_store::journal`]).

use chrono::Utc;
use tower::{Service, ServiceExt};
use tracing::Instrument;

use super::stage::Stage;
use super::{CallContext, GatewayRequest, Reply};
use crate::error::GatewayError;
use kopir_store::journal::chain::digest;
use kopir_store::journal::retention::Policies;
use kopir_store::journal::{Entry, Journal, Kind};

/// Journals every call that passed identification.
#[derive(Clone)]
pub struct JournalStage {
    /// The journal; none turns the stage into a pass-through (benchmark baselines only).
    pub journal: Option<Journal>,
    /// Which bodies are kept.
    pub bodies: Policies,
}

fn entry(ctx: &CallContext, subject: &str, kind: Kind, payload: String, keep: bool) -> Entry {
    Entry {
        kind,
        request_id: ctx.request_id.clone(),
        correlation_id: ctx.correlation_id.clone(),
        client: ctx.client.to_string(),
        actor: String::new(),
        method: ctx.method.to_string(),
        subject: subject.to_string(),
        purpose: ctx.purpose.clone(),
        started_at: ctx.received_at,
        ended_at: None,
        outcome: None,
        registry: String::new(),
        registry_us: None,
        note: String::new(),
        payload_digest: digest(payload.as_bytes()),
        body: keep.then_some(payload),
    }
}

/// The request as journaled, and whether it is worth keeping as a body: the signed document
/// when there is one (the exact bytes signed: evidence no column holds), else what was asked,
/// whose every field is a column of the record already, so only its digest is kept.
fn request_payload(req: &GatewayRequest) -> (String, bool) {
    match &req.ctx.signed {
        Some(doc) if !doc.payload.is_empty() => {
            (String::from_utf8_lossy(&doc.payload).into_owned(), true)
        }
        _ => (
            serde_json::json!({
                "method": req.ctx.method,
                "subject": req.op.subject(),
                "purpose": req.ctx.purpose,
            })
            .to_string(),
            false,
        ),
    }
}

impl Stage for JournalStage {
    async fn call<S>(&self, req: GatewayRequest, inner: S) -> Result<Reply, GatewayError>
    where
        S: Service<GatewayRequest, Response = Reply, Error = GatewayError> + Send + 'static,
        S::Future: Send,
    {
        let Some(journal) = self.journal.clone() else {
            return inner.oneshot(req).await;
        };
        let ctx = req.ctx.clone();
        let subject = req.op.subject().to_string();
        let keep = self.bodies.of(ctx.method).keep;
        let (payload, evidence) = request_payload(&req);
        let request = journal
            .submit(entry(
                &ctx,
                &subject,
                Kind::Request,
                payload,
                keep && evidence,
            ))
            .await;

        let result = inner.oneshot(req).await;

        let notes = ctx.trail.notes();
        let (outcome, note, payload) = match &result {
            Ok(reply) => {
                let mut note = notes.basis;
                if reply.from_cache {
                    note.push_str(if note.is_empty() { "" } else { "; " });
                    note.push_str(if reply.stale { "stale cache" } else { "cache" });
                }
                let body = serde_json::to_string(reply.record.as_ref())
                    .map_err(|e| GatewayError::Server(format!("journal body: {e}")))?;
                (0, note, body)
            }
            Err(e) => (e.code() as i32, e.to_string(), String::new()),
        };
        let mut response = entry(
            &ctx,
            &subject,
            Kind::Response,
            payload,
            keep && outcome == 0,
        );
        response.actor = notes.actor;
        // The request record keeps the purpose the request states; its answer, the purpose the
        // signer signed, when a signed document states one.
        if let Some(purpose) = notes.signed_purpose {
            response.purpose = purpose;
        }
        response.ended_at = Some(Utc::now());
        response.outcome = Some(outcome);
        response.note = note;
        if let Some((name, took)) = notes.registry {
            response.registry = name.to_string();
            response.registry_us = Some(i64::try_from(took.as_micros()).unwrap_or(i64::MAX));
        }
        let response = journal.submit(response).await;
        async {
            request.durable().await?;
            response.durable().await
        }
        .instrument(tracing::info_span!("journal.commit"))
        .await?;
        result
    }
}
