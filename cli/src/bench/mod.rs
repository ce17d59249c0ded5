//! `kopir bench`: load generation and measurement. [`suite`] compares the gateway with a direct
//! call and with nginx; [`failover`] watches a registry fail and recover under load; [`trust`]
//! prices signatures, seals and TLS; [`journal`] prices the audit journal.

pub mod chart;
pub mod journal;
pub mod nginx;
pub mod pledge;
pub mod suite;
pub mod trust;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use kopir_mocks::pki::{CaServer, DemoPki};
use kopir_mocks::{Faults, MockConfig, MockSet};
use tonic::transport::{Channel, Endpoint};

use crate::demo::{self, point_at_mocks, point_at_pki, DemoOptions};
use kopir_gateway::config::{Config, Rate};
use kopir_gateway::error::GatewayError;
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
use kopir_gateway::routing::RegistryId;
use kopir_gateway::server::Gateway;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Measured time per scenario.
    pub duration: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Added latency of the mock registry per call.
    pub registry_latency_ms: u64,
    /// HTTP/2 connections the clients share.
    pub connections: usize,
    /// TLS settings of the clients (CA, client certificate); plaintext when absent.
    pub client_tls: Option<tonic::transport::ClientTlsConfig>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            concurrency: 64,
            registry_latency_ms: 3,
            connections: 8,
            client_tls: None,
        }
    }
}

/// One run of one scenario, before percentiles are taken, so runs can be merged.
pub struct Measured {
    /// Successful calls.
    pub ok: u64,
    /// Failed calls.
    pub errors: u64,
    /// Measured wall time.
    pub elapsed: Duration,
    /// Latencies of successful calls, µs.
    pub hist: Histogram<u64>,
    /// Registry calls made during the run.
    pub registry_calls: u64,
    /// CPU time the whole process (clients, gateway, mocks) used during the run.
    pub cpu: Duration,
}

impl Measured {
    /// Nothing measured yet.
    pub fn empty() -> Result<Self, GatewayError> {
        Ok(Self {
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            hist: histogram()?,
            registry_calls: 0,
            cpu: Duration::ZERO,
        })
    }

    /// Adds another run of the same scenario.
    pub fn merge(&mut self, other: &Measured) -> Result<(), GatewayError> {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.registry_calls += other.registry_calls;
        self.cpu += other.cpu;
        self.hist
            .add(&other.hist)
            .map_err(|e| GatewayError::Server(e.to_string()))
    }

