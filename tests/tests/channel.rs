//! The generic channel: a service routed by editing the configuration file and reloading, called
//! synchronously and asynchronously through the mock generic registry, over REST, SyncChannel and
//! gRPC passthrough; replies survive a restart, are delivered again until acknowledged, and reach
//! only the client that sent the message.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::channel_service_client::ChannelServiceClient;
use kopir_gateway::proto::v1::operator_service_client::OperatorServiceClient;
use kopir_mocks::pki::{DEMO_BANK_BIN, DEMO_PORTAL_BIN};
use kopir_tests::{config_file, Env};
use prost::Message;
use tonic::transport::Channel;
use tonic::Code;

/// The embedded configuration with the portal and the bank allowed on the channel, and `routes`
/// (TOML) appended.
fn with_routes(original: &str, routes: &str) -> String {
    let allow = "    \"kopir.v1.CadastreService/*\",\n]";
    assert_eq!(original.matches(allow).count(), 2, "portal and bank lists");
    let mut text = original.replace(
        allow,
        "    \"kopir.v1.CadastreService/*\",\n    \"kopir.v1.ChannelService/*\",\n]",
    );
    text.push_str(routes);
    text
}

fn route(id: &str, protocol: &str, url: &str, clients: &[&str]) -> String {
    let clients: Vec<String> = clients.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "\n[channel.routes.\"{id}\"]\nprotocol = \"{protocol}\"\nurl = \"{url}\"\nsender_id = \"KOPIR-DEMO\"\nsender_password = \"demo-password\"\nclients = [{}]\n",
        clients.join(", ")
    )
}

async fn reload(env: &Env) {
    OperatorServiceClient::new(env.channel_as("operator").await.unwrap())
        .reload_config(pb::ReloadConfigRequest::default())
        .await
        .expect("the edited file is valid");
}

fn message(service_id: &str, message_id: &str, payload: &[u8]) -> pb::ChannelMessage {
    pb::ChannelMessage {
        service_id: service_id.into(),
        message_id: message_id.into(),
        payload: payload.to_vec(),
        content_type: "text/plain".into(),
        ..Default::default()
    }
}

/// Replies a Receive from `cursor` yields within `within`.
async fn receive(channel: Channel, cursor: u64, within: Duration) -> Vec<pb::ChannelReply> {
    let mut stream = ChannelServiceClient::new(channel)
        .receive(pb::ReceiveRequest {
            cursor,
            ..Default::default()
        })
        .await
        .expect("receive opens")
        .into_inner();
    let mut got = Vec::new();
    let until = tokio::time::Instant::now() + within;
    while let Ok(Ok(Some(r))) = tokio::time::timeout_at(until, stream.message()).await {
        got.push(r);
    }
    got
}

