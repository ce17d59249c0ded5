//! `kopir.v1.OperatorService` (journal search), `kopir.v1.AccessLogService` (who read my data)
//! and `kopir.v1.ConsentService`: thin translations to the pipeline's local operations.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kopir_core::identifiers::{Bin, Iin};
use tonic::{Request, Response, Status};

use super::{call, respond, status, with_request_id, Answered, Origin, Sealed};
use crate::access::AccessControl;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::pipeline::consent::{scope_of, SCOPES};
use crate::pipeline::{Operation, Pipeline, Record};
use crate::proto::v1 as pb;
use crate::routing::RegistryId;
use kopir_store::journal::{ConsentRecord, ConsentWay, Query};
use kopir_trust::seal::Sealer;

/// The name of a stored gRPC status code (its number when it is none of gRPC's).
fn outcome_name(code: i32) -> String {
    if (0..=16).contains(&code) {
        crate::error::code_name(tonic::Code::from(code)).to_string()
    } else {
        code.to_string()
    }
}

/// A gRPC status code by name or number.
pub fn parse_code(s: &str) -> Option<i32> {
    s.parse::<i32>().ok().or_else(|| {
        (0..=16).find(|&i| crate::error::code_name(tonic::Code::from(i)).eq_ignore_ascii_case(s))
    })
}

fn time(field: &str, s: &str) -> Result<Option<DateTime<Utc>>, GatewayError> {
    if s.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| GatewayError::invalid(field, format!("RFC 3339 time expected: {e}")))
}

fn cursor(token: &str) -> Result<Option<i64>, GatewayError> {
    if token.is_empty() {
        return Ok(None);
    }
    token.parse().map(Some).map_err(|_| {
        GatewayError::invalid(
            "page_token",
            "pass the next_page_token of the previous page unchanged",
        )
    })
}

fn limit(page_size: u32) -> usize {
    if page_size == 0 {
        100
    } else {
        page_size.min(1_000) as usize
    }
}

/// A journal record as the operator API shows it.
pub fn record(r: &kopir_store::journal::Record) -> pb::JournalRecord {
    let e = &r.entry;
    pb::JournalRecord {
        seq: r.seq,
        kind: e.kind.as_str().into(),
        request_id: e.request_id.clone(),
        correlation_id: e.correlation_id.clone(),
        client: e.client.clone(),
        actor: e.actor.clone(),
        method: e.method.clone(),
        subject: e.subject.clone(),
        purpose: e.purpose.clone(),
        started_at: kopir_core::time::rfc3339_micros(e.started_at),
        ended_at: e
            .ended_at
            .map(kopir_core::time::rfc3339_micros)
            .unwrap_or_default(),
        outcome: e.outcome.map(outcome_name).unwrap_or_default(),
        registry: e.registry.clone(),
        registry_us: e.registry_us.unwrap_or(0),
        note: e.note.clone(),
        payload_digest: e.payload_digest.clone(),
        body: e.body.clone().unwrap_or_default(),
        prev_hash: r.prev_hash.clone(),
        hash: r.hash.clone(),
    }
}

/// The journal's gRPC services over the pipeline.
#[derive(Clone)]
pub struct JournalApi {
    pipeline: Pipeline,
    sealer: Option<Arc<Sealer>>,
    access: AccessControl,
    metrics: Metrics,
}

impl JournalApi {
    /// The services over `pipeline`; `access` names organisations in the access log; `metrics`
    /// carries the live exchange stream.
    pub fn new(
        pipeline: Pipeline,
        sealer: Option<Arc<Sealer>>,
        access: AccessControl,
        metrics: Metrics,
    ) -> Self {
        Self {
            pipeline,
            sealer,
            access,
            metrics,
        }
    }

    fn sealed<T: Sealed>(
        &self,
        message: T,
        id: &str,
        method: &str,
        reply: &crate::pipeline::Reply,
    ) -> Result<Response<T>, Status> {
        let origin = Origin {
            request_id: id,
            method,
            registry: "journal",
        };
        respond(message, self.sealer.as_deref(), origin, reply)
    }
}

fn journal_page(record: &Record) -> Option<(&[kopir_store::journal::Record], String)> {
    match record {
        Record::Journal { records, next } => Some((
            records.as_slice(),
            next.map(|n| n.to_string()).unwrap_or_default(),
        )),
        _ => None,
    }
}

fn unexpected(id: &str) -> Status {
    status(
        GatewayError::Server("the journal answered another operation".into()),
        Some(id),
    )
}

