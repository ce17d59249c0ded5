//! The comparison suite: the same GetPerson load, against the same mock registry with the same
//! latency, through four paths: the registry's own gRPC front (direct, the floor), nginx
//! `grpc_pass` in front of it, and the gateway with its cache off (miss) and warm (hit). Scenarios
//! alternate (A B C D A B C D ...) so that the machine's drift spreads over all of them; the
//! report gives each scenario's merged numbers and its ratios to direct and to nginx.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use kopir_mocks::{MockConfig, MockSet};
use serde::Serialize;

use super::{bench_config, drive, nginx, BenchOptions, Measured};
use crate::demo::{point_at_mocks, point_at_pki};
use kopir_gateway::error::GatewayError;
use kopir_gateway::routing::RegistryId;
use kopir_gateway::server::Gateway;

/// What the suite adds to [`BenchOptions`].
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// Times each scenario runs (alternating with the others).
    pub rounds: usize,
    /// Where the JSON, the PNG chart and nginx's files go.
    pub out_dir: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
}

/// One scenario's merged result.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Scenario name.
    pub name: String,
    /// Successful calls over all rounds.
    pub ok: u64,
    /// Failed calls over all rounds.
    pub errors: u64,
    /// Successful calls per second.
    pub throughput: f64,
    /// Each round's throughput, to see the spread.
    pub round_throughputs: Vec<f64>,
    /// Latency percentiles, ms.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest call.
    pub max_ms: f64,
    /// Registry calls made.
    pub registry_calls: u64,
    /// Throughput relative to direct.
    pub throughput_vs_direct: Option<f64>,
    /// Throughput relative to nginx.
    pub throughput_vs_nginx: Option<f64>,
    /// p50 relative to direct.
    pub p50_vs_direct: Option<f64>,
    /// p50 relative to nginx.
    pub p50_vs_nginx: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Seconds per scenario per round.
    pub seconds_per_run: u64,
    /// Rounds.
    pub rounds: usize,
    /// Mock registry latency, ms.
    pub registry_latency_ms: u64,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// Why nginx was left out, if it was.
    pub nginx_skipped: Option<String>,
    /// The scenarios, in run order.
    pub scenarios: Vec<ScenarioReport>,
    /// Goal: gateway cache hit throughput / nginx throughput (≥ 2).
    pub goal_hit_vs_nginx: Option<f64>,
    /// Goal: gateway cache miss p50 / direct p50 (≤ 1.3).
    pub goal_miss_p50_vs_direct: Option<f64>,
    /// Goal: cache-miss throughput with WS-Security / without (≥ 0.85: signatures cost < 15%).
    pub goal_wsse_miss_throughput: Option<f64>,
}

/// The cache-miss scenario with WS-Security off on both sides.
pub const MISS_UNSIGNED: &str = "gateway miss, unsigned";

struct Scenario {
    name: &'static str,
    addr: SocketAddr,
    iins: Arc<Vec<String>>,
}

