//! SyncChannel v10 of the e-government gateway (ШЭП), as its published WSDL and XSDs define it:
//! `SendMessage` carrying `request` → `requestInfo` (messageId, correlationId?, serviceId,
//! messageDate, routeId?, sender {senderId, password?}, properties*, sessionId?) and
//! `requestData/data`; `SendMessageResponse` carrying `response` → `responseInfo` (messageId,
//! correlationId?, responseDate, status {code, message}, sessionId?) and `responseData/data`;
//! a fault's detail an `ErrorInfo`. `<data>` is `xs:anyType`: an element, or escaped XML as an
//! `xs:string`, both read and written. `SOAPAction: ""` as the binding says.
//!
//! Which status codes mean success is the registry's configuration (default `SCSS001` and
//! `Success`), as are those meaning "no such record", "credentials refused" and "request
//! invalid" (no public source names any); every other code is the registry's failure. Messages are signed with WS-Security
//! and replies verified when [`MessageSecurity`] is configured.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use quick_xml::escape::escape;
use roxmltree::{Document, Node};
use rustls_pki_types::CertificateDer;
use tracing::Instrument;

use crate::error::{AdapterError, Refusal};
use kopir_core::model::Fetched;
use kopir_trust::{Trust, Usage};
use kopir_xmlsec::enveloped::{self, Enveloped};
use kopir_xmlsec::{wsse, XmlSigner};

/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SyncChannel types namespace.
pub const TYPES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Types";
/// XML Schema instance namespace (`xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// XML Schema namespace (`xs:string`).
pub const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// The status codes a registry answers success with unless configured otherwise.
pub fn default_success_codes() -> Vec<String> {
    vec!["SCSS001".into(), "Success".into()]
}

/// Whether replies' signatures are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyPolicy {
    /// Every reply must carry a valid WS-Security signature.
    Require,
    /// A reply's signature is checked when it carries one; unsigned replies pass.
    IfPresent,
    /// Replies are not checked.
    Off,
}

/// WS-Security for one registry: the gateway's signer and how replies are checked.
#[derive(Debug, Clone)]
pub struct MessageSecurity {
    /// Signs every request; `None` sends them unsigned (a real registry refuses that).
    pub signer: Option<Arc<dyn XmlSigner>>,
    /// How replies are checked.
    pub verify: VerifyPolicy,
    /// Roots, CRLs and path validation for the registry's certificate.
    pub trust: Arc<Trust>,
    /// Intermediate certificates between the registry's certificate and a root (a WS-Security
    /// token carries the signer's certificate alone).
    pub intermediates: Vec<CertificateDer<'static>>,
    /// How long a request's `wsu:Timestamp` is valid.
    pub lifetime: Duration,
    /// Allowed clock difference when checking a reply's timestamp.
    pub skew: Duration,
}

/// The envelope's settings for one registry, beyond where it is.
#[derive(Debug, Clone)]
pub struct Wire {
    /// `routeId`, when the gateway needs additional routing for this registry.
    pub route_id: Option<String>,
    /// `properties` sent with every request (agreed with the gateway and the registry).
    pub properties: Vec<(String, String)>,
    /// Status codes that mean success.
    pub success_codes: Vec<String>,
    /// Status codes that mean "no such record" (none in the published schemas: a registry's
    /// own convention, configured where one has it; the mocks answer `NOTF001`).
    pub not_found_codes: Vec<String>,
    /// Status codes refusing the gateway's own credentials (operators must act); a registry's
    /// convention too (the mocks' `AUTH001`).
    pub credential_codes: Vec<String>,
    /// Status codes saying the request is invalid, though the gateway validated it (a defect);
    /// a registry's convention too (the mocks' `VLDT001`).
    pub invalid_codes: Vec<String>,
    /// Generic-channel routes: status codes that mean the service is failing (retried, counted
    /// by the breaker) rather than answering; every other code is relayed as its answer.
    pub failure_codes: Vec<String>,
    /// WS-Security, when configured.
    pub security: Option<Arc<MessageSecurity>>,
}

impl Default for Wire {
    fn default() -> Self {
        Self {
            route_id: None,
            properties: Vec::new(),
            success_codes: default_success_codes(),
            not_found_codes: Vec::new(),
            credential_codes: Vec::new(),
            invalid_codes: Vec::new(),
            failure_codes: Vec::new(),
            security: None,
        }
    }
}

