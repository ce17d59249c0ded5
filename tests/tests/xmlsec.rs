//! The XML security crate against implementations nobody here wrote: libxml2's canonicalizer
//! (`xmllint --exc-c14n`) and `xmlsec1` (signing and verifying WS-Security envelopes). The
//! tools come from Debian's `libxml2-utils` and `xmlsec1`; `.ci/run` installs them and sets
//! `KOPIR_REQUIRE_XML_TOOLS=1`, so there a missing tool fails instead of skipping.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use kopir_mocks::pki::{Holder, Issued, MockCa, Window};
use kopir_trust::signing::KeyAlgorithm;
use kopir_xmlsec::c14n::{self, Method};
use kopir_xmlsec::wsse::{self, SOAP_NS, WSU_NS};
use kopir_xmlsec::{KeySigner, XmlSecError};

fn tools() -> bool {
    kopir_tests::xml_tools()
}

fn run(cmd: &mut Command) -> (bool, String) {
    kopir_tests::run_tool(cmd)
}

const DOCS: &[&str] = &[
    r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:unused="urn:u"><s:Body b="2"   a='1 &amp; &lt; "q"'><ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types" xmlns="urn:dflt"><request><a/>t&gt;x&#13;y</request><r xmlns=""/></ns2:SendMessage></s:Body></s:Envelope>"#,
    r#"<root xmlns="urn:a" xmlns:b="urn:b" b:z="1" a="2"><b:child xmlns:c="urn:c" c:at="&#9;tab&#10;nl"><c:x><![CDATA[<cdata & more>]]></c:x><!-- comment --><?pi some data?></b:child><plain xmlns="">text</plain></root>"#,
    r#"<p:a xmlns:p="urn:p" xmlns:q="urn:q"><q:b><p:c xmlns:p="urn:p"/><p:d xmlns:p="urn:other" q:e="é ü Қазақ"/></q:b></p:a>"#,
];

#[test]
fn canonical_form_matches_libxml2() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, doc) in DOCS.iter().enumerate() {
        let path = dir.path().join(format!("d{i}.xml"));
        std::fs::write(&path, doc).unwrap();
        for flag in ["--exc-c14n", "--c14n"] {
            // xmllint keeps comments; without them is the same text with the comments cut.
            let (ok, with_comments) = run(Command::new("xmllint").arg(flag).arg(&path));
            assert!(ok, "{with_comments}");
            for comments in [true, false] {
                let parsed = roxmltree::Document::parse(doc).unwrap();
                let method = Method {
                    exclusive: flag == "--exc-c14n",
                    comments,
                    inclusive_prefixes: Vec::new(),
                };
                let ours = c14n::canonicalize(parsed.root_element(), None, &method).unwrap();
                let expected = if comments {
                    with_comments.clone()
                } else {
                    strip_comments(&with_comments)
                };
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    expected,
                    "doc {i} {flag} {comments}"
                );
            }
        }
    }
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("-->")
            .map_or(rest.len(), |e| start + e + 3);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn ca() -> MockCa {
    MockCa::new(KeyAlgorithm::EcdsaP256, Duration::from_secs(3600)).unwrap()
}

fn registry_cert(ca: &MockCa, algorithm: KeyAlgorithm) -> Issued {
    ca.issue(
        &Holder::Seal {
            bin: "990340000015".into(),
            name: "Registry signer".into(),
        },
        algorithm,
        Window::days(30),
    )
    .unwrap()
}

fn signer(issued: &Issued) -> KeySigner {
    KeySigner::new(issued.key.clone(), issued.cert_der().unwrap())
}

const BODY: &str = r#"<ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><request><requestInfo><messageId>m-1</messageId><serviceId>GBDFL</serviceId><messageDate>2026-12-01T10:00:00Z</messageDate><sender><senderId>KOPIR</senderId></sender></requestInfo><requestData><data>x</data></requestData></request></ns2:SendMessage>"#;

fn xmlsec_verify(dir: &Path, xml: &str, cert_pem: &str) -> (bool, String) {
    kopir_tests::xmlsec1_verify(dir, "msg.xml", xml.as_bytes(), cert_pem)
}

#[test]
fn xmlsec1_verifies_what_we_sign() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let issued = registry_cert(&ca, algorithm);
        let signed =
            wsse::sign_envelope(BODY, &signer(&issued), Utc::now(), Duration::from_secs(300))
                .unwrap();
        let (ok, out) = xmlsec_verify(dir.path(), &signed, &issued.cert_pem().unwrap());
        assert!(ok, "{algorithm:?}: {out}\n{signed}");
        // And one byte of the Body changed, xmlsec1 refuses it too.
        let tampered = signed.replace("<messageId>m-1<", "<messageId>m-2<");
        let (ok, _) = xmlsec_verify(dir.path(), &tampered, &issued.cert_pem().unwrap());
        assert!(!ok, "xmlsec1 took a changed body");
        let doc = roxmltree::Document::parse(&signed).unwrap();
        wsse::verify_envelope(&doc, Utc::now(), Duration::from_secs(60)).unwrap();
    }
}

