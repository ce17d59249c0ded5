//! Resilience end to end: faults injected into the mock registries, the gateway's breakers,
//! retries, concurrency limits, rate limits and stale answers seen from a client.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
use std::time::{Duration, Instant};

use kopir_gateway::config::{Config, Rate, ResilienceConfig};
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::routing::RegistryId;
use kopir_mocks::Faults;
use kopir_resilience::breaker::BreakerState;
use kopir_tests::{person_request, test_config, Env};
use tonic::Code;
use tonic_types::StatusExt;

/// Persons with its cache off, so every call reaches the registry, and these resilience settings.
fn config(resilience: ResilienceConfig) -> Config {
    let mut c = test_config();
    let r = c.registry_mut(RegistryId::Persons).unwrap();
    r.cache.max_entries = 0;
    r.resilience = resilience;
    c
}

/// A gateway over a persons registry that answers `error_rate` of its calls with a failure.
async fn failing(error_rate: f64, resilience: ResilienceConfig) -> Env {
    let env = Env::start(config(resilience)).await;
    env.demo
        .mocks
        .persons
        .set_faults(Faults {
            error_rate,
            ..Faults::default()
        })
        .await
        .unwrap();
    env
}

fn iins(env: &Env, n: usize) -> Vec<String> {
    env.demo.mocks.population.person_order[..n].to_vec()
}

#[tokio::test]
async fn dead_registry_fails_fast_once_the_breaker_opens_and_recovers() {
    let env = Env::start(config(ResilienceConfig {
        retries: 1,
        breaker_min_calls: 5,
        breaker_failure_ratio: 0.5,
        breaker_open_ms: 400,
        breaker_half_open_probes: 2,
        ..ResilienceConfig::default()
    }))
    .await;
    let people = iins(&env, 20);
    env.demo.mocks.persons.stop().await;
    let mut client = env.identity();
    // Each call is one attempt and one retry, both refused: the breaker opens within 3 calls.
    for iin in &people[..3] {
        let err = client.get_person(person_request(iin)).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
    }
    assert_eq!(
        env.demo.gateway.router.breaker_state(RegistryId::Persons),
        Some(BreakerState::Open)
    );
    let started = Instant::now();
    let err = client
        .get_person(person_request(&people[3]))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("circuit breaker is open"),
        "{}",
        err.message()
    );
    // No registry attempt: what is left is the TLS round trip and the journal's durable commit
    // of the refusal (an fsync, which a loaded CI machine has stretched past 10 ms).
    assert!(
        took < Duration::from_millis(50),
        "open breaker answered in {took:?}"
    );
    let retry = err
        .get_details_retry_info()
        .expect("RetryInfo in the details");
    assert!(retry.retry_delay.unwrap() <= Duration::from_millis(400));

    // The registry comes back; after the open period the probes pass and the breaker closes.
    env.demo.mocks.persons.restart().await.unwrap();
    tokio::time::sleep(Duration::from_millis(450)).await;
    for iin in &people[4..6] {
        client
            .get_person(person_request(iin))
            .await
            .expect("probe call succeeds");
    }
    assert_eq!(
        env.demo.gateway.router.breaker_state(RegistryId::Persons),
        Some(BreakerState::Closed)
    );
}

#[tokio::test]
async fn retries_hide_a_30_percent_error_rate_within_the_budget() {
    let env = failing(
        0.3,
        ResilienceConfig {
            retries: 3,
            retry_backoff_ms: 1,
            retry_backoff_max_ms: 5,
            retry_budget_percent: 50.0,
            retry_budget_min_per_s: 1,
            breaker_min_calls: 10_000,
            ..ResilienceConfig::default()
        },
    )
    .await;
    let people = iins(&env, 200);
    let before = env.demo.mocks.persons.calls();
    let mut client = env.identity();
    for iin in &people {
        let p = client
            .get_person(person_request(iin))
            .await
            .expect("errors are hidden by retries");
        assert_eq!(&p.into_inner().person.unwrap().iin, iin);
    }
    let attempts = env.demo.mocks.persons.calls() - before;
    let retries = attempts - 200;
    // 30% of attempts failed and were retried...
    assert!(retries >= 80, "{retries} retries");
    // ...and retries stayed inside the budget: 50% of requests plus 1/s over the 10 s window.
    assert!(retries <= 100 + 10, "{retries} retries");
}

