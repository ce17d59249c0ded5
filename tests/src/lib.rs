//! Shared setup for the end-to-end tests: mock registries and a gateway on ephemeral loopback
//! ports, and clients that reach the gateway over real sockets.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use kopir::demo::{self, Demo, DemoOptions};
use kopir_core::identifiers::{check_digit, Iin};
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
use kopir_gateway::routing::RegistryId;
use kopir_gateway::Config;
use kopir_mocks::MockConfig;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A running gateway over running mocks.
pub struct Env {
    /// Mocks and gateway.
    pub demo: Demo,
    /// A channel to the gateway, as the portal (its client certificate).
    pub channel: Channel,
    /// The folder holding the demo keys and certificates (removed on drop).
    pub pki: tempfile::TempDir,
}

/// The PostgreSQL database `KOPIR_TEST_PG` names (`.ci/run` sets it); without it, says that
/// `what` is skipped and gives none.
pub fn test_pg(what: &str) -> Option<String> {
    let url = std::env::var("KOPIR_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("KOPIR_TEST_PG not set: {what} is skipped");
    }
    url
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
    /// Starts mocks (small population, no added latency), the mock CA and a gateway with
    /// `config` over TLS, and connects as the portal.
    pub async fn start(config: Config) -> Self {
        Self::start_with_crl(config, Duration::from_secs(300)).await
    }

    /// As [`start`](Self::start), with CRLs valid for `crl_validity` (the gateway refetches then).
    pub async fn start_with_crl(mut config: Config, crl_validity: Duration) -> Self {
        let pki = tempfile::tempdir().expect("temp dir");
        files_in(&mut config, pki.path());
        let mut mocks = MockConfig::ephemeral().with_latency_ms(0);
        mocks.cadastre.decision_delay = Duration::from_millis(200);
        mocks.cadastre.hearing_delay = Duration::from_millis(200);
        let options = DemoOptions {
            mocks,
            crl_validity,
            ..DemoOptions::ephemeral(pki.path().to_path_buf())
        };
        let demo = demo::start(&options, Some(config))
            .await
            .expect("mocks and gateway start");
        let channel = connect(demo.gateway.addr, pki.path(), Some("portal"))
            .await
            .expect("gateway accepts the portal");
        Self { demo, channel, pki }
    }

    /// Stops the gateway and starts it again with `config` on the same address, journal and
    /// outbox: a restart, the mocks and keys untouched.
    pub async fn restart(self, mut config: Config) -> Self {
        let Env { demo, pki, .. } = self;
        let Demo {
            mocks,
            gateway,
            pki: keys,
            ca,
            pki_dir,
            console_token,
        } = demo;
        let addr = gateway.addr;
        gateway.stop().await.expect("the gateway stops");
        files_in(&mut config, pki.path());
        config.server.listen = addr;
        config.metrics.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        demo::point_at_mocks(&mut config, &mocks).expect("mocks");
        demo::point_at_pki(&mut config, pki.path(), &ca.crl_url()).expect("keys");
        let gateway = kopir_gateway::Gateway::start(config)
            .await
            .expect("the gateway starts again");
        let channel = connect(addr, pki.path(), Some("portal"))
            .await
            .expect("gateway accepts the portal");
        Env {
            demo: Demo {
                mocks,
                gateway,
                pki: keys,
                ca,
                pki_dir,
                console_token,
            },
            channel,
            pki,
        }
    }

    /// Another gateway with `config` on the same mocks and keys, its own address and outbox
    /// (`name` keeps its files apart): a second replica. Connected as the portal.
    pub async fn replica(
        &self,
        mut config: Config,
        name: &str,
    ) -> (kopir_gateway::Gateway, Channel) {
        config.pledge.outbox = self.pki.path().join(format!("{name}-outbox.db"));
        if config.journal.path == Path::new("kopir-journal.db") {
            config.journal.path = self.pki.path().join(format!("{name}-journal.db"));
        }
        config.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        config.metrics.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        demo::point_at_mocks(&mut config, &self.demo.mocks).expect("mocks");
        demo::point_at_pki(&mut config, self.pki.path(), &self.demo.ca.crl_url()).expect("keys");
        let gateway = kopir_gateway::Gateway::start(config)
            .await
            .expect("the replica starts");
        let channel = connect(gateway.addr, self.pki.path(), Some("portal"))
            .await
            .expect("the replica accepts the portal");
        (gateway, channel)
    }

    /// The IIN of the population's sample person (the demo citizen).
    /// A person who gave the demo bank a notarised consent (seeded in the mock notary system).
    pub fn consenting_iin(&self) -> String {
        self.demo.mocks.population.person_order[1].clone()
    }

    /// A sample person's IIN.
    pub fn sample_iin(&self) -> String {
        self.demo
            .mocks
            .population
            .sample_person()
            .expect("the population holds a person")
            .iin
            .clone()
    }

    /// A file of the demo PKI set.
    pub fn pki_file(&self, name: &str) -> PathBuf {
        self.pki.path().join(name)
    }

    /// A channel as the client whose certificate is `NAME.crt`/`NAME.key` in the PKI folder.
    pub async fn channel_as(&self, name: &str) -> Result<Channel, tonic::transport::Error> {
        connect(self.demo.gateway.addr, self.pki.path(), Some(name)).await
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

/// Each test journals and keeps its outbox in its own folder unless it chose files itself.
fn files_in(config: &mut Config, dir: &Path) {
    if config.journal.path == Path::new("kopir-journal.db") {
        config.journal.path = dir.join("journal.db");
    }
    if config.pledge.outbox == Path::new("kopir-outbox.db") {
        config.pledge.outbox = dir.join("outbox.db");
    }
}

/// Connects over TLS trusting the demo root, presenting `NAME.crt`/`NAME.key` from `dir` when
/// `client` is given.
pub async fn connect(
    addr: std::net::SocketAddr,
    dir: &Path,
    client: Option<&str>,
) -> Result<Channel, tonic::transport::Error> {
    let read = |f: &str| std::fs::read(dir.join(f)).expect("demo PKI file");
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("root.crt")))
        .domain_name("localhost");
    if let Some(name) = client {
        tls = tls.identity(Identity::from_pem(
            read(&format!("{name}.crt")),
            read(&format!("{name}.key")),
        ));
    }
    Channel::from_shared(format!("https://localhost:{}", addr.port()))
        .expect("valid uri")
        .tls_config(tls)?
        .connect()
        .await
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
        signed: None,
    }
}

