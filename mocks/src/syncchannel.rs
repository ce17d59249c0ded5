//! A SyncChannel v10 provider serving one state database from the synthetic population, as
//! strict as the real provider side: with WS-Security installed it refuses an unsigned or badly
//! signed request with a SOAP Fault carrying `ErrorInfo`, and signs its replies. It serves the
//! WSDL and XSD set (`?wsdl`, `?xsd=NAME`) written by the project from the published element
//! lists, from which a SOAP toolkit generates a client.
//!
//! Status codes: `SCSS001` the message processed (a missing record is the payload's own result);
//! `AUTH001` (sender refused), `VLDT001` (request invalid) and `SRVC001` (registry failure) are
//! this mock's own convention, which no public source documents.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kopir_core::identifiers::{Bin, Iin};
use quick_xml::escape::escape;
use roxmltree::{Document, Node};

use crate::faults::Outcome;
use crate::registry::{RegistryKind, RegistryState};
use crate::wsse::ProviderSecurity;
use crate::xml;

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Types";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// The WSDL and XSD files the mock serves, by name.
pub const SCHEMAS: &[(&str, &str)] = &[
    ("SyncChannel.wsdl", include_str!("../wsdl/SyncChannel.wsdl")),
    (
        "SyncChannel-v10-Types.xsd",
        include_str!("../wsdl/SyncChannel-v10-Types.xsd"),
    ),
    (
        "SyncChannel-v10-Request.xsd",
        include_str!("../wsdl/SyncChannel-v10-Request.xsd"),
    ),
    (
        "SyncChannel-v10-Response.xsd",
        include_str!("../wsdl/SyncChannel-v10-Response.xsd"),
    ),
    ("common-v10.xsd", include_str!("../wsdl/common-v10.xsd")),
];

pub(crate) fn find<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.descendants()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

pub(crate) fn text<'a>(n: Node<'a, '_>, name: &str) -> &'a str {
    find(n, name).and_then(|c| c.text()).unwrap_or("")
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A SOAP Fault whose detail is an `ErrorInfo` (`errorCode`, `errorMessage`, `errorDate`);
/// `faultcode` is `soap:Client` or `soap:Server`, or a WS-Security fault code (`wsse:…`).
pub(crate) fn fault(code: &str, message: &str) -> Response {
    let (faultcode, error_code, declare) = match code.strip_prefix("wsse:") {
        Some(local) => (
            code.to_string(),
            local,
            format!(" xmlns:wsse=\"{}\"", kopir_xmlsec::wsse::WSSE_NS),
        ),
        None => (format!("soap:{code}"), code, String::new()),
    };
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{soap}"><soap:Body>"#,
                r#"<soap:Fault{declare}><faultcode>{faultcode}</faultcode><faultstring>{message}</faultstring><detail>"#,
                r#"<ns2:SendMessageFault1_SendMessageFault xmlns:ns2="{types}"><errorCode>{error_code}</errorCode>"#,
                "<errorMessage>{message}</errorMessage><errorDate>{now}</errorDate>",
                "</ns2:SendMessageFault1_SendMessageFault></detail></soap:Fault></soap:Body></soap:Envelope>"
            ),
            soap = SOAP_NS,
            declare = declare,
            faultcode = faultcode,
            types = TYPES_NS,
            error_code = escape(error_code),
            message = escape(message),
            now = kopir_core::time::rfc3339(Utc::now()),
        ),
    )
}

/// `<data>`'s content in a reply: element content, text sent as `xs:string`, or the whole
/// `<data>` element (signed enveloped as a document of its own).
pub(crate) enum Data<'a> {
    Element(&'a str),
    Text(&'a str),
    Whole(&'a str),
}

/// How a reply is signed.
#[derive(Clone, Copy)]
pub(crate) struct Signing<'a> {
    pub security: Option<&'a ProviderSecurity>,
    pub outcome: Outcome,
}

impl Signing<'_> {
    /// No WS-Security (the generic registry's SyncChannel endpoint).
    pub const NONE: Signing<'static> = Signing {
        security: None,
        outcome: Outcome::Answer,
    };
}

