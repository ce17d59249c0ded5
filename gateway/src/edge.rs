//! What tonic refuses before any service runs: a request whose bytes are not the method's message
//! (the codec's `INVALID_ARGUMENT`, `kopir_proto::codec`) or longer than `[server]
//! max_message_bytes` (tonic's `OUT_OF_RANGE`, answered as gRPC's convention has it,
//! `RESOURCE_EXHAUSTED`). Such a refusal gets a request id, is counted in `kopir_requests_total`
//! and logged like a refusal of the pipeline, though the pipeline never saw it.

use std::task::{Context, Poll};
use std::time::Instant;

use tonic::codegen::http::{HeaderValue, Request, Response};
use tonic::{Code, Status};
use tower::{Layer, Service};

use crate::api::REQUEST_ID_HEADER;
use crate::metrics::{Exchange, Metrics};

/// The layer over every gRPC service of the gateway.
#[derive(Clone)]
pub struct EdgeRefusals {
    metrics: Metrics,
}

impl EdgeRefusals {
    /// Counts its refusals in `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for EdgeRefusals {
    type Service = EdgeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        EdgeService {
            metrics: self.metrics.clone(),
            inner,
        }
    }
}

/// The gRPC services behind [`EdgeRefusals`].
#[derive(Clone)]
pub struct EdgeService<S> {
    metrics: Metrics,
    inner: S,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B, R> Service<Request<B>> for EdgeService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // Only what a refusal needs is kept (the path's bytes are shared, not copied): the
        // method name and the times are worked out for the rare refused request alone.
        let uri = req.uri().clone();
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let mut response = answer.await?;
            if let Some(refused) = refusal(&response) {
                // Only the gateway's own methods are counted: an unknown path is tonic's
                // UNIMPLEMENTED.
                let method = kopir_core::methods::ALL
                    .iter()
                    .chain(&TONIC_SERVED)
                    .copied()
                    .find(|m| uri.path().strip_prefix('/') == Some(*m));
                if let Some(method) = method {
                    answer_refusal(&mut response, refused, method, &metrics, started);
                }
            }
            Ok(response)
        })
    }
}

/// The methods of the services tonic's own crates serve here (health, reflection), whose codec
/// answers bytes it cannot decode with INTERNAL.
const TONIC_SERVED: [&str; 4] = [
    "grpc.health.v1.Health/Check",
    "grpc.health.v1.Health/Watch",
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// What tonic's own codec says of a request it cannot decode.
const TONIC_UNDECODABLE: &str = "failed to decode Protobuf message";

/// The status tonic answered on its own, as the gateway answers it; `None` for every response
/// a service made.
fn refusal<R>(response: &Response<R>) -> Option<Status> {
    let status = response.extensions().get::<Status>()?;
    if response.headers().contains_key(REQUEST_ID_HEADER) {
        return None;
    }
    match status.code() {
        // Ours (the gateway's codec) or tonic's (health, reflection): the caller's bytes.
        Code::InvalidArgument | Code::Internal
            if status
                .message()
                .starts_with(kopir_proto::codec::UNDECODABLE)
                || status.message().starts_with(TONIC_UNDECODABLE) =>
        {
            Some(Status::invalid_argument(format!(
                "{}; send the method's request message as its .proto defines it (server reflection lists them)",
                status.message()
            )))
        }
        Code::OutOfRange if status.message().contains("decoded message length too large") => {
            Some(Status::resource_exhausted(format!(
                "the request message is larger than this gateway takes ({}); send a smaller one, or the operator raises [server] max_message_bytes",
                status
                    .message()
                    .trim_start_matches("Error, decoded message length too large: ")
            )))
        }
        _ => None,
    }
}

/// Replaces tonic's answer with `refused` under a new request id, counted and logged.
fn answer_refusal<R>(
    response: &mut Response<R>,
    refused: Status,
    method: &'static str,
    metrics: &Metrics,
    started: Instant,
) {
    let request_id = uuid::Uuid::now_v7().to_string();
    let headers = response.headers_mut();
    if refused.add_header(headers).is_err() {
        // Our own message always encodes; should it not, tonic's answer stands.
        return;
    }
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    let code = refused.code();
    tracing::info!(
        method,
        request_id = %request_id,
        code = crate::metrics::code_name(code),
        reason = %refused.message(),
        "request refused before decoding"
    );
    metrics.exchange(Exchange {
        request_id,
        client: kopir_core::principal::Principal::Anonymous.to_string(),
        method,
        subject: String::new(),
        code,
        took: started.elapsed(),
        received_at: chrono::Utc::now()
            - chrono::Duration::from_std(started.elapsed()).unwrap_or_default(),
    });
    response.extensions_mut().insert(refused);
}
