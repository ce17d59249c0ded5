//! Identity lookups end to end: client → gateway → adapter → mock registry, over real sockets.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Datelike;
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::routing::RegistryId;
use kopir_tests::{person_request, test_config, unknown_iin, Env};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

fn date(d: &Option<pb::Date>) -> (i32, i32, i32) {
    let d = d.as_ref().expect("date present");
    (d.year, d.month, d.day)
}

fn ymd(d: chrono::NaiveDate) -> (i32, i32, i32) {
    (d.year(), d.month() as i32, d.day() as i32)
}

#[tokio::test]
async fn known_person_matches_the_registry_record() {
    let env = Env::start(test_config()).await;
    let pop = env.demo.mocks.population.clone();
    // One registered person with a temporary address, and one deregistered person.
    let registered = pop
        .persons
        .values()
        .find(|p| p.temporary.is_some())
        .expect("someone has a temporary registration");
    let deregistered = pop.sample_deregistered().expect("someone is deregistered");
    for expected in [registered, deregistered] {
        let got = env
            .identity()
            .get_person(person_request(&expected.iin))
            .await
            .expect("known person is found")
            .into_inner();
        let p = got.person.expect("person present");
        assert_eq!(p.iin, expected.iin);
        assert_eq!(p.surname, expected.surname);
        assert_eq!(p.given_name, expected.given_name);
        assert_eq!(p.patronymic, expected.patronymic);
        assert_eq!(date(&p.birth_date), ymd(expected.birth_date));
        assert_eq!(p.birth_place, expected.birth_place);
        assert_eq!(p.citizenship, expected.citizenship);
        let doc = p.document.clone().expect("document present");
        let edoc = expected.document.as_ref().expect("mock has a document");
        assert_eq!(doc.number, edoc.number);
        assert_eq!(
            doc.expiry_date.map(|d| (d.year, d.month, d.day)),
            edoc.expiry_date.map(ymd)
        );
        match (&p.registered_address, &expected.registration) {
            (Some(got), Some(exp)) => {
                let a = got.address.as_ref().expect("address");
                assert_eq!(a.region, exp.address.region);
                assert_eq!(a.locality, exp.address.locality);
                assert_eq!(a.street, exp.address.street);
                assert_eq!(a.house, exp.address.house);
                assert_eq!(a.flat, exp.address.flat);
                assert_eq!(date(&got.registration_date), ymd(exp.date));
            }
            (None, None) => {}
            other => panic!("registration differs: {other:?}"),
        }
        assert_eq!(p.temporary_address.is_some(), expected.temporary.is_some());
        match (&p.deregistration, &expected.deregistration) {
            (Some(got), Some(exp)) => {
                assert_eq!(got.reason, exp.reason);
                assert_eq!(date(&got.date), ymd(exp.date));
            }
            (None, None) => {}
            other => panic!("deregistration differs: {other:?}"),
        }
        // Every field the mock's record holds, the published parts included: reference codes
        // and both languages, every document with its status, the registration address by
        // parts with its address-register code.
        assert_eq!(p, kopir_gateway::proto::convert::person(expected));
        let gender = p.gender.as_ref().expect("gender");
        assert!(
            !gender.code.is_empty() && !gender.name_ru.is_empty() && !gender.name_kz.is_empty()
        );
        assert!(p
            .documents
            .iter()
            .all(|d| d.status.is_some() && d.r#type.is_some()));
        assert!(!p
            .reg_address
            .as_ref()
            .expect("registration by parts")
            .ar_code
            .is_empty());
        let info = got.info.expect("info present");
        assert_eq!(info.registry, "persons");
        assert!(!info.from_cache);
        assert!(!info.request_id.is_empty());
    }
}

#[tokio::test]
async fn legal_entity_and_address_reference() {
    let env = Env::start(test_config()).await;
    let pop = env.demo.mocks.population.clone();
    let entity = pop.sample_entity().expect("an active entity");
    let got = env
        .identity()
        .get_legal_entity(kopir_tests::entity_request(&entity.bin))
        .await
        .expect("known entity is found")
        .into_inner()
        .legal_entity
        .expect("entity present");
    // Every field the mock's record holds: names, status, legal form, OKED activities, the
    // leader, founders and the KATO-coded address.
    assert_eq!(got, kopir_gateway::proto::convert::legal_entity(entity));
    assert!(!got.activities.is_empty() && !got.address.as_ref().expect("address").kato.is_empty());
    assert_eq!(got.bin, entity.bin);
    assert_eq!(got.name_kk, entity.name_kk);
    assert_eq!(got.name_ru, entity.name_ru);
    assert_eq!(got.status, pb::LegalEntityStatus::Active as i32);
    assert_eq!(
        got.head.map(|h| h.iin),
        entity.head.as_ref().map(|h| h.iin.clone())
    );

    // Variant (a): a registered person's reference carries the address.
    let person = pop.sample_person().expect("a registered person");
    let reference = |iin: &str| pb::GetAddressReferenceRequest {
        meta: None,
        iin: Some(pb::Iin { value: iin.into() }),
        signed: None,
    };
    let a = env
        .identity()
        .get_address_reference(reference(&person.iin))
        .await
        .expect("reference issued")
        .into_inner()
        .reference
        .expect("reference present");
    assert_eq!(a.iin, person.iin);
    assert_eq!(a.full_name, person.full_name());
    assert_eq!(a.birth_year, person.birth_date.year());
    assert_eq!(a.source, "ГБД ФЛ");
    assert!(a.registered_address.is_some() && a.deregistration.is_none());
    // Built from the persons database's regAddress, with its address-register code.
    let reg = person
        .details
        .reg_address
        .as_ref()
        .expect("registration by parts");
    assert_eq!(a.ar_code, reg.ar_code);
    assert!(!a.ar_code.is_empty());
    // Each issue gets its own number, even from cached data.
    let again = env
        .identity()
        .get_address_reference(reference(&person.iin))
        .await
        .expect("reference issued again")
        .into_inner()
        .reference
        .expect("reference present");
    assert_ne!(a.number, again.number);

    // Variant (b): a deregistered person's reference carries the deregistration and reason.
    let gone = pop.sample_deregistered().expect("a deregistered person");
    let b = env
        .identity()
        .get_address_reference(reference(&gone.iin))
        .await
        .expect("reference issued")
        .into_inner()
        .reference
        .expect("reference present");
    assert!(b.registered_address.is_none());
    assert_eq!(
        b.ar_code,
        gone.details
            .reg_address
            .as_ref()
            .expect("the address left")
            .ar_code
    );
    assert_eq!(
        b.deregistration.map(|d| d.reason),
        gone.deregistration.as_ref().map(|d| d.reason.clone())
    );

    // A deceased person gets no reference, and is told why.
    if let Some(dead) = pop
        .persons
        .values()
        .find(|p| p.life_status == kopir_core::model::LifeStatus::Deceased)
    {
        let err = env
            .identity()
            .get_address_reference(reference(&dead.iin))
            .await
            .expect_err("no reference for the deceased");
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("deceased"));
    }
}

#[tokio::test]
async fn bad_check_digit_is_refused_at_the_edge() {
    let env = Env::start(test_config()).await;
    let good = env.sample_iin();
    let last = good.as_bytes()[11] - b'0';
    let bad = format!("{}{}", &good[..11], (last + 1) % 10);
    let before = env.demo.mocks.persons.calls();
    for (input, expect) in [
        (bad.as_str(), "check digit"),
        ("12345", "12 digits"),
        ("8501233012O1", "digits only"),
    ] {
        let err = env
            .identity()
            .get_person(person_request(input))
            .await
            .expect_err("invalid IIN is refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{input}");
        assert!(err.message().contains("`iin.value`"), "{}", err.message());
        assert!(err.message().contains(expect), "{}", err.message());
    }
    let missing = env
        .identity()
        .get_person(pb::GetPersonRequest {
            meta: None,
            iin: None,
            signed: None,
        })
        .await
        .expect_err("missing IIN is refused");
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(missing.message().contains("`iin`"));
    let bad_requester = env
        .identity()
        .get_person(pb::GetPersonRequest {
            meta: Some(pb::RequestMeta {
                requester_bin: "000000000001".into(),
                ..Default::default()
            }),
            iin: Some(pb::Iin { value: good }),
            signed: None,
        })
        .await
        .expect_err("bad requester BIN is refused");
    assert!(bad_requester.message().contains("`meta.requester_bin`"));
    assert_eq!(
        env.demo.mocks.persons.calls(),
        before,
        "registry was not called"
    );
}

#[tokio::test]
async fn second_lookup_is_served_from_cache() {
    let env = Env::start(test_config()).await;
    let iin = env.sample_iin();
    let before = env.demo.mocks.persons.calls();
    let first = env
        .identity()
        .get_person(person_request(&iin))
        .await
        .unwrap();
    assert_eq!(first.metadata().get("x-kopir-cache").unwrap(), "miss");
    assert_eq!(env.demo.mocks.persons.calls(), before + 1);
    let second = env
        .identity()
        .get_person(person_request(&iin))
        .await
        .unwrap();
    assert_eq!(second.metadata().get("x-kopir-cache").unwrap(), "hit");
    assert!(second.get_ref().info.as_ref().unwrap().from_cache);
    assert_eq!(
        env.demo.mocks.persons.calls(),
        before + 1,
        "no second registry call"
    );
    assert_eq!(
        first.into_inner().person,
        second.into_inner().person,
        "the cached answer is the same record"
    );

    // "No such person" is cached too, for its shorter negative TTL.
    let unknown = unknown_iin(&env);
    for _ in 0..2 {
        let err = env
            .identity()
            .get_person(person_request(&unknown))
            .await
            .expect_err("unknown IIN");
        assert_eq!(err.code(), Code::NotFound);
        assert!(err.message().contains("persons registry has no record"));
        assert!(err.metadata().get("x-kopir-request-id").is_some());
    }
    assert_eq!(env.demo.mocks.persons.calls(), before + 2);
    let stats = env.demo.gateway.caches.stats(RegistryId::Persons).unwrap();
    assert_eq!((stats.hits, stats.misses), (2, 2));
}

#[tokio::test]
async fn stopped_registry_is_unavailable_and_not_serving() {
    let env = Env::start(test_config()).await;
    let mut health = HealthClient::new(env.channel.clone());
    let check = |h: &mut HealthClient<_>| {
        let mut h = h.clone();
        async move {
            h.check(HealthCheckRequest {
                service: "kopir.registry.persons".into(),
            })
            .await
            .map(|r| r.into_inner().status)
            .unwrap_or(-1)
        }
    };
    assert!(
        Env::eventually(Duration::from_secs(5), async || {
            check(&mut health).await == ServingStatus::Serving as i32
        })
        .await,
        "persons turns SERVING once probed"
    );

    env.demo.mocks.persons.stop().await;
    let iin = env.sample_iin();
    let err = env
        .identity()
        .get_person(person_request(&iin))
        .await
        .expect_err("registry is down");
    assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    assert!(err.message().contains("persons registry is unavailable"));
    assert_eq!(
        check(&mut health).await,
        ServingStatus::NotServing as i32,
        "the failed call turned the entry NOT_SERVING"
    );
    // The other registry is unaffected.
    let entities = health
        .check(HealthCheckRequest {
            service: "kopir.registry.legal_entities".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(entities, ServingStatus::Serving as i32);

    env.demo.mocks.persons.restart().await.unwrap();
    assert!(
        Env::eventually(Duration::from_secs(5), async || {
            check(&mut health).await == ServingStatus::Serving as i32
        })
        .await,
        "the probe notices the registry is back"
    );
    env.identity()
        .get_person(person_request(&iin))
        .await
        .expect("served again");
}

#[tokio::test]
async fn slow_registry_exceeds_the_service_deadline() {
    let mut config = test_config();
    config
        .registry_mut(RegistryId::Persons)
        .unwrap()
        .deadline_ms = 200;
    let env = Env::start(config).await;
    env.demo.mocks.persons.set_latency_ms(1_000);
    let iin = env.sample_iin();
    let started = Instant::now();
    let err = env
        .identity()
        .get_person(person_request(&iin))
        .await
        .expect_err("registry slower than the deadline");
    let took = started.elapsed();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{}", err.message());
    assert!(err.message().contains("200 ms"), "{}", err.message());
    assert!(took < Duration::from_millis(800), "answered after {took:?}");

    // A client's shorter grpc-timeout wins over the service deadline (here 2 s, so the 300 ms
    // client deadline decides), and the gateway answers DEADLINE_EXCEEDED itself, a little before
    // the client's own timer would.
    drop(env);
    let mut config = test_config();
    config
        .registry_mut(RegistryId::Persons)
        .unwrap()
        .deadline_ms = 2_000;
    let env = Env::start(config).await;
    env.demo.mocks.persons.set_latency_ms(1_000);
    let mut req = tonic::Request::new(person_request(&iin));
    req.set_timeout(Duration::from_millis(300));
    let err = env
        .identity()
        .get_person(req)
        .await
        .expect_err("client deadline");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{}", err.message());
    assert!(err.message().contains("grpc-timeout"), "{}", err.message());
}

#[tokio::test]
async fn reflection_lists_the_services() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let env = Env::start(test_config()).await;
    let mut client = ServerReflectionClient::new(env.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"kopir.v1.IdentityService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
}

#[tokio::test]
async fn the_registries_direct_grpc_front_serves_the_same_records() {
    use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
    use kopir_mocks::{MockConfig, MockSet};
    let mocks = MockSet::start(&MockConfig {
        grpc_front_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..MockConfig::ephemeral().with_latency_ms(0)
    })
    .await
    .unwrap();
    let addr = mocks.grpc_front_addr.unwrap();
    let mut client = IdentityServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let expected = mocks.population.sample_person().unwrap();
    let before = mocks.persons.calls();
    let got = client
        .get_person(person_request(&expected.iin))
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    assert_eq!(got.surname, expected.surname);
    assert_eq!(date(&got.birth_date), ymd(expected.birth_date));
    assert_eq!(
        mocks.persons.calls(),
        before + 1,
        "the front counts as a registry call"
    );
    let err = client.get_person(person_request("123")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}
