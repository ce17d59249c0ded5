//! The enveloped XML signature a registry's payload may carry (the e-government gateway's
//! clients sign `<data>`'s document with `URI=""`, the enveloped-signature transform and C14N,
//! the certificate inline as `X509Data`).

use roxmltree::{Document, Node};

use base64::Engine as _;

use crate::c14n::{self, Method};
use crate::dsig::{self, Reference, SignatureElement, XmlSigner, DS_NS};
use crate::error::XmlSecError;

/// Signs `payload` (a standalone XML document) as the e-government gateway's clients do: a
/// `ds:Signature` appended as the root element's last child, over `URI=""` with the
/// enveloped-signature transform and inclusive C14N, the certificate inline as `X509Data`.
/// Returns the signed document without an XML declaration.
pub fn sign(payload: &str, signer: &dyn XmlSigner) -> Result<String, XmlSecError> {
    let doc = Document::parse(payload)
        .map_err(|e| XmlSecError::Malformed(format!("the payload is not well-formed XML: {e}")))?;
    let root = doc.root_element();
    let method = Method {
        exclusive: false,
        comments: false,
        inclusive_prefixes: Vec::new(),
    };
    let canonical = c14n::canonicalize(root, None, &method)?;
    let signed_info = dsig::signed_info(
        signer,
        &[Reference {
            uri: "",
            transforms: &[dsig::ENVELOPED, c14n::C14N_WITH_COMMENTS],
            canonical: &canonical,
        }],
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = b64.encode(signer.sign(signed_info.as_bytes())?);
    let signature = format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{ds}">{si}<ds:SignatureValue>{value}</ds:SignatureValue>"#,
            "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
        ),
        ds = DS_NS,
        si = signed_info,
        value = value,
        cert = b64.encode(signer.certificate()),
    );
    // Inserted just before the root's end tag, so the document minus the signature is the
    // document as canonicalized above.
    let text = &payload[root.range()];
    let Some(end) = text.rfind("</") else {
        // An empty-element root (`<a/>`): written out with the signature inside.
        let name = &payload[root.range()];
        let open = name.trim_end_matches("/>").trim_end();
        let qname = open
            .trim_start_matches('<')
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        return Ok(format!("{open}>{signature}</{qname}>"));
    };
    Ok(format!("{}{signature}{}", &text[..end], &text[end..]))
}

/// What an enveloped signature check found.
#[derive(Debug, Clone)]
pub enum Enveloped {
    /// The payload carries no signature.
    Absent,
    /// The payload's signature holds; the signer's certificate (DER) for the caller's path check.
    Valid(Vec<u8>),
}

/// The enveloped `ds:Signature` of a payload whose root is `root`, if it carries one.
pub fn signature_of<'a, 'i>(root: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    child(root, "Signature")
}

/// The certificate (DER) an enveloped signature at `root` names in its `X509Data`, read without
/// checking anything.
pub fn named_certificate(root: Node<'_, '_>) -> Option<Vec<u8>> {
    let cert = signature_of(root)
        .and_then(|s| child(s, "KeyInfo"))
        .and_then(|k| child(k, "X509Data"))
        .and_then(|d| child(d, "X509Certificate"))?;
    crate::dsig::base64_text(cert).ok()
}

/// Checks the `ds:Signature` child of `payload`'s root element, the payload being a standalone
/// document (the text of an `xs:string` `<data>`, or the element re-declared on its own).
pub fn verify(payload: &str) -> Result<Enveloped, XmlSecError> {
    let doc = Document::parse(payload)
        .map_err(|e| XmlSecError::Malformed(format!("the payload is not well-formed XML: {e}")))?;
    let root = doc.root_element();
    let Some(signature) = signature_of(root) else {
        return Ok(Enveloped::Absent);
    };
    let parsed = SignatureElement::parse(signature)?;
    let cert = parsed
        .key_info()
        .and_then(|k| child(k, "X509Data"))
        .and_then(|d| child(d, "X509Certificate"))
        .ok_or_else(|| {
            XmlSecError::Malformed("the payload's signature carries no X509Certificate".into())
        })?;
    let der = crate::dsig::base64_text(cert)?;
    let resolve = |id: &str| {
        doc.descendants()
            .find(|n| n.attribute("Id") == Some(id) || n.attribute("ID") == Some(id))
            .ok_or_else(|| XmlSecError::Malformed(format!("reference #{id} resolves to nothing")))
    };
    let checked = parsed.check(root, &resolve, &der)?;
    if !checked
        .covered
        .iter()
        .any(|c| c.is_none() || *c == Some(root.id()))
    {
        return Err(XmlSecError::Wrapping(
            "the payload's signature does not cover the payload".into(),
        ));
    }
    Ok(Enveloped::Valid(der))
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| {
        n.is_element() && n.tag_name().namespace() == Some(DS_NS) && n.tag_name().name() == name
    })
}

/// `element` as a standalone document: its source text, with the namespaces it uses but that
/// are declared on its ancestors declared on it, as a serializer of that element writes it.
pub fn standalone(element: Node<'_, '_>) -> String {
    let input = element.document().input_text();
    let text = &input[element.range()];
    let used = |prefix: &str| {
        element.descendants().filter(Node::is_element).any(|n| {
            crate::c14n::element_prefix(n) == prefix
                || n.attributes()
                    .any(|a| crate::c14n::prefix_of(&input[a.range_qname()]) == prefix)
        })
    };
    let mut missing = String::new();
    if let Some(parent) = element.parent_element() {
        for ns in element.namespaces() {
            let prefix = ns.name().unwrap_or("");
            let inherited = parent
                .namespaces()
                .any(|pn| pn.name() == ns.name() && pn.uri() == ns.uri());
            if prefix == "xml" || !inherited || !used(prefix) {
                continue;
            }
            if prefix.is_empty() {
                missing.push_str(&format!(" xmlns=\"{}\"", ns.uri()));
            } else {
                missing.push_str(&format!(" xmlns:{prefix}=\"{}\"", ns.uri()));
            }
        }
    }
    if missing.is_empty() {
        return text.to_string();
    }
    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(text.len());
    format!("{}{}{}", &text[..name_end], missing, &text[name_end..])
}
