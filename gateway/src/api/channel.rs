//! `kopir.v1.ChannelService`: the generic channel, through the pipeline to the hub.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{respond, status, Answered, Origin};
use crate::channel::{ChannelCall, ChannelReply, Hub};
use crate::error::GatewayError;
use crate::pipeline::{Operation, Pipeline, Record};
use crate::proto::v1 as pb;
use crate::proto::v1::channel_service_server::ChannelService;
use kopir_trust::seal::Sealer;

/// The channel service over the pipeline.
#[derive(Clone)]
pub struct ChannelApi {
    pipeline: Pipeline,
    sealer: Option<Arc<Sealer>>,
    hub: Hub,
}

impl ChannelApi {
    /// A service calling `pipeline`; `hub` feeds the reply streams.
    pub fn new(pipeline: Pipeline, sealer: Option<Arc<Sealer>>, hub: Hub) -> Self {
        Self {
            pipeline,
            sealer,
            hub,
        }
    }

    fn sealed(&self, r: &ChannelReply, method: &str) -> Result<pb::ChannelReply, Status> {
        let mut message = reply_message(r);
        super::seal(
            &mut message,
            self.sealer.as_deref(),
            Origin::new(&r.message_id, method, &r.service_id),
        )?;
        Ok(message)
    }
}

fn reply_message(r: &ChannelReply) -> pb::ChannelReply {
    pb::ChannelReply {
        service_id: r.service_id.clone(),
        message_id: r.message_id.clone(),
        correlation_id: r.correlation_id.clone(),
        payload: r.incoming.payload.clone(),
        content_type: r.incoming.content_type.clone(),
        status_code: r.incoming.status_code.clone(),
        status_message: r.incoming.status_message.clone(),
        cursor: r.cursor,
        replied_at: kopir_core::time::rfc3339(r.replied_at),
        seal: Vec::new(),
    }
}

/// The message the request carries, checked at the edge.
fn call(m: &pb::ChannelMessage, request_id: &str) -> Result<ChannelCall, GatewayError> {
    if m.service_id.is_empty() || m.service_id.len() > 128 {
        return Err(GatewayError::invalid(
            "service_id",
            "required: the routed service's id (1 to 128 characters)",
        ));
    }
    if m.message_id.len() > 128 {
        return Err(GatewayError::invalid(
            "message_id",
            "at most 128 characters",
        ));
    }
    if m.payload.len() > 4 * 1024 * 1024 {
        return Err(GatewayError::invalid("payload", "at most 4 MiB"));
    }
    Ok(ChannelCall {
        service_id: m.service_id.clone(),
        message_id: if m.message_id.is_empty() {
            request_id.to_string()
        } else {
            m.message_id.clone()
        },
        payload: m.payload.clone(),
        content_type: if m.content_type.is_empty() {
            "application/octet-stream".into()
        } else {
            m.content_type.clone()
        },
        idempotent: false,
    })
}