/// A `SendMessageResponse` with the provider's own message id.
pub(crate) fn reply(
    signing: Signing<'_>,
    correlation_id: &str,
    code: &str,
    message: &str,
    data: Data<'_>,
) -> Response {
    let data = match data {
        Data::Element(xml) => format!("<data>{xml}</data>"),
        Data::Whole(xml) => xml.to_string(),
        Data::Text(t) => format!(
            r#"<data xmlns:xsi="{XSI_NS}" xmlns:xs="{XS_NS}" xsi:type="xs:string">{}</data>"#,
            escape(t)
        ),
    };
    let body = format!(
        concat!(
            r#"<ns2:SendMessageResponse xmlns:ns2="{types}"><response><responseInfo>"#,
            "<messageId>{mid}</messageId><correlationId>{cid}</correlationId>",
            "<responseDate>{now}</responseDate><status><code>{code}</code><message>{msg}</message></status>",
            "</responseInfo><responseData>{data}</responseData></response>",
            "</ns2:SendMessageResponse>"
        ),
        types = TYPES_NS,
        mid = uuid::Uuid::new_v4(),
        cid = escape(correlation_id),
        now = kopir_core::time::rfc3339(Utc::now()),
        code = code,
        msg = escape(message),
        data = data,
    );
    let envelope = match signing.security {
        Some(security) if signing.outcome != Outcome::Unsigned => match security.sign(&body) {
            Ok(signed) if signing.outcome == Outcome::BadSignature => {
                // Changed after signing: the Body's digest no longer matches.
                signed.replacen("<responseInfo>", "<responseInfo> ", 1)
            }
            Ok(signed) => signed,
            Err(e) => return fault("Server", &format!("the registry cannot sign: {e}")),
        },
        _ => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>{body}</soap:Body></soap:Envelope>"#
        ),
    };
    xml_response(StatusCode::OK, envelope)
}

/// Whether `data` is an `xs:string`.
pub(crate) fn is_string(data: Node<'_, '_>) -> bool {
    data.attribute((XSI_NS, "type")).is_some_and(|t| {
        let (p, local) = t.split_once(':').unwrap_or(("", t));
        local == "string" && data.lookup_namespace_uri((!p.is_empty()).then_some(p)) == Some(XS_NS)
    })
}

