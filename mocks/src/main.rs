//! `kopir-mocks`: the mock registries as a standalone process.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use kopir_mocks::{Faults, MockConfig, MockSet, PopulationSpec};

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
    /// Faults of one registry at start, e.g. `persons:error_rate=0.3,latency_ms=20` or
    /// `legal_entities:down=true`; repeatable. Keys: latency_ms, jitter_ms, spike_rate, spike_ms,
    /// error_rate, timeout_rate, malformed_rate, reset_rate, down.
    #[arg(long = "fault", value_name = "REGISTRY:KEY=VALUE,...")]
    faults: Vec<String>,
    /// Control endpoint listen address (GET /registries, PUT /registries/{name}/faults).
    #[arg(long, default_value = "127.0.0.1:18080")]
    control_listen: SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut config = MockConfig {
        population: PopulationSpec {
            seed: args.seed,
            persons: args.persons,
            entities: args.entities,
        },
        persons_addr: args.persons_listen,
        entities_addr: args.entities_listen,
        control_addr: Some(args.control_listen),
        ..MockConfig::default().with_latency_ms(args.latency_ms)
    };
    for spec in &args.faults {
        let (registry, pairs) = spec
            .split_once(':')
            .ok_or_else(|| format!("--fault {spec:?}: expected REGISTRY:KEY=VALUE,..."))?;
        let slot = match registry {
            "persons" => &mut config.persons_faults,
            "legal_entities" => &mut config.entities_faults,
            other => {
                return Err(format!(
                    "--fault: unknown registry {other:?} (persons, legal_entities)"
                )
                .into())
            }
        };
        *slot = Faults::parse_pairs(pairs, slot.clone())?;
    }
    let mocks = MockSet::start(&config).await?;
    let pop = &mocks.population;
    let banner = format!(
        "persons database (SyncChannel): {}\nlegal-entities database (SyncChannel): {}\ncontrol endpoint: http://{}/registries\nsample IIN: {}\nsample BIN: {}",
        mocks.persons.url(),
        mocks.legal_entities.url(),
        mocks.control_addr.map(|a| a.to_string()).unwrap_or_default(),
        pop.sample_person().map(|p| p.iin.as_str()).unwrap_or(""),
        pop.sample_entity().map(|e| e.bin.as_str()).unwrap_or(""),
    );
    // A closed stdout must not take the mocks down.
    let _ = writeln!(std::io::stdout(), "{banner}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
