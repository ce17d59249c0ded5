//! `kopir bench --journal`: what the audit journal costs. GetPerson through the gateway with the
//! journal off, on SQLite and on PostgreSQL (when a URL is given), cache hit and cache miss,
//! rounds alternating between the backends so drift on a shared machine falls on all of them.
//! Afterwards each journal's chain is verified and its records counted against the calls made.

use std::sync::Arc;

use kopir_mocks::{MockConfig, MockSet};

use super::{bench_config, drive, gateway, hot_set, warm, BenchOptions, BenchPki, Measured};
use kopir_gateway::config::{Config, JournalBackend};
use kopir_gateway::error::GatewayError;
use kopir_gateway::routing::RegistryId;
use kopir_gateway::server::Gateway;
use kopir_store::journal::{self, Verified};

fn server(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Server(e.to_string())
}

/// One backend's results.
pub struct BackendResult {
    /// "off", "sqlite" or "postgres".
    pub name: &'static str,
    /// Cache-hit GetPerson.
    pub hit: Measured,
    /// Cache-miss GetPerson (every call reaches the persons registry).
    pub miss: Measured,
    /// The journal's chain after the run (none for "off").
    pub verified: Option<Verified>,
}

/// The journal benchmark's results; the first backend is the baseline without a journal.
pub struct JournalReport {
    /// Off, SQLite, and PostgreSQL when it was measured.
    pub backends: Vec<BackendResult>,
    /// Why PostgreSQL was not measured, when it was not.
    pub postgres_skipped: Option<String>,
}

/// One backend under test: a cache-on and a cache-off gateway sharing its journal config.
struct Subject {
    config: Config,
    hit_gw: Gateway,
    miss_gw: Gateway,
    result: BackendResult,
}

fn with_journal(
    backend: JournalBackend,
    pg_url: Option<&str>,
    schema: &str,
) -> Result<Config, GatewayError> {
    let mut config = bench_config()?;
    config.journal.backend = backend;
    config.journal.url = pg_url.map(str::to_string);
    config.journal.schema = schema.to_string();
    Ok(config)
}

fn cache_off(mut config: Config) -> Config {
    for id in RegistryId::ALL {
        if let Some(r) = config.registry_mut(id) {
            r.cache.max_entries = 0;
        }
    }
    config
}

/// Runs the journal benchmark: `rounds` rounds of every scenario, `options.duration` each;
/// PostgreSQL is measured when `pg_url` is given (a fresh schema, dropped afterwards).
pub async fn run(
    options: &BenchOptions,
    rounds: usize,
    pg_url: Option<&str>,
) -> Result<JournalReport, GatewayError> {
    let bench_pki = BenchPki::start("journal").await?;
    let mocks =
        MockSet::start(&MockConfig::ephemeral().with_latency_ms(options.registry_latency_ms))
            .await
            .map_err(server)?;
    bench_pki.secure(&mocks)?;
    let BenchPki { dir, ca, .. } = bench_pki;
    let schema = format!("kopir_bench_{}", std::process::id());
    let mut plans = vec![
        ("off", with_journal(JournalBackend::Off, None, &schema)?),
        (
            "sqlite",
            with_journal(JournalBackend::Sqlite, None, &schema)?,
        ),
    ];
    if let Some(url) = pg_url {
        plans.push((
            "postgres",
            with_journal(JournalBackend::Postgres, Some(url), &schema)?,
        ));
    }
    let mut subjects = Vec::new();
    for (name, config) in plans {
        let hit_gw = gateway(&mocks, &dir, &ca.crl_url(), config.clone()).await?;
        let miss_gw = gateway(&mocks, &dir, &ca.crl_url(), cache_off(config.clone())).await?;
        subjects.push(Subject {
            config,
            hit_gw,
            miss_gw,
            result: BackendResult {
                name,
                hit: Measured::empty()?,
                miss: Measured::empty()?,
                verified: None,
            },
        });
    }

    let hot = hot_set(&mocks);
    let all: Arc<Vec<String>> = Arc::new(mocks.population.person_order.clone());
    for s in &subjects {
        warm(s.hit_gw.addr, None, &hot).await?;
    }
    for _ in 0..rounds.max(1) {
        for s in &mut subjects {
            let m = drive(s.hit_gw.addr, hot.clone(), options, || {
                mocks.persons.calls()
            })
            .await?;
            s.result.hit.merge(&m)?;
        }
        for s in &mut subjects {
            let m = drive(s.miss_gw.addr, all.clone(), options, || {
                mocks.persons.calls()
            })
            .await?;
            s.result.miss.merge(&m)?;
        }
    }

    let mut backends = Vec::new();
    for mut s in subjects {
        s.hit_gw.stop().await?;
        s.miss_gw.stop().await?;
        if let Some(store) = journal::open(&s.config.journal).await? {
            s.result.verified = Some(journal::verify(store.as_ref()).await?);
        }
        if s.config.journal.backend == JournalBackend::Sqlite {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = s.config.journal.path.clone().into_os_string();
                path.push(suffix);
                std::fs::remove_file(path).ok();
            }
        }
        backends.push(s.result);
    }
    if let Some(url) = pg_url {
        drop_schema(url, &schema).await?;
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(JournalReport {
        backends,
        postgres_skipped: pg_url
            .is_none()
            .then(|| "no PostgreSQL URL (--pg-url or KOPIR_TEST_PG)".to_string()),
    })
}