/// A reply as a registry's own toolkit signs it: the template filled by `xmlsec1 --sign`.
fn xmlsec_signed(dir: &Path, issued: &Issued, body: &str, expires_in: chrono::Duration) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let now = Utc::now();
    let method = match issued.key.algorithm() {
        KeyAlgorithm::Rsa2048 => kopir_xmlsec::dsig::RSA_SHA256,
        KeyAlgorithm::EcdsaP256 => kopir_xmlsec::dsig::ECDSA_SHA256,
    };
    let template = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="{soap}"><soapenv:Header><wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}">"#,
            r#"<wsse:BinarySecurityToken EncodingType="{enc}" ValueType="{vt}" wsu:Id="X509-1">{cert}</wsse:BinarySecurityToken>"#,
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="SIG-1"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            r#"<ds:SignatureMethod Algorithm="{method}"/>"#,
            r##"<ds:Reference URI="#TS-1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>"##,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference>"#,
            r##"<ds:Reference URI="#id-1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>"##,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference>"#,
            r#"</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>"#,
            r##"<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#X509-1" ValueType="{vt}"/></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>"##,
            r#"<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>"#,
            r#"</wsse:Security></soapenv:Header>"#,
            "\n  ",
            r#"<soapenv:Body xmlns:wsu="{wsu}" wsu:Id="id-1">{body}</soapenv:Body></soapenv:Envelope>"#
        ),
        soap = SOAP_NS,
        wsse = wsse::WSSE_NS,
        wsu = WSU_NS,
        enc = wsse::BASE64_BINARY,
        vt = wsse::X509_V3,
        cert = b64.encode(issued.cert_der().unwrap()),
        method = method,
        created = kopir_core::time::rfc3339(now - chrono::Duration::seconds(600)),
        expires = kopir_core::time::rfc3339(now + expires_in),
        body = body,
    );
    let path = dir.join("template.xml");
    std::fs::write(&path, template).unwrap();
    let key = dir.join("signer.key");
    std::fs::write(&key, issued.key_pem().unwrap()).unwrap();
    let (ok, out) = run(Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(&key)
        .arg("--id-attr:Id")
        .arg(format!("{SOAP_NS}:Body"))
        .arg("--id-attr:Id")
        .arg(format!("{WSU_NS}:Timestamp"))
        .arg(&path));
    assert!(ok, "xmlsec1 --sign: {out}");
    out
}

#[tokio::test]
async fn a_reply_signed_by_xmlsec1_is_accepted_and_every_forgery_refused() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    let skew = Duration::from_secs(60);
    for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let issued = registry_cert(&ca, algorithm);
        let signed = xmlsec_signed(dir.path(), &issued, BODY, chrono::Duration::seconds(300));
        let verify = |xml: &str| {
            let doc = roxmltree::Document::parse(xml).unwrap();
            wsse::verify_envelope(&doc, Utc::now(), skew).map(|v| v.certificate)
        };
        assert_eq!(
            verify(&signed).unwrap(),
            issued.cert_der().unwrap(),
            "{algorithm:?}"
        );
        // One byte of the Body changed.
        let changed = signed.replace("<messageId>m-1<", "<messageId>m-9<");
        assert!(
            matches!(verify(&changed), Err(XmlSecError::DigestMismatch(_))),
            "{:?}",
            verify(&changed)
        );
        // Wrapping: the signed Body moved into the header under its id, a forged Body in place.
        let start = signed.find("<soapenv:Body").unwrap();
        let end = signed.find("</soapenv:Body>").unwrap() + "</soapenv:Body>".len();
        let original = &signed[start..end];
        let forged_body = original
            .replace("wsu:Id=\"id-1\"", "wsu:Id=\"id-forged\"")
            .replace("<messageId>m-1<", "<messageId>evil<");
        let wrapped = signed[..start].replace(
            "</soapenv:Header>",
            &format!("<Wrapper>{original}</Wrapper></soapenv:Header>"),
        ) + &forged_body
            + &signed[end..];
        assert!(
            matches!(verify(&wrapped), Err(XmlSecError::Wrapping(_))),
            "{:?}",
            verify(&wrapped)
        );
        // The same with the forged Body keeping the id: two elements carry it.
        let duplicated = signed[..start].replace(
            "</soapenv:Header>",
            &format!("<Wrapper>{original}</Wrapper></soapenv:Header>"),
        ) + &original.replace("<messageId>m-1<", "<messageId>evil<")
            + &signed[end..];
        assert!(matches!(verify(&duplicated), Err(XmlSecError::Wrapping(_))));
        // Expired.
        let expired = xmlsec_signed(dir.path(), &issued, BODY, chrono::Duration::seconds(-300));
        assert!(
            matches!(verify(&expired), Err(XmlSecError::Timestamp(_))),
            "{:?}",
            verify(&expired)
        );
    }
    // Signed by a certificate of another CA: the signature holds, the path does not.
    let other = registry_cert(&self::ca(), KeyAlgorithm::EcdsaP256);
    let signed = xmlsec_signed(dir.path(), &other, BODY, chrono::Duration::seconds(300));
    let doc = roxmltree::Document::parse(&signed).unwrap();
    let verified = wsse::verify_envelope(&doc, Utc::now(), skew).unwrap();
    let roots = dir.path().join("root.crt");
    std::fs::write(&roots, ca.root_pem().unwrap()).unwrap();
    let trust = kopir_trust::Trust::new(&kopir_trust::config::TrustConfig {
        roots: vec![roots],
        ..Default::default()
    })
    .unwrap();
    let leaf = rustls_pki_types::CertificateDer::from(verified.certificate);
    let intermediate = rustls_pki_types::CertificateDer::from(der_of(ca.intermediate()));
    assert!(trust
        .verify_chain(
            &leaf,
            std::slice::from_ref(&intermediate),
            kopir_trust::Usage::Signing
        )
        .await
        .is_err());
    // While one of this CA's, signed by xmlsec1, passes the path check too.
    let ours = registry_cert(&ca, KeyAlgorithm::EcdsaP256);
    let signed = xmlsec_signed(dir.path(), &ours, BODY, chrono::Duration::seconds(300));
    let doc = roxmltree::Document::parse(&signed).unwrap();
    let verified = wsse::verify_envelope(&doc, Utc::now(), skew).unwrap();
    let leaf = rustls_pki_types::CertificateDer::from(verified.certificate);
    trust
        .verify_chain(&leaf, &[intermediate], kopir_trust::Usage::Signing)
        .await
        .unwrap();
}

