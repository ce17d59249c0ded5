//! `kopir-mocks`: the mock registries as a standalone process.

use std::io::Write;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kopir_mocks::pki::{CaServer, DemoPki};
use kopir_mocks::{Faults, MockArgs, MockConfig, MockSet, PopulationSpec};

/// Mock state databases speaking their native protocols, over a seeded synthetic population.
#[derive(Parser)]
#[command(name = "kopir-mocks", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Seed of the synthetic population: the same seed gives the same data.
    #[arg(long, default_value_t = PopulationSpec::default().seed)]
    seed: u64,
    /// Number of persons.
    #[arg(long, default_value_t = 10_000)]
    persons: usize,
    /// Number of legal entities.
    #[arg(long, default_value_t = 1_000)]
    entities: usize,
    #[command(flatten)]
    listen: MockArgs,
    /// Faults of one registry at start, e.g. `persons:error_rate=0.3,latency_ms=20` or
    /// `legal_entities:down=true`; repeatable. Keys: latency_ms, jitter_ms, spike_rate, spike_ms,
    /// error_rate, timeout_rate, malformed_rate, reset_rate, down.
    #[arg(long = "fault", value_name = "REGISTRY:KEY=VALUE,...")]
    faults: Vec<String>,
    /// Folder for the demo keys and certificates the running CA issues at start.
    #[arg(long, default_value = "kopir-pki")]
    pki_dir: PathBuf,
    /// How long each CRL is valid, in seconds.
    #[arg(long, default_value_t = 300)]
    crl_validity_s: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Write a demo set of keys and certificates (CA, gateway TLS and seal, portal and bank
    /// clients, a citizen and a bank officer as signers) and the current CRL to a folder, and exit.
    Pki {
        /// The folder.
        #[arg(long, default_value = "kopir-pki")]
        out: PathBuf,
        /// The citizen's IIN.
        #[arg(long, default_value = "900502400668")]
        citizen_iin: String,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(Command::Pki { out, citizen_iin }) = &args.command {
        let pki = DemoPki::generate(citizen_iin, Duration::from_secs(args.crl_validity_s))?;
        pki.write(out)?;
        writeln!(std::io::stdout(), "demo PKI written to {}", out.display()).ok();
        return Ok(());
    }
    let mut config = MockConfig {
        population: PopulationSpec {
            seed: args.seed,
            persons: args.persons,
            entities: args.entities,
        },
        ..args.listen.config()
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
    let citizen = pop
        .sample_person()
        .map(|p| p.iin.clone())
        .unwrap_or_default();
    let pki = DemoPki::generate(&citizen, Duration::from_secs(args.crl_validity_s))?;
    pki.write(&args.pki_dir)?;
    mocks.secure(&pki, &args.pki_dir.join("root.crt"))?;
    let ca = CaServer::start(Arc::clone(&pki.ca), args.listen.ca_listen).await?;
    let banner = format!(
        "persons database (SyncChannel): {}\nlegal-entities database (SyncChannel): {}\nnotary system (REST): {}\nlegal cadastre (REST): {}\npayment gateway (REST): {}\naccess control service, consent tokens (REST): {}\nbank callback endpoint: {}\ngeneric registry (REST, SyncChannel): {}\ncontrol endpoint: http://{}/registries\ncertification authority CRL: {}\nkeys and certificates: {}/\nsample IIN: {}\nsample BIN: {}",
        mocks.persons.url(),
        mocks.legal_entities.url(),
        mocks.notary.url(),
        mocks.cadastre.url(),
        mocks.payments.url(),
        mocks.kdp.url(),
        mocks.bank.callback_url(),
        mocks.generic.url(),
        mocks.control_addr.map(|a| a.to_string()).unwrap_or_default(),
        ca.crl_url(),
        args.pki_dir.display(),
        pop.sample_person().map(|p| p.iin.as_str()).unwrap_or(""),
        pop.sample_entity().map(|e| e.bin.as_str()).unwrap_or(""),
    );
    // A closed stdout must not take the mocks down.
    writeln!(std::io::stdout(), "{banner}").ok();
    tokio::signal::ctrl_c().await?;
    Ok(())
}
