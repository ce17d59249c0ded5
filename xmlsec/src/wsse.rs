//! WS-Security (OASIS WSS 1.0, X.509 token profile) on SOAP 1.1 envelopes, as the
//! e-government gateway's clients and providers use it: a `wsse:Security` header holding the
//! signer's certificate as a `BinarySecurityToken`, a `wsu:Timestamp`, and a `ds:Signature`
//! (exclusive C14N) over the `soap:Body` and the timestamp, each referenced by `wsu:Id`.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use roxmltree::{Document, Node, NodeId};

use crate::c14n::{self, Method};
use crate::dsig::{self, Reference, SignatureElement, XmlSigner, DS_NS};
use crate::error::XmlSecError;

/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// WS-Security extension namespace.
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility namespace (`wsu:Id`, `wsu:Timestamp`).
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// `ValueType` of an X.509 v3 token.
pub const X509_V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
/// `EncodingType` of a base64 token.
pub const BASE64_BINARY: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A SOAP 1.1 envelope around `body` (the `soap:Body`'s content, an XML fragment that declares
/// its own namespaces), signed by `signer` with a timestamp valid for `lifetime` from `now`.
pub fn sign_envelope(
    body: &str,
    signer: &dyn XmlSigner,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<String, XmlSecError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (body_id, ts_id, token_id) = (
        format!("id-{suffix}"),
        format!("TS-{suffix}"),
        format!("X509-{suffix}"),
    );
    let expires = now
        + chrono::Duration::from_std(lifetime)
            .map_err(|_| XmlSecError::Signer("timestamp lifetime out of range".into()))?;
    let head = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{soap}"><soap:Header>"#,
            r#"<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}" soap:mustUnderstand="1">"#,
            r#"<wsse:BinarySecurityToken EncodingType="{enc}" ValueType="{vt}" wsu:Id="{tid}">{cert}</wsse:BinarySecurityToken>"#
        ),
        soap = SOAP_NS,
        wsse = WSSE_NS,
        wsu = WSU_NS,
        enc = BASE64_BINARY,
        vt = X509_V3,
        tid = token_id,
        cert = b64.encode(signer.certificate()),
    );
    // Exclusive canonicalization renders only the namespaces an element uses, so each signed
    // element canonicalizes the same standing alone as in the envelope: the timestamp is written
    // in canonical form already, the Body (whose content is the caller's) is parsed on its own.
    let stamp = format!(
        concat!(
            r#"<wsu:Timestamp xmlns:wsu="{wsu}" wsu:Id="{ts}"><wsu:Created>{created}</wsu:Created>"#,
            "<wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>"
        ),
        wsu = WSU_NS,
        ts = ts_id,
        created = timestamp(now),
        expires = timestamp(expires),
    );
    let body_element = format!(
        r#"<soap:Body xmlns:soap="{SOAP_NS}" xmlns:wsu="{WSU_NS}" wsu:Id="{body_id}">{body}</soap:Body>"#
    );
    let body_doc = Document::parse(&body_element)
        .map_err(|e| XmlSecError::Malformed(format!("the body is not well-formed XML: {e}")))?;
    let body_c14n = c14n::canonicalize(body_doc.root_element(), None, &Method::exclusive())?;
    // SignedInfo as written is canonical (one attribute per element, start-end pairs, no text
    // to escape), so its bytes are signed as they are.
    let signed_info = dsig::signed_info(
        signer,
        &[
            Reference {
                uri: &format!("#{body_id}"),
                transforms: &[c14n::EXC_C14N],
                canonical: &body_c14n,
            },
            Reference {
                uri: &format!("#{ts_id}"),
                transforms: &[c14n::EXC_C14N],
                canonical: stamp.as_bytes(),
            },
        ],
    );
    let value = b64.encode(signer.sign(signed_info.as_bytes())?);
    let tail = format!(
        r#"</wsse:Security></soap:Header><soap:Body xmlns:wsu="{WSU_NS}" wsu:Id="{body_id}">{body}</soap:Body></soap:Envelope>"#
    );
    Ok(format!(
        concat!(
            "{head}",
            r#"<ds:Signature xmlns:ds="{ds}" Id="SIG-{suffix}">{si}<ds:SignatureValue>{value}</ds:SignatureValue>"#,
            r##"<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#{tid}" ValueType="{vt}"/></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>"##,
            "{stamp}{tail}"
        ),
        head = head,
        ds = DS_NS,
        suffix = suffix,
        si = signed_info,
        value = value,
        tid = token_id,
        vt = X509_V3,
        stamp = stamp,
        tail = tail,
    ))
}

/// What a verified envelope's signature says.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signer's certificate (DER), for the caller to validate its path.
    pub certificate: Vec<u8>,
    /// The signed timestamp's creation time.
    pub created: DateTime<Utc>,
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
    })
}

fn id_of<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.attribute((WSU_NS, "Id"))
        .or_else(|| node.attribute("Id"))
        .or_else(|| node.attribute("ID"))
}

fn parse_time(node: Node<'_, '_>, what: &str) -> Result<DateTime<Utc>, XmlSecError> {
    let text = node.text().unwrap_or("").trim();
    kopir_core::time::parse_xs_datetime(text)
        .ok_or_else(|| XmlSecError::Timestamp(format!("{what} {text:?} is not an xs:dateTime")))
}

