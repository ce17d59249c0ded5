//! The `kopir` command: serve, demo, call, verify, journal, bench.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kopir::bench::suite::SuiteOptions;
use kopir::bench::{self, BenchOptions};
use kopir::demo::{self, DemoOptions};
use kopir_gateway::telemetry::{self, Telemetry};
use kopir_gateway::{Config, Gateway, GatewayError};
use kopir_mocks::MockArgs;

// glibc malloc was 16% of all CPU in the benchmark profile (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Köpir: gRPC integration gateway between Kazakhstan's e-government registries.
#[derive(Parser)]
#[command(name = "kopir", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway with a configuration file (the embedded default without --config).
    Serve {
        /// TOML configuration; see gateway/config/kopir.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Start the mock registries and the gateway in one process on embedded defaults.
    Demo {
        /// Gateway gRPC address.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        #[command(flatten)]
        mocks: Box<MockArgs>,
        /// Folder the demo writes its keys and certificates to.
        #[arg(long, default_value = "kopir-pki")]
        pki_dir: PathBuf,
        /// The Prometheus metrics endpoint's address.
        #[arg(long, default_value = "127.0.0.1:9464")]
        metrics_listen: SocketAddr,
        /// How long a found record stays fresh in every registry's cache, in seconds (the
        /// embedded 300 s without it); a short one shows stale answers in a walkthrough.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        cache_ttl_s: Option<u64>,
    },
    /// Check a sealed response offline: FILE holds a response message's protobuf bytes as
    /// received (seal included); --cert is the gateway's sealing certificate (PEM).
    Verify {
        /// The response's bytes.
        file: PathBuf,
        /// The gateway's sealing certificate.
        #[arg(long)]
        cert: PathBuf,
    },
    /// One call to a gateway: the request as JSON, the answer printed as JSON; --save keeps the
    /// answer's bytes for `kopir verify`.
    Call(kopir::call::CallArgs),
    /// The journal: verify its hash chain, search it, export a range with its chain proof.
    Journal {
        /// TOML configuration naming the journal database (the embedded default without it).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: kopir::journal::JournalCommand,
    },
    /// Measure GetPerson throughput and latency: direct, through nginx, and through the gateway
    /// (cache miss and hit), against the mock registries; or, with --failover, a registry
    /// failing under load.
    Bench {
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent requests.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Added latency of each mock registry call, in ms.
        #[arg(long, default_value_t = 3)]
        latency_ms: u64,
        /// Run the failover scenario instead: half the clients on a registry that goes down for
        /// the middle third of the run, half on a healthy one.
        #[arg(long)]
        failover: bool,
        /// Run the trust scenario instead: signature verification cost (cold and cached chain),
        /// sealing cost, and cache-hit throughput in plaintext against TLS with client
        /// certificates; the table goes to OUT/trust.txt too.
        #[arg(long, conflicts_with = "failover")]
        trust: bool,
        /// Run the journal scenario instead: GetPerson cache hit and miss with the journal off,
        /// on SQLite and (with --pg-url or KOPIR_TEST_PG) on PostgreSQL, and the loss against
        /// off; the table goes to OUT/journal.txt too.
        #[arg(long, conflicts_with_all = ["failover", "trust"])]
        journal: bool,
        /// Run the pledge scenario instead: accepted pledge submissions per second with the SQLite
        /// outbox, and the time from ACCEPTED to the bank's callback; the table goes to
        /// OUT/pledge.txt too.
        #[arg(long, conflicts_with_all = ["failover", "trust", "journal"])]
        pledge: bool,
        /// Contracts prepared per second of --seconds for the pledge scenario (signing happens
        /// before the clock starts; more than the gateway can take, or the run ends early).
        #[arg(long, default_value_t = 4000)]
        pledge_rate: usize,
        /// PostgreSQL for the journal scenario (a throwaway schema is created and dropped);
        /// defaults to the KOPIR_TEST_PG environment variable.
        #[arg(long)]
        pg_url: Option<String>,
        /// Rounds of the suite: each scenario runs this many times, alternating with the others.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Folder for suite.json, suite.png and nginx's files.
        #[arg(long, default_value = "bench-out")]
        out: PathBuf,
        /// No progress bar (for logs and CI).
        #[arg(long)]
        quiet: bool,
    },
}

/// Waits for Ctrl-C or SIGTERM (what service managers send), so both stop gracefully.
async fn until_ctrl_c() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Writes a benchmark's table to OUT/NAME as well as stdout.
fn save(out: &std::path::Path, name: &str, table: &str) -> Result<(), GatewayError> {
    std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(out.join(name), table))
        .map_err(|e| GatewayError::Server(format!("{}: {e}", out.display())))
}

