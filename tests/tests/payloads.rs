//! The registries' payloads as they cross the socket between the gateway and the mocks, checked
//! with tools nobody here wrote: every `<data>` the adapters send and the mocks answer validates
//! with `xmllint --schema` against the project's own payload XSDs (written from the published
//! element lists of `GBDFLUniversal_token` and `GbdulInfoByBin_v2`), and every enveloped
//! signature in them verifies with `xmlsec1`.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use kopir_gateway::proto::v1 as pb;
use kopir_mocks::pki::Issued;
use kopir_mocks::registry::Exchange;
use kopir_tests::{payload_schema, person_request, run_tool, sign, test_config, xml_tools, Env};

/// The `<data>` of a SyncChannel message as a document of its own: the text of an `xs:string`,
/// or the element re-declared standalone; and whether it was a string.
fn data_of(message: &[u8]) -> (String, bool) {
    let text = std::str::from_utf8(message).unwrap();
    let doc = roxmltree::Document::parse(text).unwrap();
    let data = doc
        .descendants()
        .find(|n| n.has_tag_name("data"))
        .expect("the message has <data>");
    let string = data
        .attributes()
        .any(|a| a.name() == "type" && a.value().ends_with(":string"));
    if string {
        (data.text().unwrap_or("").to_string(), true)
    } else {
        (kopir_xmlsec::enveloped::standalone(data), false)
    }
}

fn validate(dir: &Path, name: &str, xml: &str, schema: &str) {
    let path = dir.join(name);
    std::fs::write(&path, xml).unwrap();
    let (ok, out) = run_tool(
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(payload_schema(schema))
            .arg(&path),
    );
    assert!(
        ok,
        "{name} does not validate against {schema}: {out}\n{xml}"
    );
}

fn verified(dir: &Path, name: &str, xml: &str, signer: &Issued) {
    assert!(xml.contains("<ds:Signature"), "{name} is not signed: {xml}");
    let (ok, out) =
        kopir_tests::xmlsec1_verify(dir, name, xml.as_bytes(), &signer.cert_pem().unwrap());
    assert!(ok, "xmlsec1 does not verify {name}: {out}\n{xml}");
}

fn check(
    dir: &Path,
    name: &str,
    exchange: &Exchange,
    schemas: (&str, &str),
    signers: (Option<&Issued>, &Issued),
) {
    let (request, _) = data_of(&exchange.request);
    validate(dir, &format!("{name}-request.xml"), &request, schemas.0);
    if let Some(signer) = signers.0 {
        verified(dir, &format!("{name}-request-signed.xml"), &request, signer);
    }
    let (reply, _) = data_of(&exchange.reply);
    validate(dir, &format!("{name}-reply.xml"), &reply, schemas.1);
    verified(dir, &format!("{name}-reply-signed.xml"), &reply, signers.1);
}

#[tokio::test]
async fn every_payload_validates_and_every_enveloped_signature_verifies() {
    if !xml_tools() {
        return;
    }
    let env = Env::start(test_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = &env.demo.pki;
    let mocks = &env.demo.mocks;

    // ГБД ФЛ: a person by IIN, and a search that finds no one.
    env.identity()
        .get_person(person_request(&env.sample_iin()))
        .await
        .unwrap();
    let found = mocks.persons.last_exchange().unwrap();
    check(
        dir.path(),
        "gbdfl",
        &found,
        ("gbdfl-request.xsd", "gbdfl-response.xsd"),
        (None, &keys.registry_wsse),
    );
    assert!(data_of(&found.reply).0.contains("<persons><person>"));
    let unknown = kopir_tests::unknown_iin(&env);
    let refused = env
        .identity()
        .get_person(person_request(&unknown))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound, "{refused:?}");
    let none = mocks.persons.last_exchange().unwrap();
    check(
        dir.path(),
        "gbdfl-none",
        &none,
        ("gbdfl-request.xsd", "gbdfl-response.xsd"),
        (None, &keys.registry_wsse),
    );

    // The family links, asked when a parent reads their child's record.
    let (parent, child) = mocks
        .population
        .sample_relatives(kopir_core::model::Relation::Child)
        .unwrap();
    let signer = kopir_tests::person_signer(&env, &parent, "Test Parent");
    let payload = serde_json::to_vec(&serde_json::json!({
        "method": "kopir.v1.IdentityService/GetPerson",
        "subject": child,
        "requester": {"iin": parent},
        "purpose": "my child's record",
        "via": kopir_mocks::pki::DEMO_PORTAL_BIN,
        "nonce": uuid::Uuid::new_v4().to_string(),
    }))
    .unwrap();
    let mut request = person_request(&child);
    request.signed = Some(pb::SignedDocument {
        signatures: vec![sign(&signer, &keys.ca, &payload)],
        payload,
    });
    let portal = env.channel_as("portal").await.unwrap();
    pb::identity_service_client::IdentityServiceClient::new(portal)
        .get_person(request)
        .await
        .unwrap();
    let links = mocks
        .persons
        .exchanges()
        .into_iter()
        .find(|e| String::from_utf8_lossy(&e.request).contains("GBDFL_FAMILY_LINKS"))
        .expect("the consent stage asked for the family links");
    check(
        dir.path(),
        "family",
        &links,
        (
            "gbdfl-family-links-request.xsd",
            "gbdfl-family-links-response.xsd",
        ),
        (None, &keys.registry_wsse),
    );

    // ГБД ЮЛ: the request signed by the gateway, the reply by the registry, both xs:string.
    let entity = mocks.population.sample_entity().unwrap();
    env.identity()
        .get_legal_entity(kopir_tests::entity_request(&entity.bin))
        .await
        .unwrap();
    let exchange = mocks.legal_entities.last_exchange().unwrap();
    assert!(
        data_of(&exchange.request).1 && data_of(&exchange.reply).1,
        "ГБД ЮЛ data is an xs:string"
    );
    check(
        dir.path(),
        "gbdul",
        &exchange,
        ("gbdul-info-by-bin-v2.xsd", "gbdul-info-by-bin-v2.xsd"),
        (Some(&keys.gateway_wsse), &keys.registry_wsse),
    );
    // The requestor is the calling organisation, from its certificate.
    let (request, _) = data_of(&exchange.request);
    let requestor = format!(
        "<RequestorBIN>{}</RequestorBIN>",
        kopir_mocks::pki::DEMO_PORTAL_BIN
    );
    assert!(request.contains(&requestor), "{request}");
    // No such BIN: the payload's own Status says it, and it is NOT_FOUND.
    let unknown = kopir_tests::unknown_bin(&env);
    let refused = env
        .identity()
        .get_legal_entity(kopir_tests::entity_request(&unknown))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound, "{refused:?}");
    let none = mocks.legal_entities.last_exchange().unwrap();
    check(
        dir.path(),
        "gbdul-none",
        &none,
        ("gbdul-info-by-bin-v2.xsd", "gbdul-info-by-bin-v2.xsd"),
        (Some(&keys.gateway_wsse), &keys.registry_wsse),
    );
    assert!(data_of(&none.reply).0.contains("<Code>003</Code>"));
}

