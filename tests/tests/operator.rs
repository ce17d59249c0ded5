//! The operators' gRPC methods: registry status with recent latency and errors, the live
//! exchange stream, cache invalidation and config reload, each for the operators' client only.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::operator_service_client::OperatorServiceClient;
use kopir_mocks::Faults;
use kopir_tests::{config_file, person_request, test_config, Env};
use tonic::Code;

async fn operator(env: &Env) -> OperatorServiceClient<tonic::transport::Channel> {
    OperatorServiceClient::new(env.channel_as("operator").await.unwrap())
}

async fn registries(env: &Env) -> Vec<pb::RegistryStatus> {
    operator(env)
        .await
        .get_registries(pb::GetRegistriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .registries
}

#[tokio::test]
async fn operators_see_registries_watch_exchanges_and_drop_cache_entries() {
    let env = Env::start(test_config()).await;
    let iin = env.sample_iin();

    // Only the operators' client may call these.
    let s = OperatorServiceClient::new(env.channel.clone())
        .get_registries(pb::GetRegistriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());

    // The live stream sees a call, masked.
    let mut watch = operator(&env)
        .await
        .watch_exchanges(pb::WatchExchangesRequest::default())
        .await
        .unwrap()
        .into_inner();
    env.identity()
        .get_person(person_request(&iin))
        .await
        .unwrap();
    let seen = loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), watch.message())
            .await
            .expect("an exchange arrives")
            .unwrap()
            .unwrap();
        if e.method == "kopir.v1.IdentityService/GetPerson" {
            break e;
        }
    };
    assert_eq!(seen.code, "OK");
    assert_eq!(seen.client, "bin:000940001238");
    assert_eq!(seen.subject, format!("{}******{}", &iin[..4], &iin[10..]));
    assert!(!seen.request_id.is_empty());

    // One registry call so far: closed breaker, serving, no errors, a latency.
    let persons =
        |list: Vec<pb::RegistryStatus>| list.into_iter().find(|r| r.name == "persons").unwrap();
    let p = persons(registries(&env).await);
    assert_eq!((p.breaker.as_str(), p.calls, p.errors), ("closed", 1, 0));
    assert!(p.p50_ms > 0.0 && p.cache_on && p.cache_misses == 1);
    assert_eq!(registries(&env).await.len(), 6);

    // Cached: no registry call. Invalidated: the next read asks the registry again.
    let before = env.demo.mocks.persons.calls();
    env.identity()
        .get_person(person_request(&iin))
        .await
        .unwrap();
    assert_eq!(env.demo.mocks.persons.calls(), before);
    let dropped = operator(&env)
        .await
        .invalidate_cache(pb::InvalidateCacheRequest {
            registry: "persons".into(),
            key: iin.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!dropped.all);
    env.identity()
        .get_person(person_request(&iin))
        .await
        .unwrap();
    assert_eq!(env.demo.mocks.persons.calls(), before + 1);
    let s = operator(&env)
        .await
        .invalidate_cache(pb::InvalidateCacheRequest {
            registry: "land_registry".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());

    // Registry failures show in the error rate.
    env.demo
        .mocks
        .persons
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .await
        .unwrap();
    let other = env.demo.mocks.population.person_order[5].clone();
    env.identity()
        .get_person(person_request(&other))
        .await
        .unwrap_err();
    let p = persons(registries(&env).await);
    assert!(p.errors >= 1 && p.error_rate > 0.0, "{p:?}");

    // Reload needs a file; this gateway runs on the embedded configuration.
    let s = operator(&env)
        .await
        .reload_config(pb::ReloadConfigRequest::default())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
}

#[tokio::test]
async fn reload_config_applies_an_edited_access_list_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // The file watcher is slowed to a crawl: only ReloadConfig can apply the edit in time.
    let (path, original) = config_file(dir.path(), 600_000);
    let env = Env::start(kopir_gateway::Config::load(&path).unwrap()).await;
    let bank = kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient::new(
        env.channel_as("bank").await.unwrap(),
    );
    let legal_entity = || pb::GetLegalEntityRequest {
        bin: Some(pb::Bin {
            value: env.demo.mocks.population.entity_order[0].clone(),
        }),
        ..Default::default()
    };
    // The bank may read legal entities; narrowed to persons only, it may not.
    assert!(bank.clone().get_legal_entity(legal_entity()).await.is_ok());
    let narrowed = original.replace(
        "    \"kopir.v1.IdentityService/GetLegalEntity\",\n    \"kopir.v1.IdentityService/GetPerson\",\n    \"kopir.v1.PledgeService/*\",",
        "    \"kopir.v1.IdentityService/GetPerson\",\n    \"kopir.v1.PledgeService/*\",",
    );
    assert_ne!(narrowed, original);
    std::fs::write(&path, &narrowed).unwrap();
    let reload = || async {
        operator(&env)
            .await
            .reload_config(pb::ReloadConfigRequest::default())
            .await
    };
    let r = reload().await.unwrap().into_inner();
    assert!(r.changed);
    assert_eq!(r.file, path.display().to_string());
    let s = bank
        .clone()
        .get_legal_entity(legal_entity())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
    assert!(!reload().await.unwrap().into_inner().changed, "nothing new");

    // A broken file is refused and the list in force stays.
    std::fs::write(&path, "this is not toml [").unwrap();
    let s = reload().await.unwrap_err();
    assert_ne!(s.code(), Code::Ok);
    assert!(s.message().contains("kopir.toml"), "{}", s.message());
    let s = bank
        .clone()
        .get_legal_entity(legal_entity())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
}
