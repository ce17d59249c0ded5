//! The SyncChannel SOAP envelope of the e-government gateway, as the persons and legal-entities
//! databases speak it: a `SendMessage` carrying `requestInfo` (messageId, correlationId, serviceId,
//! messageDate, sender) and `requestData/data`; a `SendMessageResponse` carrying `responseInfo`
//! (status code and message) and `responseData/data`.
//!
//! Status codes: `SCSS001` success, `NOTF001` no record, `AUTH001` sender not authorised,
//! `VLDT001` request invalid, `SRVC001` registry-side failure. A SOAP Fault is a registry error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use quick_xml::escape::escape;
use roxmltree::{Document, Node};
use tracing::Instrument;

use crate::error::{AdapterError, Refusal};
use kopir_core::model::Fetched;

/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SyncChannel types namespace.
pub const TYPES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Types";
/// Status code of a successful reply.
pub const STATUS_SUCCESS: &str = "SCSS001";
/// Status code of "no such record".
pub const STATUS_NOT_FOUND: &str = "NOTF001";

/// Where a SyncChannel registry lives and how the gateway introduces itself to it.
#[derive(Clone)]
pub struct Endpoint {
    /// The registry's SyncChannel URL.
    pub url: url::Url,
    /// Sender id registered with the registry.
    pub sender_id: String,
    /// Sender password registered with the registry; never logged.
    pub sender_password: String,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Idle pooled connections kept per host.
    pub pool_max_idle: usize,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("sender_id", &self.sender_id)
            .field("sender_password", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// One pooled HTTP client for one SyncChannel registry.
#[derive(Debug, Clone)]
pub struct SyncChannelClient {
    registry: String,
    endpoint: Endpoint,
    http: reqwest::Client,
}

impl Endpoint {
    /// The pooled HTTP client of this endpoint's limits; fails only on an unusable configuration.
    pub fn http_client(&self, registry: &str) -> Result<reqwest::Client, AdapterError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .pool_max_idle_per_host(self.pool_max_idle)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| AdapterError::Config {
                registry: registry.to_string(),
                detail: e.to_string(),
            })
    }
}

impl SyncChannelClient {
    /// Builds the pooled client; fails only on an unusable configuration.
    pub fn new(registry: &str, endpoint: Endpoint) -> Result<Self, AdapterError> {
        let http = endpoint.http_client(registry)?;
        Ok(Self {
            registry: registry.to_string(),
            endpoint,
            http,
        })
    }

    /// The registry's name.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Sends `data` (an XML fragment) to `service_id` and parses the reply's data element.
    /// `correlation_id` ties the registry's records to the gateway's request.
    pub async fn call<T>(
        &self,
        service_id: &str,
        data: &str,
        correlation_id: &str,
        parse: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<Fetched<T>, AdapterError> {
        let span = tracing::info_span!(
            "registry.call",
            registry = %self.registry,
            service_id,
            http_status = tracing::field::Empty
        );
        self.exchange(service_id, data, correlation_id, parse, &span)
            .instrument(span.clone())
            .await
    }

    async fn exchange<T>(
        &self,
        service_id: &str,
        data: &str,
        correlation_id: &str,
        parse: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
        span: &tracing::Span,
    ) -> Result<Fetched<T>, AdapterError> {
        let envelope = self.envelope(service_id, data, correlation_id);
        let request = self
            .http
            .post(self.endpoint.url.clone())
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"SendMessage\"")
            .body(envelope);
        let response = crate::propagation::with_trace(request)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        span.record("http_status", status.as_u16());
        if matches!(status.as_u16(), 502..=504) {
            return Err(AdapterError::Unavailable {
                registry: self.registry.clone(),
                reason: format!("HTTP {status}"),
            });
        }
        let body = response
            .text()
            .await
            .map_err(|e| self.transport_error(&e))?;
        match self.parse_reply(&body, parse) {
            // An error status whose body is not an envelope (a proxy's error page, an overloaded
            // server) says the registry is not serving, not that it speaks another protocol.
            Err(AdapterError::Malformed { .. }) if !status.is_success() => {
                Err(AdapterError::Unavailable {
                    registry: self.registry.clone(),
                    reason: format!("HTTP {status} without a SyncChannel reply"),
                })
            }
            other => other,
        }
    }

    /// Checks the registry answers, by fetching its WSDL as SOAP monitoring does.
    pub async fn ping(&self) -> Result<(), AdapterError> {
        let mut url = self.endpoint.url.clone();
        url.set_query(Some("wsdl"));
        probe(&self.http, &self.registry, &self.endpoint, url, "WSDL").await
    }

