//! `kopir bench --pledge`: accepted pledge submissions per second with durable storage (SQLite
//! outbox and journal, fsync on commit), and the time from ACCEPTED to the bank's callback with
//! the registrar's outcome. Contracts are paid and signed before the clock starts (signing is the
//! bank's cost, not the gateway's); every submission is verified in full: two CMS signatures,
//! the ownership check against the cadastre mock, the outbox commit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use kopir_mocks::cadastre::NewObject;
use kopir_mocks::payments::Payment;
use kopir_mocks::pki::{Holder, Issued, Window, DEMO_BANK_BIN};
use kopir_mocks::{MockConfig, MockSet};
use kopir_trust::signing::{Content, KeyAlgorithm};

use super::{bench_config, channels, gateway, histogram, process_cpu, BenchOptions, BenchPki};
use crate::sample as contract;
use kopir_gateway::error::GatewayError;
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::pledge_service_client::PledgeServiceClient;

/// Objects the contracts pledge, round robin (one object's encumbrance list stays short).
const OBJECTS: usize = 2000;

fn server(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Server(e.to_string())
}

/// What the pledge benchmark measured.
pub struct PledgeReport {
    /// Contracts accepted.
    pub accepted: u64,
    /// Submissions refused or failed.
    pub errors: u64,
    /// Measured wall time of the submission phase.
    pub elapsed: Duration,
    /// Submission latency, µs.
    pub submit: Histogram<u64>,
    /// CPU time of the whole process per accepted contract, µs.
    pub cpu_per_accept_us: f64,
    /// Time from ACCEPTED to the bank's receipt of the "registered" notice, µs.
    pub to_callback: Histogram<u64>,
    /// Accepted contracts whose callback did not arrive within the wait.
    pub callbacks_missing: u64,
    /// How long after the last submission the last callback arrived.
    pub drain: Duration,
    /// Contracts prepared (an upper bound on what could be accepted).
    pub prepared: usize,
    /// The paced phase: submissions per second offered.
    pub paced_rate: u32,
    /// The paced phase: time from ACCEPTED to the "registered" callback, µs.
    pub paced_to_callback: Histogram<u64>,
    /// The paced phase: contracts accepted.
    pub paced_accepted: u64,
}

/// Waits (up to 2 minutes) for the "registered" notice of every accepted contract and records
/// the time from ACCEPTED to its arrival; returns how many never arrived.
async fn callbacks(
    mocks: &MockSet,
    accepted: &[(String, DateTime<Utc>)],
    hist: &mut Histogram<u64>,
) -> u64 {
    let wait_until = Instant::now() + Duration::from_secs(120);
    let mut received = mocks.bank.received("registered");
    while accepted.iter().any(|(n, _)| !received.contains_key(n)) && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        received = mocks.bank.received("registered");
    }
    let mut missing = 0;
    for (number, at) in accepted {
        match received.get(number) {
            Some(got) => {
                let us = (*got - *at).num_microseconds().unwrap_or(0).max(1);
                hist.saturating_record(u64::try_from(us).unwrap_or(1));
            }
            None => missing += 1,
        }
    }
    missing
}

fn accepted_at(answer: &pb::SubmitPledgeContractResponse) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&answer.accepted_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

fn sign(who: &Issued, pki: &BenchPki, payload: &[u8]) -> Result<Vec<u8>, GatewayError> {
    who.key
        .sign_cms(
            Content::Detached(payload),
            &who.cert,
            &[pki.pki.ca.intermediate().clone()],
        )
        .map_err(server)
}