/// `kopir verify`: prints what a valid seal proves, or why the file does not verify.
fn verify(file: &std::path::Path, cert: &std::path::Path) -> Result<(), GatewayError> {
    let bytes = std::fs::read(file).map_err(|e| GatewayError::Config {
        detail: format!("cannot read {}: {e}", file.display()),
    })?;
    let certs = kopir_trust::read_pem_certificates(cert)?;
    let leaf = certs.first().ok_or_else(|| GatewayError::Config {
        detail: format!("{} holds no certificate", cert.display()),
    })?;
    match kopir_trust::seal::verify_sealed(&bytes, leaf) {
        Ok(report) => {
            let s = &report.statement;
            writeln!(
                std::io::stdout(),
                "SEAL VALID\n\
                 sealed by: {}\n\
                 sealed at: {}\n\
                 method: {}\nregistry: {}\nrequest id: {}\nresponse sha256: {}\n\
                 This proves that the gateway holding this certificate's key relayed exactly these \
                 response bytes for that request, from that registry, at that time. It does not by \
                 itself prove that the certificate was valid then: check it against the CA's CRL.",
                report.sealed_by,
                s.sealed_at,
                s.method,
                s.registry,
                s.request_id,
                s.payload_sha256
            )
            .ok();
            Ok(())
        }
        Err(reason) => Err(GatewayError::FailedPrecondition(format!(
            "SEAL INVALID: {reason}"
        ))),
    }
}

async fn run(cli: Cli) -> Result<(), GatewayError> {
    match cli.command {
        Command::Serve { config } => {
            let config = match config {
                Some(path) => Config::load(&path)?,
                None => Config::embedded()?,
            };
            let telemetry = Telemetry::install(&config.telemetry)?;
            let gateway = Gateway::start(config).await?;
            until_ctrl_c().await;
            let stopped = gateway.stop().await;
            // The exporter's last batch, before the runtime goes away.
            tokio::task::spawn_blocking(move || telemetry.shutdown())
                .await
                .ok();
            stopped
        }
        Command::Demo {
            listen,
            mocks,
            pki_dir,
            metrics_listen,
            cache_ttl_s,
        } => {
            let options = DemoOptions {
                listen,
                metrics_listen: Some(metrics_listen),
                mocks: mocks.config(),
                ca_listen: mocks.ca_listen,
                pki_dir,
                ..DemoOptions::default()
            };
            let mut config = Config::embedded()?;
            if let Some(ttl_s) = cache_ttl_s {
                for id in kopir_gateway::routing::RegistryId::ALL {
                    if let Some(registry) = config.registry_mut(id) {
                        registry.cache.ttl_s = ttl_s;
                    }
                }
            }
            let telemetry = Telemetry::install(&config.telemetry)?;
            let d = demo::start(&options, Some(config)).await?;
            // A closed stdout (the reader went away) must not take the gateway down.
            writeln!(std::io::stdout(), "{}", d.banner()).ok();
            until_ctrl_c().await;
            let stopped = d.gateway.stop().await;
            tokio::task::spawn_blocking(move || telemetry.shutdown())
                .await
                .ok();
            stopped
        }
        Command::Verify { file, cert } => verify(&file, &cert),
        Command::Call(args) => kopir::call::run(args)
            .await
            .map_err(|e| GatewayError::FailedPrecondition(e.to_string())),
        Command::Journal { config, command } => {
            let config = match config {
                Some(path) => Config::load(&path)?,
                None => Config::embedded()?,
            };
            let store = kopir_store::journal::open_existing(&config.journal)
                .await?
                .ok_or_else(|| GatewayError::Config {
                    detail: "journal.backend is \"off\": there is no journal to read".into(),
                })?;
            if kopir::journal::run(store.as_ref(), command).await? {
                Ok(())
            } else {
                Err(GatewayError::FailedPrecondition(
                    "the journal's hash chain is broken".into(),
                ))
            }
        }
        Command::Bench {
            seconds,
            concurrency,
            latency_ms,
            failover,
            trust,
            journal,
            pledge,
            pledge_rate,
            pg_url,
            rounds,
            out,
            quiet,
        } => {
            let options = BenchOptions {
                duration: Duration::from_secs(seconds),
                concurrency,
                registry_latency_ms: latency_ms,
                ..BenchOptions::default()
            };
            let table = if failover {
                bench::failover_table(&bench::failover(&options).await?, &options)
            } else if trust {
                let table = bench::trust::run(&options, rounds).await?.table(&options);
                save(&out, "trust.txt", &table)?;
                table
            } else if pledge {
                let report = bench::pledge::run(&options, pledge_rate).await?;
                let table = report.table(&options);
                save(&out, "pledge.txt", &table)?;
                table
            } else if journal {
                let pg_url = pg_url.or_else(|| std::env::var("KOPIR_TEST_PG").ok());
                let report = bench::journal::run(&options, rounds, pg_url.as_deref()).await?;
                let table = report.table(&options);
                save(&out, "journal.txt", &table)?;
                table
            } else {
                let suite = SuiteOptions {
                    rounds: rounds.max(1),
                    out_dir: out.clone(),
                    progress: !quiet,
                };
                let report = bench::suite::suite(&options, &suite).await?;
                let table = bench::suite::table(&report);
                save(&out, "suite.txt", &table)?;
                format!(
                    "{table}results: {dir}/suite.txt, {dir}/suite.json, chart: {dir}/suite.png\n",
                    dir = out.display()
                )
            };
            write!(std::io::stdout(), "{table}").ok();
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { .. } | Command::Demo { .. } => {}
        // A benchmark's gateways log no line per request: that would measure the terminal; a
        // call prints its answer alone.
        Command::Bench { .. } | Command::Call(_) => telemetry::init("warn"),
        _ => telemetry::init("info"),
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // No journal where the configuration points: a usage error, told apart from a broken
        // chain (1) for scripts.
        Err(e @ GatewayError::Journal(kopir_store::journal::JournalError::Missing(_))) => {
            eprintln!("kopir: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kopir: {e}");
            ExitCode::FAILURE
        }
    }
}