/// A payload's own result codes (ГБД ФЛ's `messageResult`, ГБД ЮЛ's `Status`), read after the
/// envelope's status said the message was processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultCodes {
    /// Codes of an answered request.
    pub found: Vec<String>,
    /// Codes saying no record matched (`NOT_FOUND`).
    pub not_found: Vec<String>,
    /// Codes calling the request invalid (the gateway validated it: a defect, `INTERNAL`).
    pub invalid: Vec<String>,
    /// Codes refusing the citizen's consent token (`PERMISSION_DENIED`).
    pub consent_refused: Vec<String>,
}

impl ResultCodes {
    /// What a payload's result `code` (with its `message`) means; `what` names the lookup.
    pub fn judge(
        &self,
        registry: &str,
        what: &str,
        code: &str,
        message: &str,
    ) -> Result<(), AdapterError> {
        let is = |codes: &[String]| codes.iter().any(|c| c == code);
        let registry = registry.to_string();
        if is(&self.found) {
            Ok(())
        } else if is(&self.not_found) {
            Err(AdapterError::NotFound {
                registry,
                what: what.into(),
            })
        } else if is(&self.consent_refused) {
            Err(AdapterError::ConsentRefused {
                registry,
                reason: format!("{message} ({code})"),
            })
        } else {
            Err(AdapterError::Registry {
                registry,
                code: code.to_string(),
                message: message.to_string(),
                kind: if is(&self.invalid) {
                    Refusal::Invalid
                } else {
                    Refusal::Failure
                },
            })
        }
    }
}

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
    /// Envelope settings (SyncChannel only).
    pub wire: Wire,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("sender_id", &self.sender_id)
            .field("sender_password", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field(
                "signed",
                &self
                    .wire
                    .security
                    .as_ref()
                    .is_some_and(|s| s.signer.is_some()),
            )
            .finish()
    }
}

