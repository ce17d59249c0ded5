//! Shared setup for the end-to-end tests: mock registries and a gateway on ephemeral loopback
//! ports, and clients that reach the gateway over real sockets.

use std::net::SocketAddr;
use std::time::Duration;

use kopir_adapters::identifiers::{check_digit, Iin};
use kopir_gateway::demo::{self, Demo, DemoOptions};
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
use kopir_gateway::routing::RegistryId;
use kopir_gateway::Config;
use kopir_mocks::MockConfig;
use tonic::transport::Channel;

/// A running gateway over running mocks.
pub struct Env {
    /// Mocks and gateway.
    pub demo: Demo,
    /// A channel to the gateway.
    pub channel: Channel,
}

/// The embedded config with fast health probes, for tests that watch health change.
pub fn test_config() -> Config {
    let mut c = Config::embedded().expect("embedded config is valid");
    for id in RegistryId::ALL {
        if let Some(r) = c.registry_mut(id) {
            r.health_interval_ms = 100;
        }
    }
    c
}

impl Env {
    /// Starts mocks (small population, no added latency) and a gateway with `config`.
    pub async fn start(config: Config) -> Self {
        let options = DemoOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mocks: MockConfig::ephemeral().with_latency_ms(0),
        };
        let demo = demo::start(&options, Some(config))
            .await
            .expect("mocks and gateway start");
        let channel = Channel::from_shared(format!("http://{}", demo.gateway.addr))
            .expect("valid uri")
            .connect()
            .await
            .expect("gateway accepts connections");
        Self { demo, channel }
    }

    /// An identity client.
    pub fn identity(&self) -> IdentityServiceClient<Channel> {
        IdentityServiceClient::new(self.channel.clone())
    }

    /// Waits until `check` holds, up to `within`.
    pub async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
        let until = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < until {
            if check().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// A GetPerson request for an IIN string.
pub fn person_request(iin: &str) -> pb::GetPersonRequest {
    pb::GetPersonRequest {
        meta: Some(pb::RequestMeta {
            request_id: String::new(),
            correlation_id: String::new(),
            requester_bin: String::new(),
            purpose: "e2e test".into(),
        }),
        iin: Some(pb::Iin { value: iin.into() }),
    }
}

/// A valid IIN (check digit right) that the population does not hold.
pub fn unknown_iin(env: &Env) -> String {
    (0..10_000u32)
        .filter_map(|serial| {
            let first11 = format!("0001015{serial:04}");
            let mut d = [0u8; 11];
            for (slot, b) in d.iter_mut().zip(first11.bytes()) {
                *slot = b - b'0';
            }
            check_digit(&d).map(|c| format!("{first11}{c}"))
        })
        .find(|iin| Iin::parse(iin).is_ok() && !env.demo.mocks.population.persons.contains_key(iin))
        .expect("some valid IIN is not in the population")
}
