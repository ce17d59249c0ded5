//! The citizen's consent token (КДП): the gateway obtains one from the access control service
//! once its consent stage found the reader's basis, and presents it to the persons database,
//! which refuses a search without a valid token for that subject, bound to the presenting key.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kopir_tests::{consent_token, person_request, test_config, Env};

/// A signed SendMessage to the persons database's search, as the gateway would send it.
fn search(env: &Env, iin: &str, token: &str, public_key: &str) -> String {
    let body = format!(
        concat!(
            r#"<ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><request><requestInfo>"#,
            "<messageId>m</messageId><serviceId>GBDFLUniversal_token</serviceId><messageDate>2026-12-01T05:00:00+05:00</messageDate>",
            "<sender><senderId>{}</senderId><password>{}</password></sender></requestInfo><requestData><data>",
            "<messageId>m1</messageId><messageDate>2026-12-01T05:00:00+05:00</messageDate><senderCode>TEST</senderCode>",
            "<iin>{}</iin><kdpToken>{}</kdpToken><publicKey>{}</publicKey></data></requestData></request></ns2:SendMessage>"
        ),
        kopir_mocks::DEFAULT_SENDER_ID,
        kopir_mocks::DEFAULT_SENDER_PASSWORD,
        iin,
        token,
        public_key
    );
    let keys = &env.demo.pki.gateway_wsse;
    let signer = kopir_xmlsec::KeySigner::new(keys.key.clone(), keys.cert_der().unwrap());
    kopir_xmlsec::wsse::sign_envelope(
        &body,
        &signer,
        chrono::Utc::now(),
        std::time::Duration::from_secs(60),
    )
    .unwrap()
}

async fn post(url: String, envelope: String) -> String {
    reqwest::Client::new()
        .post(url)
        .header("soapaction", "\"\"")
        .body(envelope)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_persons_database_refuses_a_search_without_a_valid_token() {
    let env = Env::start(test_config()).await;
    let url = env.demo.mocks.persons.url();
    let iin = env.sample_iin();
    let other = env
        .demo
        .mocks
        .population
        .person_order
        .iter()
        .find(|i| **i != iin)
        .unwrap()
        .clone();
    let refused = |reply: &str, why: &str| {
        assert!(reply.contains("<code>00003</code>"), "{reply}");
        assert!(reply.contains(why), "{reply}");
        assert!(!reply.contains("<persons>"), "no record is served: {reply}");
    };
    // No token.
    let reply = post(url.clone(), search(&env, &iin, "", "key")).await;
    refused(&reply, "no consent token");
    // A token of someone else's record.
    let theirs = consent_token(&env, &other, "key").await;
    let reply = post(url.clone(), search(&env, &iin, &theirs, "key")).await;
    refused(&reply, "issued for another person");
    // This person's token presented by another key.
    let mine = consent_token(&env, &iin, "key").await;
    let reply = post(url.clone(), search(&env, &iin, &mine, "another key")).await;
    refused(&reply, "bound to another key");
    // A search's token (issued for no one in particular) does not open a read by IIN.
    let search_token = kopir_tests::token_for(&env, None, "lawful access: test", "key").await;
    let reply = post(url.clone(), search(&env, &iin, &search_token, "key")).await;
    refused(&reply, "does not open a read by IIN");
    // An unknown token.
    let reply = post(url.clone(), search(&env, &iin, "forged", "key")).await;
    refused(&reply, "unknown");
    // The right token, by its key: the record.
    let reply = post(url, search(&env, &iin, &mine, "key")).await;
    assert!(
        reply.contains("<code>00000</code>") && reply.contains("<persons>"),
        "{reply}"
    );
}

#[tokio::test]
async fn the_gateway_presents_a_token_issued_for_the_reader_subject_and_scope() {
    let env = Env::start(test_config()).await;
    let iin = env.sample_iin();
    env.identity()
        .get_person(person_request(&iin))
        .await
        .unwrap();
    let (sent, token) = kopir_tests::sent_token(&env);
    let grant = env
        .demo
        .mocks
        .kdp
        .tokens()
        .grant(&token)
        .expect("the access control service issued it");
    assert_eq!(grant.subject.as_deref(), Some(iin.as_str()));
    assert_eq!(grant.scope, "person");
    assert_eq!(
        grant.requester,
        format!("bin:{}", kopir_mocks::pki::DEMO_PORTAL_BIN)
    );
    assert!(grant.basis.starts_with("lawful access"), "{}", grant.basis);
    // Bound to the certificate the gateway signs its requests with.
    use base64::Engine as _;
    let cert = base64::engine::general_purpose::STANDARD
        .encode(env.demo.pki.gateway_wsse.cert_der().unwrap());
    assert_eq!(grant.holder, cert);
    assert!(sent.contains(&format!("<publicKey>{cert}</publicKey>")));
    // A second read reuses the token while it holds: no new one is issued.
    let issued = env.demo.mocks.kdp.tokens().issued();
    env.identity()
        .get_person(person_request(&iin))
        .await
        .unwrap();
    assert_eq!(env.demo.mocks.kdp.tokens().issued(), issued);
    // The address reference reads under its own scope: a token of its own.
    env.identity()
        .get_address_reference(kopir_gateway::proto::v1::GetAddressReferenceRequest {
            meta: person_request(&iin).meta,
            iin: Some(kopir_gateway::proto::v1::Iin { value: iin.clone() }),
            signed: None,
        })
        .await
        .unwrap();
    assert_eq!(env.demo.mocks.kdp.tokens().issued(), issued + 1);
}