/// `POST /SyncChannel`: one SendMessage.
pub async fn send_message(
    State(state): State<Arc<RegistryState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    state.calls.fetch_add(1, Ordering::Relaxed);
    let (latency, outcome) = state.faults.draw();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match outcome {
        Outcome::Hang => {
            // Accepted and never answered, until the registry stops.
            let mut stopping = state.stopping.subscribe();
            stopping.wait_for(|s| *s).await.ok();
            return fault("Server", "registry stopped");
        }
        Outcome::Reset => {
            // Headers and a first chunk go out, then the stream fails: the server drops the
            // connection in the middle of the reply.
            let chunks: [Result<Bytes, std::io::Error>; 2] = [
                Ok(Bytes::from_static(
                    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope",
                )),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )),
            ];
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response();
        }
        Outcome::Malformed => {
            return xml_response(
                StatusCode::OK,
                "<soap:Envelope><soap:Body><ns2:SendMess".into(),
            );
        }
        _ => {}
    }
    // The binding's soapAction is "": a client sending another action is refused.
    if let Some(action) = headers.get("soapaction") {
        if action.as_bytes() != b"\"\"" && !action.is_empty() {
            return fault(
                "Client",
                "SOAPAction must be \"\" (the binding's soapAction)",
            );
        }
    }
    let Ok(doc) = Document::parse(&body) else {
        return fault("Client", "request is not well-formed XML");
    };
    let security = state.security();
    if let Some(security) = &security {
        if let Err((code, message)) = security.check(&doc).await {
            return fault(&code, &message);
        }
    }
    let signing = Signing {
        security: security.as_deref(),
        outcome,
    };
    let root = doc.root_element();
    let Some(info) = find(root, "requestInfo") else {
        return fault("Client", "SendMessage lacks requestInfo");
    };
    let correlation_id = text(info, "correlationId");
    let service_id = text(info, "serviceId");
    let refuse = |code: &str, message: &str| {
        reply(signing, correlation_id, code, message, Data::Element(""))
    };
    if text(info, "senderId") != state.sender_id || text(info, "password") != state.sender_password
    {
        return refuse("AUTH001", "sender is not authorised");
    }
    let Some(data) = find(root, "requestData").and_then(|r| find(r, "data")) else {
        return refuse("VLDT001", "requestData/data is missing");
    };
    if outcome == Outcome::Error {
        return refuse("SRVC001", "registry internal failure");
    }
    // A request's data may come as escaped XML in an xs:string.
    let inner;
    let is_string = is_string(data);
    let data_text = data.text().unwrap_or("");
    let data = if is_string {
        inner = match Document::parse(data_text) {
            Ok(d) => d,
            Err(_) => return refuse("VLDT001", "xs:string data is not XML"),
        };
        inner.root()
    } else {
        data
    };
    let pop = &state.population;
    match (state.kind, service_id) {
        (RegistryKind::Persons, GBDFL_SEARCH) => {
            let found = search(pop, data)
                .map_err(Refused::Criteria)
                .and_then(|found| {
                    // A person's data opens only with a consent token for that person, held by the key
                    // that presents it (the search by name or document: for the persons it found).
                    match state.consent_tokens() {
                        Some(tokens) => found
                            .iter()
                            .find_map(|p| {
                                tokens.refusal(
                                    text(data, "kdpToken"),
                                    text(data, "publicKey"),
                                    &p.iin,
                                    find(data, "iin").is_some(),
                                )
                            })
                            .map_or(Ok(found), |why| Err(Refused::Token(why))),
                        None => Ok(found),
                    }
                });
            let (request_id, receiver) = (text(data, "messageId"), text(data, "senderCode"));
            let payload = match &found {
                Ok(persons) if persons.is_empty() => {
                    xml::gbdfl_search(request_id, receiver, NOT_FOUND, &[])
                }
                Ok(persons) => xml::gbdfl_search(request_id, receiver, FOUND, persons),
                Err(Refused::Criteria(why)) => {
                    xml::gbdfl_search(request_id, receiver, (INVALID.0, why, why), &[])
                }
                Err(Refused::Token(why)) => {
                    xml::gbdfl_search(request_id, receiver, (TOKEN_REFUSED.0, why, why), &[])
                }
            };
            signed_data(signing, correlation_id, security.as_deref(), &payload)
        }
        (RegistryKind::Persons, GBDFL_FAMILY_LINKS) => {
            let (request_id, receiver) = (text(data, "messageId"), text(data, "senderCode"));
            let payload = match Iin::parse(text(data, "iin")) {
                Err(e) => {
                    let why = format!("iin: {e}");
                    xml::gbdfl_links(request_id, receiver, (INVALID.0, &why, &why), &[])
                }
                Ok(iin) if !pop.persons.contains_key(iin.as_str()) => {
                    xml::gbdfl_links(request_id, receiver, NOT_FOUND, &[])
                }
                Ok(iin) => xml::gbdfl_links(
                    request_id,
                    receiver,
                    FOUND,
                    pop.relatives.get(iin.as_str()).map_or(&[][..], |v| v),
                ),
            };
            signed_data(signing, correlation_id, security.as_deref(), &payload)
        }
        (RegistryKind::LegalEntities, GBDUL_INFO_BY_BIN) => {
            let outcome = match (&security, is_string) {
                (_, false) => {
                    Err("the request must be an xs:string holding the signed Request".to_string())
                }
                (Some(security), true) => security.check_enveloped(data_text).await,
                (None, true) => Ok(()),
            };
            let response = match outcome
                .and_then(|()| Bin::parse(text(data, "BIN")).map_err(|e| format!("BIN: {e}")))
            {
                Err(why) => xml::gbdul_response(("004", &why, &why), None),
                Ok(bin) => match pop.entities.get(bin.as_str()) {
                    Some(e) => xml::gbdul_response(GBDUL_FOUND, Some(e)),
                    None => xml::gbdul_response(GBDUL_NOT_FOUND, None),
                },
            };
            let signed = match &security {
                Some(security) => match security.sign_enveloped(&response) {
                    Ok(signed) => signed,
                    Err(e) => return fault("Server", &format!("the registry cannot sign: {e}")),
                },
                None => response,
            };
            reply(
                signing,
                correlation_id,
                "SCSS001",
                "OK",
                Data::Text(&signed),
            )
        }
        (_, other) => refuse("VLDT001", &format!("unknown serviceId {other:?}")),
    }
}

/// A reply whose `<data>` holds `children`, signed enveloped as a document of its own when the
/// registry signs (its signature `<data>`'s last child).
fn signed_data(
    signing: Signing<'_>,
    correlation_id: &str,
    security: Option<&ProviderSecurity>,
    children: &str,
) -> Response {
    let data = format!("<data>{children}</data>");
    match security {
        Some(security) => match security.sign_enveloped(&data) {
            Ok(signed) => reply(
                signing,
                correlation_id,
                "SCSS001",
                "OK",
                Data::Whole(&signed),
            ),
            Err(e) => fault("Server", &format!("the registry cannot sign: {e}")),
        },
        None => reply(signing, correlation_id, "SCSS001", "OK", Data::Whole(&data)),
    }
}