#[tonic::async_trait]
impl pb::operator_service_server::OperatorService for JournalApi {
    async fn search_journal(
        &self,
        request: Request<pb::SearchJournalRequest>,
    ) -> Result<Response<pb::SearchJournalResponse>, Status> {
        const METHOD: &str = kopir_core::methods::operator_service::SEARCH_JOURNAL;
        let m = request.get_ref();
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let Answered {
            request_id: id,
            reply,
            ..
        } = call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::SearchJournal(Query {
                request_id: text(&m.request_id),
                correlation_id: text(&m.correlation_id),
                client: text(&m.client),
                subject: text(&m.subject),
                method: text(&m.method),
                methods: Vec::new(),
                from: time("from", &m.from)?,
                to: time("to", &m.to)?,
                outcome: match m.outcome.as_str() {
                    "" => None,
                    o => Some(parse_code(o).ok_or_else(|| {
                        GatewayError::invalid(
                            "outcome",
                            "a gRPC status code name (OK, PERMISSION_DENIED, ...) or number",
                        )
                    })?),
                },
                kind: None,
                after: cursor(&m.page_token)?,
                newest_first: m.newest_first,
                limit: limit(m.page_size),
            }))
        })
        .await?;
        let (records, next) = journal_page(&reply.record).ok_or_else(|| unexpected(&id))?;
        // Operator searches are not sealed: they relay no registry's answer.
        Ok(with_request_id(
            pb::SearchJournalResponse {
                records: records.iter().map(record).collect(),
                next_page_token: next,
            },
            &id,
        ))
    }

    async fn get_registries(
        &self,
        request: Request<pb::GetRegistriesRequest>,
    ) -> Result<Response<pb::GetRegistriesResponse>, Status> {
        const METHOD: &str = kopir_core::methods::operator_service::GET_REGISTRIES;
        let seconds = match request.get_ref().window_seconds {
            0 => 60,
            s => s.clamp(10, 300),
        };
        let window = std::time::Duration::from_secs(u64::from(seconds));
        let Answered {
            request_id, reply, ..
        } = call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::RegistryStatus { window })
        })
        .await?;
        let Record::Registries(list) = reply.record.as_ref() else {
            return Err(unexpected(&request_id));
        };
        let ms = |us: u64| us as f64 / 1000.0;
        let registries = list
            .iter()
            .map(|r| pb::RegistryStatus {
                name: r.name.clone(),
                serving: r.serving,
                breaker: r.breaker.as_str().into(),
                calls: r.recent.calls,
                errors: r.recent.errors,
                error_rate: if r.recent.calls == 0 {
                    0.0
                } else {
                    r.recent.errors as f64 / r.recent.calls as f64
                },
                p50_ms: ms(r.recent.p50_us),
                p90_ms: ms(r.recent.p90_us),
                p99_ms: ms(r.recent.p99_us),
                cache_on: r.cache.is_some(),
                cache_hits: r.cache.map_or(0, |c| c.hits),
                cache_misses: r.cache.map_or(0, |c| c.misses),
                cache_entries: r.cache.map_or(0, |c| c.entries),
            })
            .collect();
        Ok(with_request_id(
            pb::GetRegistriesResponse {
                registries,
                window_seconds: seconds,
            },
            &request_id,
        ))
    }

    type WatchExchangesStream =
        std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::Exchange, Status>> + Send>>;

    async fn watch_exchanges(
        &self,
        request: Request<pb::WatchExchangesRequest>,
    ) -> Result<Response<Self::WatchExchangesStream>, Status> {
        const METHOD: &str = kopir_core::methods::operator_service::WATCH_EXCHANGES;
        // Subscribed before the checks run, so the stream starts no later than the answer.
        let live = self.metrics.watch_exchanges();
        let Answered { request_id, .. } = call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::WatchExchanges)
        })
        .await?;
        use tokio_stream::StreamExt;
        let stream = tokio_stream::wrappers::BroadcastStream::new(live).filter_map(|item| {
            // A watcher that fell behind misses what it could not keep up with, and goes on.
            item.ok().map(|e| {
                Ok(pb::Exchange {
                    request_id: e.request_id,
                    client: e.client,
                    method: e.method.to_string(),
                    subject: e.subject,
                    code: crate::metrics::code_name(e.code).to_string(),
                    took_ms: e.took.as_secs_f64() * 1e3,
                    received_at: kopir_core::time::rfc3339_micros(e.received_at),
                })
            })
        });
        Ok(with_request_id(
            Box::pin(stream) as Self::WatchExchangesStream,
            &request_id,
        ))
    }

    async fn invalidate_cache(
        &self,
        request: Request<pb::InvalidateCacheRequest>,
    ) -> Result<Response<pb::InvalidateCacheResponse>, Status> {
        const METHOD: &str = kopir_core::methods::operator_service::INVALIDATE_CACHE;
        let m = request.get_ref();
        let Answered {
            request_id, reply, ..
        } = call(&self.pipeline, &request, METHOD, || {
            let registry = RegistryId::from_name(&m.registry).ok_or_else(|| {
                GatewayError::invalid(
                    "registry",
                    format!(
                        "a registry name: {}",
                        RegistryId::ALL.map(RegistryId::name).join(", ")
                    ),
                )
            })?;
            Ok(Operation::InvalidateCache {
                registry,
                key: (!m.key.is_empty()).then(|| m.key.clone()),
            })
        })
        .await?;
        let Record::Invalidated { registry, all } = reply.record.as_ref() else {
            return Err(unexpected(&request_id));
        };
        Ok(with_request_id(
            pb::InvalidateCacheResponse {
                registry: registry.clone(),
                all: *all,
            },
            &request_id,
        ))
    }

    async fn reload_config(
        &self,
        request: Request<pb::ReloadConfigRequest>,
    ) -> Result<Response<pb::ReloadConfigResponse>, Status> {
        const METHOD: &str = kopir_core::methods::operator_service::RELOAD_CONFIG;
        let Answered {
            request_id, reply, ..
        } = call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::ReloadConfig)
        })
        .await?;
        let Record::Reloaded { changed, file } = reply.record.as_ref() else {
            return Err(unexpected(&request_id));
        };
        Ok(with_request_id(
            pb::ReloadConfigResponse {
                changed: *changed,
                file: file.clone(),
            },
            &request_id,
        ))
    }
    async fn list_outbox(
        &self,
        request: Request<pb::ListOutboxRequest>,
    ) -> Result<Response<pb::ListOutboxResponse>, Status> {
        const METHOD: &str = kopir_core::methods::operator_service::LIST_OUTBOX;
        let m = request.get_ref();
        let Answered {
            request_id, reply, ..
        } = call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::ListOutbox {
                only_dead: m.only_dead,
                limit: match m.limit {
                    0 => 100,
                    n => n.min(1000) as usize,
                },
            })
        })
        .await?;
        let Record::Outbox { backlog, items } = reply.record.as_ref() else {
            return Err(unexpected(&request_id));
        };
        let rfc = kopir_core::time::rfc3339;
        Ok(with_request_id(
            pb::ListOutboxResponse {
                open_pledges: backlog.open_pledges,
                undelivered_notices: backlog.undelivered_notices,
                oldest_notice_age_seconds: backlog.oldest_notice_age_s,
                dead_letters: backlog.dead_letters,
                items: items
                    .iter()
                    .map(|i| pb::OutboxItem {
                        kind: i.kind.as_str().into(),
                        request_id: i.request_id.clone(),
                        bank_bin: i.bank.clone(),
                        contract_number: i.contract_number.clone(),
                        state: i.state.clone(),
                        attempts: i.attempts,
                        last_error: i.last_error.clone(),
                        next_attempt_at: rfc(i.next_attempt_at),
                        created_at: rfc(i.created_at),
                        dead: i.dead,
                    })
                    .collect(),
            },
            &request_id,
        ))
    }

    async fn redrive_outbox(
        &self,
        request: Request<pb::RedriveOutboxRequest>,
    ) -> Result<Response<pb::RedriveOutboxResponse>, Status> {
        const METHOD: &str = kopir_core::methods::operator_service::REDRIVE_OUTBOX;
        let m = request.get_ref();
        let Answered {
            request_id, reply, ..
        } = call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::RedriveOutbox(
                (!m.request_id.is_empty()).then(|| m.request_id.clone()),
            ))
        })
        .await?;
        let Record::Redriven(n) = reply.record.as_ref() else {
            return Err(unexpected(&request_id));
        };
        Ok(with_request_id(
            pb::RedriveOutboxResponse { redriven: *n },
            &request_id,
        ))
    }
}