#[tokio::test]
async fn a_route_added_by_reload_is_called_sync_and_async_and_replies_reach_only_their_client() {
    let dir = tempfile::tempdir().unwrap();
    let (path, original) = config_file(dir.path(), 600_000);
    let env = Env::start(kopir_gateway::Config::load(&path).unwrap()).await;
    let generic = env.demo.mocks.generic.url();

    // The channel allowed, no route yet: the id is unknown.
    std::fs::write(&path, with_routes(&original, "")).unwrap();
    reload(&env).await;
    let mut portal = ChannelServiceClient::new(env.channel.clone());
    let s = portal
        .send(message("UPPER.DEMO.v1", "", b"salem"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound, "{}", s.message());
    assert!(s.message().contains("\"UPPER.DEMO.v1\""), "{}", s.message());

    // Routes added in the file take effect on reload, no rebuild.
    let routes = route(
        "UPPER.DEMO.v1",
        "rest",
        &format!("{generic}/rest/upper"),
        &[DEMO_PORTAL_BIN],
    ) + &route(
        "REVERSE.DEMO.v1",
        "syncchannel",
        &format!("{generic}/SyncChannel"),
        &[DEMO_PORTAL_BIN, DEMO_BANK_BIN],
    ) + &route(
        "ECHO.DEMO.v1",
        "syncchannel",
        &format!("{generic}/SyncChannel"),
        &[DEMO_PORTAL_BIN],
    ) + &route(
        "REFUSE.DEMO.v1",
        "rest",
        &format!("{generic}/rest/refuse"),
        &[DEMO_PORTAL_BIN],
    ) + &route(
        "SIGNED.DEMO.v1",
        "rest",
        &format!("{generic}/rest/echo"),
        &[DEMO_PORTAL_BIN],
    ) + "signers = \"requester\"\n";
    std::fs::write(&path, with_routes(&original, &routes)).unwrap();
    reload(&env).await;

    let reply = portal
        .send(message("UPPER.DEMO.v1", "", b"salem alem"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.status_code, "OK");
    assert_eq!(reply.payload, b"SALEM ALEM");
    assert!(!reply.seal.is_empty(), "the reply is sealed");
    let reply = portal
        .send(message("REVERSE.DEMO.v1", "m-rev", b"abc"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reply.payload.as_slice(), reply.message_id.as_str()),
        (&b"cba"[..], "m-rev")
    );
    // Over SyncChannel, text travels as an xs:string (above) and XML as <data>'s own content,
    // each coming back in the form it arrived in.
    assert_eq!(reply.content_type, "text/plain; charset=utf-8");
    let xml = "<msg xmlns=\"urn:demo\" lang=\"kk\">сәлем &amp; <b>әлем</b></msg>";
    let reply = portal
        .send(message("ECHO.DEMO.v1", "m-xml", xml.as_bytes()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.status_code, "OK", "{reply:?}");
    assert_eq!(String::from_utf8_lossy(&reply.payload), xml);
    assert_eq!(reply.content_type, "application/xml");
    // The service's own refusal is relayed as its status, not turned into a gateway error.
    let refused = portal
        .send(message("REFUSE.DEMO.v1", "", b"x"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refused.status_code, "HTTP422");
    assert!(refused.status_message.contains("BAD_INPUT"), "{refused:?}");

    // A route that requires the requester's signature refuses an unsigned message.
    let s = portal
        .send(message("SIGNED.DEMO.v1", "", b"x"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
    assert!(
        s.message().contains("signed by its requester"),
        "{}",
        s.message()
    );

    // A client the route does not list.
    let bank_channel = env.channel_as("bank").await.unwrap();
    let mut bank = ChannelServiceClient::new(bank_channel.clone());
    let s = bank
        .send(message("UPPER.DEMO.v1", "", b"x"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
    assert!(s.message().contains("UPPER.DEMO.v1"), "{}", s.message());

    // Asynchronous: accepted at once, the reply comes through Receive.
    let receipt = portal
        .submit(message("UPPER.DEMO.v1", "async-1", b"kopir"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(receipt.message_id, "async-1");
    assert!(!receipt.duplicate);
    let again = portal
        .submit(message("UPPER.DEMO.v1", "async-1", b"kopir"))
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate && again.accepted_at == receipt.accepted_at);
    bank.submit(message("REVERSE.DEMO.v1", "bank-1", b"xyz"))
        .await
        .unwrap();

    let got = receive(env.channel.clone(), 0, Duration::from_secs(3)).await;
    let mine: Vec<&pb::ChannelReply> = got.iter().filter(|r| r.message_id == "async-1").collect();
    assert_eq!(mine.len(), 1, "{got:?}");
    assert_eq!(mine[0].payload, b"KOPIR");
    assert!(mine[0].cursor > 0 && !mine[0].seal.is_empty());
    assert!(
        got.iter().all(|r| r.message_id != "bank-1"),
        "the portal never receives the bank's replies"
    );
    let bank_got = receive(bank_channel.clone(), 0, Duration::from_secs(2)).await;
    assert_eq!(
        bank_got
            .iter()
            .map(|r| r.message_id.as_str())
            .collect::<Vec<_>>(),
        ["bank-1"]
    );

    // Not acknowledged: delivered again on the next Receive, also after a restart.
    let config = kopir_gateway::Config::load(&path).unwrap();
    let env = env.restart(config).await;
    let again = receive(env.channel.clone(), 0, Duration::from_secs(2)).await;
    assert!(again.iter().any(|r| r.message_id == "async-1"), "{again:?}");
    let acked = ChannelServiceClient::new(env.channel.clone())
        .ack(pb::AckRequest {
            message_ids: vec!["async-1".into(), "bank-1".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        acked.acknowledged, 1,
        "the bank's reply is not the portal's to acknowledge"
    );
    let after = receive(env.channel.clone(), 0, Duration::from_secs(1)).await;
    assert!(after.iter().all(|r| r.message_id != "async-1"), "{after:?}");
}

#[tokio::test]
async fn a_submitted_message_accepted_before_a_restart_is_delivered_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, original) = config_file(dir.path(), 600_000);
    let env = Env::start(kopir_gateway::Config::load(&path).unwrap()).await;
    let generic = env.demo.mocks.generic.url();
    // A route to a service that is down (nothing listens on port 9): the message waits.
    std::fs::write(
        &path,
        with_routes(
            &original,
            &route(
                "ECHO.DEMO.v1",
                "rest",
                "http://127.0.0.1:9/rest/echo",
                &[DEMO_PORTAL_BIN],
            ),
        ),
    )
    .unwrap();
    reload(&env).await;
    ChannelServiceClient::new(env.channel.clone())
        .submit(message("ECHO.DEMO.v1", "wait-1", b"patience"))
        .await
        .unwrap();
    assert!(receive(env.channel.clone(), 0, Duration::from_millis(800))
        .await
        .is_empty());

    // The operator fixes the route and restarts the gateway: the stored message goes out.
    std::fs::write(
        &path,
        with_routes(
            &original,
            &route(
                "ECHO.DEMO.v1",
                "rest",
                &format!("{generic}/rest/echo"),
                &[DEMO_PORTAL_BIN],
            ),
        ),
    )
    .unwrap();
    let env = env
        .restart(kopir_gateway::Config::load(&path).unwrap())
        .await;
    let got = receive(env.channel.clone(), 0, Duration::from_secs(5)).await;
    assert!(
        got.iter()
            .any(|r| r.message_id == "wait-1" && r.payload == b"patience"),
        "{got:?}"
    );
}

#[tokio::test]
async fn a_grpc_route_passes_the_message_through_to_a_grpc_service() {
    let dir = tempfile::tempdir().unwrap();
    let (path, original) = config_file(dir.path(), 600_000);
    let env = Env::start(kopir_gateway::Config::load(&path).unwrap()).await;
    let mocks = &env.demo.mocks;
    let (front, _task) = kopir_mocks::grpc_front::serve(
        "127.0.0.1:0".parse().unwrap(),
        mocks.persons.clone(),
        mocks.legal_entities.clone(),
    )
    .await
    .unwrap();
    let routes =
        format!(
        "{}grpc_method = \"/kopir.v1.IdentityService/GetPerson\"\nidempotent = true\nretries = 1\n",
        route("PERSON.GRPC.v1", "grpc", &format!("http://{front}"), &[DEMO_PORTAL_BIN])
    );
    std::fs::write(&path, with_routes(&original, &routes)).unwrap();
    reload(&env).await;
    let iin = env.sample_iin();
    let request = pb::GetPersonRequest {
        iin: Some(pb::Iin { value: iin.clone() }),
        ..Default::default()
    };
    let reply = ChannelServiceClient::new(env.channel.clone())
        .send(pb::ChannelMessage {
            service_id: "PERSON.GRPC.v1".into(),
            payload: request.encode_to_vec(),
            content_type: "application/grpc+proto".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.status_code, "OK", "{reply:?}");
    let person = pb::GetPersonResponse::decode(reply.payload.as_slice()).unwrap();
    assert_eq!(person.person.unwrap().iin, iin);
}
