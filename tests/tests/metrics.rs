//! The Prometheus endpoint: scraped over HTTP after known calls, parsed with a Prometheus text
//! parser, and its counts compared with the calls made.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
use kopir_mocks::pki::DEMO_BANK_BIN;
use kopir_tests::{metric as value, person_request, scrape, test_config, Env};

#[tokio::test]
async fn the_metrics_endpoint_counts_what_crossed_the_gateway() {
    let env = Env::start(test_config()).await;
    let people = &env.demo.mocks.population.person_order;
    // The portal (lawful access): three persons, then the first twice more (cache hits).
    let mut portal = env.identity();
    for iin in [&people[0], &people[1], &people[2], &people[0], &people[0]] {
        portal.get_person(person_request(iin)).await.unwrap();
    }
    // A malformed IIN, refused at the edge: counted like any other refusal.
    let mut typo = person_request(&people[3]);
    typo.iin = Some(kopir_gateway::proto::v1::Iin {
        value: "12345".into(),
    });
    portal.get_person(typo).await.unwrap_err();
    // The bank, without the person's consent: refused.
    let mut bank = IdentityServiceClient::new(env.channel_as("bank").await.unwrap());
    bank.get_person(person_request(&people[40]))
        .await
        .unwrap_err();

    let (text, m) = scrape(&env).await;
    const GET_PERSON: &str = "kopir.v1.IdentityService/GetPerson";
    let portal_ok = [
        ("client", "bin:000940001238"),
        ("method", GET_PERSON),
        ("code", "OK"),
    ];
    assert_eq!(value(&m, "kopir_requests_total", &portal_ok), Some(5.0));
    let bank_client = format!("bin:{DEMO_BANK_BIN}");
    let bank_denied = [
        ("client", bank_client.as_str()),
        ("method", GET_PERSON),
        ("code", "PERMISSION_DENIED"),
    ];
    assert_eq!(value(&m, "kopir_requests_total", &bank_denied), Some(1.0));
    let portal_invalid = [
        ("client", "bin:000940001238"),
        ("method", GET_PERSON),
        ("code", "INVALID_ARGUMENT"),
    ];
    assert_eq!(
        value(&m, "kopir_requests_total", &portal_invalid),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "kopir_request_duration_seconds_count",
            &[("method", GET_PERSON)]
        ),
        Some(7.0)
    );
    // Three misses reached the persons registry; two answers came from the cache.
    let persons = ("registry", "persons");
    assert_eq!(
        value(
            &m,
            "kopir_registry_duration_seconds_count",
            &[persons, ("outcome", "ok")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &m,
            "kopir_cache_events_total",
            &[persons, ("event", "miss")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&m, "kopir_cache_events_total", &[persons, ("event", "hit")]),
        Some(2.0)
    );
    // moka counts entries lazily: the gauge is there, its value approximate.
    assert!(value(&m, "kopir_cache_entries", &[persons]).is_some());
    for registry in [
        "persons",
        "legal_entities",
        "notary",
        "cadastre",
        "payments",
    ] {
        assert_eq!(
            value(&m, "kopir_breaker_state", &[("registry", registry)]),
            Some(0.0),
            "{registry}: closed"
        );
        assert!(value(&m, "kopir_registry_up", &[("registry", registry)]).is_some());
    }
    // Every call left two journal records, each batch timed.
    let records = value(&m, "kopir_journal_records_total", &[]).unwrap();
    assert!(records >= 12.0, "{records}");
    assert!(value(&m, "kopir_journal_commit_duration_seconds_count", &[]).unwrap() >= 1.0);
    // Nothing personal in any label.
    for iin in &people[..3] {
        assert!(!text.contains(iin.as_str()), "an IIN leaked into /metrics");
    }
    assert!(!text.contains(people[40].as_str()));

    // A client without a certificate fails the TLS handshake, and the failure is counted.
    let anonymous = kopir_tests::connect(env.demo.gateway.addr, env.pki.path(), None).await;
    if let Ok(channel) = anonymous {
        // TLS 1.3: the server's refusal arrives with the first exchange.
        IdentityServiceClient::new(channel)
            .get_person(person_request(&people[0]))
            .await
            .unwrap_err();
    }
    let mut counted = None;
    for _ in 0..50 {
        let (_, m) = scrape(&env).await;
        counted = value(
            &m,
            "kopir_tls_handshake_failures_total",
            &[("reason", "no_client_certificate")],
        );
        if counted.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(counted, Some(1.0));
}
