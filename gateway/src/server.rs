//! Assembles adapters, pipeline, health and reflection into a running tonic server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use std::time::Duration;

use crate::access::AccessControl;
use crate::api::channel::ChannelApi;
use crate::api::identity::Identity;
use crate::api::journal::JournalApi;
use crate::api::pledge::PledgeApi;
use crate::api::registries::RegistryApi;
use crate::config::Config;
use crate::console::Console;
use crate::error::GatewayError;
use crate::health::RegistryHealth;
use crate::metrics::Metrics;
use crate::pipeline::{self, cache::Caches};
use crate::pipeline::{AuditStages, TrustStages};
use crate::proto::v1::access_log_service_server::AccessLogServiceServer;
use crate::proto::v1::cadastre_service_server::CadastreServiceServer;
use crate::proto::v1::channel_service_server::ChannelServiceServer;
use crate::proto::v1::consent_service_server::ConsentServiceServer;
use crate::proto::v1::identity_service_server::IdentityServiceServer;
use crate::proto::v1::notary_service_server::NotaryServiceServer;
use crate::proto::v1::operator_service_server::OperatorServiceServer;
use crate::proto::v1::pledge_service_server::PledgeServiceServer;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::routing::Router;
use kopir_store::journal::metrics::JournalMetrics;
use kopir_store::journal::retention::Policies;
use kopir_store::journal::Journal;
use kopir_trust::seal::Sealer;
use kopir_trust::Trust;

/// A running gateway.
pub struct Gateway {
    /// The address it serves gRPC on.
    pub addr: SocketAddr,
    /// Its caches, for counters and invalidation.
    pub caches: Caches,
    /// Its registry health.
    pub health: RegistryHealth,
    /// Its routes, for the circuit breakers' state.
    pub router: Router,
    /// Its trust store (chain cache, CRLs).
    pub trust: Arc<Trust>,
    /// Its access list, reloadable.
    pub access: AccessControl,
    /// Its metrics.
    pub metrics: Metrics,
    /// Where `GET /metrics` is served, when it is.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether it is fit to take calls (also `GET /ready` and the overall health entry).
    pub readiness: crate::readiness::Readiness,
    reporter: tonic_health::server::HealthReporter,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<Result<(), GatewayError>>,
    probes: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Binds `config.server.listen` and serves until [`stop`](Self::stop) or [`wait`](Self::wait) ends.
    pub async fn start(config: Config) -> Result<Self, GatewayError> {
        let (trust, sealer) = trust_and_seal(&config).await?;
        let registries = crate::routing::registries(&config, &trust)?;
        let (reporter, health_service) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<IdentityServiceServer<Identity>>()
            .await;
        let seen = Observed::build(&config, &registries, reporter.clone()).await?;
        let access = AccessControl::new(&config);
        let kept = Stores::open(&config, &seen, &access, &trust).await?;
        let operator = crate::pipeline::local::OperatorState {
            caches: seen.caches.clone(),
            health: seen.health.clone(),
            metrics: seen.metrics.clone(),
            access: access.clone(),
            source: config.source.clone(),
        };
        let pipeline = pipeline::build(
            &config,
            TrustStages {
                trust: trust.clone(),
                access: access.clone(),
                replay: kept.replay.clone(),
                tokens: crate::pipeline::consent::Tokens::new(token_holder(&config)?),
            },
            AuditStages {
                metrics: seen.metrics.clone(),
                journal: kept.journal.clone(),
                bodies: kept.bodies.clone(),
            },
            seen.router.clone(),
            seen.caches.clone(),
            crate::pipeline::local::Services {
                operator: operator.clone(),
                own: vec![Arc::new(kept.desk.clone()), Arc::new(kept.hub.clone())],
            },
        );
        let journal_api = JournalApi::new(
            pipeline.clone(),
            sealer.clone(),
            access.clone(),
            seen.metrics.clone(),
        );
        let routes = grpc_routes(
            health_service,
            &Services {
                metrics: seen.metrics.clone(),
                max_message_bytes: config.server.max_message_bytes,
                pipeline,
                sealer: sealer.clone(),
                desk: kept.desk.clone(),
                hub: kept.hub.clone(),
                journal_api,
            },
        )?;
        let (addr, shutdown, server) = listen(&config, routes, &seen.metrics).await?;
        let mut probes = background(
            &config,
            &Background {
                health: &seen.health,
                registries: &registries,
                hub: &kept.hub,
                desk: &kept.desk,
                sealer: &sealer,
                outbox_metrics: &seen.outbox_metrics,
                trust: &trust,
                access: &access,
                bodies: &kept.bodies,
            },
            kept.store.clone(),
        )?;
        let readiness = crate::readiness::Readiness::default();
        probes.push(readiness.spawn(
            crate::readiness::Checks {
                store: kept.store.clone(),
                sealer: sealer.clone(),
                trust: trust.clone(),
            },
            reporter.clone(),
        ));
        let metrics_addr = match config.metrics.listen {
            Some(listen) => {
                let console = console(&config, operator, &seen, &kept);
                let (bound, task) =
                    serve_metrics(&seen.metrics, listen, console, &readiness).await?;
                probes.push(task);
                Some(bound)
            }
            None => None,
        };
        tracing::info!(%addr, "gateway serving gRPC");
        Ok(Self {
            addr,
            caches: seen.caches,
            health: seen.health,
            router: seen.router,
            trust,
            access,
            metrics: seen.metrics,
            metrics_addr,
            readiness,
            reporter,
            shutdown,
            server,
            probes,
        })
    }

