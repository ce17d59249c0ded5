//! The SyncChannel wire as it crosses the socket between the gateway and the state databases'
//! mocks, checked with tools nobody here wrote: every envelope validates with `xmllint --schema`
//! against the project's own SyncChannel v10 XSDs, every signature verifies with `xmlsec1`; a
//! reply whose signature fails is never served; the mock refuses what the real provider refuses.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use kopir_mocks::faults::Faults;
use kopir_mocks::pki::Issued;
use kopir_tests::{
    person_request, run_tool, syncchannel_schema, test_config, unknown_iin, xml_tools, Env,
};

fn validate(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let (ok, out) = run_tool(
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(syncchannel_schema())
            .arg(&path),
    );
    assert!(
        ok,
        "{name} does not validate: {out}\n{}",
        String::from_utf8_lossy(bytes)
    );
}

fn xmlsec_verify(dir: &Path, name: &str, bytes: &[u8], signer: &Issued) -> (bool, String) {
    kopir_tests::xmlsec1_verify(dir, name, bytes, &signer.cert_pem().unwrap())
}

#[tokio::test]
async fn every_envelope_validates_and_every_signature_verifies_with_xmlsec1() {
    if !xml_tools() {
        return;
    }
    let env = Env::start(test_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = &env.demo.pki;
    let mut identity = env.identity();
    let iin = env.sample_iin();
    identity.get_person(person_request(&iin)).await.unwrap();
    let persons = env
        .demo
        .mocks
        .persons
        .last_exchange()
        .expect("the mock saw the call");
    let request = String::from_utf8(persons.request.to_vec()).unwrap();
    assert!(request.contains("<wsse:Security"), "{request}");
    let (ok, out) = xmlsec_verify(
        dir.path(),
        "request.xml",
        &persons.request,
        &keys.gateway_wsse,
    );
    assert!(
        ok,
        "xmlsec1 refuses the gateway's request: {out}\n{request}"
    );
    let (ok, out) = xmlsec_verify(dir.path(), "reply.xml", &persons.reply, &keys.registry_wsse);
    assert!(ok, "xmlsec1 refuses the mock's reply: {out}");
    validate(dir.path(), "request.xml", &persons.request);
    validate(dir.path(), "reply.xml", &persons.reply);
    // The request signed by the gateway does not verify under another key.
    let (ok, _) = xmlsec_verify(
        dir.path(),
        "request.xml",
        &persons.request,
        &keys.registry_wsse,
    );
    assert!(!ok);

    // Every other kind of exchange: a record that does not exist, a legal entity.
    let missing = identity
        .get_person(person_request(&unknown_iin(&env)))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
    let ex = env.demo.mocks.persons.last_exchange().unwrap();
    validate(dir.path(), "missing-reply.xml", &ex.reply);
    let (ok, out) = xmlsec_verify(
        dir.path(),
        "missing-reply.xml",
        &ex.reply,
        &keys.registry_wsse,
    );
    assert!(ok, "{out}");
    let bin = env
        .demo
        .mocks
        .population
        .entities
        .keys()
        .next()
        .unwrap()
        .clone();
    identity
        .get_legal_entity(kopir_gateway::proto::v1::GetLegalEntityRequest {
            meta: person_request(&iin).meta,
            bin: Some(kopir_gateway::proto::v1::Bin { value: bin }),
            signed: None,
        })
        .await
        .unwrap();
    let ex = env.demo.mocks.legal_entities.last_exchange().unwrap();
    validate(dir.path(), "entity-request.xml", &ex.request);
    validate(dir.path(), "entity-reply.xml", &ex.reply);
    let (ok, out) = xmlsec_verify(
        dir.path(),
        "entity-request.xml",
        &ex.request,
        &keys.gateway_wsse,
    );
    assert!(ok, "{out}");

    // The mock's refusal of an unsigned request: a Fault carrying ErrorInfo, valid too.
    let unsigned = request
        .split_once("<soap:Header>")
        .map(|(head, rest)| {
            let after = rest.split_once("</soap:Header>").unwrap().1;
            format!("{head}{after}")
        })
        .unwrap();
    let refused = reqwest::Client::new()
        .post(env.demo.mocks.persons.url())
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"\"")
        .body(unsigned)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 500);
    let fault = refused.text().await.unwrap();
    assert!(
        fault.contains("<faultcode>wsse:InvalidSecurity</faultcode>"),
        "{fault}"
    );
    assert!(
        fault.contains("<errorCode>InvalidSecurity</errorCode>"),
        "{fault}"
    );
    validate(dir.path(), "fault.xml", fault.as_bytes());
}

