//! Readiness a load balancer can trust: a replica that loses its journal's database says
//! NOT_SERVING (gRPC health and `GET /ready`) within 2 s and refuses calls with UNAVAILABLE,
//! while a replica that still reaches the database keeps serving; SERVING again on recovery.
//! On the machine's PostgreSQL (KOPIR_TEST_PG), through a TCP proxy the test cuts and restores.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kopir_gateway::config::JournalBackend;
use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
use kopir_tests::{person_request, test_config, Env};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// A TCP proxy to `upstream` that can be cut (every connection dropped, new ones refused) and
/// restored, as a network partition between a replica and its database would.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (is_open, all) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        tokio::io::copy_bidirectional(&mut client, &mut server)
                            .await
                            .ok();
                    }
                });
                all.lock().unwrap().push(link);
            }
        });
        Self { addr, open, links }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

async fn overall(channel: &Channel) -> Option<ServingStatus> {
    let asked = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(asked.into_inner().status).ok()
}

async fn ready_page(metrics: SocketAddr) -> (u16, String) {
    let r = reqwest::get(format!("http://{metrics}/ready"))
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_its_database_says_not_serving_and_refuses_calls() {
    let Some(url) = kopir_tests::test_pg("the readiness test") else {
        return;
    };
    let parsed = url::Url::parse(&url).unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut through = parsed.clone();
    through.set_port(Some(proxy.addr.port())).unwrap();

    let mut config = test_config();
    config.journal.backend = JournalBackend::Postgres;
    config.journal.schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    config.journal.url = Some(through.to_string());
    let env = Env::start(config.clone()).await;
    config.journal.url = Some(url);
    let (_other, other) = env.replica(config, "direct").await;
    let metrics = env.demo.gateway.metrics_addr.unwrap();
    let iin = env.sample_iin();
    env.identity()
        .get_person(person_request(&iin))
        .await
        .expect("served before the cut");
    assert_eq!(overall(&env.channel).await, Some(ServingStatus::Serving));
    assert_eq!(ready_page(metrics).await.0, 200);

    proxy.cut();
    let cut = Instant::now();
    while overall(&env.channel).await != Some(ServingStatus::NotServing) {
        assert!(
            cut.elapsed() < Duration::from_secs(2),
            "still SERVING {:?} after the cut",
            cut.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("NOT_SERVING {:?} after the cut", cut.elapsed());
    let (code, page) = ready_page(metrics).await;
    assert_eq!(code, 503, "{page}");
    assert!(page.contains("journal"), "{page}");
    let refused = env
        .identity()
        .get_person(person_request(&iin))
        .await
        .expect_err("nothing answered without its journal record");
    assert_eq!(refused.code(), Code::Unavailable, "{}", refused.message());
    IdentityServiceClient::new(other.clone())
        .get_person(person_request(&iin))
        .await
        .expect("the replica that reaches the database keeps serving");
    assert_eq!(overall(&other).await, Some(ServingStatus::Serving));

    proxy.restore();
    let back = Env::eventually(Duration::from_secs(10), async || {
        overall(&env.channel).await == Some(ServingStatus::Serving)
    })
    .await;
    assert!(back, "SERVING again after the database returned");
    assert_eq!(ready_page(metrics).await.0, 200);
    env.identity()
        .get_person(person_request(&iin))
        .await
        .expect("served again");
}