/// What `<data>` carries.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// An XML fragment, as the element's content.
    Element(&'a str),
    /// Text (escaped XML or anything else), as `xsi:type="xs:string"`.
    Text(&'a str),
}

/// A reply's `<data>`, as it arrived.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a, 'i> {
    /// Element content: the `<data>` element itself.
    Element(Node<'a, 'i>),
    /// An `xs:string`: its text.
    Text(&'a str),
}

impl Payload<'_, '_> {
    /// Hands `parse` the payload's root element: `<data>`'s first child element, or the root of
    /// the XML an `xs:string` holds.
    pub fn root<T>(
        self,
        parse: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<T, String> {
        match self {
            Payload::Element(d) => d
                .children()
                .find(Node::is_element)
                .ok_or_else(|| "success status without data".to_string())
                .and_then(parse),
            Payload::Text(text) => parse_string(text, parse),
        }
    }

    /// Hands `parse` the `<data>` element whose children are the payload (element content), or
    /// the root of the XML an `xs:string` holds.
    pub fn data<T>(
        self,
        parse: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<T, String> {
        match self {
            Payload::Element(d) => parse(d),
            Payload::Text(text) => parse_string(text, parse),
        }
    }
}

/// Parses the XML an `xs:string` payload holds and hands `parse` its root element.
fn parse_string<T>(
    text: &str,
    parse: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
) -> Result<T, String> {
    let doc = Document::parse(text).map_err(|e| format!("xs:string data is not XML: {e}"))?;
    parse(doc.root_element())
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

/// Whether `data` says `xsi:type="…:string"` with the prefix bound to XML Schema.
fn is_string(data: Node<'_, '_>) -> bool {
    data.attribute((XSI_NS, "type")).is_some_and(|t| {
        let (prefix, local) = t.split_once(':').unwrap_or(("", t));
        local == "string"
            && data.lookup_namespace_uri(if prefix.is_empty() {
                None
            } else {
                Some(prefix)
            }) == Some(XS_NS)
    })
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

    /// Sends `data` (an XML fragment) to `service_id` and parses the root element of the reply's
    /// payload (element content or an `xs:string` of XML). `correlation_id` ties the registry's
    /// records to the gateway's request.
    pub async fn call<T>(
        &self,
        service_id: &str,
        data: &str,
        correlation_id: &str,
        parse: impl FnOnce(Node<'_, '_>) -> Result<T, String>,
    ) -> Result<Fetched<T>, AdapterError> {
        self.call_payload(service_id, Data::Element(data), correlation_id, |payload| {
            payload.root(parse)
        })
        .await
    }

    /// Sends `data` to `service_id`; `parse` reads the reply's `<data>` as it arrived.
    pub async fn call_payload<T>(
        &self,
        service_id: &str,
        data: Data<'_>,
        correlation_id: &str,
        parse: impl FnOnce(Payload<'_, '_>) -> Result<T, String>,
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
        data: Data<'_>,
        correlation_id: &str,
        parse: impl FnOnce(Payload<'_, '_>) -> Result<T, String>,
        span: &tracing::Span,
    ) -> Result<Fetched<T>, AdapterError> {
        let envelope = self.envelope(service_id, data, correlation_id)?;
        let request = self
            .http
            .post(self.endpoint.url.clone())
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"")
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
        match self.read_reply(&body, parse).await {
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

    /// The `SendMessage` element of one request.
    fn send_message(&self, service_id: &str, data: Data<'_>, correlation_id: &str) -> String {
        let wire = &self.endpoint.wire;
        let mut s = format!(
            concat!(
                r#"<ns2:SendMessage xmlns:ns2="{types}"><request><requestInfo>"#,
                "<messageId>{mid}</messageId><correlationId>{cid}</correlationId>",
                "<serviceId>{sid}</serviceId><messageDate>{now}</messageDate>",
            ),
            types = TYPES_NS,
            mid = uuid::Uuid::new_v4(),
            cid = escape(correlation_id),
            sid = escape(service_id),
            now = kopir_core::time::rfc3339(Utc::now()),
        );
        if let Some(route) = &wire.route_id {
            s.push_str(&format!("<routeId>{}</routeId>", escape(route.as_str())));
        }
        s.push_str(&format!(
            "<sender><senderId>{}</senderId>",
            escape(self.endpoint.sender_id.as_str())
        ));
        if !self.endpoint.sender_password.is_empty() {
            s.push_str(&format!(
                "<password>{}</password>",
                escape(self.endpoint.sender_password.as_str())
            ));
        }
        s.push_str("</sender>");
        for (k, v) in &wire.properties {
            s.push_str(&format!(
                "<properties><key>{}</key><value>{}</value></properties>",
                escape(k.as_str()),
                escape(v.as_str())
            ));
        }
        s.push_str("</requestInfo><requestData>");
        match data {
            Data::Element(xml) => s.push_str(&format!("<data>{xml}</data>")),
            Data::Text(text) => s.push_str(&format!(
                r#"<data xmlns:xsi="{XSI_NS}" xmlns:xs="{XS_NS}" xsi:type="xs:string">{}</data>"#,
                escape(text)
            )),
        }
        s.push_str("</requestData></request></ns2:SendMessage>");
        s
    }

    fn envelope(
        &self,
        service_id: &str,
        data: Data<'_>,
        correlation_id: &str,
    ) -> Result<String, AdapterError> {
        let body = self.send_message(service_id, data, correlation_id);
        let signer = self
            .endpoint
            .wire
            .security
            .as_ref()
            .and_then(|s| s.signer.as_ref().map(|g| (s, g)));
        match signer {
            Some((security, signer)) => {
                wsse::sign_envelope(&body, signer.as_ref(), Utc::now(), security.lifetime).map_err(
                    |e| AdapterError::Key(format!("signing the request to {}: {e}", self.registry)),
                )
            }
            None => Ok(format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>{body}</soap:Body></soap:Envelope>"#
            )),
        }
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

    fn untrusted(&self, reason: impl Into<String>) -> AdapterError {
        AdapterError::Untrusted {
            registry: self.registry.clone(),
            reason: reason.into(),
        }
    }

    /// Checks the envelope's WS-Security signature per the policy: the signer's certificate
    /// when it held, `None` when nothing was checked.
    async fn check_envelope(&self, doc: &Document<'_>) -> Result<Option<Vec<u8>>, AdapterError> {
        let Some(security) = &self.endpoint.wire.security else {
            return Ok(None);
        };
        if security.verify == VerifyPolicy::Off {
            return Ok(None);
        }
        match wsse::verify_envelope(doc, Utc::now(), security.skew) {
            Ok(verified) => {
                self.check_path(security, verified.certificate.clone(), "the signer's")
                    .await?;
                Ok(Some(verified.certificate))
            }
            Err(kopir_xmlsec::XmlSecError::Unsigned(_))
                if security.verify == VerifyPolicy::IfPresent =>
            {
                Ok(None)
            }
            Err(e) => Err(self.untrusted(format!("WS-Security: {e}"))),
        }
    }

    /// Checks `certificate`'s path; `whose` names the signature in the refusal.
    async fn check_path(
        &self,
        security: &MessageSecurity,
        certificate: Vec<u8>,
        whose: &str,
    ) -> Result<(), AdapterError> {
        let leaf = CertificateDer::from(certificate);
        security
            .trust
            .verify_chain(&leaf, &security.intermediates, Usage::Signing)
            .await
            .map(|_| ())
            .map_err(|e| self.untrusted(format!("{whose} certificate: {}", chain_reason(&e))))
    }

    /// Checks an enveloped signature in the payload, when it carries one and replies are checked.
    /// A payload signed by the certificate whose WS-Security signature over the whole Body held
    /// (`envelope_signer`) is not checked twice: the envelope's signature covers its bytes.
    async fn check_payload(
        &self,
        payload: &Payload<'_, '_>,
        envelope_signer: Option<&[u8]>,
    ) -> Result<(), AdapterError> {
        let Some(security) = &self.endpoint.wire.security else {
            return Ok(());
        };
        if security.verify == VerifyPolicy::Off {
            return Ok(());
        }
        let covered = |root: Node<'_, '_>| {
            envelope_signer
                .is_some_and(|c| enveloped::named_certificate(root).as_deref() == Some(c))
        };
        // A payload without a signature is looked at in place, not copied and parsed again.
        let standalone = match payload {
            // Signed as a whole (`<data>`'s children the payload, the signature the last of
            // them, as ГБД ФЛ replies are), or its one root element signed.
            Payload::Element(d) if enveloped::signature_of(*d).is_some() => {
                if covered(*d) {
                    return Ok(());
                }
                std::borrow::Cow::Owned(enveloped::standalone(*d))
            }
            Payload::Element(d) => match d.children().find(Node::is_element) {
                Some(root) if enveloped::signature_of(root).is_some() => {
                    if covered(root) {
                        return Ok(());
                    }
                    std::borrow::Cow::Owned(enveloped::standalone(root))
                }
                _ => return Ok(()),
            },
            Payload::Text(t) => {
                if !t.trim_start().starts_with('<') {
                    return Ok(());
                }
                if Document::parse(t).is_ok_and(|d| covered(d.root_element())) {
                    return Ok(());
                }
                std::borrow::Cow::Borrowed(*t)
            }
        };
        match enveloped::verify(&standalone) {
            Ok(Enveloped::Absent) => Ok(()),
            Ok(Enveloped::Valid(cert)) => {
                self.check_path(security, cert, "the payload's signer's")
                    .await
            }
            Err(e) => Err(self.untrusted(format!("the payload's signature: {e}"))),
        }
    }

    /// Reads a reply body as [`Self::call_payload`] does: the envelope, its status or fault, its
    /// signatures per the configured policy, `<data>` handed to `parse`.
    pub async fn read_reply<T>(
        &self,
        body: &str,
        parse: impl FnOnce(Payload<'_, '_>) -> Result<T, String>,
    ) -> Result<Fetched<T>, AdapterError> {
        let doc = Document::parse(body).map_err(|e| self.malformed(format!("not XML: {e}")))?;
        let root = doc.root_element();
        let body_el = child(root, "Body").ok_or_else(|| self.malformed("no soap:Body"))?;
        if let Some(fault) = child(body_el, "Fault") {
            // A fault is the registry's word even unsigned: it carries no record to serve.
            return Err(self.fault(fault));
        }
        let envelope_signer = self.check_envelope(&doc).await?;
        let info =
            find(body_el, "responseInfo").ok_or_else(|| self.malformed("no responseInfo"))?;
        let status = child(info, "status").ok_or_else(|| self.malformed("no status"))?;
        let code = text(status, "code").ok_or_else(|| self.malformed("no status code"))?;
        let message = text(status, "message").unwrap_or("");
        let wire = &self.endpoint.wire;
        if wire.not_found_codes.iter().any(|c| c == code) {
            return Err(AdapterError::NotFound {
                registry: self.registry.clone(),
                what: message.to_string(),
            });
        }
        if !wire.success_codes.iter().any(|c| c == code) {
            let listed = |codes: &[String]| codes.iter().any(|c| c == code);
            let kind = if listed(&wire.credential_codes) {
                Refusal::Credentials
            } else if listed(&wire.invalid_codes) {
                Refusal::Invalid
            } else {
                Refusal::Failure
            };
            return Err(AdapterError::Registry {
                registry: self.registry.clone(),
                kind,
                code: code.to_string(),
                message: message.to_string(),
            });
        }
        let registry_time = text(info, "responseDate")
            .and_then(kopir_core::time::parse_xs_datetime)
            .ok_or_else(|| self.malformed("no valid responseDate (xs:dateTime)"))?;
        let data = find(body_el, "responseData")
            .and_then(|d| child(d, "data"))
            .ok_or_else(|| self.malformed("success status without data"))?;
        let payload = if is_string(data) {
            Payload::Text(data.text().unwrap_or(""))
        } else {
            Payload::Element(data)
        };
        self.check_payload(&payload, envelope_signer.as_deref())
            .await?;
        let record = parse(payload).map_err(|e| self.malformed(e))?;
        Ok(Fetched {
            record,
            registry_time,
        })
    }

    /// A SOAP Fault: the registry failed to process the request (`Unavailable`, with the
    /// `ErrorInfo` detail's code, message, data, sub-errors and session id when it carries one,
    /// `faultcode`/`faultstring` if not); a WS-Security fault code (`wsse:FailedCheck`, …) is a
    /// refusal of the gateway's own signature or certificate, for operators.
    fn fault(&self, fault: Node<'_, '_>) -> AdapterError {
        let info = child(fault, "detail").and_then(|d| d.children().find(Node::is_element));
        let info = info.filter(|i| child(*i, "errorCode").is_some());
        let faultcode = text(fault, "faultcode").unwrap_or("").trim();
        let (code, message) = match info {
            Some(info) => (
                text(info, "errorCode").unwrap_or("").to_string(),
                error_info_text(info),
            ),
            None => (
                faultcode.to_string(),
                text(fault, "faultstring").unwrap_or("").to_string(),
            ),
        };
        let (prefix, _) = faultcode.split_once(':').unwrap_or(("", faultcode));
        let security = child(fault, "faultcode")
            .and_then(|n| n.lookup_namespace_uri((!prefix.is_empty()).then_some(prefix)))
            == Some(wsse::WSSE_NS);
        if security {
            return AdapterError::Registry {
                registry: self.registry.clone(),
                kind: Refusal::Credentials,
                code: faultcode.to_string(),
                message,
            };
        }
        AdapterError::Unavailable {
            registry: self.registry.clone(),
            reason: format!("SOAP Fault {code}: {message}"),
        }
    }

    /// The envelope settings this client was built with.
    pub fn wire(&self) -> &Wire {
        &self.endpoint.wire
    }
}

/// An `ErrorInfo` as one line: message, data, date, session and each sub-error in turn.
fn error_info_text(info: Node<'_, '_>) -> String {
    let mut out = text(info, "errorMessage").unwrap_or("").to_string();
    if let Some(d) = text(info, "errorData").filter(|d| !d.is_empty()) {
        out.push_str(&format!(" ({d})"));
    }
    if let Some(d) = text(info, "errorDate") {
        out.push_str(&format!(" at {d}"));
    }
    if let Some(s) = text(info, "sessionId") {
        out.push_str(&format!(", session {s}"));
    }
    if let Some(sub) = child(info, "subError") {
        out.push_str(&format!(
            "; caused by {}: {}",
            text(sub, "errorCode").unwrap_or(""),
            error_info_text(sub)
        ));
    }
    out
}

/// A failed path check, for an operator.
fn chain_reason(e: &kopir_trust::ChainError) -> String {
    match e {
        kopir_trust::ChainError::Path(p) => {
            format!("does not validate against the trust roots ({p:?})")
        }
        kopir_trust::ChainError::Certificate(c) => format!("unreadable ({c})"),
        kopir_trust::ChainError::Revocation(r) => format!("revocation status unknown ({r})"),
        kopir_trust::ChainError::NotForSigning => "its key usage does not allow signing".into(),
        kopir_trust::ChainError::NotForClients => "not issued for this purpose".into(),
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

/// A child element's text, empty when it is absent.
pub fn string(node: Node<'_, '_>, name: &str) -> String {
    text(node, name).unwrap_or("").to_string()
}

/// A child `xs:boolean`: true for `true` or `1`.
pub fn flag(node: Node<'_, '_>, name: &str) -> bool {
    matches!(text(node, name), Some("true" | "1"))
}

/// An optional `xs:date` child (a zone after the date is read and dropped); absent or empty is
/// `None`.
pub fn opt_date(node: Node<'_, '_>, name: &str) -> Result<Option<chrono::NaiveDate>, String> {
    match text(node, name) {
        None | Some("") => Ok(None),
        Some(s) => kopir_core::time::parse_xs_date(s)
            .map(Some)
            .ok_or_else(|| format!("<{name}> {s:?} is not an xs:date")),
    }
}

/// A required `xs:date` child.
pub fn date(node: Node<'_, '_>, name: &str) -> Result<chrono::NaiveDate, String> {
    opt_date(node, name)?.ok_or_else(|| format!("<{}> lacks <{name}>", node.tag_name().name()))
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

    #[test]
    fn payload_result_codes_map_to_what_the_caller_can_do() {
        let codes = ResultCodes {
            found: vec!["00000".into()],
            not_found: vec!["00001".into()],
            invalid: vec!["00002".into()],
            consent_refused: vec!["00003".into()],
        };
        let judge = |code| codes.judge("persons", "IIN", code, "why");
        assert_eq!(judge("00000"), Ok(()));
        assert!(matches!(judge("00001"), Err(AdapterError::NotFound { .. })));
        assert!(
            matches!(judge("00003"), Err(AdapterError::ConsentRefused { reason, .. }) if reason == "why (00003)")
        );
        assert!(matches!(
            judge("00002"),
            Err(AdapterError::Registry {
                kind: Refusal::Invalid,
                ..
            })
        ));
        assert!(matches!(
            judge("99999"),
            Err(AdapterError::Registry {
                kind: Refusal::Failure,
                ..
            })
        ));
    }

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
                wire: Wire {
                    not_found_codes: vec!["NOTF001".into()],
                    ..Wire::default()
                },
            },
        )
        .unwrap()
    }

    fn reply_dated(code: &str, data: &str, date: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><t:SendMessageResponse xmlns:t="{TYPES_NS}"><response><responseInfo><messageId>m</messageId><responseDate>{date}</responseDate><status><code>{code}</code><message>msg</message></status></responseInfo><responseData>{data}</responseData></response></t:SendMessageResponse></s:Body></s:Envelope>"#
        )
    }

    fn reply(code: &str, data: &str) -> String {
        reply_dated(
            code,
            &format!("<data>{data}</data>"),
            "2026-01-02T03:04:05Z",
        )
    }

    fn iin_of(n: Node<'_, '_>) -> Result<String, String> {
        required(n, "iin").map(str::to_string)
    }

    async fn parsed(c: &SyncChannelClient, body: &str) -> Result<Fetched<String>, AdapterError> {
        c.read_reply(body, |p| p.root(iin_of)).await
    }

    #[tokio::test]
    async fn success_reply_is_parsed_whatever_the_prefixes() {
        let got = parsed(
            &client(),
            &reply("SCSS001", "<person><iin>1</iin></person>"),
        )
        .await
        .unwrap();
        assert_eq!(got.record, "1");
        assert_eq!(got.registry_time.to_rfc3339(), "2026-01-02T03:04:05+00:00");
        // "Success" is a success code too.
        assert!(parsed(
            &client(),
            &reply("Success", "<person><iin>1</iin></person>")
        )
        .await
        .is_ok());
    }

    #[tokio::test]
    async fn string_data_and_unzoned_dates_are_read() {
        let data = format!(
            r#"<data xmlns:xsi="{XSI_NS}" xmlns:xsd="{XS_NS}" xsi:type="xsd:string">&lt;person&gt;&lt;iin&gt;7&lt;/iin&gt;&lt;/person&gt;</data>"#
        );
        let got = parsed(
            &client(),
            &reply_dated("SCSS001", &data, "2026-01-02T08:04:05.123"),
        )
        .await
        .unwrap();
        assert_eq!(got.record, "7");
        // No zone: Kazakhstan's UTC+05:00.
        assert_eq!(
            got.registry_time.to_rfc3339(),
            "2026-01-02T03:04:05.123+00:00"
        );
    }

    #[tokio::test]
    async fn status_codes_map_to_typed_errors() {
        let c = client();
        assert!(matches!(
            parsed(&c, &reply("NOTF001", "")).await,
            Err(AdapterError::NotFound { .. })
        ));
        assert!(matches!(
            parsed(&c, &reply("SRVC001", "")).await,
            Err(AdapterError::Registry { code, .. }) if code == "SRVC001"
        ));
        assert!(matches!(
            parsed(&c, &reply("SCSS001", "")).await,
            Err(AdapterError::Malformed { .. })
        ));
        assert!(matches!(
            parsed(&c, "<html>oops").await,
            Err(AdapterError::Malformed { .. })
        ));
        let fault = format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault></s:Body></s:Envelope>"#
        );
        assert!(matches!(
            parsed(&c, &fault).await,
            Err(AdapterError::Unavailable { reason, .. }) if reason == "SOAP Fault s:Client: bad"
        ));
    }

    #[tokio::test]
    async fn a_fault_error_info_is_read_with_its_sub_error() {
        let fault = format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>x</faultstring><detail><t:SendMessageFault1_SendMessageFault xmlns:t="{TYPES_NS}"><errorCode>E1</errorCode><errorMessage>outer</errorMessage><errorData>more</errorData><errorDate>2026-01-02T03:04:05</errorDate><subError><errorCode>E2</errorCode><errorMessage>inner</errorMessage><errorDate>2026-01-02T03:04:05</errorDate></subError><sessionId>{{0f8fad5b-d9cb-469f-a165-70867728950e}}</sessionId></t:SendMessageFault1_SendMessageFault></detail></s:Fault></s:Body></s:Envelope>"#
        );
        let err = parsed(&client(), &fault).await.unwrap_err();
        let AdapterError::Unavailable {
            reason: message, ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert!(
            message.starts_with("SOAP Fault E1: outer (more) at 2026-01-02T03:04:05"),
            "{message}"
        );
        assert!(message.contains("session {0f8fad5b"), "{message}");
        assert!(
            message.ends_with("caused by E2: inner at 2026-01-02T03:04:05"),
            "{message}"
        );
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

    #[tokio::test]
    async fn an_unsigned_reply_passes_only_where_the_policy_lets_it() {
        let trust = Arc::new(Trust::new(&kopir_trust::config::TrustConfig::default()).unwrap());
        let with = |verify| {
            let mut c = client();
            c.endpoint.wire.security = Some(Arc::new(MessageSecurity {
                signer: None,
                verify,
                trust: trust.clone(),
                intermediates: Vec::new(),
                lifetime: Duration::from_secs(300),
                skew: Duration::from_secs(60),
            }));
            c
        };
        let body = reply("SCSS001", "<person><iin>1</iin></person>");
        assert!(parsed(&with(VerifyPolicy::IfPresent), &body).await.is_ok());
        assert!(parsed(&with(VerifyPolicy::Off), &body).await.is_ok());
        let err = parsed(&with(VerifyPolicy::Require), &body)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdapterError::Untrusted { reason, .. } if reason.contains("no wsse:Security header")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_ws_security_fault_is_a_refusal_of_the_gateway_for_operators() {
        let fault = format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault xmlns:wsse="{}"><faultcode>wsse:FailedCheck</faultcode><faultstring>bad signature</faultstring></s:Fault></s:Body></s:Envelope>"#,
            wsse::WSSE_NS
        );
        assert!(matches!(
            parsed(&client(), &fault).await,
            Err(AdapterError::Registry { kind: Refusal::Credentials, code, .. }) if code == "wsse:FailedCheck"
        ));
    }

    #[test]
    fn envelope_escapes_and_debug_hides_password() {
        let c = client();
        let env = c
            .envelope("GBDFL<x>", Data::Element("<iin>1</iin>"), "a&b")
            .unwrap();
        assert!(env.contains("<serviceId>GBDFL&lt;x&gt;</serviceId>"));
        assert!(env.contains("<correlationId>a&amp;b</correlationId>"));
        assert!(Document::parse(&env).is_ok());
        assert!(!format!("{c:?}").contains("s3cret"));
        let text = c.envelope("S", Data::Text("a < b"), "c").unwrap();
        assert!(
            text.contains(r#"xsi:type="xs:string">a &lt; b</data>"#),
            "{text}"
        );
    }
}