/// Pays and signs `n` contracts of `owner` over the mocks' objects.
fn prepare(
    n: usize,
    mocks: &MockSet,
    pki: &BenchPki,
    owner: &Issued,
    owner_iin: &str,
) -> Result<Vec<pb::SubmitPledgeContractRequest>, GatewayError> {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let objects: Vec<String> = (0..OBJECTS)
        .map(|i| {
            format!(
                "23-{:03}-{:03}-{:03}",
                i / 1_000_000 % 1000,
                i / 1000 % 1000,
                i % 1000
            )
        })
        .collect();
    for o in &objects {
        mocks.cadastre.register_object(NewObject {
            cadastral_number: o.clone(),
            owners: vec![owner_iin.to_string()],
            encumbrances: Vec::new(),
        });
    }
    (0..n)
        .map(|i| {
            let number = format!("B{}-{i:07}", &run[run.len() - 8..]);
            mocks
                .payments
                .pay(Payment {
                    payer: owner_iin.to_string(),
                    contract_number: number.clone(),
                    amount_tiyn: 432_500,
                })
                .map_err(server)?;
            let c = contract::sample(&number, owner_iin, &objects[i % objects.len()]);
            let payload = contract::document(&c)?;
            Ok(pb::SubmitPledgeContractRequest {
                meta: Some(pb::RequestMeta {
                    requester_bin: DEMO_BANK_BIN.into(),
                    ..pb::RequestMeta::default()
                }),
                contract: Some(c),
                signed: Some(pb::SignedDocument {
                    signatures: vec![
                        sign(&pki.pki.officer, pki, &payload)?,
                        sign(owner, pki, &payload)?,
                    ],
                    payload,
                }),
            })
        })
        .collect()
}

/// Runs the benchmark: submissions for `options.duration` at `options.concurrency`, then waits
/// for every accepted contract's callback.
pub async fn run(options: &BenchOptions, rate_hint: usize) -> Result<PledgeReport, GatewayError> {
    let mut mock_config = MockConfig::ephemeral().with_latency_ms(options.registry_latency_ms);
    mock_config.cadastre.decision_delay = Duration::ZERO;
    let mocks = MockSet::start(&mock_config).await.map_err(server)?;
    let pki = BenchPki::start("pledge").await?;
    pki.secure(&mocks)?;
    let owner_iin = mocks
        .population
        .adults()
        .next()
        .map(|p| p.iin.clone())
        .ok_or_else(|| server("the mock population holds no adult"))?;
    let owner = pki
        .pki
        .ca
        .issue(
            &Holder::Person {
                iin: owner_iin.clone(),
                name: "Bench Owner".into(),
            },
            KeyAlgorithm::EcdsaP256,
            Window::days(30),
        )
        .map_err(server)?;
    let n = rate_hint.max(1) * options.duration.as_secs().max(1) as usize;
    let requests = Arc::new(prepare(n, &mocks, &pki, &owner, &owner_iin)?);

    let mut config = bench_config()?;
    config.pledge.outbox = std::env::temp_dir().join(format!(
        "kopir-bench-outbox-{}-{}.db",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    config.pledge.payment_poll = Duration::from_millis(100);
    config.pledge.status_poll = Duration::from_millis(100);
    let outbox_file = config.pledge.outbox.clone();
    let journal_file = config.journal.path.clone();
    let gw = gateway(&mocks, &pki.dir, &pki.ca.crl_url(), config).await?;
    // The bench's gateway calls the bank back at the mock bank (point_at_mocks sets it).

    let chans = channels(gw.addr, options.connections, None).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = process_cpu();
    let start = Instant::now();
    let until = start + options.duration;
    let mut tasks = Vec::new();
    for w in 0..options.concurrency {
        let mut client = PledgeServiceClient::new(chans[w % chans.len()].clone());
        let (next, requests) = (next.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = histogram().ok();
            let mut accepted: Vec<(String, DateTime<Utc>)> = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < until {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = requests.get(i) else { break };
                let t = Instant::now();
                match client.submit_pledge_contract(r.clone()).await {
                    Ok(answer) => {
                        let answer = answer.into_inner();
                        if let Some(h) = hist.as_mut() {
                            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                            h.saturating_record(us.max(1));
                        }
                        let at = accepted_at(&answer);
                        let number = r.contract.as_ref().map(|c| c.number.clone());
                        accepted.push((number.unwrap_or_default(), at));
                    }
                    Err(_) => errors += 1,
                }
            }
            (accepted, errors, hist)
        }));
    }
    let mut submit = histogram()?;
    let mut accepted = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (a, e, h) = t.await.map_err(server)?;
        accepted.extend(a);
        errors += e;
        if let Some(h) = h {
            submit.add(&h).map_err(server)?;
        }
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    let submitted_at = Instant::now();

    let mut to_callback = histogram()?;
    let missing = callbacks(&mocks, &accepted, &mut to_callback).await;
    let drain = submitted_at.elapsed();

    // Paced: a tenth of the measured rate for 3 s, so the time to the callback is the pipeline's
    // own and not a backlog's.
    let paced_rate = u32::try_from((accepted.len() as u64 / elapsed.as_secs().max(1)) / 10)
        .unwrap_or(100)
        .max(10);
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / paced_rate);
    let paced_until = Instant::now() + Duration::from_secs(3);
    let mut inflight = Vec::new();
    let client = PledgeServiceClient::new(chans[0].clone());
    while Instant::now() < paced_until {
        ticker.tick().await;
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(r) = requests.get(i).cloned() else {
            break;
        };
        let mut c = client.clone();
        inflight.push(tokio::spawn(async move {
            let number = r
                .contract
                .as_ref()
                .map(|c| c.number.clone())
                .unwrap_or_default();
            c.submit_pledge_contract(r)
                .await
                .ok()
                .map(|a| (number, accepted_at(&a.into_inner())))
        }));
    }
    let mut paced = Vec::new();
    for t in inflight {
        if let Ok(Some(a)) = t.await {
            paced.push(a);
        }
    }
    let mut paced_to_callback = histogram()?;
    let paced_missing = callbacks(&mocks, &paced, &mut paced_to_callback).await;
    gw.stop().await?;
    for f in [outbox_file, journal_file] {
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", f.display())).ok();
        }
    }
    Ok(PledgeReport {
        accepted: accepted.len() as u64,
        errors,
        elapsed,
        submit,
        cpu_per_accept_us: cpu.as_secs_f64() * 1e6 / (accepted.len().max(1) as f64),
        to_callback,
        callbacks_missing: missing + paced_missing,
        drain,
        prepared: requests.len(),
        paced_rate,
        paced_accepted: paced.len() as u64,
        paced_to_callback,
    })
}

