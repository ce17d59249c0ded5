//! `kopir demo`: the mock registries and the gateway in one process, on embedded defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kopir_mocks::pki::{CaServer, DemoPki};
use kopir_mocks::{MockConfig, MockSet};

use kopir_gateway::config::Config;
use kopir_gateway::error::GatewayError;
use kopir_gateway::routing::RegistryId;
use kopir_gateway::server::Gateway;

/// Where the demo listens and how slow its registries are.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Gateway gRPC address.
    pub listen: SocketAddr,
    /// Metrics endpoint address (the configuration's when none).
    pub metrics_listen: Option<SocketAddr>,
    /// The mock registries.
    pub mocks: MockConfig,
    /// The mock certification authority's HTTP address (CRL).
    pub ca_listen: SocketAddr,
    /// Where the demo's keys and certificates are written.
    pub pki_dir: PathBuf,
    /// How long each CRL is valid (the gateway fetches the next one then).
    pub crl_validity: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            metrics_listen: None,
            mocks: MockConfig::default(),
            ca_listen: SocketAddr::from(([127, 0, 0, 1], 18083)),
            pki_dir: PathBuf::from("kopir-pki"),
            crl_validity: Duration::from_secs(300),
        }
    }
}

impl DemoOptions {
    /// Every listener on a free port, the mocks ephemeral, the PKI written to `pki_dir`: for tests
    /// and benchmarks that run beside other instances.
    pub fn ephemeral(pki_dir: PathBuf) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            listen: any,
            metrics_listen: Some(any),
            mocks: MockConfig::ephemeral(),
            ca_listen: any,
            pki_dir,
            crl_validity: Duration::from_secs(300),
        }
    }
}

/// A running demo: mocks and gateway.
pub struct Demo {
    /// The mock registries.
    pub mocks: MockSet,
    /// The gateway.
    pub gateway: Gateway,
    /// The demo's keys and certificates.
    pub pki: DemoPki,
    /// The mock CA serving its CRL.
    pub ca: CaServer,
    /// Where the PKI files are.
    pub pki_dir: PathBuf,
    /// The web console's token.
    pub console_token: Option<String>,
}

/// Points a configuration's trust section at a PKI set written by [`DemoPki::write`] and at the
/// CA's CRL.
pub fn point_at_pki(config: &mut Config, dir: &Path, crl_url: &str) -> Result<(), GatewayError> {
    let t = &mut config.trust;
    t.roots = vec![dir.join("root.crt")];
    t.crls = vec![url::Url::parse(crl_url).map_err(|e| GatewayError::Config {
        detail: format!("CRL URL {crl_url}: {e}"),
    })?];
    t.tls_cert = Some(dir.join("gateway-tls.crt"));
    t.tls_key = Some(dir.join("gateway-tls.key"));
    t.seal_cert = Some(dir.join("gateway-seal.crt"));
    t.seal_key = Some(dir.join("gateway-seal.key"));
    // The state databases: the gateway signs with its WS-Security key, the mocks' replies
    // chain through the demo intermediate.
    for id in [RegistryId::Persons, RegistryId::LegalEntities] {
        if let Some(w) = config.registry_mut(id).and_then(|r| r.wsse.as_mut()) {
            w.cert = Some(dir.join("gateway-wsse.crt"));
            w.key = Some(dir.join("gateway-wsse.key"));
            w.intermediates = vec![dir.join("intermediate.crt")];
        }
    }
    Ok(())
}

/// Points a configuration at the running mocks.
pub fn point_at_mocks(config: &mut Config, mocks: &MockSet) -> Result<(), GatewayError> {
    for (id, url) in [
        (RegistryId::Persons, mocks.persons.url()),
        (RegistryId::LegalEntities, mocks.legal_entities.url()),
        (RegistryId::Notary, mocks.notary.url()),
        (RegistryId::Cadastre, mocks.cadastre.url()),
        (RegistryId::Payments, mocks.payments.url()),
        (RegistryId::Kdp, mocks.kdp.url()),
    ] {
        let r = config
            .registry_mut(id)
            .ok_or_else(|| GatewayError::Config {
                detail: format!("[registries.{}] is missing", id.name()),
            })?;
        r.url = url::Url::parse(&url).map_err(|e| GatewayError::Config {
            detail: format!("mock URL {url}: {e}"),
        })?;
    }
    // The demo bank is called back at the mock bank.
    let callback = mocks.bank.callback_url();
    let url = url::Url::parse(&callback).map_err(|e| GatewayError::Config {
        detail: format!("mock URL {callback}: {e}"),
    })?;
    let bank = kopir_gateway::config::BankConfig {
        callback_url: url,
        timeout_ms: 5000,
    };
    config
        .pledge
        .banks
        .insert(kopir_mocks::pki::DEMO_BANK_BIN.to_string(), bank);
    Ok(())
}

