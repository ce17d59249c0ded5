//! Bytes that are not the method's message, sent over a real connection: each is the caller's
//! INVALID_ARGUMENT (or RESOURCE_EXHAUSTED when too large) with a request id, counted, and the
//! gateway keeps serving.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kopir_adapters::channel::RawCodec;
use kopir_tests::{metric, person_request, scrape, test_config, Env};
use rand::{Rng, SeedableRng};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::Code;

const GET_PERSON: &str = "/kopir.v1.IdentityService/GetPerson";
const WATCH: &str = "/kopir.v1.PledgeService/WatchPledgeStatus";

async fn unary(env: &Env, path: &'static str, bytes: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(env.channel.clone());
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(bytes),
        PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .expect_err("bad bytes are refused")
}

#[tokio::test]
async fn undecodable_requests_are_the_callers_error_with_a_request_id() {
    let mut config = test_config();
    config.server.max_message_bytes = 64 * 1024;
    let env = Env::start(config).await;

    // The request's `iin` (field 2) holding its `value` with bytes that are not UTF-8.
    let status = unary(&env, GET_PERSON, vec![0x12, 0x04, 0x0a, 0x02, 0xff, 0xfe]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("iin"), "{}", status.message());
    assert!(status.message().contains("UTF-8"), "{}", status.message());
    let id = status
        .metadata()
        .get("x-kopir-request-id")
        .expect("a request id")
        .to_str()
        .unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    // Truncated and random messages, seeded: never INTERNAL or UNKNOWN, and the connection holds.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    let mut refused = 1;
    for i in 0..300 {
        let len = rng.random_range(1..64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if i % 3 == 0 {
            // A length prefix promising more than follows.
            bytes = vec![0x12, 0x7f, 0x0a];
        }
        let mut grpc = tonic::client::Grpc::new(env.channel.clone());
        grpc.ready().await.unwrap();
        match grpc
            .unary(
                tonic::Request::new(bytes),
                PathAndQuery::from_static(GET_PERSON),
                RawCodec,
            )
            .await
        {
            Ok(_) => {}
            Err(s) => {
                assert!(!matches!(s.code(), Code::Internal | Code::Unknown), "{s:?}");
                if s.code() == Code::InvalidArgument
                    && s.message()
                        .starts_with(kopir_gateway::proto::codec::UNDECODABLE)
                {
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 100, "only {refused} undecodable requests refused");

    // A streaming method refuses the same way.
    let mut grpc = tonic::client::Grpc::new(env.channel.clone());
    grpc.ready().await.unwrap();
    let stream = grpc
        .server_streaming(
            tonic::Request::new(vec![0x0a, 0x7f]),
            PathAndQuery::from_static(WATCH),
            RawCodec,
        )
        .await;
    let status = stream.expect_err("refused before the stream opens");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Over the configured limit: RESOURCE_EXHAUSTED, naming the setting.
    let mut big = vec![0xfa, 0x06]; // field 111, length-delimited (unknown, skipped if decoded)
    let len = 100 * 1024u32;
    let mut v = len;
    while v >= 0x80 {
        big.push((v as u8) | 0x80);
        v >>= 7;
    }
    big.push(v as u8);
    big.resize(big.len() + len as usize, b'x');
    let status = unary(&env, GET_PERSON, big).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("max_message_bytes"),
        "{}",
        status.message()
    );
    assert!(status.metadata().get("x-kopir-request-id").is_some());

    // Counted like any refusal, and the gateway still answers.
    let (_, m) = scrape(&env).await;
    let counted = metric(
        &m,
        "kopir_requests_total",
        &[
            ("client", "anonymous"),
            ("method", "kopir.v1.IdentityService/GetPerson"),
            ("code", "INVALID_ARGUMENT"),
        ],
    )
    .unwrap_or(0.0);
    assert!(counted >= f64::from(refused), "{counted} < {refused}");
    env.identity()
        .get_person(person_request(&env.sample_iin()))
        .await
        .expect("a valid request after the bad ones");
}

/// A client's own request id is taken when it is short and plain (and comes back on the
/// answer); one with other characters or over 128 of them is refused by name, not logged.
#[tokio::test]
async fn a_client_request_id_is_taken_only_when_short_and_plain() {
    let env = Env::start(test_config()).await;
    let with_id = |id: &str| {
        let mut r = person_request(&env.sample_iin());
        r.meta.get_or_insert_default().request_id = id.to_string();
        r
    };
    let answer = env
        .identity()
        .get_person(with_id("portal-7f3a:2026.12.01_x"))
        .await
        .expect("a plain request id");
    assert_eq!(
        answer.metadata().get("x-kopir-request-id").unwrap(),
        "portal-7f3a:2026.12.01_x"
    );
    for bad in ["two\nlines", "id with spaces", "ключ", &"a".repeat(129)] {
        let s = env.identity().get_person(with_id(bad)).await.unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{bad:?}: {s:?}");
        assert!(s.message().contains("meta.request_id"), "{}", s.message());
        assert!(
            !s.message().contains(bad),
            "the refusal repeats the id: {}",
            s.message()
        );
    }
}