/// A payload signed as the gateway's clients sign `<data>`: `URI=""`, the enveloped-signature
/// transform, inclusive C14N with comments, the certificate inline; signed by `xmlsec1`.
fn enveloped_payload(dir: &Path, issued: &Issued, payload_body: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let method = match issued.key.algorithm() {
        KeyAlgorithm::Rsa2048 => kopir_xmlsec::dsig::RSA_SHA256,
        KeyAlgorithm::EcdsaP256 => kopir_xmlsec::dsig::ECDSA_SHA256,
    };
    let template = format!(
        concat!(
            r#"<person xmlns:x="urn:extra">{body}<!-- a comment the signature covers -->"#,
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>"#,
            r#"<ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI=""><ds:Transforms>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"/></ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>"#,
            r#"<ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature></person>"#
        ),
        body = payload_body,
        method = method,
        cert = b64.encode(issued.cert_der().unwrap()),
    );
    let path = dir.join("payload.xml");
    std::fs::write(&path, template).unwrap();
    let key = dir.join("payload.key");
    std::fs::write(&key, issued.key_pem().unwrap()).unwrap();
    // stdout alone: xmlsec1 warns on stderr that it cannot build the inline certificate's path.
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(&key)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmlsec1 --sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_enveloped_payload_signature_by_xmlsec1_holds_in_every_form_data_takes() {
    use kopir_xmlsec::enveloped::{self, Enveloped};
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let issued = registry_cert(&ca, algorithm);
        let signed = enveloped_payload(
            dir.path(),
            &issued,
            "<iin>900101300123</iin><x:note>é</x:note>",
        );
        let signed = signed
            .split_once("?>")
            .map_or(signed.as_str(), |(_, rest)| rest)
            .trim();
        let cert = issued.cert_der().unwrap();
        // As an xs:string, the payload is its own document.
        assert!(
            matches!(enveloped::verify(signed), Ok(Enveloped::Valid(ref c)) if *c == cert),
            "{:?}\n{signed}",
            enveloped::verify(signed)
        );
        // As <data>'s element content, under the envelope's namespaces, re-declared on its own.
        let envelope = format!(
            r#"<s:Envelope xmlns:s="{SOAP_NS}" xmlns:x="urn:extra"><s:Body><data>{}</data></s:Body></s:Envelope>"#,
            signed.replacen(r#"<person xmlns:x="urn:extra">"#, "<person>", 1)
        );
        let doc = roxmltree::Document::parse(&envelope).unwrap();
        let person = doc
            .descendants()
            .find(|n| n.has_tag_name("person"))
            .unwrap();
        let standalone = enveloped::standalone(person);
        assert!(
            matches!(enveloped::verify(&standalone), Ok(Enveloped::Valid(_))),
            "{standalone}"
        );
        // A changed byte breaks it; a comment is not covered (URI="" leaves comments out,
        // XMLDSig 4.3.3.3), as xmlsec1 signed it.
        let changed = signed.replace("900101300123", "900101300124");
        assert!(matches!(
            enveloped::verify(&changed),
            Err(XmlSecError::DigestMismatch(_))
        ));
        let comment = signed.replace("a comment", "another comment");
        assert!(matches!(
            enveloped::verify(&comment),
            Ok(Enveloped::Valid(_))
        ));
    }
    assert!(matches!(
        enveloped::verify("<person><iin>1</iin></person>"),
        Ok(Enveloped::Absent)
    ));
}

fn der_of(cert: &x509_cert::Certificate) -> Vec<u8> {
    use der::Encode;
    cert.to_der().unwrap()
}