    fn envelope(&self, service_id: &str, data: &str, correlation_id: &str) -> String {
        let message_id = uuid::Uuid::new_v4();
        let now = kopir_core::time::rfc3339(Utc::now());
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soap:Envelope xmlns:soap="{soap}"><soap:Body>"#,
                r#"<ns2:SendMessage xmlns:ns2="{types}"><request><requestInfo>"#,
                "<messageId>{mid}</messageId><correlationId>{cid}</correlationId>",
                "<serviceId>{sid}</serviceId><messageDate>{now}</messageDate>",
                "<sender><senderId>{sender}</senderId><password>{password}</password></sender>",
                "</requestInfo><requestData><data>{data}</data></requestData>",
                "</request></ns2:SendMessage></soap:Body></soap:Envelope>"
            ),
            soap = SOAP_NS,
            types = TYPES_NS,
            mid = message_id,
            cid = escape(correlation_id),
            sid = escape(service_id),
            now = now,
            sender = escape(self.endpoint.sender_id.as_str()),
            password = escape(self.endpoint.sender_password.as_str()),
            data = data,
        )
    }

    fn transport_error(&self, e: &reqwest::Error) -> AdapterError {
        transport_error(&self.registry, self.endpoint.request_timeout, e)
    }

    fn malformed(&self, detail: impl Into<String>) -> AdapterError {
        AdapterError::Malformed {
            registry: self.registry.clone(),
            detail: detail.into(),
        }
    }

    fn parse_reply<T>(
        &self,
        body: &str,
        parse: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<Fetched<T>, AdapterError> {
        let doc = Document::parse(body).map_err(|e| self.malformed(format!("not XML: {e}")))?;
        let root = doc.root_element();
        if let Some(fault) = find(root, "Fault") {
            return Err(AdapterError::Registry {
                registry: self.registry.clone(),
                kind: Refusal::Failure,
                code: text(fault, "faultcode")
                    .unwrap_or("soap:Server")
                    .to_string(),
                message: text(fault, "faultstring").unwrap_or("").to_string(),
            });
        }
        let info = find(root, "responseInfo").ok_or_else(|| self.malformed("no responseInfo"))?;
        let status = child(info, "status").ok_or_else(|| self.malformed("no status"))?;
        let code = text(status, "code").ok_or_else(|| self.malformed("no status code"))?;
        let message = text(status, "message").unwrap_or("");
        match code {
            STATUS_SUCCESS => {}
            STATUS_NOT_FOUND => {
                return Err(AdapterError::NotFound {
                    registry: self.registry.clone(),
                    what: message.to_string(),
                })
            }
            other => {
                return Err(AdapterError::Registry {
                    registry: self.registry.clone(),
                    kind: Refusal::of_code(other),
                    code: other.to_string(),
                    message: message.to_string(),
                })
            }
        }
        let registry_time = text(info, "responseDate")
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| self.malformed("no valid responseDate"))?;
        let data = find(root, "responseData")
            .and_then(|d| child(d, "data"))
            .and_then(|d| d.children().find(Node::is_element))
            .ok_or_else(|| self.malformed("success status without data"))?;
        let record = parse(data).map_err(|e| self.malformed(e))?;
        Ok(Fetched {
            record,
            registry_time,
        })
    }
}

/// The first descendant element (or self) with this local name.
pub fn find<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// The first child element with this local name.
pub fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// The text of a child element, `None` when absent; an empty element gives `Some("")`.
pub fn text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(node, name).map(|c| c.text().unwrap_or(""))
}

/// The text of a required child element.
pub fn required<'a>(node: Node<'a, '_>, name: &str) -> Result<&'a str, String> {
    text(node, name).ok_or_else(|| format!("<{}> lacks <{name}>", node.tag_name().name()))
}

/// A required `YYYY-MM-DD` child element.
pub fn date(node: Node<'_, '_>, name: &str) -> Result<chrono::NaiveDate, String> {
    let s = required(node, name)?;
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("<{name}> is not a YYYY-MM-DD date"))
}

/// A liveness check: GET `url` and expect a success status; `what` names it in the reason.
pub async fn probe(
    http: &reqwest::Client,
    registry: &str,
    endpoint: &Endpoint,
    url: url::Url,
    what: &str,
) -> Result<(), AdapterError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| transport_error(registry, endpoint.request_timeout, &e))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(AdapterError::Unavailable {
            registry: registry.to_string(),
            reason: format!("{what} answered HTTP {}", response.status()),
        })
    }
}