/// Starts mocks and gateway; `config` defaults to the embedded one.
pub async fn start(options: &DemoOptions, config: Option<Config>) -> Result<Demo, GatewayError> {
    let mocks = MockSet::start(&options.mocks)
        .await
        .map_err(|e| GatewayError::Server(e.to_string()))?;
    let mut config = match config {
        Some(c) => c,
        None => Config::embedded()?,
    };
    config.server.listen = options.listen;
    if let Some(listen) = options.metrics_listen {
        config.metrics.listen = Some(listen);
    }
    // The demo's console opens with a token made for this run (printed in the banner).
    if config.metrics.console_token.is_none() {
        config.metrics.console_token = Some(uuid::Uuid::new_v4().simple().to_string());
    }
    let console_token = config.metrics.console_token.clone();
    point_at_mocks(&mut config, &mocks)?;
    let citizen = mocks
        .population
        .sample_person()
        .map(|p| p.iin.clone())
        .ok_or_else(|| GatewayError::Server("the mock population is empty".into()))?;
    let server = |e: &dyn std::fmt::Display| GatewayError::Server(format!("mock PKI: {e}"));
    let pki = DemoPki::generate(&citizen, options.crl_validity).map_err(|e| server(&e))?;
    pki.write(&options.pki_dir).map_err(|e| server(&e))?;
    mocks
        .secure(&pki, &options.pki_dir.join("root.crt"))
        .map_err(|e| server(&e))?;
    let ca = CaServer::start(Arc::clone(&pki.ca), options.ca_listen)
        .await
        .map_err(|e| server(&e))?;
    point_at_pki(&mut config, &options.pki_dir, &ca.crl_url())?;
    let gateway = Gateway::start(config).await?;
    write_pledge_sample(&mocks, &pki, &options.pki_dir, &citizen)?;
    Ok(Demo {
        mocks,
        gateway,
        pki,
        ca,
        pki_dir: options.pki_dir.clone(),
        console_token,
    })
}

/// The demo's sample pledge contract number.
pub const SAMPLE_PLEDGE: &str = "DEMO-PL-0001";
/// The object the demo citizen owns and pledges in the sample.
const SAMPLE_OBJECT: &str = "21-320-999-001";