    /// Stops accepting, lets in-flight calls finish, and stops the health probes.
    pub async fn stop(self) -> Result<(), GatewayError> {
        // A load balancer asking sends no more calls here; the ones in flight finish.
        crate::readiness::draining(&self.reporter).await;
        self.shutdown.send(()).ok();
        for p in &self.probes {
            p.abort();
        }
        self.server
            .await
            .map_err(|e| GatewayError::Server(e.to_string()))?
    }
}

/// What watches the registries: their health, caches, metrics and routes, each subsystem's
/// collector registered.
struct Observed {
    health: RegistryHealth,
    caches: Caches,
    metrics: Metrics,
    router: Router,
    outbox_metrics: Option<crate::pledge::metrics::OutboxMetrics>,
}

impl Observed {
    async fn build(
        config: &Config,
        registries: &[Arc<dyn crate::routing::RegistryRoute>],
        reporter: tonic_health::server::HealthReporter,
    ) -> Result<Self, GatewayError> {
        let health = RegistryHealth::new(reporter).await;
        let caches = Caches::new(config);
        let metrics = Metrics::new();
        let router = Router::new(registries, health.clone(), metrics.clone(), config)?;
        metrics.register(|r| {
            r.register_collector(Box::new(caches.collector()));
            r.register_collector(Box::new(router.collector()));
            r.register_collector(Box::new(health.collector()));
        });
        let outbox_metrics = metrics.register(crate::pledge::metrics::OutboxMetrics::register);
        Ok(Self {
            health,
            caches,
            metrics,
            router,
            outbox_metrics,
        })
    }
}

/// What keeps state: the journal, the pledge desk over its outbox, the channel's hub over its
/// messages, the signed documents already taken.
struct Stores {
    store: Option<Arc<dyn kopir_store::journal::Store>>,
    journal: Option<Journal>,
    bodies: Policies,
    desk: crate::pledge::Desk,
    hub: crate::channel::Hub,
    replay: kopir_store::replay::Replay,
}

impl Stores {
    async fn open(
        config: &Config,
        seen: &Observed,
        access: &AccessControl,
        trust: &Arc<Trust>,
    ) -> Result<Self, GatewayError> {
        let store = kopir_store::journal::open(&config.journal).await?;
        let journal = store.clone().map(|s| {
            Journal::start_measured(
                s,
                config.journal.batch_max,
                seen.metrics.register(JournalMetrics::register),
            )
        });
        if journal.is_none() {
            tracing::warn!("journal.backend = \"off\": calls are answered without an audit record");
        }
        let durable =
            kopir_store::durable::Durable::open(&config.pledge.outbox, config.pledge.batch_max)?;
        let outbox = crate::pledge::outbox::Outbox::open(durable.clone()).await?;
        let desk = crate::pledge::Desk::new(outbox, seen.router.clone(), journal.clone());
        let hub = crate::channel::Hub::new(
            access.clone(),
            crate::channel::store::ChannelStore::open(durable.clone()).await?,
            &config.channel,
            journal.clone(),
            trust.clone(),
        );
        // Nonces live with the journal when that is shared (PostgreSQL), so a document taken by
        // one replica is a replay at every other; else in this process's durable store.
        let replay = match (&config.journal.backend, &config.journal.url) {
            (kopir_store::journal::config::JournalBackend::Postgres, Some(url)) => {
                kopir_store::replay::Replay::open_postgres(url, &config.journal.schema).await?
            }
            _ => kopir_store::replay::Replay::open(durable).await?,
        };
        Ok(Self {
            replay,
            store,
            journal,
            bodies: Policies::new(config.journal.bodies.clone()),
            desk,
            hub,
        })
    }
}