#[tonic::async_trait]
impl pb::access_log_service_server::AccessLogService for JournalApi {
    async fn list_accesses(
        &self,
        request: Request<pb::ListAccessesRequest>,
    ) -> Result<Response<pb::ListAccessesResponse>, Status> {
        const METHOD: &str = kopir_core::methods::access_log_service::LIST_ACCESSES;
        let m = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::ListAccesses {
                iin: super::iin("iin", m.iin.as_ref())?,
                page: Query {
                    after: cursor(&m.page_token)?,
                    limit: limit(m.page_size),
                    ..Query::default()
                },
            })
        })
        .await?;
        let (records, next) = journal_page(&reply.record).ok_or_else(|| unexpected(&id))?;
        let policy = self.access.policy();
        let accesses = records
            .iter()
            .map(|r| {
                let e = &r.entry;
                let bin = e
                    .client
                    .strip_prefix("bin:")
                    .unwrap_or(&e.client)
                    .to_string();
                pb::Access {
                    organisation_name: policy.client_name(&bin).unwrap_or("").to_string(),
                    organisation_bin: bin,
                    data: scope_of(&e.method)
                        .map(|(_, w)| w)
                        .unwrap_or("")
                        .to_string(),
                    method: e.method.clone(),
                    at: kopir_core::time::rfc3339_micros(e.started_at),
                    purpose: e.purpose.clone(),
                    basis: e.note.clone(),
                    actor_masked: e
                        .actor
                        .strip_prefix("iin:")
                        .and_then(|i| Iin::parse(i).ok())
                        .map(|i| i.masked())
                        .unwrap_or_default(),
                    request_id: e.request_id.clone(),
                }
            })
            .collect();
        let message = pb::ListAccessesResponse {
            accesses,
            next_page_token: next,
            seal: Vec::new(),
        };
        self.sealed(message, &id, METHOD, &reply)
    }
}

