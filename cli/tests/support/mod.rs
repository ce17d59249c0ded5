//! `kopir demo` as a child process on ephemeral ports, for tests that need the real binary: its
//! banner read for the addresses, stopped when dropped.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `kopir demo`; killed on drop.
pub struct DemoChild {
    child: Child,
    /// Its working folder (journal, outbox) with its keys in `pki/`.
    pub dir: tempfile::TempDir,
    /// The gateway's address.
    pub addr: String,
    /// The sample IIN it printed.
    pub iin: String,
    /// The payment gateway mock's address.
    pub payments: String,
}

impl Drop for DemoChild {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl DemoChild {
    /// Starts the demo with every port ephemeral and waits for its banner.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_kopir"));
        command.arg("demo");
        for flag in [
            "--listen",
            "--persons-listen",
            "--entities-listen",
            "--control-listen",
            "--ca-listen",
            "--notary-listen",
            "--cadastre-listen",
            "--payments-listen",
            "--bank-listen",
            "--generic-listen",
            "--kdp-listen",
            "--metrics-listen",
        ] {
            command.args([flag, "127.0.0.1:0"]);
        }
        let mut child = command
            .arg("--pki-dir")
            .arg(dir.path().join("pki"))
            // The demo's journal and outbox files go to its working directory: a fresh one.
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Read the banner on a thread that keeps draining stdout, so the demo never writes to a
        // closed pipe while the test runs.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                tx.send(line).ok();
            }
        });
        let (mut addr, mut iin, mut payments) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while addr.is_none() || iin.is_none() || payments.is_none() {
            let wait = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(wait) else {
                break;
            };
            let after = |prefix: &str| line.strip_prefix(prefix).map(|a| a.trim().to_string());
            addr = addr.or_else(|| after("gateway (gRPC over TLS, client certificate required): "));
            iin = iin.or_else(|| after("sample IIN: "));
            payments = payments.or_else(|| after("payment gateway mock (e-checks): "));
        }
        Self {
            addr: addr.expect("demo printed its address"),
            iin: iin.expect("demo printed an IIN"),
            payments: payments.expect("demo printed the payment gateway"),
            child,
            dir,
        }
    }

    /// The demo's key folder.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// A TLS channel to `addr` trusting the demo root in `pki`, presenting `NAME.crt`/`NAME.key`.
pub async fn connect(addr: &str, pki: &Path, name: &str) -> tonic::transport::Channel {
    use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
    let read = |f: &str| std::fs::read(pki.join(f)).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("root.crt")))
        .domain_name("localhost")
        .identity(Identity::from_pem(
            read(&format!("{name}.crt")),
            read(&format!("{name}.key")),
        ));
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}