/// A GetLegalEntity request for `bin`, without meta.
pub fn entity_request(bin: &str) -> pb::GetLegalEntityRequest {
    pb::GetLegalEntityRequest {
        meta: None,
        bin: Some(pb::Bin { value: bin.into() }),
        signed: None,
    }
}

/// A seal certificate for `bin` from a CA of its own, which nothing here trusts.
pub fn foreign_seal(bin: &str, name: &str) -> kopir_mocks::pki::Issued {
    let ca = kopir_mocks::pki::MockCa::new(
        kopir_trust::signing::KeyAlgorithm::EcdsaP256,
        Duration::from_secs(3600),
    )
    .expect("a CA of its own");
    ca.issue(
        &kopir_mocks::pki::Holder::Seal {
            bin: bin.into(),
            name: name.into(),
        },
        kopir_trust::signing::KeyAlgorithm::EcdsaP256,
        kopir_mocks::pki::Window::days(3),
    )
    .expect("it issues")
}

/// A person's own signing certificate, issued by the demo CA.
pub fn person_signer(env: &Env, iin: &str, name: &str) -> kopir_mocks::pki::Issued {
    env.demo
        .pki
        .ca
        .issue(
            &kopir_mocks::pki::Holder::Person {
                iin: iin.into(),
                name: name.into(),
            },
            kopir_trust::signing::KeyAlgorithm::EcdsaP256,
            kopir_mocks::pki::Window::days(30),
        )
        .expect("the demo CA issues")
}

/// The last request the persons database's mock served, and the consent token it carried.
pub fn sent_token(env: &Env) -> (String, String) {
    let sent = env
        .demo
        .mocks
        .persons
        .last_exchange()
        .expect("the persons database was asked");
    let sent = String::from_utf8(sent.request.to_vec()).expect("UTF-8");
    let token = sent
        .split("<kdpToken>")
        .nth(1)
        .and_then(|t| t.split("</kdpToken>").next())
        .unwrap_or("")
        .to_string();
    (sent, token)
}

/// A valid IIN (check digit right) that the population does not hold.
pub fn unknown_iin(env: &Env) -> String {
    numbers("0001015")
        .find(|iin| Iin::parse(iin).is_ok() && !env.demo.mocks.population.persons.contains_key(iin))
        .expect("some valid IIN is not in the population")
}

/// A valid BIN (a resident legal entity's, check digit right) that the population does not hold.
pub fn unknown_bin(env: &Env) -> String {
    numbers("0101400")
        .find(|bin| {
            kopir_core::identifiers::Bin::parse(bin).is_ok()
                && !env.demo.mocks.population.entities.contains_key(bin)
        })
        .expect("some valid BIN is not in the population")
}

/// The 12-digit numbers with a right check digit that start with `prefix` (7 digits).
fn numbers(prefix: &'static str) -> impl Iterator<Item = String> {
    (0..10_000u32).filter_map(move |serial| {
        let first11 = format!("{prefix}{serial:04}");
        let mut d = [0u8; 11];
        for (slot, b) in d.iter_mut().zip(first11.bytes()) {
            *slot = b - b'0';
        }
        check_digit(&d).map(|c| format!("{first11}{c}"))
    })
}

