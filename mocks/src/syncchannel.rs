//! A SyncChannel SOAP endpoint serving one state database from the synthetic population.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use kopir_core::identifiers::{Bin, Iin};
use quick_xml::escape::escape;
use roxmltree::{Document, Node};

use crate::faults::Outcome;
use crate::registry::{RegistryKind, RegistryState};
use crate::xml;

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Types";

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

pub(crate) fn fault(code: &str, message: &str) -> Response {
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{}</faultstring></soap:Fault></soap:Body></soap:Envelope>"#,
            escape(message)
        ),
    )
}

pub(crate) fn reply(
    message_id: &str,
    correlation_id: &str,
    code: &str,
    message: &str,
    data: &str,
) -> Response {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    xml_response(
        StatusCode::OK,
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{soap}"><soap:Body>"#,
                r#"<ns2:SendMessageResponse xmlns:ns2="{types}"><response><responseInfo>"#,
                "<messageId>{mid}</messageId><correlationId>{cid}</correlationId>",
                "<responseDate>{now}</responseDate><status><code>{code}</code><message>{msg}</message></status>",
                "</responseInfo><responseData><data>{data}</data></responseData></response>",
                "</ns2:SendMessageResponse></soap:Body></soap:Envelope>"
            ),
            soap = SOAP_NS,
            types = TYPES_NS,
            mid = escape(message_id),
            cid = escape(correlation_id),
            now = now,
            code = code,
            msg = escape(message),
            data = data,
        ),
    )
}

/// `POST /SyncChannel`: one SendMessage.
pub async fn send_message(State(state): State<Arc<RegistryState>>, body: String) -> Response {
    state.calls.fetch_add(1, Ordering::Relaxed);
    let (latency, outcome) = state.faults.draw();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match outcome {
        Outcome::Answer => {}
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
        Outcome::Error => {}
    }
    let Ok(doc) = Document::parse(&body) else {
        return fault("Client", "request is not well-formed XML");
    };
    let root = doc.root_element();
    let Some(info) = find(root, "requestInfo") else {
        return fault("Client", "SendMessage lacks requestInfo");
    };
    let message_id = text(info, "messageId");
    let correlation_id = text(info, "correlationId");
    let service_id = text(info, "serviceId");
    if text(info, "senderId") != state.sender_id || text(info, "password") != state.sender_password
    {
        return reply(
            message_id,
            correlation_id,
            "AUTH001",
            "sender is not authorised",
            "",
        );
    }
    let Some(data) = find(root, "requestData").and_then(|r| find(r, "data")) else {
        return reply(
            message_id,
            correlation_id,
            "VLDT001",
            "requestData/data is missing",
            "",
        );
    };
    if outcome == Outcome::Error {
        return reply(
            message_id,
            correlation_id,
            "SRVC001",
            "registry internal failure",
            "",
        );
    }
    let pop = &state.population;
    let (code, message, payload) = match (state.kind, service_id) {
        (RegistryKind::Persons, "GBDFL_PERSON_BY_IIN") => match Iin::parse(text(data, "iin")) {
            Err(e) => ("VLDT001", format!("iin: {e}"), String::new()),
            Ok(iin) => match pop.persons.get(iin.as_str()) {
                Some(p) => ("SCSS001", "OK".to_string(), xml::person(p)),
                None => (
                    "NOTF001",
                    "no person with this IIN".to_string(),
                    String::new(),
                ),
            },
        },
        (RegistryKind::Persons, "GBDFL_RELATIVES") => match Iin::parse(text(data, "iin")) {
            Err(e) => ("VLDT001", format!("iin: {e}"), String::new()),
            Ok(iin) => match pop.persons.get(iin.as_str()) {
                Some(_) => (
                    "SCSS001",
                    "OK".to_string(),
                    xml::relatives(pop.relatives.get(iin.as_str()).map_or(&[][..], |v| v)),
                ),
                None => (
                    "NOTF001",
                    "no person with this IIN".to_string(),
                    String::new(),
                ),
            },
        },
        (RegistryKind::LegalEntities, "GBDUL_ENTITY_BY_BIN") => {
            match Bin::parse(text(data, "bin")) {
                Err(e) => ("VLDT001", format!("bin: {e}"), String::new()),
                Ok(bin) => match pop.entities.get(bin.as_str()) {
                    Some(e) => ("SCSS001", "OK".to_string(), xml::legal_entity(e)),
                    None => (
                        "NOTF001",
                        "no entity with this BIN".to_string(),
                        String::new(),
                    ),
                },
            }
        }
        (_, other) => (
            "VLDT001",
            format!("unknown serviceId {other:?}"),
            String::new(),
        ),
    };
    reply(message_id, correlation_id, code, &message, &payload)
}

/// `GET /SyncChannel?wsdl`: the service description, used by monitoring as a liveness check.
pub async fn wsdl() -> Response {
    xml_response(
        StatusCode::OK,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" targetNamespace="{TYPES_NS}" name="SyncChannel"><service name="SyncChannel"><port name="SyncChannelPort" binding="SyncChannelBinding"><soap:address location="/SyncChannel"/></port></service></definitions>"#
        ),
    )
}