async fn gateway(
    mocks: &MockSet,
    pki: &super::BenchPki,
    cache: bool,
    wsse: bool,
) -> Result<Gateway, GatewayError> {
    let mut config = bench_config()?;
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    for id in [RegistryId::Persons, RegistryId::LegalEntities] {
        if let Some(r) = config.registry_mut(id) {
            if !cache {
                r.cache.max_entries = 0;
            }
            if !wsse {
                r.wsse = None;
            }
        }
    }
    point_at_mocks(&mut config, mocks)?;
    point_at_pki(&mut config, &pki.dir, &pki.ca.crl_url())?;
    Gateway::start(config).await
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn ratio(a: f64, b: Option<f64>) -> Option<f64> {
    b.filter(|b| *b > 0.0).map(|b| a / b)
}

/// Runs the suite; writes `suite.json` and `suite.png` into the output folder.
pub async fn suite(
    options: &BenchOptions,
    suite: &SuiteOptions,
) -> Result<SuiteReport, GatewayError> {
    let mocks = MockSet::start(&MockConfig {
        grpc_front_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..MockConfig::ephemeral().with_latency_ms(options.registry_latency_ms)
    })
    .await
    .map_err(|e| GatewayError::Server(e.to_string()))?;
    let front = mocks
        .grpc_front_addr
        .ok_or_else(|| GatewayError::Server("the mocks' gRPC front did not start".into()))?;
    // The state databases require WS-Security as the real ones do; a second set that does not
    // (same seed, same population) measures what the signatures cost.
    let pki = super::BenchPki::start("suite").await?;
    pki.secure(&mocks)?;
    let unsigned_mocks =
        MockSet::start(&MockConfig::ephemeral().with_latency_ms(options.registry_latency_ms))
            .await
            .map_err(|e| GatewayError::Server(e.to_string()))?;
    let miss = gateway(&mocks, &pki, false, true).await?;
    let miss_unsigned = gateway(&unsigned_mocks, &pki, false, false).await?;
    let hit = gateway(&mocks, &pki, true, true).await?;

    let all: Arc<Vec<String>> = Arc::new(mocks.population.person_order.clone());
    let hot = super::hot_set(&mocks);
    super::warm(hit.addr, None, &hot).await?;

    std::fs::create_dir_all(&suite.out_dir)
        .map_err(|e| GatewayError::Server(format!("{}: {e}", suite.out_dir.display())))?;
    let (nginx, nginx_skipped) = match nginx::binary() {
        Some(bin) => {
            let listen = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| GatewayError::Server(format!("no free port for nginx: {e}")))?;
            let dir = std::fs::canonicalize(&suite.out_dir)
                .map_err(|e| GatewayError::Server(e.to_string()))?
                .join("nginx");
            (Some(nginx::start(&bin, &dir, listen, front).await?), None)
        }
        None => (
            None,
            Some("nginx is not installed (bench/run.sh installs Debian's nginx)".to_string()),
        ),
    };

    let mut scenarios = vec![Scenario {
        name: "direct",
        addr: front,
        iins: all.clone(),
    }];
    if let Some(n) = &nginx {
        scenarios.push(Scenario {
            name: "nginx",
            addr: n.addr,
            iins: all.clone(),
        });
    }
    scenarios.push(Scenario {
        name: "gateway miss",
        addr: miss.addr,
        iins: all.clone(),
    });
    scenarios.push(Scenario {
        name: MISS_UNSIGNED,
        addr: miss_unsigned.addr,
        iins: all.clone(),
    });
    scenarios.push(Scenario {
        name: "gateway hit",
        addr: hit.addr,
        iins: hot,
    });

    let total_secs = options.duration.as_secs() * (scenarios.len() * suite.rounds) as u64;
    let bar = if suite.progress {
        ProgressBar::new(total_secs)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:<22} [{bar:40}] {pos}/{len} s")
            .map_err(|e| GatewayError::Server(e.to_string()))?
            .progress_chars("=> "),
    );
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                bar.inc(1);
            }
        })
    };

    let mut merged: Vec<Measured> = Vec::new();
    let mut rounds: Vec<Vec<f64>> = vec![Vec::new(); scenarios.len()];
    for _ in 0..scenarios.len() {
        merged.push(Measured::empty()?);
    }
    for round in 0..suite.rounds {
        for (i, s) in scenarios.iter().enumerate() {
            bar.set_message(format!("{} ({}/{})", s.name, round + 1, suite.rounds));
            let m = drive(s.addr, s.iins.clone(), options, || {
                mocks.persons.calls() + unsigned_mocks.persons.calls()
            })
            .await?;
            rounds[i].push(m.throughput());
            merged[i].merge(&m)?;
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    drop(nginx);
    miss.stop().await?;
    miss_unsigned.stop().await?;
    hit.stop().await?;
    std::fs::remove_dir_all(&pki.dir).ok();

    let find = |name: &str| scenarios.iter().position(|s| s.name == name);
    let direct = find("direct").map(|i| &merged[i]);
    let via_nginx = find("nginx").map(|i| &merged[i]);
    let (d_rps, d_p50) = (
        direct.map(Measured::throughput),
        direct.map(|m| ms(m.hist.value_at_quantile(0.5))),
    );
    let (n_rps, n_p50) = (
        via_nginx.map(Measured::throughput),
        via_nginx.map(|m| ms(m.hist.value_at_quantile(0.5))),
    );
    let reports: Vec<ScenarioReport> = scenarios
        .iter()
        .zip(&merged)
        .zip(rounds)
        .map(|((s, m), round_throughputs)| {
            let p50 = ms(m.hist.value_at_quantile(0.5));
            ScenarioReport {
                name: s.name.to_string(),
                ok: m.ok,
                errors: m.errors,
                throughput: m.throughput(),
                round_throughputs,
                p50_ms: p50,
                p90_ms: ms(m.hist.value_at_quantile(0.9)),
                p99_ms: ms(m.hist.value_at_quantile(0.99)),
                max_ms: ms(m.hist.max()),
                registry_calls: m.registry_calls,
                throughput_vs_direct: ratio(m.throughput(), d_rps),
                throughput_vs_nginx: ratio(m.throughput(), n_rps),
                p50_vs_direct: ratio(p50, d_p50),
                p50_vs_nginx: ratio(p50, n_p50),
            }
        })
        .collect();
    let by_name = |n: &str| reports.iter().find(|r| r.name == n);
    let report = SuiteReport {
        concurrency: options.concurrency,
        seconds_per_run: options.duration.as_secs(),
        rounds: suite.rounds,
        registry_latency_ms: options.registry_latency_ms,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        nginx_skipped,
        goal_hit_vs_nginx: by_name("gateway hit").and_then(|r| r.throughput_vs_nginx),
        goal_miss_p50_vs_direct: by_name("gateway miss").and_then(|r| r.p50_vs_direct),
        goal_wsse_miss_throughput: by_name("gateway miss").and_then(|signed| {
            ratio(
                signed.throughput,
                by_name(MISS_UNSIGNED).map(|u| u.throughput),
            )
        }),
        scenarios: reports,
    };
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| GatewayError::Server(e.to_string()))?;
    let json_path = suite.out_dir.join("suite.json");
    std::fs::write(&json_path, json)
        .map_err(|e| GatewayError::Server(format!("{}: {e}", json_path.display())))?;
    let subtitle = format!(
        "{} concurrent, registry latency {} ms, {} × {} s per scenario",
        options.concurrency,
        options.registry_latency_ms,
        suite.rounds,
        options.duration.as_secs()
    );
    super::chart::draw(
        &suite.out_dir.join("suite.png"),
        &report.scenarios,
        &subtitle,
    )?;
    Ok(report)
}

