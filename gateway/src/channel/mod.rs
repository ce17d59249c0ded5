//! The generic channel: any service routed in `[channel.routes]` is reached by its id, in its own
//! protocol, with no code. The hub answers the pipeline's channel operations after the same
//! identify, journal, authorize, rate-limit and signature stages as every typed method; each route
//! runs through the registries' stack (`crate::routing::stack`: concurrency limit, retries for
//! idempotent routes, its own circuit breaker) and has its own deadline and reply cache. Routes are
//! read from the reloadable policy, so a route added to the file takes effect on reload.

pub mod error;
pub mod store;

pub use error::ChannelError;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use kopir_adapters::channel::{ChannelClient, Incoming, Outgoing};
use kopir_adapters::syncchannel::Endpoint;
use tokio::sync::Notify;
use tower::{service_fn, ServiceExt};

use crate::access::AccessControl;
use crate::call::{CallContext, GatewayRequest, Operation, Record, Reply};
use crate::config::{ChannelProtocol, ChannelRoute, ResilienceConfig};
use crate::error::GatewayError;
use crate::routing::Route;
pub use kopir_core::channel::{ChannelCall, ChannelReply};
use kopir_resilience::breaker::Breaker;
use kopir_trust::document::SignerRule;
use store::{ChannelStore, Message};

/// Full method names of the channel, for the access list and the journal.
pub const SEND: &str = kopir_core::methods::channel_service::SEND;
/// See [`SEND`].
pub const SUBMIT: &str = kopir_core::methods::channel_service::SUBMIT;
/// The worker's deliveries of submitted messages, in the journal.
pub const DELIVER: &str = "kopir.v1.ChannelService/Deliver";

/// A route as built: its configuration (to notice a reload changed it) and its service stack.
struct Built {
    route: ChannelRoute,
    service: Route,
}

/// The hub; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    access: AccessControl,
    built: Arc<Mutex<HashMap<String, Arc<Built>>>>,
    /// Replies of cached routes: (service, payload digest) → (when, reply).
    cache: moka::sync::Cache<String, (Instant, Arc<Incoming>)>,
    /// Submitted messages and their replies.
    pub store: ChannelStore,
    wake: Arc<Notify>,
    /// When an open Receive stream sends an unacknowledged reply again.
    pub redeliver_after: Duration,
    /// The worker's first and longest wait between delivery attempts.
    backoff: (Duration, Duration),
    journal: Option<kopir_store::journal::Journal>,
    // Checks the signatures of SyncChannel routes' replies.
    trust: Arc<kopir_trust::Trust>,
}

fn endpoint(
    service_id: &str,
    route: &ChannelRoute,
    trust: &Arc<kopir_trust::Trust>,
) -> Result<Endpoint, GatewayError> {
    let wire = if route.protocol == ChannelProtocol::Syncchannel {
        crate::routing::wire::wire(
            &format!("channel route {service_id}"),
            &route.syncchannel,
            route.wsse.as_ref(),
            trust,
        )?
    } else {
        kopir_adapters::syncchannel::Wire::default()
    };
    Ok(Endpoint {
        url: route.url.clone(),
        sender_id: route.sender_id.clone(),
        sender_password: route.sender_password.expose().to_string(),
        connect_timeout: Duration::from_millis(route.deadline_ms.min(2000)),
        request_timeout: Duration::from_millis(route.deadline_ms),
        pool_max_idle: 16,
        wire,
    })
}

/// The service stack of one route: the registries' stack ([`crate::routing::stack`]) over the
/// service's client.
fn build(
    service_id: &str,
    route: &ChannelRoute,
    trust: &Arc<kopir_trust::Trust>,
) -> Result<Route, GatewayError> {
    let ep = endpoint(service_id, route, trust)?;
    let client = Arc::new(match route.protocol {
        ChannelProtocol::Syncchannel => ChannelClient::syncchannel(service_id, ep)?,
        ChannelProtocol::Rest => ChannelClient::rest(service_id, ep)?,
        ChannelProtocol::Grpc => ChannelClient::grpc(
            service_id,
            &ep,
            route.grpc_method.as_deref().unwrap_or_default(),
        )?,
    });
    let res = ResilienceConfig {
        retries: route.retries,
        ..ResilienceConfig::default()
    };
    let name = format!("channel {service_id}");
    let breaker = Breaker::new(name.as_str(), &res);
    let deadline = kopir_resilience::deadline::Deadline::new(
        format!("channel service \"{service_id}\""),
        Duration::from_millis(route.deadline_ms),
    );
    crate::routing::stack::protect(
        &name,
        &res,
        breaker,
        Some(deadline),
        service_fn(move |req: GatewayRequest| {
            let client = client.clone();
            async move {
                let Operation::ChannelDeliver(call) = &req.op else {
                    return Err(
                        ChannelError::Defect("a channel route got another operation").into(),
                    );
                };
                let incoming = client
                    .send(Outgoing {
                        service_id: &call.service_id,
                        message_id: &call.message_id,
                        correlation_id: &req.ctx.correlation_id,
                        payload: &call.payload,
                        content_type: &call.content_type,
                    })
                    .await?;
                Ok(Reply {
                    record: Arc::new(Record::ChannelIncoming(incoming)),
                    from_cache: false,
                    stale: false,
                })
            }
        }),
    )
}

