//! Routing: which registry answers an operation, and the adapters that reach each registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kopir_adapters::cadastre::{CadastreRegistry, RestCadastre};
use kopir_adapters::legal_entities::{LegalEntitiesRegistry, SyncChannelLegalEntities};
use kopir_adapters::notary::{NotaryRegistry, RestNotary};
use kopir_adapters::payments::{PaymentRegistry, RestPayments};
use kopir_adapters::persons::{PersonsRegistry, SyncChannelPersons};
use kopir_adapters::syncchannel::{Endpoint, SyncChannelClient};
use kopir_adapters::{AdapterError, Registry};
use tower::retry::RetryLayer;
use tower::util::BoxCloneSyncService;
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tracing::Instrument;

use crate::config::{Config, Protocol, RegistryConfig};
use crate::error::GatewayError;
use crate::health::RegistryHealth;
use crate::metrics::Metrics;
use crate::pipeline::{GatewayRequest, Operation, Record, Reply};
use kopir_resilience::breaker::{Breaker, BreakerState};
use kopir_resilience::bulkhead::Bulkhead;
use kopir_resilience::retry::RetryPolicy;

pub use kopir_core::registry::RegistryId;

/// The adapters, one per registry.
pub struct Registries {
    /// Persons database.
    pub persons: Arc<dyn PersonsRegistry>,
    /// Legal-entities database.
    pub legal_entities: Arc<dyn LegalEntitiesRegistry>,
    /// Notary system.
    pub notary: Arc<dyn NotaryRegistry>,
    /// Legal cadastre.
    pub cadastre: Arc<dyn CadastreRegistry>,
    /// Payment gateway.
    pub payments: Arc<dyn PaymentRegistry>,
}

fn endpoint(r: &RegistryConfig) -> Endpoint {
    Endpoint {
        url: r.url.clone(),
        sender_id: r.sender_id.clone(),
        sender_password: r.sender_password.clone(),
        connect_timeout: Duration::from_millis(r.connect_timeout_ms),
        request_timeout: Duration::from_millis(r.request_timeout_ms),
        pool_max_idle: r.pool_max_idle,
    }
}

fn expect(id: RegistryId, r: &RegistryConfig, protocol: Protocol) -> Result<(), GatewayError> {
    if r.protocol == protocol {
        Ok(())
    } else {
        Err(GatewayError::Config {
            detail: format!(
                "registries.{}.protocol: this registry speaks {protocol:?}, not {:?}",
                id.name(),
                r.protocol
            ),
        })
    }
}

fn syncchannel(id: RegistryId, r: &RegistryConfig) -> Result<SyncChannelClient, GatewayError> {
    expect(id, r, Protocol::Syncchannel)?;
    Ok(SyncChannelClient::new(id.name(), endpoint(r))?)
}

impl Registries {
    /// Builds every adapter from the configuration.
    pub fn from_config(config: &Config) -> Result<Self, GatewayError> {
        let persons = syncchannel(RegistryId::Persons, config.registry(RegistryId::Persons)?)?;
        let entities = syncchannel(
            RegistryId::LegalEntities,
            config.registry(RegistryId::LegalEntities)?,
        )?;
        let rest = |id: RegistryId| -> Result<Endpoint, GatewayError> {
            let r = config.registry(id)?;
            expect(id, r, Protocol::Rest)?;
            Ok(endpoint(r))
        };
        Ok(Self {
            persons: Arc::new(SyncChannelPersons::new(persons)),
            legal_entities: Arc::new(SyncChannelLegalEntities::new(entities)),
            notary: Arc::new(RestNotary::new(
                RegistryId::Notary.name(),
                rest(RegistryId::Notary)?,
            )?),
            cadastre: Arc::new(RestCadastre::new(
                RegistryId::Cadastre.name(),
                rest(RegistryId::Cadastre)?,
            )?),
            payments: Arc::new(RestPayments::new(
                RegistryId::Payments.name(),
                rest(RegistryId::Payments)?,
            )?),
        })
    }

    /// The adapter of a registry, for health probes.
    pub fn get(&self, id: RegistryId) -> Arc<dyn Registry> {
        match id {
            RegistryId::Persons => self.persons.clone() as Arc<dyn Registry>,
            RegistryId::LegalEntities => self.legal_entities.clone() as Arc<dyn Registry>,
            RegistryId::Notary => self.notary.clone() as Arc<dyn Registry>,
            RegistryId::Cadastre => self.cadastre.clone() as Arc<dyn Registry>,
            RegistryId::Payments => self.payments.clone() as Arc<dyn Registry>,
        }
    }
}