async fn drop_schema(url: &str, schema: &str) -> Result<(), GatewayError> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(server)?;
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .map_err(server)?;
    drop(client);
    task.await.ok();
    Ok(())
}

impl JournalReport {
    /// The report as a table: throughput, latency and loss against the journal-off baseline.
    pub fn table(&self, options: &BenchOptions) -> String {
        let mut out = format!(
            "GetPerson with and without the journal: {} concurrent, {} s per round, {} ms registry latency\n",
            options.concurrency,
            options.duration.as_secs(),
            options.registry_latency_ms
        );
        let base = self.backends.first();
        for (scenario, pick) in [
            (
                "cache hit",
                (|b: &BackendResult| &b.hit) as fn(&BackendResult) -> &Measured,
            ),
            ("cache miss", |b: &BackendResult| &b.miss),
        ] {
            out.push_str(&format!(
                "\n{scenario}\njournal        req/s    loss %   p50 ms   p99 ms   CPU µs/call   errors\n"
            ));
            let base_tp = base.map(|b| pick(b).throughput()).unwrap_or(0.0);
            for b in &self.backends {
                let m = pick(b);
                let loss = if base_tp > 0.0 {
                    100.0 * (base_tp - m.throughput()) / base_tp
                } else {
                    0.0
                };
                out.push_str(&format!(
                    "{:<10} {:>9.0}   {:>7.1}  {:>7.2}  {:>7.2}   {:>11.0}   {}\n",
                    b.name,
                    m.throughput(),
                    loss,
                    m.hist.value_at_quantile(0.5) as f64 / 1000.0,
                    m.hist.value_at_quantile(0.99) as f64 / 1000.0,
                    m.cpu_per_call_us(),
                    m.errors
                ));
            }
        }
        out.push_str("\njournal chains after the run\n");
        for b in &self.backends {
            if let Some(v) = &b.verified {
                let calls = b.hit.ok + b.hit.errors + b.miss.ok + b.miss.errors;
                out.push_str(&format!(
                    "{:<10} {} records for {} measured calls (+ warm-up), {}\n",
                    b.name,
                    v.records,
                    calls,
                    match &v.broken {
                        None => "chain intact".to_string(),
                        Some(broken) => format!("BROKEN at {broken}"),
                    }
                ));
            }
        }
        if let Some(why) = &self.postgres_skipped {
            out.push_str(&format!("postgres   not measured: {why}\n"));
        }
        out
    }
}