/// The identified client, as the channel keys its messages.
fn client_of(ctx: &CallContext) -> Result<String, GatewayError> {
    ctx.client_bin()
        .map(|_| ctx.client.to_string())
        .ok_or_else(|| ChannelError::Unidentified.into())
}

impl Hub {
    /// A hub over the reloadable `access` policy's routes, keeping messages in `store`, set up
    /// by `[channel]`.
    pub fn new(
        access: AccessControl,
        store: ChannelStore,
        config: &crate::config::ChannelConfig,
        journal: Option<kopir_store::journal::Journal>,
        trust: Arc<kopir_trust::Trust>,
    ) -> Self {
        Self {
            trust,
            journal,
            access,
            built: Arc::default(),
            cache: moka::sync::Cache::new(10_000),
            store,
            wake: Arc::new(Notify::new()),
            redeliver_after: config.redeliver_after,
            backoff: (config.retry_min, config.retry_max),
        }
    }

    /// The route of `service_id` as configured now, built (or rebuilt after a reload changed it).
    fn route(&self, service_id: &str) -> Result<Arc<Built>, ChannelError> {
        let policy = self.access.policy();
        let route = policy
            .routes
            .get(service_id)
            .ok_or_else(|| ChannelError::NotRouted(service_id.to_string()))?;
        let mut built = self
            .built
            .lock()
            .map_err(|_| ChannelError::Defect("channel routes lock poisoned"))?;
        if let Some(b) = built.get(service_id).filter(|b| &b.route == route) {
            return Ok(b.clone());
        }
        let b = Arc::new(Built {
            route: route.clone(),
            service: build(service_id, route, &self.trust).map_err(|e| ChannelError::Unusable {
                service: service_id.to_string(),
                detail: e.to_string(),
            })?,
        });
        built.insert(service_id.to_string(), b.clone());
        Ok(b)
    }

    /// Checks the route lets this client (and signer) call it.
    fn admit(
        route: &ChannelRoute,
        ctx: &CallContext,
        service_id: &str,
    ) -> Result<(), GatewayError> {
        let bin = ctx.client_bin().map(|b| b.as_str()).unwrap_or("");
        if !route.clients.iter().any(|c| c == bin) {
            return Err(ChannelError::NotListed {
                client: format!("BIN {}", kopir_core::identifiers::mask(bin)),
                service: service_id.to_string(),
            }
            .into());
        }
        if route.signers == SignerRule::Requester {
            let signed = ctx.signers.as_ref().is_some_and(|s| {
                s.requester_iin().is_some()
                    || s.document.requester.as_ref().is_some_and(|r| {
                        s.signatures.iter().any(|sig| {
                            sig.chain.holder.bin.as_ref().map(|b| b.as_str()) == r.bin.as_deref()
                                && r.bin.is_some()
                        })
                    })
            });
            if !signed {
                return Err(ChannelError::Unsigned(service_id.to_string()).into());
            }
        }
        Ok(())
    }

    /// Delivers `call` to its service now, through the route's reply cache and its stack
    /// (deadline, limit, retries, breaker).
    async fn deliver(
        &self,
        ctx: Arc<CallContext>,
        built: &Built,
        mut call: ChannelCall,
    ) -> Result<Incoming, GatewayError> {
        let route = &built.route;
        call.idempotent = route.idempotent;
        let key = (route.cache_ttl_s > 0).then(|| {
            format!(
                "{}\u{0}{}",
                call.service_id,
                kopir_core::digest::sha256_hex(&call.payload)
            )
        });
        let ttl = Duration::from_secs(route.cache_ttl_s);
        if let Some((at, hit)) = key.as_ref().and_then(|k| self.cache.get(k)) {
            if at.elapsed() < ttl {
                return Ok(hit.as_ref().clone());
            }
        }
        let request = GatewayRequest {
            ctx,
            op: Operation::ChannelDeliver(Arc::new(call)),
        };
        let reply = built.service.clone().oneshot(request).await?;
        let Record::ChannelIncoming(incoming) = reply.record.as_ref() else {
            return Err(ChannelError::Defect("a channel route returned another record").into());
        };
        if let Some(k) = key {
            if incoming.is_ok() {
                self.cache
                    .insert(k, (Instant::now(), Arc::new(incoming.clone())));
            }
        }
        Ok(incoming.clone())
    }