/// The report as a table, with the goals.
pub fn table(report: &SuiteReport) -> String {
    let mut out = format!(
        "GetPerson, {} concurrent, registry latency {} ms, {} rounds × {} s per scenario, {} CPUs\n",
        report.concurrency,
        report.registry_latency_ms,
        report.rounds,
        report.seconds_per_run,
        report.cpus
    );
    if let Some(why) = &report.nginx_skipped {
        out.push_str(&format!("nginx scenario skipped: {why}\n"));
    }
    out.push_str(&format!(
        "{:<22} {:>9} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
        "scenario",
        "ok",
        "errors",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "rps/dir",
        "rps/ngx",
        "p50/dir",
        "p50/ngx"
    ));
    let r2 = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    for s in &report.scenarios {
        out.push_str(&format!(
            "{:<22} {:>9} {:>6} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>9} {:>9} {:>9}\n",
            s.name,
            s.ok,
            s.errors,
            s.throughput,
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.max_ms,
            r2(s.throughput_vs_direct),
            r2(s.throughput_vs_nginx),
            r2(s.p50_vs_direct),
            r2(s.p50_vs_nginx)
        ));
    }
    let verdict = |v: Option<f64>, ok: fn(f64) -> bool| match v {
        Some(v) if ok(v) => format!("{v:.2} (met)"),
        Some(v) => format!("{v:.2} (missed)"),
        None => "not measured".to_string(),
    };
    out.push_str(&format!(
        "goal: gateway hit throughput >= 2x nginx: {}\n",
        verdict(report.goal_hit_vs_nginx, |v| v >= 2.0)
    ));
    out.push_str(&format!(
        "goal: gateway miss p50 <= 1.3x direct: {}\n",
        verdict(report.goal_miss_p50_vs_direct, |v| v <= 1.3)
    ));
    out.push_str(&format!(
        "goal: gateway miss throughput with WS-Security >= 0.85x without: {}\n",
        verdict(report.goal_wsse_miss_throughput, |v| v >= 0.85)
    ));
    out
}
