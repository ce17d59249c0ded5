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
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<Result<(), GatewayError>>,
    probes: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Binds `config.server.listen` and serves until [`stop`](Self::stop) or [`wait`](Self::wait) ends.
    pub async fn start(config: Config) -> Result<Self, GatewayError> {
        let registries = crate::routing::registries(&config)?;
        let (reporter, health_service) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<IdentityServiceServer<Identity>>()
            .await;
        let health = RegistryHealth::new(reporter).await;
        let caches = Caches::new(&config);
        let metrics = Metrics::new();
        let router = Router::new(&registries, health.clone(), metrics.clone(), &config)?;
        metrics.register(|r| {
            r.register_collector(Box::new(caches.collector()));
            r.register_collector(Box::new(router.collector()));
            r.register_collector(Box::new(health.collector()));
        });
        let outbox_metrics = metrics.register(crate::pledge::metrics::OutboxMetrics::register);
        let trust = Arc::new(Trust::new(&config.trust)?);
        if trust.revocation().is_configured() {
            // A CRL that cannot be fetched now is fetched again on first use; start anyway.
            if let Err(e) = trust.revocation().refresh().await {
                tracing::warn!(error = %e, "revocation lists not fetched at start");
            }
        } else {
            tracing::warn!("no trust.crls configured: certificates are not checked for revocation");
        }
        let access = AccessControl::new(&config);
        let sealer = match (&config.trust.seal_cert, &config.trust.seal_key) {
            (Some(cert), Some(key)) => Some(Arc::new(Sealer::load(cert, key)?)),
            _ => {
                tracing::warn!("no trust.seal_cert: responses are not sealed");
                None
            }
        };
        let store = kopir_store::journal::open(&config.journal).await?;
        let bodies = Policies::new(config.journal.bodies.clone());
        let journal = store
            .clone()
            .map(|s| Journal::start_measured(s, config.journal.batch_max, Some(metrics.journal())));
        if journal.is_none() {
            tracing::warn!("journal.backend = \"off\": calls are answered without an audit record");
        }
        let operator = crate::pipeline::local::OperatorState {
            caches: caches.clone(),
            health: health.clone(),
            metrics: metrics.clone(),
            access: access.clone(),
            source: config.source.clone(),
        };
        let durable =
            kopir_store::durable::Durable::open(&config.pledge.outbox, config.pledge.batch_max)?;
        let outbox = crate::pledge::outbox::Outbox::open(durable.clone()).await?;
        let desk = crate::pledge::Desk::new(outbox, router.clone(), journal.clone());
        let hub = crate::channel::Hub::new(
            access.clone(),
            crate::channel::store::ChannelStore::open(durable.clone()).await?,
            config.channel.redeliver_after,
            journal.clone(),
        );
        let pipeline = pipeline::build(
            &config,
            TrustStages {
                trust: trust.clone(),
                access: access.clone(),
            },
            AuditStages {
                metrics: metrics.clone(),
                journal: journal.clone(),
                bodies: bodies.clone(),
            },
            router.clone(),
            caches.clone(),
            crate::pipeline::local::Services {
                operator: operator.clone(),
                own: vec![Arc::new(desk.clone()), Arc::new(hub.clone())],
            },
        );

        let journal_api = JournalApi::new(
            pipeline.clone(),
            sealer.clone(),
            access.clone(),
            metrics.clone(),
        );
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

        let listener = TcpListener::bind(config.server.listen).await.map_err(|e| {
            GatewayError::Server(format!("cannot listen on {}: {e}", config.server.listen))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| GatewayError::Server(e.to_string()))?;
        let (shutdown, signal) = oneshot::channel::<()>();
        let routes = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(IdentityServiceServer::new(Identity::new(
                pipeline.clone(),
                sealer.clone(),
            )))
            .add_service(PledgeServiceServer::new(PledgeApi::new(
                pipeline.clone(),
                sealer.clone(),
                desk.clone(),
            )))
            .add_service(ChannelServiceServer::new(ChannelApi::new(
                pipeline.clone(),
                sealer.clone(),
                hub.clone(),
            )))
            .add_service(NotaryServiceServer::new(RegistryApi::new(
                pipeline.clone(),
                sealer.clone(),
            )))
            .add_service(CadastreServiceServer::new(RegistryApi::new(
                pipeline.clone(),
                sealer.clone(),
            )))
            .add_service(OperatorServiceServer::new(journal_api.clone()))
            .add_service(AccessLogServiceServer::new(journal_api.clone()))
            .add_service(ConsentServiceServer::new(journal_api));
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
        let mut probes =
            health.spawn_probes(registries.iter().map(|r| (r.id(), r.probe())), &config);
        probes.push(hub.spawn_worker());
        probes.push(
            crate::pledge::worker::Worker::new(
                desk.clone(),
                &config.pledge,
                sealer.clone(),
                outbox_metrics.clone(),
            )?
            .spawn(),
        );
        probes.extend(trust.revocation().spawn_refresher());
        if let Some(store) = store {
            probes.push(bodies.spawn_pruner(
                store,
                Duration::from_secs(config.journal.prune_interval_s.max(1)),
            ));
        }
        if let Some(path) = &config.source {
            probes.push(access.spawn_watch(
                path.clone(),
                Duration::from_millis(config.trust.reload_interval_ms.max(50)),
            ));
        }
        let metrics_addr = match config.metrics.listen {
            Some(listen) => {
                let console = match &config.metrics.console_token {
                    Some(token) if !token.is_empty() => crate::console::routes(Console {
                        token: token.clone(),
                        state: operator.clone(),
                        router: router.clone(),
                        journal: journal.clone(),
                        outbox: outbox_metrics.clone(),
                    }),
                    _ => axum::Router::new(),
                };
                let (bound, task) = metrics.serve(listen, console).await?;
                probes.push(task);
                Some(bound)
            }
            None => None,
        };
        tracing::info!(%addr, "gateway serving gRPC");
        Ok(Self {
            addr,
            caches,
            health,
            router,
            trust,
            access,
            metrics,
            metrics_addr,
            shutdown,
            server,
            probes,
        })
    }

    /// Stops accepting, lets in-flight calls finish, and stops the health probes.
    pub async fn stop(self) -> Result<(), GatewayError> {
        self.shutdown.send(()).ok();
        for p in &self.probes {
            p.abort();
        }
        self.server
            .await
            .map_err(|e| GatewayError::Server(e.to_string()))?
    }
}

/// Serves `routes` on `incoming` connections (plain TCP or TLS streams) until `stop`.
async fn serve<IO, E>(
    routes: tonic::transport::server::Router,
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