/// Verifies `doc`'s WS-Security signature at `now` (allowing `skew` either way): the signature
/// value under the `BinarySecurityToken`'s key, every reference's digest, the real
/// `soap:Body` (the envelope's own child) and the `wsu:Timestamp` among what it covers, the
/// timestamp current. Ids must be unique, so a wrapped copy of the Body cannot stand in for it.
pub fn verify_envelope(
    doc: &Document<'_>,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<Verified, XmlSecError> {
    let envelope = doc.root_element();
    if envelope.tag_name().namespace() != Some(SOAP_NS) || envelope.tag_name().name() != "Envelope"
    {
        return Err(XmlSecError::Malformed("not a SOAP 1.1 Envelope".into()));
    }
    let body = child(envelope, SOAP_NS, "Body")
        .ok_or_else(|| XmlSecError::Malformed("the envelope has no Body".into()))?;
    let security = child(envelope, SOAP_NS, "Header")
        .and_then(|h| child(h, WSSE_NS, "Security"))
        .ok_or_else(|| XmlSecError::Unsigned("no wsse:Security header".into()))?;
    let signature = child(security, DS_NS, "Signature").ok_or_else(|| {
        XmlSecError::Unsigned("the wsse:Security header holds no ds:Signature".into())
    })?;
    let mut ids: HashMap<&str, NodeId> = HashMap::new();
    for n in doc.descendants().filter(Node::is_element) {
        if let Some(id) = id_of(n) {
            if ids.insert(id, n.id()).is_some() {
                return Err(XmlSecError::Wrapping(format!(
                    "the id {id:?} is carried by two elements"
                )));
            }
        }
    }
    let resolve = |id: &str| {
        ids.get(id)
            .and_then(|n| doc.get_node(*n))
            .ok_or_else(|| XmlSecError::Malformed(format!("reference #{id} resolves to nothing")))
    };
    let parsed = SignatureElement::parse(signature)?;
    let certificate = token_certificate(&parsed, security, &resolve)?;
    let checked = parsed.check(envelope, &resolve, &certificate)?;
    if !checked.covered.contains(&Some(body.id())) {
        return Err(XmlSecError::Wrapping(
            "the signature does not cover the envelope's soap:Body".into(),
        ));
    }
    let ts = child(security, WSU_NS, "Timestamp")
        .ok_or_else(|| XmlSecError::Timestamp("the header carries no wsu:Timestamp".into()))?;
    if !checked.covered.contains(&Some(ts.id())) {
        return Err(XmlSecError::Wrapping(
            "the signature does not cover the wsu:Timestamp".into(),
        ));
    }
    let created = child(ts, WSU_NS, "Created")
        .ok_or_else(|| XmlSecError::Timestamp("wsu:Timestamp lacks Created".into()))
        .and_then(|n| parse_time(n, "Created"))?;
    let skew = chrono::Duration::from_std(skew).unwrap_or(chrono::Duration::zero());
    if created > now + skew {
        return Err(XmlSecError::Timestamp(format!(
            "created {} is in the future",
            timestamp(created)
        )));
    }
    if let Some(expires) = child(ts, WSU_NS, "Expires") {
        let expires = parse_time(expires, "Expires")?;
        if expires + skew < now {
            return Err(XmlSecError::Timestamp(format!(
                "expired at {}",
                timestamp(expires)
            )));
        }
    }
    Ok(Verified {
        certificate,
        created,
    })
}

/// The certificate the signature's `KeyInfo` names: a `SecurityTokenReference` to a
/// `BinarySecurityToken` of the same header, or an inline `X509Data/X509Certificate`.
fn token_certificate<'a, 'i>(
    signature: &SignatureElement<'a, 'i>,
    security: Node<'a, 'i>,
    resolve: &dyn Fn(&str) -> Result<Node<'a, 'i>, XmlSecError>,
) -> Result<Vec<u8>, XmlSecError> {
    let key_info = signature
        .key_info()
        .ok_or_else(|| XmlSecError::Malformed("the signature has no KeyInfo".into()))?;
    let token = if let Some(reference) = child(key_info, WSSE_NS, "SecurityTokenReference")
        .and_then(|s| child(s, WSSE_NS, "Reference"))
    {
        let uri = reference.attribute("URI").unwrap_or("");
        let id = uri.strip_prefix('#').ok_or_else(|| {
            XmlSecError::Unsupported(format!("token reference {uri:?}: only #id is accepted"))
        })?;
        let node = resolve(id)?;
        if node.parent_element().map(|p| p.id()) != Some(security.id())
            || node.tag_name().namespace() != Some(WSSE_NS)
            || node.tag_name().name() != "BinarySecurityToken"
        {
            return Err(XmlSecError::Malformed(format!(
                "#{id} is not a BinarySecurityToken of this Security header"
            )));
        }
        node
    } else if let Some(cert) =
        child(key_info, DS_NS, "X509Data").and_then(|d| child(d, DS_NS, "X509Certificate"))
    {
        cert
    } else {
        return Err(XmlSecError::Malformed(
            "KeyInfo names no BinarySecurityToken or X509Certificate".into(),
        ));
    };
    dsig::base64_text(token)
}