/// A persons reply whose `<data>` is signed enveloped by `data_signer` and then changed when
/// `tamper`; its envelope WS-Security-signed by `envelope_signer`, or left unsigned.
fn reply(data_signer: &Issued, tamper: bool, envelope_signer: Option<&Issued>) -> String {
    let signer = |i: &Issued| kopir_xmlsec::KeySigner::new(i.key.clone(), i.cert_der().unwrap());
    let data =
        "<data><messageId>m</messageId><messageResult><code>00000</code></messageResult></data>";
    let mut signed = kopir_xmlsec::enveloped::sign(data, &signer(data_signer)).unwrap();
    if tamper {
        signed = signed.replacen("00000", "00001", 1);
    }
    let body = format!(
        concat!(
            r#"<ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo>"#,
            "<messageId>r</messageId><correlationId>c</correlationId><responseDate>2026-12-01T10:00:00+05:00</responseDate>",
            "<status><code>SCSS001</code><message>OK</message></status></responseInfo><responseData>{}</responseData></response></ns2:SendMessageResponse>"
        ),
        signed
    );
    match envelope_signer {
        Some(i) => kopir_xmlsec::wsse::sign_envelope(
            &body,
            &signer(i),
            chrono::Utc::now(),
            std::time::Duration::from_secs(300),
        )
        .unwrap(),
        None => format!(
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{body}</soap:Body></soap:Envelope>"#
        ),
    }
}

#[tokio::test]
async fn a_payload_signature_is_checked_unless_the_same_signer_signed_the_whole_body() {
    use kopir_adapters::syncchannel::{
        Endpoint, MessageSecurity, SyncChannelClient, VerifyPolicy, Wire,
    };
    use std::sync::Arc;
    let env = Env::start(test_config()).await;
    let keys = &env.demo.pki;
    let trust = Arc::new(
        kopir_trust::Trust::new(&kopir_trust::config::TrustConfig {
            roots: vec![env.pki_file("root.crt")],
            ..Default::default()
        })
        .unwrap(),
    );
    let client = SyncChannelClient::new(
        "persons",
        Endpoint {
            url: "http://127.0.0.1:9/SyncChannel".parse().unwrap(),
            sender_id: "KOPIR".into(),
            sender_password: String::new(),
            connect_timeout: std::time::Duration::from_secs(1),
            request_timeout: std::time::Duration::from_secs(1),
            pool_max_idle: 0,
            wire: Wire {
                security: Some(Arc::new(MessageSecurity {
                    signer: None,
                    verify: VerifyPolicy::IfPresent,
                    trust,
                    intermediates: kopir_trust::read_pem_certificates(
                        &env.pki_file("intermediate.crt"),
                    )
                    .unwrap(),
                    lifetime: std::time::Duration::from_secs(300),
                    skew: std::time::Duration::from_secs(60),
                })),
                ..Wire::default()
            },
        },
    )
    .unwrap();
    let read = |body: String| {
        let client = client.clone();
        async move {
            client
                .read_reply(&body, |p| {
                    p.data(kopir_adapters::persons::parse_search)
                        .map(|(r, _)| r.code)
                })
                .await
        }
    };
    let foreign =
        kopir_tests::foreign_seal(kopir_mocks::pki::DEMO_REGISTRY_BIN, "Not the registry");
    let untrusted = |r: Result<_, kopir_adapters::AdapterError>| matches!(&r, Err(kopir_adapters::AdapterError::Untrusted { reason, .. }) if reason.contains("payload"));
    // Unsigned envelope: the payload's own signature is what vouches for it.
    assert_eq!(
        read(reply(&keys.registry_wsse, false, None))
            .await
            .unwrap()
            .record,
        "00000"
    );
    assert!(untrusted(
        read(reply(&keys.registry_wsse, true, None)).await
    ));
    assert!(untrusted(read(reply(&foreign, false, None)).await));
    // The registry signed the whole Body: its payload signature is covered, not checked twice.
    assert!(
        read(reply(&keys.registry_wsse, false, Some(&keys.registry_wsse)))
            .await
            .is_ok()
    );
    // Another signer's payload inside the registry's Body is checked, and refused.
    assert!(untrusted(
        read(reply(&foreign, false, Some(&keys.registry_wsse))).await
    ));
}