/// The request id the gateway will use, so an unnamed message takes it as its id.
fn request_id(m: &pb::ChannelMessage) -> String {
    m.meta
        .as_ref()
        .map(|meta| meta.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

fn unexpected(id: &str) -> Status {
    status(
        GatewayError::Server("the channel returned another record".into()),
        Some(id),
    )
}

impl ChannelApi {
    /// Names the message by the request id when the sender did not, and runs it through the
    /// pipeline as the operation `op` makes of it: the request id and the reply.
    async fn through(
        &self,
        mut request: Request<pb::ChannelMessage>,
        method: &'static str,
        op: fn(Arc<ChannelCall>) -> Operation,
    ) -> Result<(String, crate::pipeline::Reply), Status> {
        let id = request_id(request.get_ref());
        request
            .get_mut()
            .meta
            .get_or_insert_with(Default::default)
            .request_id = id.clone();
        let msg = request.get_ref();
        let Answered { reply, .. } = super::call(&self.pipeline, &request, method, || {
            call(msg, &id).map(|c| op(Arc::new(c)))
        })
        .await?;
        Ok((id, reply))
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<pb::ChannelReply, Status>> + Send>>;

#[tonic::async_trait]
impl ChannelService for ChannelApi {
    async fn send(
        &self,
        request: Request<pb::ChannelMessage>,
    ) -> Result<Response<pb::ChannelReply>, Status> {
        const METHOD: &str = crate::channel::SEND;
        let (id, reply) = self
            .through(request, METHOD, Operation::ChannelSend)
            .await?;
        let Record::Channel(r) = reply.record.as_ref() else {
            return Err(unexpected(&id));
        };
        let registry = r.service_id.clone();
        respond(
            reply_message(r),
            self.sealer.as_deref(),
            Origin::new(&id, METHOD, &registry),
            &reply,
        )
    }

    async fn submit(
        &self,
        request: Request<pb::ChannelMessage>,
    ) -> Result<Response<pb::SubmitReceipt>, Status> {
        const METHOD: &str = crate::channel::SUBMIT;
        let (id, reply) = self
            .through(request, METHOD, Operation::ChannelSubmit)
            .await?;
        let Record::ChannelSubmitted {
            message_id,
            accepted_at,
            duplicate,
        } = reply.record.as_ref()
        else {
            return Err(unexpected(&id));
        };
        Ok(super::with_request_id(
            pb::SubmitReceipt {
                message_id: message_id.clone(),
                accepted_at: kopir_core::time::rfc3339(*accepted_at),
                duplicate: *duplicate,
            },
            &id,
        ))
    }

    type ReceiveStream = ReplyStream;

    async fn receive(
        &self,
        request: Request<pb::ReceiveRequest>,
    ) -> Result<Response<Self::ReceiveStream>, Status> {
        const METHOD: &str = kopir_core::methods::channel_service::RECEIVE;
        let from = request.get_ref().cursor;
        let Answered {
            request_id, reply, ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            Ok(Operation::ChannelReceive)
        })
        .await?;
        let Record::ChannelClient(client) = reply.record.as_ref() else {
            return Err(unexpected(&request_id));
        };
        let client = client.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let api = self.clone();
        tokio::spawn(async move {
            // `sent` is the last cursor sent on this stream; every `redeliver_after` it goes back
            // to `from`, so what was sent and not acknowledged is sent again.
            let mut sent = from;
            let mut since = Instant::now();
            loop {
                if since.elapsed() >= api.hub.redeliver_after {
                    sent = from;
                    since = Instant::now();
                }
                let replies = match api.hub.store.replies(&client, sent, 256).await {
                    Ok(r) => r,
                    Err(e) => {
                        tx.send(Err(Status::from(GatewayError::from(e)))).await.ok();
                        return;
                    }
                };
                for stored in replies {
                    sent = stored.cursor;
                    let r = ChannelReply {
                        service_id: stored.message.service_id,
                        message_id: stored.message.message_id,
                        correlation_id: stored.message.correlation_id,
                        incoming: stored.incoming,
                        cursor: stored.cursor,
                        replied_at: stored.replied_at,
                    };
                    if tx.send(api.sealed(&r, METHOD)).await.is_err() {
                        return;
                    }
                }
                tokio::select! {
                    () = tx.closed() => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(super::with_request_id(
            Box::pin(stream) as ReplyStream,
            &request_id,
        ))
    }

    async fn ack(
        &self,
        request: Request<pb::AckRequest>,
    ) -> Result<Response<pb::AckReceipt>, Status> {
        const METHOD: &str = kopir_core::methods::channel_service::ACK;
        let ids = request.get_ref().message_ids.clone();
        let Answered {
            request_id, reply, ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            if ids.is_empty() || ids.len() > 1000 {
                return Err(GatewayError::invalid(
                    "message_ids",
                    "name 1 to 1000 message ids",
                ));
            }
            Ok(Operation::ChannelAck(ids))
        })
        .await?;
        let Record::ChannelAcked(n) = reply.record.as_ref() else {
            return Err(unexpected(&request_id));
        };
        Ok(super::with_request_id(
            pb::AckReceipt { acknowledged: *n },
            &request_id,
        ))
    }
}
