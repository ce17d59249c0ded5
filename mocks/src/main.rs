//! `kopir-mocks`: the mock registries as a standalone process.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use kopir_mocks::{MockConfig, MockSet, PopulationSpec};

/// Mock state databases speaking their native protocols, over a seeded synthetic population.
#[derive(Parser)]
#[command(name = "kopir-mocks", version)]
struct Args {
    /// Seed of the synthetic population: the same seed gives the same data.
    #[arg(long, default_value_t = PopulationSpec::default().seed)]
    seed: u64,
    /// Number of persons.
    #[arg(long, default_value_t = 10_000)]
    persons: usize,
    /// Number of legal entities.
    #[arg(long, default_value_t = 1_000)]
    entities: usize,
    /// Persons database (ГБД ФЛ) listen address.
    #[arg(long, default_value = "127.0.0.1:18081")]
    persons_listen: SocketAddr,
    /// Legal-entities database (ГБД ЮЛ) listen address.
    #[arg(long, default_value = "127.0.0.1:18082")]
    entities_listen: SocketAddr,
    /// Added latency per call of every registry, in milliseconds.
    #[arg(long, default_value_t = 3)]
    latency_ms: u64,
    /// Added latency of the persons database, overriding --latency-ms.
    #[arg(long)]
    persons_latency_ms: Option<u64>,
    /// Added latency of the legal-entities database, overriding --latency-ms.
    #[arg(long)]
    entities_latency_ms: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let config = MockConfig {
        population: PopulationSpec {
            seed: args.seed,
            persons: args.persons,
            entities: args.entities,
        },
        persons_addr: args.persons_listen,
        entities_addr: args.entities_listen,
        persons_latency_ms: args.persons_latency_ms.unwrap_or(args.latency_ms),
        entities_latency_ms: args.entities_latency_ms.unwrap_or(args.latency_ms),
        ..MockConfig::default()
    };
    let mocks = MockSet::start(&config).await?;
    let pop = &mocks.population;
    let banner = format!(
        "persons database (SyncChannel): {}\nlegal-entities database (SyncChannel): {}\nsample IIN: {}\nsample BIN: {}",
        mocks.persons.url(),
        mocks.legal_entities.url(),
        pop.sample_person().map(|p| p.iin.as_str()).unwrap_or(""),
        pop.sample_entity().map(|e| e.bin.as_str()).unwrap_or(""),
    );
    // A closed stdout must not take the mocks down.
    let _ = writeln!(std::io::stdout(), "{banner}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