#[tokio::test]
async fn the_mock_refuses_a_request_signed_outside_its_trust_or_replayed_late() {
    let env = Env::start(test_config()).await;
    let foreign = kopir_tests::foreign_seal(kopir_mocks::pki::DEMO_OPERATOR_BIN, "Not the gateway");
    let body = format!(
        r#"<ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><request><requestInfo><messageId>m</messageId><serviceId>GBDFL_FAMILY_LINKS</serviceId><messageDate>2026-12-01T00:00:00Z</messageDate><sender><senderId>{}</senderId><password>{}</password></sender></requestInfo><requestData><data><messageId>m</messageId><messageDate>2026-12-01T05:00:00+05:00</messageDate><senderCode>TEST</senderCode><iin>{}</iin></data></requestData></request></ns2:SendMessage>"#,
        kopir_mocks::DEFAULT_SENDER_ID,
        kopir_mocks::DEFAULT_SENDER_PASSWORD,
        env.sample_iin()
    );
    let post = |envelope: String| {
        let url = env.demo.mocks.persons.url();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("soapaction", "\"\"")
                .body(envelope)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let signer = |issued: &Issued| {
        kopir_xmlsec::KeySigner::new(issued.key.clone(), issued.cert_der().unwrap())
    };
    let sign = |issued: &Issued, at: chrono::DateTime<chrono::Utc>| {
        kopir_xmlsec::wsse::sign_envelope(
            &body,
            &signer(issued),
            at,
            std::time::Duration::from_secs(60),
        )
        .unwrap()
    };
    let now = chrono::Utc::now();
    // Signed by the gateway's key: answered.
    let (status, text) = post(sign(&env.demo.pki.gateway_wsse, now)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<code>SCSS001</code>"), "{text}");
    // By a certificate of another CA: refused.
    let (status, text) = post(sign(&foreign, now)).await;
    assert_eq!(status, 500);
    assert!(text.contains("wsse:FailedAuthentication"), "{text}");
    // Its timestamp expired (signed an hour ago, valid for a minute): refused.
    let (status, text) = post(sign(
        &env.demo.pki.gateway_wsse,
        now - chrono::Duration::hours(1),
    ))
    .await;
    assert_eq!(status, 500);
    assert!(text.contains("wsse:MessageExpired"), "{text}");
    // A Body changed after signing: refused.
    let tampered = sign(&env.demo.pki.gateway_wsse, now).replace("<messageId>m<", "<messageId>n<");
    let (status, text) = post(tampered).await;
    assert_eq!(status, 500);
    assert!(text.contains("wsse:FailedCheck"), "{text}");
}

#[tokio::test]
async fn a_reply_whose_signature_fails_is_not_served() {
    let env = Env::start(test_config()).await;
    let mut identity = env.identity();
    let iin = env.sample_iin();
    for (faults, expect) in [
        (
            Faults {
                bad_signature_rate: 1.0,
                ..Faults::default()
            },
            "digest mismatch",
        ),
        (
            Faults {
                unsigned_rate: 1.0,
                ..Faults::default()
            },
            "no wsse:Security header",
        ),
    ] {
        env.demo.mocks.persons.set_faults(faults).await.unwrap();
        let err = identity.get_person(person_request(&iin)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
        assert!(err.message().contains("not trusted"), "{}", err.message());
        assert!(err.message().contains(expect), "{}", err.message());
    }
    env.demo
        .mocks
        .persons
        .set_faults(Faults::default())
        .await
        .unwrap();
    identity.get_person(person_request(&iin)).await.unwrap();
}
