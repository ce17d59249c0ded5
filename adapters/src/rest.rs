//! The registries that speak REST/JSON (notary system, legal cadastre, payment gateway, banks'
//! callbacks): one client shape for all of them, so status codes map to [`AdapterError`] once.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::error::{AdapterError, Refusal};
use crate::syncchannel::{probe, transport_error, Endpoint};

/// A REST/JSON registry client: base URL, sender credentials (HTTP Basic), pooled connections.
#[derive(Debug, Clone)]
pub struct RestClient {
    registry: String,
    endpoint: Endpoint,
    http: reqwest::Client,
}

/// A request's extras: correlation id and, for writes, the idempotency key the registry dedups on.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The operation's name in spans ("power_of_attorney", "register_pledge").
    pub operation: &'static str,
    /// Sent as `x-correlation-id`.
    pub correlation_id: &'a str,
    /// Sent as `idempotency-key` on writes.
    pub idempotency_key: Option<&'a str>,
}

impl RestClient {
    /// A client of the registry whose API is rooted at `endpoint.url`.
    pub fn new(registry: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        let http = endpoint.http_client(registry)?;
        Ok(Self {
            registry: registry.to_string(),
            endpoint,
            http,
        })
    }

    /// The registry's configured name.
    pub fn name(&self) -> &str {
        &self.registry
    }

    /// `GET /health`.
    pub async fn ping(&self) -> Result<(), AdapterError> {
        let url = self.url("/health")?;
        probe(&self.http, &self.registry, &self.endpoint, url, "health").await
    }

    fn url(&self, path: &str) -> Result<url::Url, AdapterError> {
        self.endpoint
            .url
            .join(path)
            .map_err(|e| AdapterError::Config {
                registry: self.registry.clone(),
                detail: format!("{path}: {e}"),
            })
    }

    /// `GET path?query`: the decoded body, or `None` when the registry answers 404.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        call: Call<'_>,
    ) -> Result<Option<T>, AdapterError> {
        let mut url = self.url(path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self.http.get(url);
        self.send(request, call, true).await
    }

    /// `POST path` with a JSON body: the decoded answer (404 is an error here).
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        call: Call<'_>,
    ) -> Result<T, AdapterError> {
        let request = self.http.post(self.url(path)?).json(body);
        self.send(request, call, false)
            .await?
            .ok_or_else(|| AdapterError::NotFound {
                registry: self.registry.clone(),
                what: path.to_string(),
            })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        call: Call<'_>,
        absent_is_none: bool,
    ) -> Result<Option<T>, AdapterError> {
        let span = tracing::info_span!("registry.call", registry = %self.registry, service_id = call.operation);
        async move {
            let mut request = request
                .basic_auth(
                    &self.endpoint.sender_id,
                    Some(&self.endpoint.sender_password),
                )
                .header("x-correlation-id", call.correlation_id);
            if let Some(key) = call.idempotency_key {
                request = request.header("idempotency-key", key);
            }
            let response = crate::propagation::with_trace(request)
                .send()
                .await
                .map_err(|e| transport_error(&self.registry, self.endpoint.request_timeout, &e))?;
            let status = response.status().as_u16();
            let body = response
                .bytes()
                .await
                .map_err(|e| transport_error(&self.registry, self.endpoint.request_timeout, &e))?;
            read_answer(&self.registry, status, &body, absent_is_none)
        }
        .instrument(span)
        .await
    }
}

/// What a REST registry's answer means: HTTP `status` with `body` decoded as `T`, `None` for a
/// 404 when `absent_is_none` (a lookup that found nothing), or the refusal it is. No I/O, so the
/// fuzz target runs exactly what the adapters run on a registry's bytes.
pub fn read_answer<T: DeserializeOwned>(
    registry: &str,
    status: u16,
    body: &[u8],
    absent_is_none: bool,
) -> Result<Option<T>, AdapterError> {
    if status == 404 && absent_is_none {
        return Ok(None);
    }
    if (500..600).contains(&status) {
        return Err(AdapterError::Unavailable {
            registry: registry.to_string(),
            reason: format!("HTTP {status}"),
        });
    }
    if !(200..300).contains(&status) {
        // REST registries answer refusals as {"code": "...", "message": "..."}.
        let refusal: RegistryRefusal = serde_json::from_slice(body).unwrap_or_default();
        let code = if refusal.code.is_empty() {
            format!("HTTP{status}")
        } else {
            refusal.code
        };
        return Err(AdapterError::Registry {
            registry: registry.to_string(),
            kind: Refusal::of_code(&code),
            code,
            message: refusal.message,
        });
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| AdapterError::Malformed {
            registry: registry.to_string(),
            detail: e.to_string(),
        })
}

/// A REST registry's refusal body.
#[derive(Debug, Default, serde::Deserialize)]
struct RegistryRefusal {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}