impl PledgeReport {
    /// The report as a table.
    pub fn table(&self, options: &BenchOptions) -> String {
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let rate = self.accepted as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON);
        let mut out = format!(
            "pledge submissions: {} concurrent, {:.0} s, registry latency {} ms, SQLite outbox and journal (synchronous=FULL)\n",
            options.concurrency,
            self.elapsed.as_secs_f64(),
            options.registry_latency_ms
        );
        out += &format!(
            "accepted {} ({:.0}/s), errors {}, prepared {}{}\n",
            self.accepted,
            rate,
            self.errors,
            self.prepared,
            if self.accepted as usize >= self.prepared {
                " (ran out of prepared contracts: raise --pledge-rate)"
            } else {
                ""
            }
        );
        out += &format!(
            "submit latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; CPU per accepted contract {:.0} µs\n",
            ms(&self.submit, 0.5),
            ms(&self.submit, 0.99),
            self.submit.max() as f64 / 1000.0,
            self.cpu_per_accept_us
        );
        out += &format!(
            "ACCEPTED → bank callback (registered): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; missing {}; last callback {:.1} s after the last submission\n",
            ms(&self.to_callback, 0.5),
            ms(&self.to_callback, 0.99),
            self.to_callback.max() as f64 / 1000.0,
            self.callbacks_missing,
            self.drain.as_secs_f64()
        );
        out += &format!(
            "paced at {}/s for 3 s ({} accepted): ACCEPTED → bank callback p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n",
            self.paced_rate,
            self.paced_accepted,
            ms(&self.paced_to_callback, 0.5),
            ms(&self.paced_to_callback, 0.99),
            self.paced_to_callback.max() as f64 / 1000.0
        );
        out
    }
}
