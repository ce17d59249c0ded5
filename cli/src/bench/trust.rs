//! `kopir bench --trust`: what trust costs. Signature verification per request with a cold chain
//! (path validation and CRL check) and a cached one (digest and signature only), for RSA-2048 and
//! ECDSA P-256 signers; sealing per response; and GetPerson cache-hit throughput through the
//! gateway in plaintext and with TLS and client certificates, alternating rounds.

use std::time::Instant;

use kopir_mocks::pki::{DemoPki, Issued};
use kopir_mocks::{MockConfig, MockSet};
use kopir_trust::signing::Content;
use tonic::transport::{Certificate, ClientTlsConfig, Identity as TlsIdentity};

use super::{bench_config, drive, gateway, hot_set, warm, BenchOptions, BenchPki, Measured};
use kopir_gateway::config::TrustConfig;
use kopir_gateway::error::GatewayError;
use kopir_trust::error::TrustError;
use kopir_trust::seal::Sealer;
use kopir_trust::Trust;

/// Mean cost of one operation, µs.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Mean µs per operation.
    pub mean_us: f64,
    /// Operations timed.
    pub n: u32,
}

/// The trust benchmark's results.
pub struct TrustReport {
    /// (signer algorithm, cold chain, cached chain).
    pub verification: Vec<(&'static str, Cost, Cost)>,
    /// Sealing one response (ECDSA P-256).
    pub seal: Cost,
    /// Cache-hit GetPerson, plaintext.
    pub plaintext: Measured,
    /// Cache-hit GetPerson, TLS with client certificates.
    pub tls: Measured,
}

fn server(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Server(e.to_string())
}

async fn time<F: std::future::Future<Output = Result<(), TrustError>>>(
    n: u32,
    mut op: impl FnMut() -> F,
) -> Result<Cost, GatewayError> {
    let start = Instant::now();
    for _ in 0..n {
        op().await?;
    }
    Ok(Cost {
        mean_us: start.elapsed().as_secs_f64() * 1e6 / f64::from(n),
        n,
    })
}

async fn verification_cost(
    trust: &Trust,
    signer: &Issued,
    pki: &DemoPki,
) -> Result<(Cost, Cost), GatewayError> {
    let payload = br#"{"method":"kopir.v1.IdentityService/GetPerson","subject":"900502400668"}"#;
    let cms = signer
        .key
        .sign_cms(
            Content::Detached(payload),
            &signer.cert,
            &[pki.ca.intermediate().clone()],
        )
        .map_err(server)?;
    let verify = || async { trust.verify_signature(payload, &cms, 0).await.map(|_| ()) };
    let cold = time(200, || {
        trust.forget_chains();
        verify()
    })
    .await?;
    verify().await?;
    let cached = time(2000, verify).await?;
    Ok((cold, cached))
}

/// Runs the trust benchmark with `options` (duration per round, concurrency), `rounds` times.
pub async fn run(options: &BenchOptions, rounds: usize) -> Result<TrustReport, GatewayError> {
    let bench_pki = BenchPki::start("trust").await?;
    let (dir, pki, ca) = (&bench_pki.dir, &bench_pki.pki, &bench_pki.ca);

    let mut trust_config = TrustConfig {
        roots: vec![dir.join("root.crt")],
        ..TrustConfig::default()
    };
    trust_config.crls = vec![url::Url::parse(&ca.crl_url()).map_err(server)?];
    let trust = Trust::new(&trust_config)?;
    trust.revocation().refresh().await?;
    let mut verification = Vec::new();
    for (name, signer) in [("RSA-2048", &pki.citizen), ("ECDSA P-256", &pki.officer)] {
        let (cold, cached) = verification_cost(&trust, signer, pki).await?;
        verification.push((name, cold, cached));
    }
    let sealer = Sealer::load(&dir.join("gateway-seal.crt"), &dir.join("gateway-seal.key"))?;
    let body = vec![0x2a_u8; 600];
    let seal = time(2000, || async {
        sealer
            .seal(
                &body,
                "req",
                "persons",
                "kopir.v1.IdentityService/GetPerson",
            )
            .map(|_| ())
    })
    .await?;

    let mocks =
        MockSet::start(&MockConfig::ephemeral().with_latency_ms(options.registry_latency_ms))
            .await
            .map_err(server)?;
    bench_pki.secure(&mocks)?;
    let mut tls_config = bench_config()?;
    tls_config.server.plaintext = false;
    let plain_gw = gateway(&mocks, dir, &ca.crl_url(), bench_config()?).await?;
    let tls_gw = gateway(&mocks, dir, &ca.crl_url(), tls_config).await?;
    let read = |f: &str| std::fs::read(dir.join(f)).map_err(server);
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("root.crt")?))
        .identity(TlsIdentity::from_pem(
            read("portal.crt")?,
            read("portal.key")?,
        ))
        .domain_name("localhost");
    let hot = hot_set(&mocks);
    let tls_options = BenchOptions {
        client_tls: Some(tls),
        ..options.clone()
    };
    for (gw, opts) in [(&plain_gw, options), (&tls_gw, &tls_options)] {
        warm(gw.addr, opts.client_tls.as_ref(), &hot).await?;
    }
    let (mut plaintext, mut tls) = (Measured::empty()?, Measured::empty()?);
    for _ in 0..rounds.max(1) {
        let m = drive(plain_gw.addr, hot.clone(), options, || {
            mocks.persons.calls()
        })
        .await?;
        plaintext.merge(&m)?;
        let m = drive(tls_gw.addr, hot.clone(), &tls_options, || {
            mocks.persons.calls()
        })
        .await?;
        tls.merge(&m)?;
    }
    plain_gw.stop().await?;
    tls_gw.stop().await?;
    std::fs::remove_dir_all(dir).ok();
    Ok(TrustReport {
        verification,
        seal,
        plaintext,
        tls,
    })
}

impl TrustReport {
    /// The report as a table.
    pub fn table(&self, options: &BenchOptions) -> String {
        let mut out =
            String::from("signature verification per request (one signer, CRL in force)\n");
        out.push_str("signer        cold chain µs   cached chain µs\n");
        for (name, cold, cached) in &self.verification {
            out.push_str(&format!(
                "{name:<13} {:>13.0}   {:>15.0}\n",
                cold.mean_us, cached.mean_us
            ));
        }
        out.push_str(&format!(
            "sealing one response (ECDSA P-256): {:.0} µs\n\n",
            self.seal.mean_us
        ));
        out.push_str(&format!(
            "GetPerson cache hit, {} concurrent, {} ms registry latency\n",
            options.concurrency, options.registry_latency_ms
        ));
        out.push_str("transport                  req/s      p50 ms   p99 ms   errors\n");
        for (name, m) in [
            ("plaintext (dev mode)", &self.plaintext),
            ("TLS + client certificate", &self.tls),
        ] {
            out.push_str(&format!(
                "{name:<24} {:>9.0}   {:>7.2}  {:>7.2}   {}\n",
                m.throughput(),
                m.hist.value_at_quantile(0.5) as f64 / 1000.0,
                m.hist.value_at_quantile(0.99) as f64 / 1000.0,
                m.errors
            ));
        }
        out
    }
}