/// The innermost step: calls the adapter of the operation's registry and reports the outcome to
/// the registry's health.
async fn call_adapter(
    registries: Arc<Registries>,
    health: RegistryHealth,
    metrics: Metrics,
    req: GatewayRequest,
) -> Result<Reply, GatewayError> {
    let Some(registry) = req.op.registry() else {
        return Err(GatewayError::Server(
            "a local operation reached the registry router".into(),
        ));
    };
    let span = tracing::info_span!("adapter", registry = registry.name());
    async move {
        let correlation = req.ctx.request_id.as_str();
        let started = std::time::Instant::now();
        let result: Result<Record, AdapterError> = match &req.op {
            Operation::Person(iin) => registries
                .persons
                .person(iin, correlation)
                .await
                .map(Record::Person),
            Operation::LegalEntity(bin) => registries
                .legal_entities
                .entity(bin, correlation)
                .await
                .map(Record::LegalEntity),
            Operation::Relatives(iin) => registries
                .persons
                .relatives(iin, correlation)
                .await
                .map(Record::Relatives),
            Operation::PowerOfAttorney { number, .. } => registries
                .notary
                .power_of_attorney(number, correlation)
                .await
                .map(Record::PowerOfAttorney),
            Operation::RealEstate(number) => registries
                .cadastre
                .object(number, correlation)
                .await
                .and_then(|o| o.ok_or_else(|| not_found(registry, "cadastral number")))
                .map(Record::RealEstate),
            Operation::Rights(number) => registries
                .cadastre
                .rights(number, correlation)
                .await
                .and_then(|o| o.ok_or_else(|| not_found(registry, "cadastral number")))
                .map(Record::Rights),
            Operation::FilePledge(filing) => registries
                .cadastre
                .file_pledge(filing)
                .await
                .map(|s| Record::Filing(Some(s))),
            Operation::FilingStatus(message_id) => registries
                .cadastre
                .filing(message_id)
                .await
                .map(Record::Filing),
            Operation::FileObjection { message_id, text } => registries
                .cadastre
                .object_to(message_id, text)
                .await
                .map(|s| Record::Filing(Some(s))),
            Operation::PaymentChecks(number) => registries
                .payments
                .echecks(number, correlation)
                .await
                .map(Record::PaymentChecks),
            _ => Err(AdapterError::Config {
                registry: registry.name().into(),
                detail: "no adapter call for this operation".into(),
            }),
        };
        req.ctx.trail.registry(registry.name(), started.elapsed());
        metrics.registry_call(registry, result.is_ok(), started.elapsed());
        health.observe(registry, result.as_ref().map(|_| ())).await;
        Ok(Reply {
            record: Arc::new(result?),
            from_cache: false,
            stale: false,
        })
    }
    .instrument(span)
    .await
}

fn not_found(registry: RegistryId, what: &str) -> AdapterError {
    AdapterError::NotFound {
        registry: registry.name().into(),
        what: what.into(),
    }
}

type Route = BoxCloneSyncService<GatewayRequest, Reply, GatewayError>;

/// Routes each operation to its registry through that registry's protection (see
/// [`kopir_resilience`]): concurrency limit, retries, circuit breaker, then the adapter.
#[derive(Clone)]
pub struct Router {
    routes: Arc<HashMap<RegistryId, Route>>,
    breakers: Arc<HashMap<RegistryId, Breaker>>,
}

impl Router {
    /// Builds each registry's route from its configuration.
    pub fn new(
        registries: Arc<Registries>,
        health: RegistryHealth,
        metrics: Metrics,
        config: &Config,
    ) -> Result<Self, GatewayError> {
        let mut routes = HashMap::new();
        let mut breakers = HashMap::new();
        for id in RegistryId::ALL {
            let res = config.registry(id)?.resilience;
            let breaker = Breaker::new(id.name(), &res);
            let (regs, h, m) = (registries.clone(), health.clone(), metrics.clone());
            let route = ServiceBuilder::new()
                .layer(Bulkhead::new(id.name(), res.max_concurrency, res.max_queue))
                .layer(RetryLayer::new(RetryPolicy::new(&res)?))
                .layer(breaker.clone())
                .service(service_fn(move |req| {
                    call_adapter(regs.clone(), h.clone(), m.clone(), req)
                }));
            routes.insert(id, BoxCloneSyncService::new(route));
            breakers.insert(id, breaker);
        }
        Ok(Self {
            routes: Arc::new(routes),
            breakers: Arc::new(breakers),
        })
    }

    /// The state of a registry's circuit breaker.
    pub fn breaker_state(&self, id: RegistryId) -> Option<BreakerState> {
        self.breakers.get(&id).map(Breaker::state)
    }
}

impl Router {
    /// Calls the route of the request's registry.
    pub async fn route(&self, req: GatewayRequest) -> Result<Reply, GatewayError> {
        match req.op.registry().and_then(|r| self.routes.get(&r)).cloned() {
            Some(route) => route.oneshot(req).await,
            None => Err(GatewayError::Config {
                detail: "no route for this operation".into(),
            }),
        }
    }

    /// The router as the pipeline's innermost service.
    pub fn into_service(self) -> Route {
        BoxCloneSyncService::new(service_fn(move |req| {
            let router = self.clone();
            async move { router.route(req).await }
        }))
    }
}
