//! Canonical XML 1.0 (inclusive) and Exclusive XML Canonicalization 1.0, with and without
//! comments, of one element's subtree, optionally leaving one descendant subtree out (the
//! enveloped-signature transform). Written over `roxmltree`, whose parser already gives the
//! XPath data model canonicalization starts from: entities expanded, CDATA merged into text,
//! line ends and attribute values normalized.
//!
//! `xml:*` attributes of ancestors outside the subset are not carried into an inclusive
//! canonicalization (the e-government messages use none). Checked against libxml2's
//! canonicalizer (`xmllint --exc-c14n`, the one `xmlsec1` uses) by the workspace's tests.

use std::collections::BTreeMap;

use roxmltree::{Node, NodeId, NodeType};

/// `http://www.w3.org/2001/10/xml-exc-c14n#`
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// `http://www.w3.org/2001/10/xml-exc-c14n#WithComments`
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
/// `http://www.w3.org/TR/2001/REC-xml-c14n-20010315`
pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// `http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments`
pub const C14N_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";

/// Which canonicalization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// Exclusive (only visibly utilized namespaces) rather than inclusive.
    pub exclusive: bool,
    /// Comments kept.
    pub comments: bool,
    /// Exclusive only: prefixes treated as in inclusive canonicalization (`InclusiveNamespaces`).
    pub inclusive_prefixes: Vec<String>,
}

impl Method {
    /// Exclusive canonicalization without comments, what WS-Security signs with.
    pub fn exclusive() -> Self {
        Self {
            exclusive: true,
            comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// The method an algorithm URI names, `None` for one this crate does not implement.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let (exclusive, comments) = match uri {
            EXC_C14N => (true, false),
            EXC_C14N_WITH_COMMENTS => (true, true),
            C14N => (false, false),
            C14N_WITH_COMMENTS => (false, true),
            _ => return None,
        };
        Some(Self {
            exclusive,
            comments,
            inclusive_prefixes: Vec::new(),
        })
    }
}

/// Why a subtree could not be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot canonicalize: {0}")]
pub struct C14nError(String);

/// The canonical form of `apex`'s subtree, without the subtree of `omit` (when given).
pub fn canonicalize(
    apex: Node<'_, '_>,
    omit: Option<NodeId>,
    method: &Method,
) -> Result<Vec<u8>, C14nError> {
    if !apex.is_element() {
        return Err(C14nError(
            "the node to canonicalize is not an element".into(),
        ));
    }
    let mut out = Writer {
        out: Vec::with_capacity(1024),
        method,
        omit,
    };
    // What the (absent) output ancestors of the apex rendered: nothing.
    let mut rendered = BTreeMap::new();
    out.element(apex, &mut rendered)?;
    Ok(out.out)
}

struct Writer<'m> {
    out: Vec<u8>,
    method: &'m Method,
    omit: Option<NodeId>,
}

/// An element's or attribute's prefix, read from the source text (roxmltree resolves names to
/// namespace URIs; canonical XML keeps the prefixes as written).
pub(crate) fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// An element's prefix as written ("" for none).
pub(crate) fn element_prefix<'i>(node: Node<'_, 'i>) -> &'i str {
    prefix_of(element_qname(node))
}