/// The persons database's search service (published).
pub const GBDFL_SEARCH: &str = "GBDFLUniversal_token";
/// The family-links service (the mock's own: nothing public names one).
pub const GBDFL_FAMILY_LINKS: &str = "GBDFL_FAMILY_LINKS";
/// The legal-entities database's «info by BIN v2» service (published).
pub const GBDUL_INFO_BY_BIN: &str = "GbdulInfoByBin_v2";

const FOUND: xml::Result3<'static> = ("00000", "Запрос обработан успешно", "Сұрау сәтті өңделді");
const NOT_FOUND: xml::Result3<'static> = (
    "00001",
    "Физическое лицо не найдено",
    "Жеке тұлға табылмады",
);
const INVALID: xml::Result3<'static> =
    ("00002", "Неверные критерии поиска", "Іздеу өлшемдері қате");
const TOKEN_REFUSED: xml::Result3<'static> = (
    "00003",
    "Токен КДП отсутствует или недействителен",
    "ДҚБ токені жоқ немесе жарамсыз",
);
const GBDUL_FOUND: xml::Result3<'static> =
    ("002", "Запрос обработан успешно", "Сұрау сәтті өңделді");
const GBDUL_NOT_FOUND: xml::Result3<'static> =
    ("003", "Сведения не найдены", "Мәліметтер табылмады");

/// Why a search is not answered.
enum Refused {
    /// The criteria break the registry's rules.
    Criteria(String),
    /// The consent token does not open a found person's data.
    Token(String),
}

/// The persons one search criterion matches, as the registry's rules say: by IIN; by name and
/// birth date (the date and a surname or a given name required, an absent part matching persons
/// without it); by an identity document's number.
fn search<'p>(
    pop: &'p crate::population::Population,
    data: Node<'_, '_>,
) -> Result<Vec<&'p kopir_core::model::Person>, String> {
    let given = |name: &str| find(data, name).map(|n| n.text().unwrap_or(""));
    if let Some(iin) = given("iin") {
        let iin = Iin::parse(iin).map_err(|e| format!("iin: {e}"))?;
        return Ok(pop.persons.get(iin.as_str()).into_iter().collect());
    }
    if let Some(number) = given("documentNumber") {
        return Ok(pop
            .persons
            .values()
            .filter(|p| {
                p.details
                    .documents
                    .iter()
                    .any(|d| d.number == number && xml::is_identity_document(&d.kind))
            })
            .collect());
    }
    let Some(birth) = given("birthDate") else {
        return Err("no search criterion: iin, documentNumber, or a name with birthDate".into());
    };
    let birth = kopir_core::time::parse_xs_date(birth).ok_or("birthDate is not an xs:date")?;
    let (surname, name, patronymic) = (
        given("surname").unwrap_or(""),
        given("name").unwrap_or(""),
        given("patronymic").unwrap_or(""),
    );
    if surname.is_empty() && name.is_empty() {
        return Err("a search by name needs a surname or a given name".into());
    }
    Ok(pop
        .persons
        .values()
        .filter(|p| {
            p.birth_date == birth
                && p.surname == surname
                && p.given_name == name
                && p.patronymic == patronymic
        })
        .collect())
}

/// `GET /SyncChannel?wsdl` (the service description, also the liveness check monitoring uses)
/// and `GET /SyncChannel?xsd=NAME` (the schemas it imports), written with this server's address.
pub async fn wsdl(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let name = match query.get("xsd") {
        Some(name) => name.as_str(),
        None => "SyncChannel.wsdl",
    };
    let Some((_, text)) = SCHEMAS.iter().find(|(n, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, format!("no schema {name:?}")).into_response();
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    // The files import each other by plain names (as on disk); over HTTP they are `?xsd=NAME`.
    let mut served = text.to_string();
    for (file, _) in SCHEMAS {
        served = served.replace(
            &format!("schemaLocation=\"{file}\""),
            &format!("schemaLocation=\"SyncChannel?xsd={file}\""),
        );
    }
    served = served.replace(
        "location=\"http://localhost/SyncChannel\"",
        &format!("location=\"http://{}/SyncChannel\"", escape(host)),
    );
    xml_response(StatusCode::OK, served)
}
