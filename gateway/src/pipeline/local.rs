//! The pipeline's innermost step: registry operations go to the router; the gateway's own
//! services (journal search, access log, consents) are answered from the journal database here,
//! after the same identify, journal, authorize and signature stages as every registry call.

use std::sync::Arc;

use tower::service_fn;
use tower::util::BoxCloneSyncService;

use super::consent::{GET_ADDRESS_REFERENCE, GET_PERSON};
use super::{GatewayRequest, Operation, Record, Reply};
use crate::access::AccessControl;
use crate::error::{GatewayError, SignatureFailure};
use crate::health::RegistryHealth;
use crate::metrics::Metrics;
use crate::pipeline::cache::Caches;
use crate::pipeline::RegistrySummary;
use crate::routing::{RegistryId, Router};
use kopir_resilience::breaker::BreakerState;
use kopir_store::journal::{Journal, JournalError, Kind, Query, Store};
use std::path::PathBuf;

/// What the operators' methods read and change: the gateway's own state.
#[derive(Clone)]
pub struct OperatorState {
    /// Registry caches.
    pub caches: Caches,
    /// Registry health.
    pub health: RegistryHealth,
    /// Recent registry calls.
    pub metrics: Metrics,
    /// The access list, reloadable.
    pub access: AccessControl,
    /// The configuration file, when the gateway was started from one.
    pub source: Option<PathBuf>,
}

impl OperatorState {
    /// Every registry: health, breaker (from `router`), calls over `window`, cache counters.
    pub fn registries(&self, router: &Router, window: std::time::Duration) -> Vec<RegistrySummary> {
        RegistryId::ALL
            .into_iter()
            .map(|id| RegistrySummary {
                name: id.name().to_string(),
                serving: self.health.is_serving(id),
                breaker: router.breaker_state(id).unwrap_or(BreakerState::Closed),
                recent: self.metrics.recent(id, window),
                cache: self.caches.stats(id),
            })
            .collect()
    }
}

/// The gateway's own services the innermost step answers.
#[derive(Clone)]
pub struct Services {
    /// The operators' view of the gateway.
    pub operator: OperatorState,
    /// The services that answer their own operations (the pledge desk, the channel's hub),
    /// asked in order.
    pub own: Vec<Arc<dyn crate::call::OwnService>>,
}

/// The innermost service.
pub fn dispatch(
    router: Router,
    journal: Option<Journal>,
    services: Services,
) -> BoxCloneSyncService<GatewayRequest, Reply, GatewayError> {
    BoxCloneSyncService::new(service_fn(move |req: GatewayRequest| {
        let (router, journal, services) = (router.clone(), journal.clone(), services.clone());
        async move {
            let operator = &services.operator;
            if req.op.registry().is_some() {
                return router.route(req).await;
            }
            let mut answered = None;
            for service in &services.own {
                answered = service.answer(&req).await?;
                if answered.is_some() {
                    break;
                }
            }
            if let Some(record) = answered {
                return Ok(Reply {
                    record: Arc::new(record),
                    from_cache: false,
                    stale: false,
                });
            }
            let record = match operate(&router, operator, &req.op).await? {
                Some(record) => record,
                None => local(journal.as_ref(), &req).await?,
            };
            Ok(Reply {
                record: Arc::new(record),
                from_cache: false,
                stale: false,
            })
        }
    }))
}

/// The operators' methods on the gateway's state; none for the journal's services.
async fn operate(
    router: &Router,
    state: &OperatorState,
    op: &Operation,
) -> Result<Option<Record>, GatewayError> {
    Ok(Some(match op {
        Operation::RegistryStatus { window } => {
            Record::Registries(state.registries(router, *window))
        }
        Operation::InvalidateCache { registry, key } => {
            match key {
                Some(k) => state.caches.invalidate(*registry, k).await,
                None => state.caches.invalidate_all(*registry),
            }
            Record::Invalidated {
                registry: registry.name().to_string(),
                all: key.is_none(),
            }
        }
        Operation::ReloadConfig => {
            let path = state.source.as_ref().ok_or_else(|| {
                GatewayError::FailedPrecondition(
                    "this gateway runs on the embedded configuration: there is no file to reload (start it with --config FILE)".into(),
                )
            })?;
            Record::Reloaded {
                changed: state.access.reload(path)?,
                file: path.display().to_string(),
            }
        }
        Operation::WatchExchanges => Record::Done,
        _ => return Ok(None),
    }))
}

/// One page of a journal query, with the cursor of the next.
async fn page(store: &dyn Store, query: &Query) -> Result<Record, GatewayError> {
    let records = store.search(query).await?;
    let next = query.next_cursor(&records);
    Ok(Record::Journal { records, next })
}

async fn local(journal: Option<&Journal>, req: &GatewayRequest) -> Result<Record, GatewayError> {
    let store = journal
        .map(|j| j.store().clone())
        .ok_or(GatewayError::Journal(JournalError::Config(
            "this gateway runs without a journal (journal.backend = \"off\")".into(),
        )))?;
    let signer = req.ctx.signers.as_ref().and_then(|s| s.requester_iin());
    match &req.op {
        Operation::ListAccesses { iin, page: q } => {
            if signer.as_ref() != Some(iin) {
                return Err(GatewayError::Signature {
                    failure: SignatureFailure::SignerMismatch,
                    detail: format!(
                        "a person's access log is shown only to that person: sign the request as its requester with the certificate of IIN {}",
                        iin.masked()
                    ),
                });
            }
            let query = Query {
                subject: Some(iin.as_str().to_string()),
                methods: vec![GET_PERSON.into(), GET_ADDRESS_REFERENCE.into()],
                kind: Some(Kind::Response),
                outcome: Some(0),
                newest_first: true,
                ..q.clone()
            };
            page(store.as_ref(), &query).await
        }
        Operation::SearchJournal(q) => page(store.as_ref(), q).await,
        Operation::GrantConsent(c) => {
            let by_signature = c.way == kopir_store::journal::ConsentWay::Signature;
            if by_signature && signer.as_ref().map(|i| i.as_str()) != Some(c.subject.as_str()) {
                return Err(GatewayError::Signature {
                    failure: SignatureFailure::SignerMismatch,
                    detail: "a consent by digital signature must be signed by the person who gives it (requester and subject: their IIN)".into(),
                });
            }
            store.put_consent(c).await?;
            Ok(Record::Consent(c.clone()))
        }
        Operation::RevokeConsent { subject, id } => {
            if store
                .revoke_consent(id, subject.as_str(), chrono::Utc::now())
                .await?
            {
                Ok(Record::Done)
            } else {
                Err(GatewayError::FailedPrecondition(format!(
                    "person {} has no consent {id} in force",
                    subject.masked()
                )))
            }
        }
        _ => Err(GatewayError::Server(
            "an operation reached the journal's services that they do not answer".into(),
        )),
    }
}
