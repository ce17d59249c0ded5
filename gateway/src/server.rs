//! Assembles adapters, pipeline, health and reflection into a running tonic server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use crate::api::identity::Identity;
use crate::config::Config;
use crate::error::GatewayError;
use crate::health::RegistryHealth;
use crate::pipeline::{self, cache::Caches};
use crate::proto::v1::identity_service_server::IdentityServiceServer;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::routing::{Registries, Router};

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
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<Result<(), GatewayError>>,
    probes: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Binds `config.server.listen` and serves until [`stop`](Self::stop) or [`wait`](Self::wait) ends.
    pub async fn start(config: Config) -> Result<Self, GatewayError> {
        let registries = Arc::new(Registries::from_config(&config)?);
        let (reporter, health_service) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<IdentityServiceServer<Identity>>()
            .await;
        let health = RegistryHealth::new(reporter).await;
        let caches = Caches::new(&config);
        let router = Router::new(registries.clone(), health.clone(), &config)?;
        let pipeline = pipeline::build(&config, router.clone(), caches.clone());

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
        // Small gRPC frames must not wait for Nagle's algorithm on a request/response path.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (shutdown, signal) = oneshot::channel::<()>();
        let routes = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(IdentityServiceServer::new(Identity::new(pipeline)));
        let server = tokio::spawn(async move {
            routes
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = signal.await;
                })
                .await
                .map_err(|e| GatewayError::Server(e.to_string()))
        });
        let probes = health.spawn_probes(registries, &config);
        tracing::info!(%addr, "gateway serving gRPC");
        Ok(Self {
            addr,
            caches,
            health,
            router,
            shutdown,
            server,
            probes,
        })
    }

    /// Stops accepting, lets in-flight calls finish, and stops the health probes.
    pub async fn stop(self) -> Result<(), GatewayError> {
        let _ = self.shutdown.send(());
        for p in &self.probes {
            p.abort();
        }
        self.server
            .await
            .map_err(|e| GatewayError::Server(e.to_string()))?
    }
}