/// A failed HTTP exchange with a registry, by what the caller can do about it: a timeout, or the
/// registry unreachable. Shared by every HTTP adapter.
pub fn transport_error(
    registry: &str,
    request_timeout: std::time::Duration,
    e: &reqwest::Error,
) -> AdapterError {
    if e.is_timeout() {
        AdapterError::Timeout {
            registry: registry.to_string(),
            timeout_ms: u64::try_from(request_timeout.as_millis()).unwrap_or(u64::MAX),
        }
    } else {
        let reason = if e.is_connect() {
            "connection failed (registry down or unreachable)".to_string()
        } else {
            // reqwest's Display of the innermost cause carries no payload data.
            format!(
                "transport error: {}",
                std::error::Error::source(e).map_or_else(|| e.to_string(), |s| s.to_string())
            )
        };
        AdapterError::Unavailable {
            registry: registry.to_string(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> SyncChannelClient {
        SyncChannelClient::new(
            "persons",
            Endpoint {
                url: url::Url::parse("http://127.0.0.1:1/SyncChannel").unwrap(),
                sender_id: "KOPIR".into(),
                sender_password: "s3cret".into(),
                connect_timeout: Duration::from_millis(100),
                request_timeout: Duration::from_millis(100),
                pool_max_idle: 4,
            },
        )
        .unwrap()
    }

    fn reply(code: &str, data: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><t:SendMessageResponse xmlns:t="{TYPES_NS}"><response><responseInfo><messageId>m</messageId><responseDate>2026-01-02T03:04:05Z</responseDate><status><code>{code}</code><message>msg</message></status></responseInfo><responseData><data>{data}</data></responseData></response></t:SendMessageResponse></s:Body></s:Envelope>"#
        )
    }

    fn iin_of(n: Node<'_, '_>) -> Result<String, String> {
        required(n, "iin").map(str::to_string)
    }

    #[test]
    fn success_reply_is_parsed_whatever_the_prefixes() {
        let got = client()
            .parse_reply(&reply("SCSS001", "<person><iin>1</iin></person>"), iin_of)
            .unwrap();
        assert_eq!(got.record, "1");
        assert_eq!(got.registry_time.to_rfc3339(), "2026-01-02T03:04:05+00:00");
    }

    #[test]
    fn status_codes_map_to_typed_errors() {
        let c = client();
        assert!(matches!(
            c.parse_reply(&reply("NOTF001", ""), iin_of),
            Err(AdapterError::NotFound { .. })
        ));
        assert!(matches!(
            c.parse_reply(&reply("SRVC001", ""), iin_of),
            Err(AdapterError::Registry { code, .. }) if code == "SRVC001"
        ));
        assert!(matches!(
            c.parse_reply(&reply("SCSS001", ""), iin_of),
            Err(AdapterError::Malformed { .. })
        ));
        assert!(matches!(
            c.parse_reply("<html>oops", iin_of),
            Err(AdapterError::Malformed { .. })
        ));
        let fault = format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault></s:Body></s:Envelope>"#
        );
        assert!(matches!(
            c.parse_reply(&fault, iin_of),
            Err(AdapterError::Registry { code, message, .. }) if code == "s:Client" && message == "bad"
        ));
    }

    #[tokio::test]
    async fn an_error_page_instead_of_an_envelope_means_unavailable() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A proxy in front of the registry answering 500 with its own HTML page.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let _request_len = sock.read(&mut buf).await.unwrap();
            let body = "<html><body>Internal Server Error</body></html>";
            let reply = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(reply.as_bytes()).await.unwrap();
        });
        let mut endpoint = client().endpoint.clone();
        endpoint.url = url::Url::parse(&format!("http://{addr}/SyncChannel")).unwrap();
        endpoint.request_timeout = Duration::from_secs(5);
        let c = SyncChannelClient::new("persons", endpoint).unwrap();
        let err = c.call("S", "<iin>1</iin>", "c", iin_of).await.unwrap_err();
        assert!(
            matches!(&err, AdapterError::Unavailable { reason, .. } if reason.contains("HTTP 500")),
            "{err:?}"
        );
    }

    #[test]
    fn envelope_escapes_and_debug_hides_password() {
        let c = client();
        let env = c.envelope("GBDFL<x>", "<iin>1</iin>", "a&b");
        assert!(env.contains("<serviceId>GBDFL&lt;x&gt;</serviceId>"));
        assert!(env.contains("<correlationId>a&amp;b</correlationId>"));
        assert!(Document::parse(&env).is_ok());
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
