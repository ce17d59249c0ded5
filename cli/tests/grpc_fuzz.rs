//! The gateway as an attacker's client finds it: `kopir demo` in a child process, every method it
//! lists by reflection sent a few thousand seeded requests (random bytes, valid messages built
//! from the method's own descriptor, those mutated, cut short, with huge strings and with
//! strings that are not UTF-8, and one over the size limit). No answer is INTERNAL or UNKNOWN,
//! the connection is never dropped, the process stays alive and its memory bounded.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use kopir_adapters::channel::RawCodec;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MessageDescriptor, MethodDescriptor, Value,
};
use rand::{Rng, SeedableRng};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::Code;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

const ROUNDS: usize = 72;
const SEED: u64 = 2026;

/// One reflection request's answer.
async fn reflect(channel: &Channel, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel.clone());
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        }]))
        .await
        .unwrap()
        .into_inner();
    answers
        .message()
        .await
        .unwrap()
        .and_then(|a| a.message_response)
        .expect("a reflection answer")
}

/// Every method of every service the gateway lists, with their descriptors, as reflection
/// gives them.
async fn methods(channel: &Channel) -> Vec<MethodDescriptor> {
    let MessageResponse::ListServicesResponse(list) =
        reflect(channel, MessageRequest::ListServices(String::new())).await
    else {
        panic!("no service list");
    };
    // The files defining the services, then every file they import, as a reflection client
    // asks for them.
    let mut files = BTreeMap::new();
    let mut asks: Vec<MessageRequest> = list
        .service
        .iter()
        .map(|s| MessageRequest::FileContainingSymbol(s.name.clone()))
        .collect();
    while let Some(ask) = asks.pop() {
        let MessageResponse::FileDescriptorResponse(found) = reflect(channel, ask.clone()).await
        else {
            panic!("no descriptor for {ask:?}");
        };
        for bytes in found.file_descriptor_proto {
            let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
            for import in &file.dependency {
                if !files.contains_key(import) {
                    asks.push(MessageRequest::FileByFilename(import.clone()));
                }
            }
            files.insert(file.name().to_string(), file);
        }
    }
    // Each file after the files it imports.
    let mut pool = DescriptorPool::new();
    while !files.is_empty() {
        let ready: Vec<String> = files
            .values()
            .filter(|f| {
                f.dependency
                    .iter()
                    .all(|d| pool.get_file_by_name(d).is_some())
            })
            .map(|f| f.name().to_string())
            .collect();
        assert!(!ready.is_empty(), "imports missing: {:?}", files.keys());
        for name in ready {
            let file = files.remove(&name).unwrap();
            pool.add_file_descriptor_proto(file).unwrap();
        }
    }
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names
        .iter()
        .flat_map(|name| {
            pool.get_service_by_name(name)
                .unwrap()
                .methods()
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A plausible message of `desc`: identifiers where the names ask for them, every field set.
fn plausible(
    desc: &MessageDescriptor,
    rng: &mut impl Rng,
    iin: &str,
    depth: u32,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let name = field.name().to_ascii_lowercase();
        let value = match field.kind() {
            Kind::String => Value::String(if name.contains("iin") || name == "value" {
                iin.to_string()
            } else if name.contains("bin") {
                kopir_mocks::pki::DEMO_BANK_BIN.to_string()
            } else {
                format!("f{}", rng.random_range(0..1000))
            }),
            Kind::Bytes => Value::Bytes(
                (0..rng.random_range(0..16))
                    .map(|_| rng.random::<u8>())
                    .collect::<Vec<u8>>()
                    .into(),
            ),
            Kind::Bool => Value::Bool(rng.random()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(rng.random_range(-2..100)),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(rng.random_range(-2..100)),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(rng.random_range(0..100)),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.random_range(0..100)),
            Kind::Float => Value::F32(rng.random()),
            Kind::Double => Value::F64(rng.random()),
            Kind::Enum(e) => Value::EnumNumber(e.values().last().map_or(0, |v| v.number())),
            Kind::Message(m) if depth < 3 && !field.is_map() => {
                Value::Message(plausible(&m, rng, iin, depth + 1))
            }
            Kind::Message(_) => continue,
        };
        let value = if field.is_list() {
            Value::List(vec![value])
        } else {
            value
        };
        message.set_field(&field, value);
    }
    message
}

/// `bytes` with its first `ZZZZ` (a string the message was given) made bytes that are not UTF-8.
fn not_utf8(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(at) = bytes.windows(4).position(|w| w == b"ZZZZ") {
        bytes[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    }
    bytes
}

/// The fuzzed request of `round` for `method`.
fn request(method: &MethodDescriptor, round: usize, rng: &mut impl Rng, iin: &str) -> Vec<u8> {
    let mut valid = plausible(&method.input(), rng, iin, 0);
    let strings: Vec<_> = method
        .input()
        .fields()
        .filter(|f| matches!(f.kind(), Kind::String) && !f.is_list())
        .collect();
    match round % 7 {
        0 => (0..rng.random_range(1..96)).map(|_| rng.random()).collect(),
        1 => valid.encode_to_vec(),
        2 => {
            let mut b = valid.encode_to_vec();
            for _ in 0..3 {
                if !b.is_empty() {
                    let i = rng.random_range(0..b.len());
                    b[i] ^= rng.random::<u8>() | 1;
                }
            }
            b
        }
        3 => {
            let b = valid.encode_to_vec();
            b[..rng.random_range(0..b.len().max(1))].to_vec()
        }
        4 => match strings.first() {
            Some(f) => {
                valid.set_field(f, Value::String("я".repeat(100_000)));
                valid.encode_to_vec()
            }
            // A huge string where field 1 is.
            None => {
                let mut b = vec![0x0a, 0x80, 0x80, 0x04];
                b.resize(4 + 65_536, b'a');
                b
            }
        },
        5 => match strings.first() {
            Some(f) => {
                valid.set_field(f, Value::String("ZZZZ".into()));
                not_utf8(valid.encode_to_vec())
            }
            None => vec![0x0a, 0x02, 0xff, 0xfe],
        },
        // A length that promises more than follows.
        _ => vec![0x0a, 0xff, 0xff, 0x03, 0x01],
    }
}

/// The status of one call, if it ended within half a second (a valid watch stays open).
async fn call(
    channel: Channel,
    method: &MethodDescriptor,
    bytes: Vec<u8>,
) -> Option<tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .unwrap();
    let request = tonic::Request::new(bytes);
    let answer = async {
        if method.is_client_streaming() {
            match grpc
                .streaming(request.map(|b| tokio_stream::iter([b])), path, RawCodec)
                .await
            {
                Err(s) => Some(s),
                Ok(r) => r.into_inner().message().await.err(),
            }
        } else {
            match grpc.server_streaming(request, path, RawCodec).await {
                Err(s) => Some(s),
                Ok(r) => r.into_inner().message().await.err(),
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(500), answer)
        .await
        .ok()
        .flatten()
}

/// The child's resident memory, in KiB, and its peak.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn dropped(status: &tonic::Status) -> bool {
    let m = status.message().to_ascii_lowercase();
    status.code() == Code::Unavailable
        && (m.contains("transport") || m.contains("connection") || m.contains("h2 protocol"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_found_by_reflection_survives_fuzzed_requests() {
    let mut demo = support::DemoChild::start();
    let channel = support::connect(&demo.addr, &demo.pki(), "portal").await;
    let methods = methods(&channel).await;
    assert!(methods.len() > 20, "{} methods", methods.len());
    assert!(methods.iter().any(|m| m.name() == "ServerReflectionInfo"));

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
    let mut requests = Vec::new();
    for method in &methods {
        for round in 0..ROUNDS {
            requests.push((method.clone(), request(method, round, &mut rng, &demo.iin)));
        }
    }
    let (rss_before, _) = memory_kib(demo.pid());
    let sent = requests.len();
    let outcomes: Vec<_> = futures::stream::iter(requests)
        .map(|(method, bytes)| {
            let channel = channel.clone();
            async move {
                (
                    method.full_name().to_string(),
                    call(channel, &method, bytes).await,
                )
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut by_code = BTreeMap::<String, usize>::new();
    for (method, status) in &outcomes {
        let Some(status) = status else {
            *by_code.entry("(open or OK)".into()).or_default() += 1;
            continue;
        };
        *by_code.entry(format!("{:?}", status.code())).or_default() += 1;
        assert!(
            !matches!(status.code(), Code::Internal | Code::Unknown),
            "{method}: {status:?}"
        );
        assert!(
            !dropped(status),
            "{method}: the connection dropped: {status:?}"
        );
    }
    eprintln!(
        "{sent} requests over {} methods: {by_code:?}",
        methods.len()
    );
    assert!(sent >= 2_000, "{sent}");

    // Over the size limit (8 MiB by default): gRPC's RESOURCE_EXHAUSTED.
    let get_person = methods.iter().find(|m| m.name() == "GetPerson").unwrap();
    let huge = call(channel.clone(), get_person, vec![0; 9 * 1024 * 1024])
        .await
        .expect("an answer to an over-limit message");
    assert_eq!(huge.code(), Code::ResourceExhausted, "{huge:?}");

    // Alive, serving on the same connection, its memory bounded.
    assert!(demo.alive(), "the gateway died");
    let mut valid = DynamicMessage::new(get_person.input());
    valid
        .transcode_from(&kopir_gateway::proto::v1::GetPersonRequest {
            iin: Some(kopir_gateway::proto::v1::Iin {
                value: demo.iin.clone(),
            }),
            ..Default::default()
        })
        .unwrap();
    let ok = call(channel.clone(), get_person, valid.encode_to_vec()).await;
    assert!(ok.is_none(), "a valid request after the fuzzing: {ok:?}");
    let (rss_after, peak) = memory_kib(demo.pid());
    eprintln!("resident memory: {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB");
    assert!(
        rss_after < rss_before + 256 * 1024,
        "memory grew from {rss_before} to {rss_after} KiB"
    );
    assert!(peak < 2 * 1024 * 1024, "peak {peak} KiB");
}
