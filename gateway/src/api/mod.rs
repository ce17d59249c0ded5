//! The gRPC services: thin translations between protobuf messages and the pipeline.

pub mod channel;
pub mod identity;
pub mod journal;
pub mod pledge;
pub mod registries;

use chrono::Utc;
use kopir_core::identifiers::Bin;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use std::sync::Arc;

use crate::error::GatewayError;
use crate::pipeline::deadline::parse_grpc_timeout;
use crate::pipeline::{CallContext, Pipeline, Reply};
use crate::proto::v1 as pb;
use kopir_trust::document::SignedDocument;
use kopir_trust::seal::Sealer;

/// Response and error metadata key carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-kopir-request-id";
/// Response metadata key saying whether the cache answered (`hit`) or the registry (`miss`).
pub const CACHE_HEADER: &str = "x-kopir-cache";
/// Response metadata key present (`true`) when a stale cached record stood in for the registry.
pub const STALE_HEADER: &str = "x-kopir-stale";

/// A request message with the fields every method shares: `meta` and `signed`.
pub trait Envelope {
    /// Ids, requester and purpose.
    fn meta(&self) -> Option<&pb::RequestMeta>;
    /// The signed request document, if any.
    fn signed(&self) -> Option<&pb::SignedDocument>;
}

macro_rules! envelope {
    ($($t:ty),*) => {$(
        impl Envelope for $t {
            fn meta(&self) -> Option<&pb::RequestMeta> {
                self.meta.as_ref()
            }
            fn signed(&self) -> Option<&pb::SignedDocument> {
                self.signed.as_ref()
            }
        }
    )*};
}
envelope!(
    pb::GetPersonRequest,
    pb::FindPersonsRequest,
    pb::GetLegalEntityRequest,
    pb::GetAddressReferenceRequest,
    pb::SearchJournalRequest,
    pb::GetRegistriesRequest,
    pb::WatchExchangesRequest,
    pb::InvalidateCacheRequest,
    pb::ReloadConfigRequest,
    pb::ListOutboxRequest,
    pb::RedriveOutboxRequest,
    pb::ListAccessesRequest,
    pb::GrantConsentRequest,
    pb::RevokeConsentRequest,
    pb::VerifyPowerOfAttorneyRequest,
    pb::GetRealEstateRequest,
    pb::GetRightsAndEncumbrancesRequest,
    pb::SubmitPledgeContractRequest,
    pb::GetPledgeStatusRequest,
    pb::SubmitObjectionRequest,
    pb::ChannelMessage,
    pb::ReceiveRequest,
    pb::AckRequest
);

/// The edge: builds the call context from the request metadata and the message's `meta`.
pub fn context<T: Envelope>(
    request: &Request<T>,
    method: &'static str,
) -> Result<CallContext, GatewayError> {
    let message = request.get_ref();
    let signed = message.signed();
    let meta = message.meta().cloned().unwrap_or_default();
    let request_id = if meta.request_id.is_empty() {
        uuid::Uuid::now_v7().to_string()
    } else if meta.request_id.len() <= 128
        && meta
            .request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        meta.request_id
    } else {
        return Err(GatewayError::invalid(
            "meta.request_id",
            "use at most 128 characters of A-Z, a-z, 0-9, '-', '_', '.', ':' (a UUID fits), or leave it empty",
        ));
    };
    let requester_bin = if meta.requester_bin.is_empty() {
        None
    } else {
        Some(
            Bin::parse(&meta.requester_bin)
                .map_err(|e| GatewayError::invalid("meta.requester_bin", e.to_string()))?,
        )
    };
    if meta.purpose.chars().count() > 500 {
        return Err(GatewayError::invalid(
            "meta.purpose",
            "state the purpose in at most 500 characters",
        ));
    }
    // Counted from here, so the time spent before the deadline stage counts against it too.
    let client_deadline = request
        .metadata()
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .and_then(|t| std::time::Instant::now().checked_add(t));
    Ok(CallContext {
        correlation_id: if meta.correlation_id.is_empty() {
            request_id.clone()
        } else {
            meta.correlation_id.chars().take(128).collect()
        },
        request_id,
        requester_bin,
        client: kopir_core::principal::Principal::Anonymous,
        purpose: meta.purpose,
        method,
        client_deadline,
        received_at: Utc::now(),
        registry_due: std::sync::OnceLock::new(),
        peer_chain: request.peer_certs(),
        signed: signed.map(|d| {
            Arc::new(SignedDocument {
                payload: d.payload.clone(),
                signatures: d.signatures.clone(),
            })
        }),
        signers: None,
        trail: Arc::default(),
    })
}

pub use crate::proto::{bin, iin};

/// An error as the client sees it, with the request id attached when there is one.
pub fn status(e: GatewayError, request_id: Option<&str>) -> Status {
    let mut s = Status::from(e);
    if let Some(v) = request_id.and_then(|id| MetadataValue::try_from(id).ok()) {
        s.metadata_mut().insert(REQUEST_ID_HEADER, v);
    }
    s
}

/// Runs the pipeline for a context and operation, mapping errors once.
pub async fn run(
    pipeline: &Pipeline,
    ctx: CallContext,
    op: crate::pipeline::Operation,
) -> Result<Reply, Status> {
    use tower::ServiceExt;
    let request_id = ctx.request_id.clone();
    pipeline
        .clone()
        .oneshot(crate::pipeline::GatewayRequest {
            ctx: std::sync::Arc::new(ctx),
            op,
        })
        .await
        .map_err(|e| status(e, Some(&request_id)))
}