fn consent_way(way: i32) -> Result<ConsentWay, GatewayError> {
    match pb::ConsentWay::try_from(way) {
        Ok(pb::ConsentWay::OneTimeCode) => Ok(ConsentWay::OneTimeCode),
        Ok(pb::ConsentWay::DigitalSignature) => Ok(ConsentWay::Signature),
        _ => Err(GatewayError::invalid(
            "way",
            "ONE_TIME_CODE (with the portal's confirmation) or DIGITAL_SIGNATURE (with the person's signed document)",
        )),
    }
}

fn confirmation(way: ConsentWay, confirmation: &str) -> Result<(), GatewayError> {
    if way == ConsentWay::OneTimeCode && (confirmation.is_empty() || confirmation.len() > 128) {
        return Err(GatewayError::invalid(
            "confirmation",
            "the portal's one-time-code confirmation reference (1 to 128 characters) is required",
        ));
    }
    Ok(())
}

fn grant(m: &pb::GrantConsentRequest) -> Result<Operation, GatewayError> {
    let subject = super::iin("subject", m.subject.as_ref())?;
    let grantee = match (&m.grantee_bin, &m.grantee_iin) {
        (Some(b), None) => format!(
            "bin:{}",
            Bin::parse(&b.value)
                .map_err(|e| GatewayError::invalid("grantee_bin.value", e.to_string()))?
                .as_str()
        ),
        (None, Some(i)) => format!(
            "iin:{}",
            Iin::parse(&i.value)
                .map_err(|e| GatewayError::invalid("grantee_iin.value", e.to_string()))?
                .as_str()
        ),
        _ => {
            return Err(GatewayError::invalid(
                "grantee_bin",
                "name exactly one grantee: grantee_bin or grantee_iin",
            ))
        }
    };
    if m.scope.is_empty() || m.scope.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        return Err(GatewayError::invalid(
            "scope",
            format!("one or more of {}", SCOPES.join(", ")),
        ));
    }
    let now = Utc::now();
    let expires_at = time("expires_at", &m.expires_at)?
        .ok_or_else(|| GatewayError::invalid("expires_at", "required (RFC 3339)"))?;
    if expires_at <= now || expires_at > now + chrono::Duration::days(366) {
        return Err(GatewayError::invalid(
            "expires_at",
            "must be in the future and at most one year ahead",
        ));
    }
    let way = consent_way(m.way)?;
    confirmation(way, &m.confirmation)?;
    Ok(Operation::GrantConsent(ConsentRecord {
        id: uuid::Uuid::now_v7().to_string(),
        subject: subject.as_str().to_string(),
        grantee,
        scope: m.scope.clone(),
        way,
        reference: m.confirmation.clone(),
        granted_at: now,
        expires_at,
        revoked_at: None,
    }))
}

#[tonic::async_trait]
impl pb::consent_service_server::ConsentService for JournalApi {
    async fn grant_consent(
        &self,
        request: Request<pb::GrantConsentRequest>,
    ) -> Result<Response<pb::GrantConsentResponse>, Status> {
        const METHOD: &str = kopir_core::methods::consent_service::GRANT_CONSENT;
        let m = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = call(&self.pipeline, &request, METHOD, || grant(m)).await?;
        let Record::Consent(c) = reply.record.as_ref() else {
            return Err(unexpected(&id));
        };
        let message = pb::GrantConsentResponse {
            consent_id: c.id.clone(),
            seal: Vec::new(),
        };
        self.sealed(message, &id, METHOD, &reply)
    }

    async fn revoke_consent(
        &self,
        request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::RevokeConsentResponse>, Status> {
        const METHOD: &str = kopir_core::methods::consent_service::REVOKE_CONSENT;
        let m = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = call(&self.pipeline, &request, METHOD, || {
            let way = consent_way(m.way)?;
            confirmation(way, &m.confirmation)?;
            Ok(Operation::RevokeConsent {
                subject: super::iin("subject", m.subject.as_ref())?,
                id: m.consent_id.clone(),
            })
        })
        .await?;
        self.sealed(
            pb::RevokeConsentResponse { seal: Vec::new() },
            &id,
            METHOD,
            &reply,
        )
    }
}
