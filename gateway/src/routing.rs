//! Routing: which registry answers an operation, and the adapters that reach each registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use kopir_adapters::legal_entities::{LegalEntitiesRegistry, SyncChannelLegalEntities};
use kopir_adapters::persons::{PersonsRegistry, SyncChannelPersons};
use kopir_adapters::syncchannel::{Endpoint, SyncChannelClient};
use kopir_adapters::{AdapterError, Registry};
use tower::retry::RetryLayer;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};
use tracing::Instrument;

use crate::config::{Config, Protocol, RegistryConfig};
use crate::error::GatewayError;
use crate::health::RegistryHealth;
use crate::pipeline::{BoxFuture, GatewayRequest, Operation, Record, Reply};
use crate::resilience::breaker::{Breaker, BreakerState};
use crate::resilience::bulkhead::Bulkhead;
use crate::resilience::retry::RetryPolicy;

/// The registries the typed API routes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegistryId {
    /// Persons database (ГБД ФЛ).
    Persons,
    /// Legal-entities database (ГБД ЮЛ).
    LegalEntities,
}

impl RegistryId {
    /// Every routed registry.
    pub const ALL: [RegistryId; 2] = [Self::Persons, Self::LegalEntities];

    /// The name used in config, health and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Persons => "persons",
            Self::LegalEntities => "legal_entities",
        }
    }

    /// The registry of a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.name() == name)
    }

    /// Its entry in `grpc.health.v1`.
    pub fn health_name(self) -> String {
        format!("kopir.registry.{}", self.name())
    }
}

/// The adapters, one per registry.
pub struct Registries {
    /// Persons database.
    pub persons: Arc<dyn PersonsRegistry>,
    /// Legal-entities database.
    pub legal_entities: Arc<dyn LegalEntitiesRegistry>,
}

fn syncchannel(id: RegistryId, r: &RegistryConfig) -> Result<SyncChannelClient, GatewayError> {
    let Protocol::Syncchannel = r.protocol;
    let endpoint = Endpoint {
        url: r.url.clone(),
        sender_id: r.sender_id.clone(),
        sender_password: r.sender_password.clone(),
        connect_timeout: Duration::from_millis(r.connect_timeout_ms),
        request_timeout: Duration::from_millis(r.request_timeout_ms),
        pool_max_idle: r.pool_max_idle,
    };
    Ok(SyncChannelClient::new(id.name(), endpoint)?)
}

impl Registries {
    /// Builds every adapter from the configuration.
    pub fn from_config(config: &Config) -> Result<Self, GatewayError> {
        let persons = syncchannel(RegistryId::Persons, config.registry(RegistryId::Persons)?)?;
        let entities = syncchannel(
            RegistryId::LegalEntities,
            config.registry(RegistryId::LegalEntities)?,
        )?;
        Ok(Self {
            persons: Arc::new(SyncChannelPersons::new(persons)),
            legal_entities: Arc::new(SyncChannelLegalEntities::new(entities)),
        })
    }

    /// The adapter of a registry, for health probes.
    pub fn get(&self, id: RegistryId) -> Arc<dyn Registry> {
        match id {
            RegistryId::Persons => self.persons.clone() as Arc<dyn Registry>,
            RegistryId::LegalEntities => self.legal_entities.clone() as Arc<dyn Registry>,
        }
    }
}

/// The innermost service: calls the adapter of the operation's registry.
#[derive(Clone)]
struct AdapterCall {
    registries: Arc<Registries>,
    health: RegistryHealth,
}

impl Service<GatewayRequest> for AdapterCall {
    type Response = Reply;
    type Error = GatewayError;
    type Future = BoxFuture<Result<Reply, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: GatewayRequest) -> Self::Future {
        let registries = self.registries.clone();
        let health = self.health.clone();
        let registry = req.op.registry();
        let span = tracing::info_span!("adapter", registry = registry.name());
        Box::pin(
            async move {
                let correlation = req.ctx.request_id.as_str();
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
                };
                health.observe(registry, result.as_ref().map(|_| ())).await;
                Ok(Reply {
                    record: Arc::new(result?),
                    from_cache: false,
                    stale: false,
                })
            }
            .instrument(span),
        )
    }
}

type Route = BoxCloneSyncService<GatewayRequest, Reply, GatewayError>;

/// Routes each operation to its registry through that registry's protection (see
/// [`crate::resilience`]): concurrency limit, retries, circuit breaker, then the adapter.
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
        config: &Config,
    ) -> Result<Self, GatewayError> {
        let mut routes = HashMap::new();
        let mut breakers = HashMap::new();
        for id in RegistryId::ALL {
            let res = config.registry(id)?.resilience;
            let breaker = Breaker::new(id.name(), &res);
            let route = ServiceBuilder::new()
                .layer(Bulkhead::new(id.name(), res.max_concurrency, res.max_queue))
                .layer(RetryLayer::new(RetryPolicy::new(&res)?))
                .layer(breaker.clone())
                .service(AdapterCall {
                    registries: registries.clone(),
                    health: health.clone(),
                });
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

impl Service<GatewayRequest> for Router {
    type Response = Reply;
    type Error = GatewayError;
    type Future = BoxFuture<Result<Reply, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: GatewayRequest) -> Self::Future {
        let route = self.routes.get(&req.op.registry()).cloned();
        Box::pin(async move {
            match route {
                Some(route) => route.oneshot(req).await,
                None => Err(GatewayError::Config {
                    detail: format!("no route to the {} registry", req.op.registry().name()),
                }),
            }
        })
    }
}