/// A pipeline answer with the ids the response needs.
pub struct Answered {
    /// The request id.
    pub request_id: String,
    /// When the gateway received the request.
    pub received_at: chrono::DateTime<Utc>,
    /// The pipeline's reply.
    pub reply: Reply,
}

/// The steps every method shares: the edge context, the operation from the message, and the
/// pipeline under a request span.
pub async fn call<T: Envelope>(
    pipeline: &Pipeline,
    request: &Request<T>,
    method: &'static str,
    op: impl FnOnce() -> Result<crate::pipeline::Operation, GatewayError>,
) -> Result<Answered, Status> {
    use tracing::Instrument;
    let ctx = context(request, method).map_err(|e| status(e, None))?;
    let request_id = ctx.request_id.clone();
    let received_at = ctx.received_at;
    // A malformed field is refused after identification, so it is counted and journaled with
    // the client who sent it like every other refusal.
    let op = match op() {
        Ok(op) => op,
        Err(GatewayError::InvalidArgument { field, reason }) => {
            crate::pipeline::Operation::Invalid { field, reason }
        }
        Err(e) => return Err(status(e, Some(&request_id))),
    };
    let span = tracing::info_span!(
        "request",
        method,
        subject = %op.subject_masked(),
        request_id = %request_id
    );
    // A client's `traceparent` makes this request part of its trace.
    kopir_adapters::propagation::continue_trace(&span, |name| {
        request.metadata().get(name)?.to_str().ok()
    });
    let started = std::time::Instant::now();
    let result = run(pipeline, ctx, op).instrument(span.clone()).await;
    // The one log line per request, with the ids to find its journal records and its trace
    // (not even the trace id is looked up when info lines are filtered out, as in benchmarks).
    if tracing::enabled!(tracing::Level::INFO) {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        // Without an exporter there is no trace, and its all-zero id would only mislead.
        let trace_id = Some(span.context().span().span_context().trace_id())
            .filter(|t| *t != opentelemetry::trace::TraceId::INVALID)
            .map(|t| t.to_string());
        let code = result
            .as_ref()
            .map_or_else(|s| s.code(), |_| tonic::Code::Ok);
        tracing::info!(
            parent: &span,
            code = crate::metrics::code_name(code),
            took_ms = started.elapsed().as_secs_f64() * 1e3,
            trace_id = trace_id.as_deref(),
            "request done"
        );
    }
    let reply = result?;
    Ok(Answered {
        request_id,
        received_at,
        reply,
    })
}

/// A response message that carries the gateway's seal in field 15.
pub trait Sealed: prost::Message {
    /// Sets the seal field.
    fn set_seal(&mut self, seal: Vec<u8>);
}

macro_rules! sealed {
    ($($t:ty),*) => {$(
        impl Sealed for $t {
            fn set_seal(&mut self, seal: Vec<u8>) {
                self.seal = seal;
            }
        }
    )*};
}
sealed!(
    pb::GetPersonResponse,
    pb::FindPersonsResponse,
    pb::GetLegalEntityResponse,
    pb::GetAddressReferenceResponse,
    pb::ListAccessesResponse,
    pb::GrantConsentResponse,
    pb::RevokeConsentResponse,
    pb::VerifyPowerOfAttorneyResponse,
    pb::GetRealEstateResponse,
    pb::GetRightsAndEncumbrancesResponse,
    pb::SubmitPledgeContractResponse,
    pb::PledgeStatus,
    pb::ChannelReply
);

/// Where a response came from, for its seal.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The request id.
    pub request_id: &'a str,
    /// Full gRPC method name.
    pub method: &'a str,
    /// The registry that answered.
    pub registry: &'a str,
}

impl<'a> Origin<'a> {
    /// The origin of a response to `request_id` on `method`, answered by `registry`.
    pub fn new(request_id: &'a str, method: &'a str, registry: &'a str) -> Self {
        Self {
            request_id,
            method,
            registry,
        }
    }
}

/// A response carrying the request id in its metadata.
pub fn with_request_id<T>(message: T, request_id: &str) -> Response<T> {
    let mut response = Response::new(message);
    if let Ok(v) = MetadataValue::try_from(request_id) {
        response.metadata_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// Seals `message` when the gateway has a sealing key: the seal covers the message as encoded
/// without it (see `kopir_trust::seal`). The one place a message is sealed.
pub fn seal<T: Sealed>(
    message: &mut T,
    sealer: Option<&Sealer>,
    origin: Origin<'_>,
) -> Result<(), Status> {
    if let Some(sealer) = sealer {
        let seal = sealer
            .seal(
                &message.encode_to_vec(),
                origin.request_id,
                origin.registry,
                origin.method,
            )
            .map_err(|e| status(e.into(), Some(origin.request_id)))?;
        message.set_seal(seal);
    }
    Ok(())
}

/// Seals a message (when the gateway has a sealing key) and wraps it with the response metadata.
pub fn respond<T: Sealed>(
    mut message: T,
    sealer: Option<&Sealer>,
    origin: Origin<'_>,
    reply: &Reply,
) -> Result<Response<T>, Status> {
    let request_id = origin.request_id;
    seal(&mut message, sealer, origin)?;
    let from_cache = reply.from_cache;
    let mut response = with_request_id(message, request_id);
    response.metadata_mut().insert(
        CACHE_HEADER,
        MetadataValue::from_static(if from_cache { "hit" } else { "miss" }),
    );
    if reply.stale {
        response
            .metadata_mut()
            .insert(STALE_HEADER, MetadataValue::from_static("true"));
    }
    Ok(response)
}