/// A detached CMS signature of `payload` by `issued`, with the CA's intermediate attached.
pub fn sign(
    issued: &kopir_mocks::pki::Issued,
    ca: &kopir_mocks::pki::MockCa,
    payload: &[u8],
) -> Vec<u8> {
    issued
        .key
        .sign_cms(
            kopir_trust::signing::Content::Detached(payload),
            &issued.cert,
            &[ca.intermediate().clone()],
        )
        .expect("the demo keys sign")
}

/// The embedded configuration with its file-watch interval set to `reload_interval_ms`, written
/// to `dir/kopir.toml` (a gateway loaded from it watches and reloads that file): the path and text.
pub fn config_file(dir: &Path, reload_interval_ms: u64) -> (PathBuf, String) {
    let path = dir.join("kopir.toml");
    let text = kopir_gateway::config::EMBEDDED.replace(
        "reload_interval_ms = 1000",
        &format!("reload_interval_ms = {reload_interval_ms}"),
    );
    assert!(
        text.contains(&format!("reload_interval_ms = {reload_interval_ms}")),
        "the embedded configuration names reload_interval_ms"
    );
    std::fs::write(&path, &text).expect("config file written");
    (path, text)
}

/// The gateway's `/metrics`, as text and parsed.
pub async fn scrape(env: &Env) -> (String, prometheus_parse::Scrape) {
    let addr = env.demo.gateway.metrics_addr.expect("metrics are served");
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    (text, parsed)
}

/// The value of the one sample named `metric` whose labels include `labels`.
pub fn metric(
    scrape: &prometheus_parse::Scrape,
    metric: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let matching: Vec<&prometheus_parse::Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert!(matching.len() <= 1, "{metric} {labels:?}: {matching:?}");
    matching.first().map(|s| match &s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
        prometheus_parse::Value::Summary(_) => f64::NAN,
    })
}

/// Whether `xmllint` and `xmlsec1` (Debian's libxml2-utils and xmlsec1) are here; under
/// `KOPIR_REQUIRE_XML_TOOLS=1` (what `.ci/run` sets) their absence fails the test instead.
pub fn xml_tools() -> bool {
    let have = |t: &str| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok()
    };
    let ok = have("xmllint") && have("xmlsec1");
    assert!(
        ok || std::env::var("KOPIR_REQUIRE_XML_TOOLS").as_deref() != Ok("1"),
        "xmllint and xmlsec1 are required (apt-get install libxml2-utils xmlsec1)"
    );
    if !ok {
        eprintln!("skipped: xmllint or xmlsec1 not installed");
    }
    ok
}

/// Runs `cmd`: whether it succeeded, and what it printed (stdout then stderr).
pub fn run_tool(cmd: &mut std::process::Command) -> (bool, String) {
    let out = cmd.output().expect("the tool runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The project's own SyncChannel v10 schema set (`xmllint --schema` driver).
pub fn syncchannel_schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mocks/wsdl/validate.xsd")
}

/// A consent token from the mock access control service for `subject`'s record, bound to
/// `holder`, as the gateway asks for one.
pub async fn consent_token(env: &Env, subject: &str, holder: &str) -> String {
    token_for(env, Some(subject), "test", holder).await
}

/// A consent token for `subject` (none: a search's) on `basis`, bound to `holder`.
pub async fn token_for(env: &Env, subject: Option<&str>, basis: &str, holder: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/tokens", env.demo.mocks.kdp.url()))
        .basic_auth(
            kopir_mocks::DEFAULT_SENDER_ID,
            Some(kopir_mocks::DEFAULT_SENDER_PASSWORD),
        )
        .json(&serde_json::json!({
            "requester": format!("bin:{}", kopir_mocks::pki::DEMO_PORTAL_BIN),
            "subject": subject,
            "scope": "person",
            "basis": basis,
            "holder": holder,
        }))
        .send()
        .await
        .expect("the access control service answers")
        .json()
        .await
        .expect("a token as JSON");
    r["token"].as_str().expect("a token").to_string()
}

/// One of the project's own registry payload schemas (`mocks/schemas/`).
pub fn payload_schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mocks/schemas")
        .join(name)
}

/// `xmlsec1 --verify` of the WS-Security signature in `bytes` (written to `dir/name`) under the
/// certificate `cert_pem`, ids being the SOAP Body's and the timestamp's `wsu:Id`.
pub fn xmlsec1_verify(dir: &Path, name: &str, bytes: &[u8], cert_pem: &str) -> (bool, String) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("message written");
    let cert = dir.join(format!("{name}.pem"));
    std::fs::write(&cert, cert_pem).expect("certificate written");
    run_tool(
        std::process::Command::new("xmlsec1")
            .arg("--verify")
            .arg("--pubkey-cert-pem")
            .arg(&cert)
            .arg("--id-attr:Id")
            .arg("http://schemas.xmlsoap.org/soap/envelope/:Body")
            .arg("--id-attr:Id")
            .arg(
                "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd:Timestamp",
            )
            .arg(&path),
    )
}