    /// Runs the worker delivering submitted messages until the task is aborted.
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let hub = self.clone();
        tokio::spawn(async move { hub.work().await })
    }

    async fn work(self) {
        let wake = self.wake.clone();
        kopir_resilience::worker::run(&wake, Duration::from_millis(100), || async {
            let due = self.store.due(Utc::now(), 128).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "channel worker: cannot read the store");
                Vec::new()
            });
            let idle = due.is_empty();
            futures::stream::iter(due)
                .for_each_concurrent(32, |(m, attempts)| self.deliver_stored(m, attempts))
                .await;
            idle
        })
        .await;
    }

    async fn deliver_stored(&self, m: Message, attempts: u32) {
        let mut ctx = CallContext::internal(&m.message_id, DELIVER);
        ctx.correlation_id = m.correlation_id.clone();
        let call = ChannelCall {
            service_id: m.service_id.clone(),
            message_id: m.message_id.clone(),
            payload: m.payload.clone(),
            content_type: m.content_type.clone(),
            idempotent: false,
        };
        let outcome = match self.route(&m.service_id) {
            Ok(built) => self.deliver(Arc::new(ctx), &built, call).await,
            // A route removed since the message was accepted: the sender is told so, once.
            Err(e @ ChannelError::NotRouted(_)) => Ok(Incoming {
                payload: Vec::new(),
                content_type: String::new(),
                status_code: Incoming::NOT_ROUTED.into(),
                status_message: e.to_string(),
            }),
            Err(e) => Err(e.into()),
        };
        let stored = match outcome {
            Ok(incoming) => {
                self.journal_delivery(&m, &incoming).await;
                self.store
                    .reply(&m.client, &m.message_id, incoming)
                    .await
                    .map(|_| ())
            }
            Err(e) => {
                let (min, max) = self.backoff;
                let next = kopir_resilience::backoff::next_attempt(min, max, attempts);
                self.store
                    .retry_later(&m.client, &m.message_id, next, e.to_string())
                    .await
            }
        };
        if let Err(e) = stored {
            tracing::error!(error = %e, "channel worker: cannot record a delivery");
        }
    }
}

impl Hub {
    /// Journals a submitted message's delivery and the service's status (the Submit itself was
    /// journaled by the pipeline).
    async fn journal_delivery(&self, m: &Message, incoming: &Incoming) {
        let Some(journal) = &self.journal else {
            return;
        };
        let entry = kopir_store::journal::Event {
            request_id: m.message_id.clone(),
            correlation_id: m.correlation_id.clone(),
            client: m.client.clone(),
            method: DELIVER.into(),
            subject: m.service_id.clone(),
            started_at: Utc::now(),
            registry: format!("channel {}", m.service_id),
            note: format!("service status {}", incoming.status_code),
            payload_digest: kopir_core::digest::sha256_hex(&incoming.payload),
        };
        if let Err(e) = journal.append(entry.into()).await {
            tracing::error!(error = %e, "channel delivery not journaled");
        }
    }
}

#[async_trait::async_trait]
impl crate::call::OwnService for Hub {
    async fn answer(&self, req: &GatewayRequest) -> Result<Option<Record>, GatewayError> {
        answer(Some(self), req).await
    }
}

/// Answers the pipeline's channel operations; `None` for every other operation.
pub async fn answer(
    hub: Option<&Hub>,
    req: &GatewayRequest,
) -> Result<Option<Record>, GatewayError> {
    let channel_op = matches!(
        req.op,
        Operation::ChannelSend(_)
            | Operation::ChannelSubmit(_)
            | Operation::ChannelReceive
            | Operation::ChannelAck(_)
    );
    if !channel_op {
        return Ok(None);
    }
    let hub = hub.ok_or(ChannelError::Off)?;
    let ctx = &req.ctx;
    let client = client_of(ctx)?;
    Ok(Some(match &req.op {
        Operation::ChannelSend(call) => {
            let built = hub.route(&call.service_id)?;
            Hub::admit(&built.route, ctx, &call.service_id)?;
            let incoming = hub
                .deliver(ctx.clone(), &built, call.as_ref().clone())
                .await?;
            Record::Channel(ChannelReply {
                service_id: call.service_id.clone(),
                message_id: call.message_id.clone(),
                correlation_id: ctx.correlation_id.clone(),
                incoming,
                cursor: 0,
                replied_at: Utc::now(),
            })
        }
        Operation::ChannelSubmit(call) => {
            let built = hub.route(&call.service_id)?;
            Hub::admit(&built.route, ctx, &call.service_id)?;
            let (accepted_at, duplicate) = hub
                .store
                .submit(Message {
                    client,
                    message_id: call.message_id.clone(),
                    service_id: call.service_id.clone(),
                    correlation_id: ctx.correlation_id.clone(),
                    payload: call.payload.clone(),
                    content_type: call.content_type.clone(),
                })
                .await?;
            hub.wake.notify_one();
            Record::ChannelSubmitted {
                message_id: call.message_id.clone(),
                accepted_at,
                duplicate,
            }
        }
        Operation::ChannelReceive => Record::ChannelClient(client),
        Operation::ChannelAck(ids) => {
            Record::ChannelAcked(hub.store.ack(&client, ids.clone()).await?)
        }
        _ => return Ok(None),
    }))
}
