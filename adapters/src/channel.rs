//! The generic channel's adapters: a message for any routed service, in the service's own
//! protocol (the SyncChannel SOAP envelope, a plain REST POST, or a gRPC method passed through),
//! and its reply. A service's own error status is an answer relayed to the sender; an unreachable
//! or failing service is an [`AdapterError`], which retries and breakers count.

use std::time::Duration;

use bytes::{Buf, BufMut};
use roxmltree::Node;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http;

pub use kopir_core::channel::Incoming;

use crate::error::{AdapterError, Refusal};
use crate::syncchannel::{transport_error, Data, Endpoint, Payload, SyncChannelClient};

/// A message on its way to a service.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The routed service.
    pub service_id: &'a str,
    /// The sender's message id.
    pub message_id: &'a str,
    /// The business-process id.
    pub correlation_id: &'a str,
    /// The payload.
    pub payload: &'a [u8],
    /// Its media type.
    pub content_type: &'a str,
}

/// A service's own refusal, as a reply.
fn refusal(code: String, message: String) -> Incoming {
    Incoming {
        payload: Vec::new(),
        content_type: String::new(),
        status_code: code,
        status_message: message,
    }
}

/// How a route reaches its service.
#[derive(Debug, Clone)]
pub enum ChannelClient {
    /// The SyncChannel envelope; XML payloads travel as `<data>`'s content, text as `xs:string`.
    SyncChannel(SyncChannelClient),
    /// A REST POST of the payload as it is.
    Rest {
        /// Route name, for errors.
        name: String,
        /// Endpoint and credentials.
        endpoint: Endpoint,
        /// Pooled client.
        http: reqwest::Client,
    },
    /// A gRPC method called with the payload as its (already encoded) request message.
    Grpc {
        /// Route name, for errors.
        name: String,
        /// `/package.Service/Method`.
        method: http::uri::PathAndQuery,
        /// Lazily connected channel.
        channel: tonic::transport::Channel,
        /// Per-call bound.
        timeout: Duration,
    },
}

impl ChannelClient {
    /// A SyncChannel route.
    pub fn syncchannel(name: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        Ok(Self::SyncChannel(SyncChannelClient::new(name, endpoint)?))
    }

    /// A REST route.
    pub fn rest(name: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        let http = endpoint.http_client(name)?;
        Ok(Self::Rest {
            name: name.to_string(),
            endpoint,
            http,
        })
    }

    /// A gRPC passthrough route to `method` on the server at `endpoint.url`.
    pub fn grpc(name: &str, endpoint: &Endpoint, method: &str) -> Result<Self, AdapterError> {
        let config = |detail: String| AdapterError::Config {
            registry: name.to_string(),
            detail,
        };
        let method = http::uri::PathAndQuery::try_from(method)
            .map_err(|e| config(format!("grpc_method {method}: {e}")))?;
        let channel = tonic::transport::Endpoint::from_shared(endpoint.url.to_string())
            .map_err(|e| config(e.to_string()))?
            .connect_timeout(endpoint.connect_timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Self::Grpc {
            name: name.to_string(),
            method,
            channel,
            timeout: endpoint.request_timeout,
        })
    }

    /// Sends `message`; the service's reply, its own error status included.
    pub async fn send(&self, message: Outgoing<'_>) -> Result<Incoming, AdapterError> {
        match self {
            Self::SyncChannel(client) => syncchannel(client, message).await,
            Self::Rest {
                name,
                endpoint,
                http,
            } => rest(name, endpoint, http, message).await,
            Self::Grpc {
                name,
                method,
                channel,
                timeout,
            } => grpc(name, method, channel.clone(), *timeout, message).await,
        }
    }
}

/// Whether `payload` is XML the `<data>` element can hold as its content: one or more
/// elements (and text), well-formed as a fragment.
fn is_xml_fragment(payload: &str) -> bool {
    payload.trim_start().starts_with('<')
        && roxmltree::Document::parse(&format!("<data>{payload}</data>")).is_ok()
}

/// The source text of `<data>`'s content.
fn inner_xml(data: Node<'_, '_>) -> String {
    let input = data.document().input_text();
    let whole = &input[data.range()];
    if whole.ends_with("/>") {
        return String::new();
    }
    let open = whole.find('>').map_or(whole.len(), |i| i + 1);
    let close = whole.rfind("</").unwrap_or(whole.len()).max(open);
    whole[open..close].to_string()
}