    /// Successful calls per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Process CPU time per successful call, µs.
    pub fn cpu_per_call_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / (self.ok.max(1) as f64)
    }
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (Linux; zero
/// elsewhere). Its unit is the kernel's USER_HZ, 100 per second on every Linux build we run on.
pub fn process_cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces; the fields after its closing parenthesis do not.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

pub(crate) async fn channels(
    addr: SocketAddr,
    n: usize,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<Vec<Channel>, GatewayError> {
    let mut out = Vec::with_capacity(n);
    let server = |e: tonic::transport::Error| GatewayError::Server(e.to_string());
    for _ in 0..n.max(1) {
        let endpoint = match tls {
            Some(tls) => Endpoint::from_shared(format!("https://localhost:{}", addr.port()))
                .map_err(server)?
                .tls_config(tls.clone())
                .map_err(server)?,
            None => Endpoint::from_shared(format!("http://{addr}")).map_err(server)?,
        };
        let ch = endpoint
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| GatewayError::Server(format!("bench client cannot connect: {e}")))?;
        out.push(ch);
    }
    Ok(out)
}

/// The benchmark client's metadata: in plaintext mode the gateway names the client by it.
fn bench_meta() -> pb::RequestMeta {
    pb::RequestMeta {
        requester_bin: kopir_mocks::pki::DEMO_PORTAL_BIN.to_string(),
        ..Default::default()
    }
}

pub(crate) fn request(iin: &str) -> pb::GetPersonRequest {
    pb::GetPersonRequest {
        meta: Some(bench_meta()),
        iin: Some(pb::Iin {
            value: iin.to_string(),
        }),
        signed: None,
    }
}

/// The first 1,000 persons of the population: the cache-hit scenarios' working set.
pub(crate) fn hot_set(mocks: &MockSet) -> Arc<Vec<String>> {
    Arc::new(
        mocks
            .population
            .person_order
            .iter()
            .take(1000)
            .cloned()
            .collect(),
    )
}

/// Reads every person of `iins` once through the gateway at `addr`, so its cache holds them.
pub(crate) async fn warm(
    addr: SocketAddr,
    tls: Option<&tonic::transport::ClientTlsConfig>,
    iins: &[String],
) -> Result<(), GatewayError> {
    let chans = channels(addr, 1, tls).await?;
    let mut client = IdentityServiceClient::new(chans[0].clone());
    for iin in iins {
        client
            .get_person(request(iin))
            .await
            .map_err(|s| GatewayError::Server(format!("warm-up of {addr} failed: {s}")))?;
    }
    Ok(())
}

/// Drives `concurrency` loops of GetPerson over `iins` for `duration` against `addr`.
pub async fn drive(
    addr: SocketAddr,
    iins: Arc<Vec<String>>,
    options: &BenchOptions,
    registry_calls: impl Fn() -> u64,
) -> Result<Measured, GatewayError> {
    let chans = channels(addr, options.connections, options.client_tls.as_ref()).await?;
    let calls_before = registry_calls();
    let cpu_before = process_cpu();
    let start = Instant::now();
    let until = start + options.duration;
    let mut tasks = Vec::with_capacity(options.concurrency);
    for worker in 0..options.concurrency {
        let mut client = IdentityServiceClient::new(chans[worker % chans.len()].clone());
        let iins = iins.clone();
        let stride = options.concurrency;
        tasks.push(tokio::spawn(async move {
            let mut hist = histogram().ok();
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut i = worker;
            while Instant::now() < until {
                let iin = &iins[i % iins.len()];
                i += stride;
                let t = Instant::now();
                match client.get_person(request(iin)).await {
                    Ok(_) => {
                        ok += 1;
                        if let Some(h) = hist.as_mut() {
                            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                            h.saturating_record(us.max(1));
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (ok, errors, hist)
        }));
    }
    let mut total = histogram()?;
    let (mut ok, mut errors) = (0, 0);
    for t in tasks {
        let (o, e, h) = t.await.map_err(|e| GatewayError::Server(e.to_string()))?;
        ok += o;
        errors += e;
        if let Some(h) = h {
            total
                .add(&h)
                .map_err(|e| GatewayError::Server(e.to_string()))?;
        }
    }
    Ok(Measured {
        ok,
        errors,
        elapsed: start.elapsed(),
        hist: total,
        registry_calls: registry_calls() - calls_before,
        cpu: process_cpu().saturating_sub(cpu_before),
    })
}

/// The embedded configuration with rate limits out of the way (it measures the gateway's path,
/// not the limiter's refusals), in plaintext mode so its numbers compare with the direct and
/// nginx floors; the TLS scenarios switch TLS back on.
pub(crate) fn bench_config() -> Result<Config, GatewayError> {
    let mut config = Config::embedded()?;
    config.server.plaintext = true;
    let unlimited = Rate {
        per_second: 10_000_000,
        burst: 10_000_000,
    };
    config.rate_limits.default = unlimited;
    config.rate_limits.clients.clear();
    // Benchmarks run several gateways at once: no fixed metrics port.
    config.metrics.listen = None;
    // The embedded journal file is the working directory's; a benchmark must not grow it.
    config.journal.path = std::env::temp_dir().join(format!(
        "kopir-bench-journal-{}-{}.db",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    Ok(config)
}

/// A throwaway demo PKI in a temporary folder with its CA serving the CRL.
pub(crate) struct BenchPki {
    /// Where the keys and certificates are.
    pub dir: PathBuf,
    /// The keys and certificates.
    pub pki: DemoPki,
    /// The CA's CRL server.
    pub ca: CaServer,
}

impl BenchPki {
    /// Generates and writes the PKI (`tag` names the folder) and starts its CA.
    pub async fn start(tag: &str) -> Result<Self, GatewayError> {
        let server = |e: &dyn std::fmt::Display| GatewayError::Server(format!("bench PKI: {e}"));
        let dir = std::env::temp_dir().join(format!("kopir-bench-{tag}-{}", std::process::id()));
        let pki =
            DemoPki::generate("900502400668", Duration::from_secs(3600)).map_err(|e| server(&e))?;
        pki.write(&dir).map_err(|e| server(&e))?;
        let ca = CaServer::start(Arc::clone(&pki.ca), SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| server(&e))?;
        Ok(Self { dir, pki, ca })
    }

    /// Makes `mocks`' state databases require this PKI's WS-Security signatures and sign their
    /// replies, as the gateways pointed at this PKI expect.
    pub fn secure(&self, mocks: &MockSet) -> Result<(), GatewayError> {
        mocks
            .secure(&self.pki, &self.dir.join("root.crt"))
            .map_err(|e| GatewayError::Server(format!("bench PKI: {e}")))
    }
}

/// Starts a gateway with `config` on a free port, pointed at `mocks` and the PKI in `dir`.
pub(crate) async fn gateway(
    mocks: &MockSet,
    dir: &std::path::Path,
    crl_url: &str,
    mut config: Config,
) -> Result<Gateway, GatewayError> {
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    point_at_mocks(&mut config, mocks)?;
    point_at_pki(&mut config, dir, crl_url)?;
    Gateway::start(config).await
}

fn demo_options(options: &BenchOptions) -> DemoOptions {
    let dir = std::env::temp_dir().join(format!("kopir-bench-pki-{}", std::process::id()));
    DemoOptions {
        mocks: MockConfig::ephemeral().with_latency_ms(options.registry_latency_ms),
        ..DemoOptions::ephemeral(dir)
    }
}

/// A latency histogram from 1 µs to 60 s at 3 significant digits.
pub(crate) fn histogram() -> Result<Histogram<u64>, GatewayError> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| GatewayError::Server(e.to_string()))
}

/// The three phases of the failover run.
pub const PHASES: [&str; 3] = ["before", "during", "after"];

/// One registry in one phase of the failover run.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// "persons" (the one that fails) or "legal_entities" (healthy).
    pub registry: &'static str,
    /// "before", "during" or "after" the failure.
    pub phase: &'static str,
    /// Calls made.
    pub calls: u64,
    /// Calls that succeeded.
    pub ok: u64,
    /// Median latency of all calls, µs.
    pub p50_us: u64,
    /// 99th percentile latency of all calls, µs.
    pub p99_us: u64,
}

impl PhaseResult {
    /// Share of calls that succeeded, in percent.
    pub fn success_percent(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            100.0 * self.ok as f64 / self.calls as f64
        }
    }
}

/// Counts and latencies by registry (0 persons, 1 legal entities) and phase.
struct Tally {
    calls: [[u64; 3]; 2],
    ok: [[u64; 3]; 2],
    hist: Vec<Vec<Histogram<u64>>>,
}

impl Tally {
    fn new() -> Result<Self, GatewayError> {
        let row = || (0..3).map(|_| histogram()).collect::<Result<Vec<_>, _>>();
        Ok(Self {
            calls: [[0; 3]; 2],
            ok: [[0; 3]; 2],
            hist: vec![row()?, row()?],
        })
    }
}

/// `concurrency` clients for `duration`, half reading persons and half legal entities with both
/// caches off; the persons registry goes down for the middle third and comes back. A client that
/// gets an error waits 5 ms before its next call, as a well-behaved client backs off.
pub async fn failover(options: &BenchOptions) -> Result<Vec<PhaseResult>, GatewayError> {
    let mut config = bench_config()?;
    for id in RegistryId::ALL {
        if let Some(r) = config.registry_mut(id) {
            r.cache.max_entries = 0;
            r.resilience.breaker_open_ms = 1_000;
        }
    }
    let d = demo::start(&demo_options(options), Some(config)).await?;
    let chans = channels(d.gateway.addr, options.connections, None).await?;
    let iins = Arc::new(d.mocks.population.person_order.clone());
    let bins = Arc::new(d.mocks.population.entity_order.clone());
    let start = Instant::now();
    let third = options.duration / 3;
    let until = start + options.duration;
    let mut tasks = Vec::with_capacity(options.concurrency);
    for worker in 0..options.concurrency {
        let mut client = IdentityServiceClient::new(chans[worker % chans.len()].clone());
        let (iins, bins) = (iins.clone(), bins.clone());
        let stride = options.concurrency;
        tasks.push(tokio::spawn(async move {
            let persons = worker % 2 == 0;
            let mut tally = Tally::new()?;
            let mut i = worker;
            while Instant::now() < until {
                let t = Instant::now();
                let phase =
                    (t.duration_since(start).as_nanos() / third.as_nanos().max(1)).min(2) as usize;
                let ok = if persons {
                    client
                        .get_person(request(&iins[i % iins.len()]))
                        .await
                        .is_ok()
                } else {
                    let req = pb::GetLegalEntityRequest {
                        meta: Some(bench_meta()),
                        bin: Some(pb::Bin {
                            value: bins[i % bins.len()].clone(),
                        }),
                        signed: None,
                    };
                    client.get_legal_entity(req).await.is_ok()
                };
                i += stride;
                let r = usize::from(!persons);
                let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                tally.hist[r][phase].saturating_record(us.max(1));
                tally.calls[r][phase] += 1;
                if ok {
                    tally.ok[r][phase] += 1;
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            Ok::<_, GatewayError>(tally)
        }));
    }
    tokio::time::sleep(third).await;
    d.mocks
        .persons
        .set_faults(Faults {
            down: true,
            ..d.mocks.persons.faults()
        })
        .await
        .map_err(|e| GatewayError::Server(e.to_string()))?;
    tokio::time::sleep(third).await;
    d.mocks
        .persons
        .set_faults(Faults {
            down: false,
            ..d.mocks.persons.faults()
        })
        .await
        .map_err(|e| GatewayError::Server(e.to_string()))?;
    let mut total = Tally::new()?;
    for t in tasks {
        let tally = t.await.map_err(|e| GatewayError::Server(e.to_string()))??;
        for r in 0..2 {
            for p in 0..3 {
                total.calls[r][p] += tally.calls[r][p];
                total.ok[r][p] += tally.ok[r][p];
                total.hist[r][p]
                    .add(&tally.hist[r][p])
                    .map_err(|e| GatewayError::Server(e.to_string()))?;
            }
        }
    }
    d.gateway.stop().await?;
    let mut out = Vec::new();
    for (r, registry) in ["persons", "legal_entities"].into_iter().enumerate() {
        for (p, phase) in PHASES.into_iter().enumerate() {
            out.push(PhaseResult {
                registry,
                phase,
                calls: total.calls[r][p],
                ok: total.ok[r][p],
                p50_us: total.hist[r][p].value_at_quantile(0.5),
                p99_us: total.hist[r][p].value_at_quantile(0.99),
            });
        }
    }
    Ok(out)
}

/// The failover results as a table.
pub fn failover_table(results: &[PhaseResult], options: &BenchOptions) -> String {
    let mut out = format!(
        "failover: {} clients for {} s, persons down for the middle third, registry latency {} ms\n",
        options.concurrency,
        options.duration.as_secs(),
        options.registry_latency_ms
    );
    out.push_str(&format!(
        "{:<16} {:<8} {:>9} {:>10} {:>9} {:>9}\n",
        "registry", "phase", "calls", "success %", "p50 ms", "p99 ms"
    ));
    for r in results {
        out.push_str(&format!(
            "{:<16} {:<8} {:>9} {:>10.2} {:>9.2} {:>9.2}\n",
            r.registry,
            r.phase,
            r.calls,
            r.success_percent(),
            r.p50_us as f64 / 1000.0,
            r.p99_us as f64 / 1000.0
        ));
    }
    out
}
