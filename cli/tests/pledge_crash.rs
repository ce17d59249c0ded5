//! A crash test of the pledge outbox: a child-process gateway takes a stream of contract
//! submissions, is killed with SIGKILL midway, restarts on the same journal and outbox, and every
//! submission that got ACCEPTED reaches the cadastre exactly once.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kopir::sample as contract;
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::pledge_service_client::PledgeServiceClient;
use kopir_mocks::cadastre::NewObject;
use kopir_mocks::payments::Payment;
use kopir_mocks::pki::{CaServer, DemoPki, Holder, Issued, Window};
use kopir_mocks::{MockConfig, MockSet};
use kopir_trust::signing::{Content, KeyAlgorithm};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

const CONTRACTS: usize = 400;

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn start(config: &Path, log: &Path) -> Gateway {
    let open = |path: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
    };
    let (out, log) = (open(&log.with_extension("out")), open(log));
    Gateway(
        Command::new(env!("CARGO_BIN_EXE_kopir"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn,kopir_gateway::server=info")
            .stdout(out)
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

async fn connect(port: u16, dir: &Path) -> Channel {
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("root.crt")))
        .domain_name("localhost")
        .identity(Identity::from_pem(read("bank.crt"), read("bank.key")));
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let attempt = Channel::from_shared(format!("https://localhost:{port}"))
            .unwrap()
            .tls_config(tls.clone())
            .unwrap()
            .connect()
            .await;
        match attempt {
            Ok(c) => return c,
            Err(e) if Instant::now() > until => panic!("the gateway did not come up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sign(who: &Issued, pki: &DemoPki, payload: &[u8]) -> Vec<u8> {
    who.key
        .sign_cms(
            Content::Detached(payload),
            &who.cert,
            &[pki.ca.intermediate().clone()],
        )
        .unwrap()
}

/// The embedded configuration pointed at the mocks, the PKI in `dir`, and files in `dir`.
fn config_text(mocks: &MockSet, ca: &CaServer, dir: &Path, port: u16) -> String {
    let d = dir.display();
    let mut text = kopir_gateway::config::EMBEDDED.to_string();
    for (from, to) in [
        (
            "listen = \"127.0.0.1:50051\"".to_string(),
            format!("listen = \"127.0.0.1:{port}\""),
        ),
        (
            "listen = \"127.0.0.1:9464\"".into(),
            "listen = \"127.0.0.1:0\"".into(),
        ),
        (
            "http://127.0.0.1:18081/SyncChannel".into(),
            mocks.persons.url(),
        ),
        (
            "http://127.0.0.1:18082/SyncChannel".into(),
            mocks.legal_entities.url(),
        ),
        ("http://127.0.0.1:18084".into(), mocks.notary.url()),
        ("http://127.0.0.1:18085".into(), mocks.cadastre.url()),
        ("http://127.0.0.1:18086".into(), mocks.payments.url()),
        (
            "http://127.0.0.1:18087/callbacks/pledge".into(),
            mocks.bank.callback_url(),
        ),
        ("http://127.0.0.1:18083/crl".into(), ca.crl_url()),
        ("\"kopir-pki/".into(), format!("\"{d}/")),
        (
            "path = \"kopir-journal.db\"".into(),
            format!("path = \"{d}/journal.db\""),
        ),
        (
            "outbox = \"kopir-outbox.db\"".into(),
            format!("outbox = \"{d}/outbox.db\""),
        ),
        (
            "payment_poll = \"30s\"".into(),
            "payment_poll = \"100ms\"".into(),
        ),
        (
            "status_poll = \"5s\"".into(),
            "status_poll = \"100ms\"".into(),
        ),
        (
            "retry_min = \"500ms\"".into(),
            "retry_min = \"100ms\"".into(),
        ),
        ("retry_max = \"5m\"".into(), "retry_max = \"1s\"".into()),
    ] {
        assert!(text.contains(&from), "the embedded config has {from}");
        text = text.replace(&from, &to);
    }
    text
}

fn request(
    pki: &DemoPki,
    owner: &Issued,
    owner_iin: &str,
    number: &str,
    object: &str,
) -> pb::SubmitPledgeContractRequest {
    let contract = contract::sample(number, owner_iin, object);
    let payload = contract::document(&contract).unwrap();
    pb::SubmitPledgeContractRequest {
        meta: None,
        contract: Some(contract),
        signed: Some(pb::SignedDocument {
            signatures: vec![
                sign(&pki.officer, pki, &payload),
                sign(owner, pki, &payload),
            ],
            payload,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_contract_reaches_the_cadastre_exactly_once_across_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut mock_config = MockConfig::ephemeral().with_latency_ms(0);
    mock_config.cadastre.decision_delay = Duration::from_millis(50);
    let mocks = MockSet::start(&mock_config).await.unwrap();
    let owner_iin = mocks
        .population
        .adults()
        .nth(30)
        .expect("the population holds adults")
        .iin
        .clone();
    let pki = DemoPki::generate(&owner_iin, Duration::from_secs(300)).unwrap();
    pki.write(dir.path()).unwrap();
    let ca = CaServer::start(Arc::clone(&pki.ca), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let owner = pki
        .ca
        .issue(
            &Holder::Person {
                iin: owner_iin.clone(),
                name: "Owner".into(),
            },
            KeyAlgorithm::EcdsaP256,
            Window::days(30),
        )
        .unwrap();
    let port = free_port();
    let config = dir.path().join("kopir.toml");
    std::fs::write(&config, config_text(&mocks, &ca, dir.path(), port)).unwrap();
    let log = dir.path().join("gateway.log");

    // Every contract paid and its object registered up front; requests signed before the run.
    let requests: Vec<(String, pb::SubmitPledgeContractRequest)> = (0..CONTRACTS)
        .map(|i| {
            let number = format!("CRASH-{i:05}");
            let object = format!("22-100-{:03}-{:03}", i / 1000, i % 1000);
            mocks.cadastre.register_object(NewObject {
                cadastral_number: object.clone(),
                owners: vec![owner_iin.clone()],
                encumbrances: Vec::new(),
            });
            mocks
                .payments
                .pay(Payment {
                    payer: owner_iin.clone(),
                    contract_number: number.clone(),
                    amount_tiyn: 432_500,
                })
                .unwrap();
            let r = request(&pki, &owner, &owner_iin, &number, &object);
            (number, r)
        })
        .collect();

    let gateway = start(&config, &log);
    let channel = connect(port, dir.path()).await;
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let failed = Arc::new(Mutex::new(Vec::new()));
    let filed_at_kill = Arc::new(Mutex::new(0usize));
    let killer = {
        let accepted = accepted.clone();
        let filed_at_kill = filed_at_kill.clone();
        let cadastre = mocks.cadastre.clone();
        let mut gateway = gateway;
        tokio::spawn(async move {
            // Midway: once a third of the stream is accepted, while the worker is filing.
            while accepted.lock().unwrap().len() < CONTRACTS / 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            gateway.0.kill().unwrap();
            gateway.0.wait().unwrap();
            *filed_at_kill.lock().unwrap() = cadastre.filings().len();
        })
    };
    let stream = futures::stream::iter(requests.clone()).map(|(number, r)| {
        let mut client = PledgeServiceClient::new(channel.clone());
        let (accepted, failed) = (accepted.clone(), failed.clone());
        async move {
            match client.submit_pledge_contract(r).await {
                Ok(_) => {
                    accepted.lock().unwrap().insert(number);
                }
                Err(_) => failed.lock().unwrap().push(number),
            }
        }
    });
    use futures::StreamExt;
    stream.buffer_unordered(16).collect::<Vec<()>>().await;
    killer.await.unwrap();
    let before_kill: BTreeSet<String> = accepted.lock().unwrap().clone();
    let failed: Vec<String> = failed.lock().unwrap().clone();
    let filed_at_kill = *filed_at_kill.lock().unwrap();
    eprintln!(
        "at the kill: {} accepted, {filed_at_kill} filed; {} got no answer",
        before_kill.len(),
        failed.len()
    );
    assert!(
        filed_at_kill < before_kill.len(),
        "the kill must leave accepted contracts not yet filed ({filed_at_kill} of {})",
        before_kill.len()
    );
    assert!(
        before_kill.len() >= CONTRACTS / 3 && !failed.is_empty(),
        "the kill fell midway: {} accepted, {} failed",
        before_kill.len(),
        failed.len()
    );

    // Restart on the same files; the bank resubmits what got no answer.
    let _gateway = start(&config, &log);
    let channel = connect(port, dir.path()).await;
    let mut client = PledgeServiceClient::new(channel);
    let mut after = BTreeSet::new();
    for (number, r) in requests.iter().filter(|(n, _)| failed.contains(n)) {
        client
            .submit_pledge_contract(r.clone())
            .await
            .expect("accepted after restart");
        after.insert(number.clone());
    }

    let everything: BTreeSet<String> = before_kill.union(&after).cloned().collect();
    assert_eq!(everything.len(), CONTRACTS);
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let filed = mocks.cadastre.filings();
        let missing = everything
            .iter()
            .filter(|n| !filed.contains_key(*n))
            .count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "{missing} accepted contracts never reached the cadastre; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let filed = mocks.cadastre.filings();
    let twice: Vec<_> = filed.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "filed more than once: {twice:?}");
    assert_eq!(
        filed.len(),
        CONTRACTS,
        "nothing but the accepted contracts was filed"
    );
    // The gateway's log lines, written to a file (not a terminal), carry no colour codes.
    let out = std::fs::read_to_string(log.with_extension("out")).unwrap();
    assert!(out.contains("gateway serving gRPC"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "ANSI escapes in a log file: {out:?}"
    );
}