async fn syncchannel(
    client: &SyncChannelClient,
    m: Outgoing<'_>,
) -> Result<Incoming, AdapterError> {
    // XML travels as `<data>`'s content, other text as an xs:string; SyncChannel has no room
    // for bytes that are not text.
    let Ok(text) = std::str::from_utf8(m.payload) else {
        return Ok(refusal(
            Incoming::NOT_TEXT.into(),
            "a SyncChannel service takes XML or text: this payload is not UTF-8".into(),
        ));
    };
    let data = if is_xml_fragment(text) {
        Data::Element(text)
    } else {
        Data::Text(text)
    };
    let parse = |payload: Payload<'_, '_>| -> Result<Incoming, String> {
        let (payload, content_type) = match payload {
            Payload::Element(d) => (inner_xml(d), "application/xml"),
            Payload::Text(t) => (t.to_string(), "text/plain; charset=utf-8"),
        };
        Ok(Incoming {
            payload: payload.into_bytes(),
            content_type: content_type.into(),
            status_code: Incoming::OK.into(),
            status_message: String::new(),
        })
    };
    match client
        .call_payload(m.service_id, data, m.correlation_id, parse)
        .await
    {
        Ok(fetched) => Ok(fetched.record),
        // The service's own statuses are its answer, but for those the route lists as its
        // failing (`failure_codes`); a SOAP Fault or a refused credential is not an answer.
        Err(AdapterError::NotFound { what, .. }) => Ok(refusal("NOT_FOUND".into(), what)),
        Err(AdapterError::Registry {
            kind: Refusal::Failure,
            code,
            message,
            ..
        }) if !client.wire().failure_codes.contains(&code) => Ok(refusal(code, message)),
        Err(e) => Err(e),
    }
}

async fn rest(
    name: &str,
    endpoint: &Endpoint,
    http: &reqwest::Client,
    m: Outgoing<'_>,
) -> Result<Incoming, AdapterError> {
    let request = http
        .post(endpoint.url.clone())
        .basic_auth(&endpoint.sender_id, Some(&endpoint.sender_password))
        .header("content-type", m.content_type)
        .header("x-service-id", m.service_id)
        .header("x-message-id", m.message_id)
        .header("x-correlation-id", m.correlation_id)
        .body(m.payload.to_vec());
    let response = crate::propagation::with_trace(request)
        .send()
        .await
        .map_err(|e| transport_error(name, endpoint.request_timeout, &e))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(AdapterError::Unavailable {
            registry: name.to_string(),
            reason: format!("HTTP {status}"),
        });
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let payload = response
        .bytes()
        .await
        .map_err(|e| transport_error(name, endpoint.request_timeout, &e))?
        .to_vec();
    Ok(if status.is_success() {
        Incoming {
            payload,
            content_type,
            status_code: Incoming::OK.into(),
            status_message: String::new(),
        }
    } else {
        Incoming {
            status_message: String::from_utf8_lossy(&payload)
                .chars()
                .take(500)
                .collect(),
            payload,
            content_type,
            status_code: format!("HTTP{}", status.as_u16()),
        }
    })
}

async fn grpc(
    name: &str,
    method: &http::uri::PathAndQuery,
    channel: tonic::transport::Channel,
    timeout: Duration,
    m: Outgoing<'_>,
) -> Result<Incoming, AdapterError> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| AdapterError::Unavailable {
        registry: name.to_string(),
        reason: format!("connection failed (service down or unreachable): {e}"),
    })?;
    let mut request = tonic::Request::new(m.payload.to_vec());
    request.set_timeout(timeout);
    for (key, value) in [
        ("x-service-id", m.service_id),
        ("x-message-id", m.message_id),
        ("x-correlation-id", m.correlation_id),
    ] {
        if let Ok(v) = value.parse() {
            request.metadata_mut().insert(key, v);
        }
    }
    match grpc.unary(request, method.clone(), RawCodec).await {
        Ok(reply) => Ok(Incoming {
            payload: reply.into_inner(),
            content_type: "application/grpc+proto".into(),
            status_code: Incoming::OK.into(),
            status_message: String::new(),
        }),
        Err(s) => match s.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal => {
                Err(AdapterError::Unavailable {
                    registry: name.to_string(),
                    reason: format!("{:?}: {}", s.code(), s.message()),
                })
            }
            tonic::Code::DeadlineExceeded => Err(AdapterError::Timeout {
                registry: name.to_string(),
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
            code => Ok(refusal(format!("{code:?}"), s.message().to_string())),
        },
    }
}

/// Passes message bytes through unchanged: the sender encoded them, the service decodes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}