#[tokio::test]
async fn the_retry_budget_holds_when_everything_fails() {
    let env = failing(
        1.0,
        ResilienceConfig {
            retries: 3,
            retry_backoff_ms: 1,
            retry_backoff_max_ms: 2,
            retry_budget_percent: 10.0,
            retry_budget_min_per_s: 0,
            breaker_min_calls: 10_000,
            ..ResilienceConfig::default()
        },
    )
    .await;
    let people = iins(&env, 100);
    let before = env.demo.mocks.persons.calls();
    let mut client = env.identity();
    for iin in &people {
        let err = client.get_person(person_request(iin)).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    }
    let retries = env.demo.mocks.persons.calls() - before - 100;
    // Without a budget this would be 300 retries; 10% of 100 requests allows 10.
    assert!(retries <= 11, "{retries} retries");
}

#[tokio::test]
async fn a_burst_past_the_concurrency_limit_is_shed_at_once() {
    let env = Env::start(config(ResilienceConfig {
        max_concurrency: 2,
        max_queue: 2,
        ..ResilienceConfig::default()
    }))
    .await;
    env.demo.mocks.persons.set_latency_ms(300);
    let people = iins(&env, 10);
    let mut tasks = Vec::new();
    for iin in people {
        let mut client = env.identity();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let result = client.get_person(person_request(&iin)).await;
            (result.map(|_| ()).map_err(|s| s.code()), started.elapsed())
        }));
    }
    let mut served = 0;
    let mut shed = 0;
    for t in tasks {
        match t.await.unwrap() {
            (Ok(()), took) => {
                served += 1;
                assert!(took >= Duration::from_millis(300));
            }
            (Err(Code::ResourceExhausted), took) => {
                shed += 1;
                assert!(took < Duration::from_millis(150), "shed after {took:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Two in flight and two queued are served; the other six are shed.
    assert_eq!((served, shed), (4, 6));
}

fn entity_request(requester: &str, bin: &str) -> pb::GetLegalEntityRequest {
    pb::GetLegalEntityRequest {
        meta: Some(pb::RequestMeta {
            requester_bin: requester.into(),
            ..Default::default()
        }),
        bin: Some(pb::Bin { value: bin.into() }),
        signed: None,
    }
}

#[tokio::test]
async fn one_client_over_its_rate_limit_does_not_slow_another() {
    // Clients are told apart by their certificates: the portal is limited, the bank is not.
    let mut c = test_config();
    let a = kopir_mocks::pki::DEMO_PORTAL_BIN.to_string();
    let b = kopir_mocks::pki::DEMO_BANK_BIN.to_string();
    c.rate_limits.clients.insert(
        format!("bin:{a}"),
        Rate {
            per_second: 5,
            burst: 5,
        },
    );
    let env = Env::start(c).await;
    let target = env.demo.mocks.population.entity_order[2].clone();
    let (ta, tb) = (target.clone(), target);
    let mut client_a = env.identity();
    let flood = tokio::spawn(async move {
        let mut ok = 0;
        let mut limited = Vec::new();
        let started = Instant::now();
        for _ in 0..30 {
            match client_a.get_legal_entity(entity_request(&a, &ta)).await {
                Ok(_) => ok += 1,
                Err(s) => limited.push(s),
            }
        }
        (ok, limited, started.elapsed())
    });
    let mut client_b = IdentityServiceClient::new(env.channel_as("bank").await.unwrap());
    let mut took = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        client_b
            .get_legal_entity(entity_request(&b, &tb))
            .await
            .expect("client B is not limited");
        took.push(started.elapsed());
    }
    let (ok, limited, flooded_for) = flood.await.unwrap();
    // The burst, plus what the rate refilled while the 30 calls took their time (a loaded
    // machine stretches them), plus one token of rounding.
    let refilled = (5.0 * flooded_for.as_secs_f64()).ceil() as usize;
    assert!(
        (5..=6 + refilled).contains(&ok),
        "client A got {ok} through in {flooded_for:?}"
    );
    assert_eq!(ok + limited.len(), 30);
    for s in &limited {
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert!(s.message().contains("rate limit of 5 requests per second"));
        let delay = s.get_details_retry_info().unwrap().retry_delay.unwrap();
        assert!(
            delay > Duration::ZERO && delay <= Duration::from_millis(200),
            "{delay:?}"
        );
    }
    // A limiter that queued B behind A would hold most of B's calls for a token (200 ms each);
    // refusing A at once leaves B's typical call fast.
    took.sort();
    assert!(
        took[took.len() / 2] < Duration::from_millis(100),
        "client B's median call {:?}",
        took[took.len() / 2]
    );
}

#[tokio::test]
async fn a_stale_record_stands_in_while_the_registry_is_down() {
    let mut c = test_config();
    let r = c.registry_mut(RegistryId::Persons).unwrap();
    r.cache.ttl_s = 1;
    r.cache.stale_s = 60;
    r.resilience.breaker_min_calls = 2;
    r.resilience.breaker_open_ms = 60_000;
    let env = Env::start(c).await;
    let people = iins(&env, 2);
    let mut client = env.identity();
    let fresh = client.get_person(person_request(&people[0])).await.unwrap();
    assert!(fresh.metadata().get("x-kopir-stale").is_none());
    let fresh = fresh.into_inner();

    env.demo.mocks.persons.stop().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Past the TTL, the registry unreachable and then its breaker open: the stale record answers.
    for _ in 0..3 {
        let stale = client.get_person(person_request(&people[0])).await.unwrap();
        assert_eq!(stale.metadata().get("x-kopir-stale").unwrap(), "true");
        let stale = stale.into_inner();
        assert!(stale.info.as_ref().unwrap().stale);
        assert!(stale.info.as_ref().unwrap().from_cache);
        assert_eq!(stale.person, fresh.person);
    }
    assert_eq!(
        env.demo.gateway.router.breaker_state(RegistryId::Persons),
        Some(BreakerState::Open)
    );
    // Nothing cached for the other person: no stand-in.
    let err = client
        .get_person(person_request(&people[1]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let stats = env.demo.gateway.caches.stats(RegistryId::Persons).unwrap();
    assert_eq!(stats.stale_served, 3);
}

#[tokio::test]
async fn injected_faults_map_to_clear_statuses() {
    let mut c = config(ResilienceConfig {
        retries: 0,
        breaker_min_calls: 10_000,
        ..ResilienceConfig::default()
    });
    c.registry_mut(RegistryId::Persons)
        .unwrap()
        .request_timeout_ms = 300;
    let env = Env::start(c).await;
    let people = iins(&env, 4);
    let mut client = env.identity();
    let cases = [
        (
            Faults {
                malformed_rate: 1.0,
                ..Faults::default()
            },
            Code::Internal,
            "cannot read",
        ),
        (
            Faults {
                reset_rate: 1.0,
                ..Faults::default()
            },
            Code::Unavailable,
            "unavailable",
        ),
        (
            Faults {
                timeout_rate: 1.0,
                ..Faults::default()
            },
            Code::DeadlineExceeded,
            "did not answer within 300 ms",
        ),
        (
            Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
            Code::Unavailable,
            "SRVC001",
        ),
    ];
    for ((faults, code, text), iin) in cases.into_iter().zip(&people) {
        env.demo
            .mocks
            .persons
            .set_faults(faults.clone())
            .await
            .unwrap();
        let err = client.get_person(person_request(iin)).await.unwrap_err();
        assert_eq!(err.code(), code, "{faults:?}: {}", err.message());
        assert!(
            err.message().contains(text),
            "{faults:?}: {}",
            err.message()
        );
    }
    env.demo
        .mocks
        .persons
        .set_faults(Faults::default())
        .await
        .unwrap();
    client
        .get_person(person_request(&people[0]))
        .await
        .expect("healthy again");
}

/// The mocks' control endpoint names every mock that runs, and a PUT body replaces all of a
/// registry's fault keys (one left out is healthy again); a mock without faults says so.
#[tokio::test]
async fn the_control_endpoint_lists_every_mock_and_a_put_replaces_all_keys() {
    let env = Env::start(test_config()).await;
    let control = format!("http://{}", env.demo.mocks.control_addr.unwrap());
    let http = reqwest::Client::new();
    let list: serde_json::Value = http
        .get(format!("{control}/registries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for name in [
        "persons",
        "legal_entities",
        "notary",
        "cadastre",
        "payments",
        "kdp",
        "bank",
        "generic",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let put = |name: &str, body: serde_json::Value| {
        http.put(format!("{control}/registries/{name}/faults"))
            .json(&body)
            .send()
    };
    let set: serde_json::Value = put(
        "persons",
        serde_json::json!({"latency_ms": 7, "error_rate": 0.5}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(set["faults"]["latency_ms"], 7);
    let set: serde_json::Value = put("persons", serde_json::json!({"error_rate": 0.1}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        set["faults"]["latency_ms"], 0,
        "a key left out is healthy again"
    );
    assert_eq!(set["faults"]["error_rate"], 0.1);
    let refused = put("bank", serde_json::json!({})).await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::NOT_FOUND);
    let text = refused.text().await.unwrap();
    assert!(text.contains("bank takes no faults"), "{text}");
}

/// A registry that freezes (takes the request, never answers) under load: with the embedded
/// resilience settings (three attempts of a 5 s request timeout), every call still ends within
/// the client's 1 s deadline as the gateway's own answer — the stale copy for a person cached
/// before, DEADLINE_EXCEEDED or UNAVAILABLE (breaker open) for one never cached — and the breaker,
/// counting calls slower than `breaker_slow_call_ms`, opens within 2 s of the freeze.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_registry_fails_over_to_stale_or_a_refusal_within_the_deadline() {
    let mut c = test_config();
    let r = c.registry_mut(RegistryId::Persons).unwrap();
    r.cache.ttl_s = 1;
    r.cache.stale_s = 600;
    let env = Env::start(c).await;
    let people = iins(&env, 64);
    let (cached, never) = people.split_at(32);
    let mut client = env.identity();
    for iin in cached {
        client.get_person(person_request(iin)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    env.demo
        .mocks
        .persons
        .set_faults(Faults {
            timeout_rate: 1.0,
            ..Faults::default()
        })
        .await
        .unwrap();
    let frozen = Instant::now();
    let opened = tokio::spawn({
        let router = env.demo.gateway.router.clone();
        async move {
            while router.breaker_state(RegistryId::Persons) != Some(BreakerState::Open) {
                if frozen.elapsed() > Duration::from_secs(10) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Some(frozen.elapsed())
        }
    });
    // 32 clients, each asking for one cached and one never-cached person in turn for 3 s.
    let mut clients = Vec::new();
    for (a, b) in cached
        .iter()
        .zip(never)
        .map(|(a, b)| (a.clone(), b.clone()))
    {
        let mut client = env.identity();
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut turn = 0;
            while frozen.elapsed() < Duration::from_secs(3) {
                let (iin, was_cached) = if turn % 2 == 0 {
                    (&a, true)
                } else {
                    (&b, false)
                };
                turn += 1;
                let mut req = tonic::Request::new(person_request(iin));
                req.set_timeout(Duration::from_secs(1));
                let started = Instant::now();
                let outcome = client.get_person(req).await;
                let took = started.elapsed();
                let stale = outcome
                    .as_ref()
                    .ok()
                    .and_then(|r| r.metadata().get("x-kopir-stale"))
                    .is_some();
                seen.push((
                    was_cached,
                    outcome.map(|_| ()).map_err(|s| s.code()),
                    stale,
                    took,
                ));
            }
            seen
        }));
    }
    let mut calls = Vec::new();
    for c in clients {
        calls.extend(c.await.unwrap());
    }
    let (mut stale, mut refused) = (0, 0);
    for (was_cached, outcome, is_stale, took) in &calls {
        assert!(
            *took < Duration::from_millis(1_000),
            "a call took {took:?}: {outcome:?}"
        );
        if *was_cached {
            assert_eq!(*outcome, Ok(()), "a cached person: {outcome:?}");
            assert!(is_stale, "a cached person's answer is marked stale");
            stale += 1;
        } else {
            let code = outcome.unwrap_err();
            assert!(
                matches!(code, Code::DeadlineExceeded | Code::Unavailable),
                "{code:?}"
            );
            refused += 1;
        }
    }
    assert!(
        stale >= 32 && refused >= 32,
        "{stale} stale, {refused} refused"
    );
    let opened = opened.await.unwrap().expect("the breaker opened");
    eprintln!(
        "{} calls: {stale} stale, {refused} refused; breaker open after {opened:?}",
        calls.len()
    );
    assert!(
        opened < Duration::from_secs(2),
        "the breaker opened after {opened:?}"
    );
}