fn element_qname<'i>(node: Node<'_, 'i>) -> &'i str {
    let text = node.document().input_text();
    let start = node.range().start + 1;
    let rest = text.get(start..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    &rest[..end]
}

impl Writer<'_> {
    fn element(
        &mut self,
        node: Node<'_, '_>,
        rendered: &mut BTreeMap<String, String>,
    ) -> Result<(), C14nError> {
        let qname = element_qname(node);
        let document = node.document().input_text();
        // A prefix bound to no namespace (`xmlns:p=""` is not XML 1.0) has no canonical form.
        let unbound = std::iter::once(prefix_of(qname))
            .chain(
                node.attributes()
                    .map(|a| prefix_of(&document[a.range_qname()])),
            )
            .find(|p| {
                !p.is_empty()
                    && *p != "xml"
                    && *p != "xmlns"
                    && node.lookup_namespace_uri(Some(p)).is_none_or(str::is_empty)
            });
        if let Some(p) = unbound {
            return Err(C14nError(format!(
                "the prefix {p:?} is bound to no namespace"
            )));
        }
        // Namespaces to declare here: prefix ("" for the default) → URI.
        let mut declare: BTreeMap<String, String> = BTreeMap::new();
        let in_scope = |prefix: &str| -> String {
            if prefix.is_empty() {
                node.default_namespace().unwrap_or("").to_string()
            } else {
                node.lookup_namespace_uri(Some(prefix))
                    .unwrap_or("")
                    .to_string()
            }
        };
        let differs = |rendered: &BTreeMap<String, String>, prefix: &str, uri: &str| {
            rendered.get(prefix).map_or(!uri.is_empty(), |r| r != uri)
        };
        let consider = |prefix: &str, declare: &mut BTreeMap<String, String>| {
            if prefix == "xml" || prefix == "xmlns" {
                return;
            }
            let uri = in_scope(prefix);
            if !prefix.is_empty() && uri.is_empty() {
                return;
            }
            if differs(rendered, prefix, &uri) {
                declare.insert(prefix.to_string(), uri);
            }
        };
        if self.method.exclusive {
            consider(prefix_of(qname), &mut declare);
            for attr in node.attributes() {
                let aq = &document[attr.range_qname()];
                let p = prefix_of(aq);
                if !p.is_empty() {
                    consider(p, &mut declare);
                }
            }
            for p in &self.method.inclusive_prefixes {
                let p = if p == "#default" { "" } else { p.as_str() };
                consider(p, &mut declare);
            }
        } else {
            for ns in node.namespaces() {
                consider(ns.name().unwrap_or(""), &mut declare);
            }
            // An element without a default namespace under one whose default was rendered.
            if node.default_namespace().is_none() {
                consider("", &mut declare);
            }
        }
        self.out.push(b'<');
        self.out.extend_from_slice(qname.as_bytes());
        for (prefix, uri) in &declare {
            if prefix.is_empty() {
                self.out.extend_from_slice(b" xmlns=\"");
            } else {
                self.out.extend_from_slice(b" xmlns:");
                self.out.extend_from_slice(prefix.as_bytes());
                self.out.extend_from_slice(b"=\"");
            }
            attribute_text(&mut self.out, uri);
            self.out.push(b'"');
        }
        let mut attrs: Vec<_> = node
            .attributes()
            .map(|a| (a.namespace().unwrap_or(""), a.name(), a))
            .collect();
        attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, attr) in attrs {
            self.out.push(b' ');
            self.out
                .extend_from_slice(document[attr.range_qname()].as_bytes());
            self.out.extend_from_slice(b"=\"");
            attribute_text(&mut self.out, attr.value());
            self.out.push(b'"');
        }
        self.out.push(b'>');
        let saved: Vec<(String, Option<String>)> = declare
            .iter()
            .map(|(p, u)| (p.clone(), rendered.insert(p.clone(), u.clone())))
            .collect();
        for child in node.children() {
            if Some(child.id()) == self.omit {
                continue;
            }
            match child.node_type() {
                NodeType::Element => self.element(child, rendered)?,
                NodeType::Text => text(&mut self.out, child.text().unwrap_or("")),
                NodeType::Comment if self.method.comments => {
                    self.out.extend_from_slice(b"<!--");
                    self.out
                        .extend_from_slice(child.text().unwrap_or("").as_bytes());
                    self.out.extend_from_slice(b"-->");
                }
                NodeType::PI => {
                    if let Some(pi) = child.pi() {
                        // XML 1.0 reserves the target `xml` (any case); written out, it would
                        // read as a misplaced declaration, and no parser takes the result back.
                        if pi.target.eq_ignore_ascii_case("xml") {
                            return Err(C14nError(
                                "a processing instruction named 'xml' inside the document (reserved by XML 1.0)".into(),
                            ));
                        }
                        self.out.extend_from_slice(b"<?");
                        self.out.extend_from_slice(pi.target.as_bytes());
                        if let Some(v) = pi.value.filter(|v| !v.is_empty()) {
                            self.out.push(b' ');
                            self.out.extend_from_slice(v.as_bytes());
                        }
                        self.out.extend_from_slice(b"?>");
                    }
                }
                _ => {}
            }
        }
        for (p, old) in saved.into_iter().rev() {
            match old {
                Some(u) => rendered.insert(p, u),
                None => rendered.remove(&p),
            };
        }
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(qname.as_bytes());
        self.out.push(b'>');
        Ok(())
    }
}

/// Text content: `&`, `<`, `>` and carriage returns escaped.
fn text(out: &mut Vec<u8>, s: &str) {
    escape(out, s, false);
}

/// An attribute value: `&`, `<`, `"` and the whitespace characters escaped.
fn attribute_text(out: &mut Vec<u8>, s: &str) {
    escape(out, s, true);
}

fn escape(out: &mut Vec<u8>, s: &str, attribute: bool) {
    for c in s.chars() {
        let escaped: Option<&[u8]> = match c {
            '&' => Some(b"&amp;"),
            '<' => Some(b"&lt;"),
            '>' if !attribute => Some(b"&gt;"),
            '"' if attribute => Some(b"&quot;"),
            '\t' if attribute => Some(b"&#x9;"),
            '\n' if attribute => Some(b"&#xA;"),
            '\r' => Some(b"&#xD;"),
            _ => None,
        };
        match escaped {
            Some(e) => out.extend_from_slice(e),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_processing_instruction_named_xml_is_refused() {
        // Found by the syncchannel fuzz target: roxmltree reads `<?xml`...?>` inside an element
        // as a PI whose target is `xml`, which canonical output would turn into a declaration.
        let doc =
            roxmltree::Document::parse("<a>x<?xml`v=\"1\"?>y</a>").expect("roxmltree takes it");
        let refused = canonicalize(doc.root_element(), None, &Method::exclusive());
        assert!(refused.is_err(), "{refused:?}");
        // Another target beginning with the letters is an ordinary PI.
        let doc =
            roxmltree::Document::parse("<a><?xml-stylesheet href=\"s\"?></a>").expect("parses");
        let out = canonicalize(doc.root_element(), None, &Method::exclusive()).expect("written");
        assert_eq!(out, br#"<a><?xml-stylesheet href="s"?></a>"#);
    }

    #[test]
    fn a_prefix_bound_to_no_namespace_is_refused_not_written_unbound() {
        // Found by the syncchannel fuzz target: roxmltree reads `xmlns:s=""`.
        let doc = roxmltree::Document::parse(r#"<s:E xmlns:s=""><s:B>x</s:B></s:E>"#);
        if let Ok(doc) = doc {
            assert!(canonicalize(doc.root_element(), None, &Method::exclusive()).is_err());
        }
    }

    #[test]
    fn exclusive_form_leaves_out_what_the_subtree_does_not_use() {
        let doc = roxmltree::Document::parse(
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><a:c b:x="1"><d/></a:c></a:r>"#,
        )
        .expect("parses");
        let c = doc.root_element().first_element_child().expect("child");
        let out = canonicalize(c, None, &Method::exclusive()).expect("canonical");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"<a:c xmlns:a="urn:a" xmlns:b="urn:b" b:x="1"><d xmlns="urn:d"></d></a:c>"#
        );
    }
}