/// Registers an apartment for the demo citizen and writes `pledge-request.json` to `dir`: a
/// SubmitPledgeContract request (grpcurl's JSON) signed by the bank's officer and the citizen.
fn write_pledge_sample(
    mocks: &MockSet,
    pki: &DemoPki,
    dir: &Path,
    citizen: &str,
) -> Result<(), GatewayError> {
    use base64::Engine;
    let server = |e: &dyn std::fmt::Display| GatewayError::Server(format!("demo pledge: {e}"));
    mocks
        .cadastre
        .register_object(kopir_mocks::cadastre::NewObject {
            cadastral_number: SAMPLE_OBJECT.into(),
            owners: vec![citizen.to_string()],
            encumbrances: Vec::new(),
        });
    let contract = crate::sample::sample(SAMPLE_PLEDGE, citizen, SAMPLE_OBJECT);
    let payload = crate::sample::document(&contract)?;
    let sign = |who: &kopir_mocks::pki::Issued| {
        who.key
            .sign_cms(
                kopir_trust::signing::Content::Detached(&payload),
                &who.cert,
                &[pki.ca.intermediate().clone()],
            )
            .map_err(|e| server(&e))
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let party = |p: &kopir_gateway::proto::v1::ContractParty| serde_json::json!({"iin": p.iin, "name": p.name});
    let date = |d: Option<kopir_gateway::proto::v1::Date>| {
        d.map(|d| serde_json::json!({"year": d.year, "month": d.month, "day": d.day}))
    };
    let loan = contract.loan.clone().unwrap_or_default();
    let request = serde_json::json!({
        "meta": {"purpose": "demo pledge of an apartment"},
        "contract": {
            "number": contract.number,
            "pledgee": {"value": contract.pledgee.as_ref().map(|b| b.value.clone())},
            "pledgors": contract.pledgors.iter().map(party).collect::<Vec<_>>(),
            "borrower": contract.borrower.as_ref().map(party),
            "loan": {"number": loan.number, "date": date(loan.date), "amount_tiyn": loan.amount_tiyn.to_string()},
            "cadastral_number": contract.cadastral_number,
            "amount_tiyn": contract.amount_tiyn.to_string(),
            "signed_on": date(contract.signed_on),
        },
        "signed": {
            "payload": b64(&payload),
            "signatures": [b64(&sign(&pki.officer)?), b64(&sign(&pki.citizen)?)],
        },
    });
    let text = serde_json::to_string_pretty(&request).map_err(|e| server(&e))?;
    std::fs::write(dir.join("pledge-request.json"), text).map_err(|e| server(&e))
}

impl Demo {
    /// What a person needs to try the demo.
    pub fn banner(&self) -> String {
        let pop = &self.mocks.population;
        let iin = pop
            .sample_person()
            .map(|p| p.iin.clone())
            .unwrap_or_default();
        let dereg = pop
            .sample_deregistered()
            .map(|p| p.iin.clone())
            .unwrap_or_default();
        let bin = pop
            .sample_entity()
            .map(|e| e.bin.clone())
            .unwrap_or_default();
        // The sample person's current identity document, for a search by its number.
        let document = pop
            .sample_person()
            .and_then(|p| p.document.as_ref())
            .map(|d| d.number.clone())
            .unwrap_or_default();
        let addr = self.gateway.addr;
        let pki = self.pki_dir.display();
        let tls = format!(
            "-cacert {pki}/root.crt -cert {pki}/portal.crt -key {pki}/portal.key -servername localhost"
        );
        let bank = format!(
            "-cacert {pki}/root.crt -cert {pki}/bank.crt -key {pki}/bank.key -servername localhost"
        );
        let payments = self.mocks.payments.url();
        format!(
            "Köpir demo (synthetic data only)\n\
             gateway (gRPC over TLS, client certificate required): {addr}\n\
             keys and certificates (portal and bank clients, signers, CA): {pki}/\n\
             mock certification authority (CRL): {}\n\
             persons database mock: {}\n\
             legal-entities database mock: {}\n\
             notary system mock (consents, powers of attorney): {}\n\
             legal cadastre mock: {}\n\
             payment gateway mock (e-checks): {}\n\
             access control service mock (consent tokens, КДП): {}\n\
             demo bank's callback endpoint: {}\n\
             generic registry mock (route it in [channel.routes]): {}\n\
             mock control endpoint: {}\n\
             metrics (Prometheus): {}\n\
             operators' console: {}\n\
             sample IIN: {iin}\n\
             sample deregistered IIN: {dereg}\n\
             sample BIN: {bin}\n\
             try:\n  \
             grpcurl {tls} -d '{{\"iin\":{{\"value\":\"{iin}\"}}}}' {addr} kopir.v1.IdentityService/GetPerson\n  \
             grpcurl {tls} -d '{{\"bin\":{{\"value\":\"{bin}\"}}}}' {addr} kopir.v1.IdentityService/GetLegalEntity\n  \
             grpcurl {tls} -d '{{\"document_number\":\"{document}\"}}' {addr} kopir.v1.IdentityService/FindPersons\n  \
             grpcurl {tls} -d '{{\"service\":\"kopir.registry.persons\"}}' {addr} grpc.health.v1.Health/Check\n\
             a pledge contract (bank's certificate; pay the fee, watch it registered, the bank called back):\n  \
             grpcurl {bank} -d @ {addr} kopir.v1.PledgeService/SubmitPledgeContract < {pki}/pledge-request.json\n  \
             curl -H 'content-type: application/json' -d '{{\"payer\":\"{iin}\",\"contract_number\":\"{SAMPLE_PLEDGE}\",\"amount_tiyn\":432500}}' {payments}/api/v1/payments\n  \
             grpcurl {bank} -d '{{\"contract_number\":\"{SAMPLE_PLEDGE}\"}}' {addr} kopir.v1.PledgeService/WatchPledgeStatus\n\
             save a response's bytes and check its seal: kopir verify FILE --cert {pki}/gateway-seal.crt\n\
             Ctrl-C stops.",
            self.ca.crl_url(),
            self.mocks.persons.url(),
            self.mocks.legal_entities.url(),
            self.mocks.notary.url(),
            self.mocks.cadastre.url(),
            self.mocks.payments.url(),
            self.mocks.kdp.url(),
            self.mocks.bank.callback_url(),
            self.mocks.generic.url(),
            self.mocks
                .control_addr
                .map(|a| format!("http://{a}/registries"))
                .unwrap_or_default(),
            self.gateway
                .metrics_addr
                .map(|a| format!("http://{a}/metrics"))
                .unwrap_or_else(|| "off ([metrics] listen)".into()),
            match (self.gateway.metrics_addr, &self.console_token) {
                (Some(a), Some(t)) => format!("http://{a}/console/#token={t}"),
                _ => "off ([metrics] listen and console_token)".into(),
            },
        )
    }
}