/// The operators' web console, when `[metrics] console_token` is set.
fn console(
    config: &Config,
    state: crate::pipeline::local::OperatorState,
    seen: &Observed,
    kept: &Stores,
) -> Option<Console> {
    let token = config
        .metrics
        .console_token
        .as_ref()
        .filter(|t| !t.is_empty())?;
    Some(Console {
        token: token.clone(),
        state,
        router: seen.router.clone(),
        journal: kept.journal.clone(),
        outbox: seen.outbox_metrics.clone(),
    })
}

/// Binds `[server] listen` and serves `routes` on it, over TLS unless in plaintext mode: the
/// bound address, the shutdown trigger and the server task.
async fn listen(
    config: &Config,
    routes: Routes,
    metrics: &Metrics,
) -> Result<
    (
        SocketAddr,
        oneshot::Sender<()>,
        JoinHandle<Result<(), GatewayError>>,
    ),
    GatewayError,
> {
    let listener = TcpListener::bind(config.server.listen).await.map_err(|e| {
        GatewayError::Server(format!("cannot listen on {}: {e}", config.server.listen))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| GatewayError::Server(e.to_string()))?;
    let (shutdown, signal) = oneshot::channel::<()>();
    let stop = async {
        signal.await.ok();
    };
    let server = if config.server.plaintext {
        tracing::warn!(
            "PLAINTEXT development mode: no TLS, clients named by meta.requester_bin; never use this in production"
        );
        // Small gRPC frames must not wait for Nagle's algorithm on a request/response path.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        tokio::spawn(serve(routes, incoming, stop))
    } else {
        let tls = crate::tls::server_config(&config.trust)?;
        let incoming = crate::tls::incoming(listener, tls, metrics.clone());
        tokio::spawn(serve(routes, incoming, stop))
    };
    Ok((addr, shutdown, server))
}

/// Serves `GET /metrics` and `GET /ready`, and the console beside them when it has a token.
async fn serve_metrics(
    metrics: &Metrics,
    listen: SocketAddr,
    console: Option<Console>,
    readiness: &crate::readiness::Readiness,
) -> Result<(SocketAddr, JoinHandle<()>), GatewayError> {
    let extra = console
        .map_or_else(axum::Router::new, crate::console::routes)
        .merge(readiness.route());
    crate::metrics::serve(metrics, listen, extra).await
}

/// Loads the trust roots (fetching the CRLs once) and the sealing key.
async fn trust_and_seal(
    config: &Config,
) -> Result<(Arc<Trust>, Option<Arc<Sealer>>), GatewayError> {
    let trust = Arc::new(Trust::new(&config.trust)?);
    if trust.revocation().is_configured() {
        // A CRL that cannot be fetched now is fetched again on first use; start anyway.
        if let Err(e) = trust.revocation().refresh().await {
            tracing::warn!(error = %e, "revocation lists not fetched at start");
        }
    } else {
        tracing::warn!("no trust.crls configured: certificates are not checked for revocation");
    }
    let sealer = match (&config.trust.seal_cert, &config.trust.seal_key) {
        (Some(cert), Some(key)) => Some(Arc::new(Sealer::load(cert, key)?)),
        _ => {
            tracing::warn!("no trust.seal_cert: responses are not sealed");
            None
        }
    };
    Ok((trust, sealer))
}

/// What the gRPC services are built over.
struct Services {
    metrics: Metrics,
    max_message_bytes: usize,
    pipeline: pipeline::Pipeline,
    sealer: Option<Arc<Sealer>>,
    desk: crate::pledge::Desk,
    hub: crate::channel::Hub,
    journal_api: JournalApi,
}

/// The gateway's gRPC services behind the edge's refusals.
type Routes = tonic::transport::server::Router<
    tower::layer::util::Stack<crate::edge::EdgeRefusals, tower::layer::util::Identity>,
>;

/// Every gRPC service the gateway serves, reflection and health included.
fn grpc_routes(
    health_service: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    s: &Services,
) -> Result<Routes, GatewayError> {
    let reflection = |e: tonic_reflection::server::Error| {
        GatewayError::Server(format!("reflection descriptors: {e}"))
    };
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(reflection)?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(reflection)?;

    let max = s.max_message_bytes;
    Ok(tonic::transport::Server::builder()
        .layer(crate::edge::EdgeRefusals::new(s.metrics.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            IdentityServiceServer::new(Identity::new(s.pipeline.clone(), s.sealer.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(
            PledgeServiceServer::new(PledgeApi::new(
                s.pipeline.clone(),
                s.sealer.clone(),
                s.desk.clone(),
            ))
            .max_decoding_message_size(max),
        )
        .add_service(
            ChannelServiceServer::new(ChannelApi::new(
                s.pipeline.clone(),
                s.sealer.clone(),
                s.hub.clone(),
            ))
            .max_decoding_message_size(max),
        )
        .add_service(
            NotaryServiceServer::new(RegistryApi::new(s.pipeline.clone(), s.sealer.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(
            CadastreServiceServer::new(RegistryApi::new(s.pipeline.clone(), s.sealer.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(
            OperatorServiceServer::new(s.journal_api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            AccessLogServiceServer::new(s.journal_api.clone()).max_decoding_message_size(max),
        )
        .add_service(
            ConsentServiceServer::new(s.journal_api.clone()).max_decoding_message_size(max),
        ))
}

/// What the background tasks run over.
struct Background<'a> {
    health: &'a RegistryHealth,
    registries: &'a [Arc<dyn crate::routing::RegistryRoute>],
    hub: &'a crate::channel::Hub,
    desk: &'a crate::pledge::Desk,
    sealer: &'a Option<Arc<Sealer>>,
    outbox_metrics: &'a Option<crate::pledge::metrics::OutboxMetrics>,
    trust: &'a Arc<Trust>,
    access: &'a AccessControl,
    bodies: &'a Policies,
}

/// Starts the health probes, the channel and pledge workers, the CRL refresher, the journal's
/// pruner and the configuration watch.
fn background(
    config: &Config,
    b: &Background<'_>,
    store: Option<Arc<dyn kopir_store::journal::Store>>,
) -> Result<Vec<JoinHandle<()>>, GatewayError> {
    let mut probes = b
        .health
        .spawn_probes(b.registries.iter().map(|r| (r.id(), r.probe())), config);
    probes.push(b.hub.spawn_worker());
    probes.push(
        crate::pledge::worker::Worker::new(
            b.desk.clone(),
            &config.pledge,
            b.sealer.clone(),
            b.outbox_metrics.clone(),
        )?
        .spawn(),
    );
    probes.extend(b.trust.revocation().spawn_refresher());
    if let Some(store) = store {
        probes.push(b.bodies.clone().spawn_pruner(
            store,
            Duration::from_secs(config.journal.prune_interval_s.max(1)),
        ));
    }
    if let Some(path) = &config.source {
        probes.push(b.access.spawn_watch(
            path.clone(),
            Duration::from_millis(config.trust.reload_interval_ms.max(50)),
        ));
    }
    Ok(probes)
}

/// Serves `routes` on `incoming` connections (plain TCP or TLS streams) until `stop`.
async fn serve<IO, E>(
    routes: Routes,
    incoming: impl futures::Stream<Item = Result<IO, E>>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), GatewayError>
where
    IO: tonic::transport::server::Connected
        + tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + Unpin
        + Send
        + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    routes
        .serve_with_incoming_shutdown(incoming, stop)
        .await
        .map_err(|e| GatewayError::Server(e.to_string()))
}

/// The key consent tokens are bound to: the base64 DER certificate the gateway signs its
/// requests to the persons database with, which presents the tokens; without WS-Security there,
/// the sender id it is known by.
fn token_holder(config: &Config) -> Result<String, GatewayError> {
    use base64::Engine as _;
    let persons = config.registry(kopir_core::registry::RegistryId::Persons)?;
    match persons.wsse.as_ref().and_then(|w| w.cert.as_ref()) {
        Some(path) => {
            let certs =
                kopir_trust::read_pem_certificates(path).map_err(|e| GatewayError::Config {
                    detail: format!("registries.persons.wsse.cert: {e}"),
                })?;
            let leaf = certs.first().ok_or_else(|| GatewayError::Config {
                detail: "registries.persons.wsse.cert holds no certificate".into(),
            })?;
            Ok(base64::engine::general_purpose::STANDARD.encode(leaf.as_ref()))
        }
        None => Ok(format!("sender:{}", persons.sender_id)),
    }
}
