//! The pledge worker: moves every contract in the outbox on (payment e-check, filing with the
//! cadastre, the registrar's decision) and delivers the banks' notices, retrying with backoff
//! until the registry answers and the bank acknowledges. After a crash it takes up where the
//! outbox says: a filing repeated under the same message id is the same filing to the cadastre,
//! and a notice repeated under the same event id is the same notice to the bank.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use futures::StreamExt;
use kopir_adapters::bank::{BankCallback, SealedNotice};
use kopir_adapters::cadastre::{Decision, FilingStatus};
use kopir_adapters::payments::PaymentMatch;
use kopir_adapters::syncchannel::Endpoint;

use super::error::PledgeError;
use super::metrics::OutboxMetrics;
use super::outbox::{Change, Owed, Work};
use super::{Desk, State, Status};
use crate::call::{CallContext, Operation, Record};
use crate::config::PledgeConfig;
use crate::error::GatewayError;
use kopir_core::registry::{RegistryOp, RegistryRecord};
use kopir_trust::seal::Sealer;

/// The method name in the call context of the worker's registry calls. They go through the
/// registries' routes (breaker, retries, metrics, health), not through the pipeline, so they are
/// not journaled as calls; each status change they cause is journaled as an event.
pub const WORKER_METHOD: &str = "kopir.v1.PledgeService/Deliver";
/// The method name in the seal of a bank notice.
pub const CALLBACK_METHOD: &str = "kopir.v1.PledgeService/Callback";
/// How often the outbox is looked at for due work when nothing wakes the worker.
const TICK: Duration = Duration::from_millis(100);
/// The shortest wait between two looks at the same contract.
const MIN_POLL: Duration = Duration::from_secs(1);
/// How often the backlog gauges are refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);
/// Rows taken from the outbox per look.
const BATCH: usize = 256;

/// The state a cadastre filing status puts a contract in.
pub fn change_of(filed: &FilingStatus, before: &Status) -> Change {
    let (state, detail) = match filed.decision {
        Decision::Accepted => (
            State::Submitted,
            "filed with the legal cadastre; the registrar is deciding".to_string(),
        ),
        Decision::Registered => (State::Registered, String::new()),
        Decision::Refused => (State::Refused, String::new()),
        Decision::Suspended => (State::Suspended, String::new()),
        Decision::PreliminaryRefusal => (
            State::PreliminaryRefusal,
            "an objection is taken until the deadline; the hearing decides".to_string(),
        ),
        Decision::Objection => (
            State::Objection,
            "objection filed; the registrar decides after the hearing".to_string(),
        ),
    };
    Change {
        state,
        grounds: filed.grounds.clone(),
        detail,
        hearing_at: filed.hearing_at.or(before.hearing_at),
        objection_deadline: filed.objection_deadline.or(before.objection_deadline),
    }
}

/// The worker.
#[derive(Clone)]
pub struct Worker {
    desk: Desk,
    config: PledgeConfig,
    banks: Arc<HashMap<String, BankCallback>>,
    sealer: Option<Arc<Sealer>>,
    metrics: Option<OutboxMetrics>,
}

impl Worker {
    /// A worker for `desk`'s outbox, calling banks back as `config` lists them.
    pub fn new(
        desk: Desk,
        config: &PledgeConfig,
        sealer: Option<Arc<Sealer>>,
        metrics: Option<OutboxMetrics>,
    ) -> Result<Self, GatewayError> {
        let mut banks = HashMap::new();
        for (bin, bank) in &config.banks {
            let endpoint = Endpoint {
                url: bank.callback_url.clone(),
                sender_id: "kopir".into(),
                sender_password: String::new(),
                connect_timeout: Duration::from_millis(bank.timeout_ms.min(2000)),
                request_timeout: Duration::from_millis(bank.timeout_ms),
                pool_max_idle: 8,
                wire: kopir_adapters::syncchannel::Wire::default(),
            };
            banks.insert(
                bin.clone(),
                BankCallback::new(&format!("bank {bin}"), endpoint)?,
            );
        }
        Ok(Self {
            desk,
            config: config.clone(),
            banks: Arc::new(banks),
            sealer,
            metrics,
        })
    }

    /// Runs until the task is aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.run().await })
    }

    async fn run(self) {
        let concurrency = self.config.concurrency.max(1);
        let mut measured: Option<std::time::Instant> = None;
        let wake = self.desk.wake().clone();
        let this = &self;
        kopir_resilience::worker::run(&wake, TICK, || {
            let measure = measured.is_none_or(|m| m.elapsed() >= BACKLOG_EVERY);
            if measure {
                measured = Some(std::time::Instant::now());
            }
            async move {
                if measure {
                    if let (Some(m), Ok(b)) = (&this.metrics, this.desk.outbox.backlog().await) {
                        m.backlog_is(b);
                    }
                }
                let now = Utc::now();
                let work = this.desk.outbox.due(now, BATCH).await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "pledge worker: cannot read the outbox");
                    Vec::new()
                });
                let owed = this.desk.outbox.owed(now, BATCH).await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "pledge worker: cannot read the notices");
                    Vec::new()
                });
                let idle = work.is_empty() && owed.is_empty();
                futures::stream::iter(work)
                    .for_each_concurrent(concurrency, |w| this.step(w))
                    .await;
                futures::stream::iter(owed)
                    .for_each_concurrent(concurrency, |o| this.deliver(o))
                    .await;
                idle
            }
        })
        .await;
    }

    fn backoff(&self, attempts: u32) -> chrono::DateTime<Utc> {
        kopir_resilience::backoff::next_attempt(
            self.config.retry_min,
            self.config.retry_max,
            attempts,
        )
    }

    /// When to ask again about something that has been waiting since `since`: a tenth of the
    /// wait so far, between `MIN_POLL` and `max`. A fresh contract is looked at every second or
    /// so (a payer pays, a registrar decides, within moments), one waiting for days every `max`.
    fn poll(&self, since: chrono::DateTime<Utc>, max: Duration) -> chrono::DateTime<Utc> {
        let waited = (Utc::now() - since).to_std().unwrap_or_default();
        let after = (waited / 10).clamp(MIN_POLL.min(max), max);
        Utc::now() + chrono::Duration::from_std(after).unwrap_or_default()
    }

    async fn step(&self, w: Work) {
        let id = w.status.request_id.clone();
        let result = match w.status.state {
            State::Accepted | State::AwaitingPayment => self.check_payment(&w).await,
            _ => self.follow(&w).await,
        };
        if let Some(m) = &self.metrics {
            m.delivery("registries", result.is_ok());
        }
        if let Err(e) = result {
            tracing::warn!(request_id = %id, error = %e, "pledge delivery step failed; retrying later");
            let next = self.backoff(w.attempts);
            let dead_after = self.config.dead_after;
            let stored = self
                .desk
                .outbox
                .retry_later(&id, next, e.to_string(), dead_after)
                .await;
            if let Err(e) = stored {
                tracing::error!(error = %e, "pledge worker: cannot reschedule");
            }
        }
    }

    fn context(w: &Work) -> Arc<CallContext> {
        Arc::new(CallContext::internal(&w.status.request_id, WORKER_METHOD))
    }

    async fn check_payment(&self, w: &Work) -> Result<(), PledgeError> {
        let number = &w.status.contract_number;
        let record = self
            .desk
            .registry(
                Self::context(w),
                Operation::Registry(RegistryOp::PaymentChecks(number.clone())),
            )
            .await?;
        let Record::Registry(RegistryRecord::PaymentChecks(checks)) = record.as_ref() else {
            return Err(PledgeError::other_record());
        };
        let matched = PaymentMatch::of(checks.clone(), number, self.config.registration_fee_tiyn);
        let waited = (Utc::now() - w.status.accepted_at)
            .to_std()
            .unwrap_or_default();
        if matched.complete() || waited >= self.config.payment_wait {
            // Past the wait the registrar gets the contract as it stands and decides on the
            // payment itself (it refuses an unpaid one, with grounds).
            let codes = matched
                .checks
                .iter()
                .map(|c| c.payment_code.clone())
                .collect();
            return self.file(w, codes).await;
        }
        let change = Change {
            state: State::AwaitingPayment,
            grounds: Vec::new(),
            detail: matched.shortfall(),
            hearing_at: None,
            objection_deadline: None,
        };
        self.desk
            .transition(
                &w.status.request_id,
                change,
                self.poll(w.status.accepted_at, self.config.payment_poll),
                "payments",
            )
            .await?;
        Ok(())
    }

    async fn file(&self, w: &Work, payment_codes: Vec<String>) -> Result<(), PledgeError> {
        let mut filing = w.filing.clone();
        filing.payment_codes = payment_codes;
        let record = self
            .desk
            .registry(
                Self::context(w),
                Operation::Registry(RegistryOp::FilePledge(Arc::new(filing))),
            )
            .await?;
        let Record::Registry(RegistryRecord::Filing(Some(filed))) = record.as_ref() else {
            return Err(PledgeError::other_record());
        };
        self.desk
            .transition(
                &w.status.request_id,
                change_of(filed, &w.status),
                self.poll(Utc::now(), self.config.status_poll),
                "cadastre",
            )
            .await?;
        Ok(())
    }

    async fn follow(&self, w: &Work) -> Result<(), PledgeError> {
        let record = self
            .desk
            .registry(
                Self::context(w),
                Operation::Registry(RegistryOp::FilingStatus(w.status.request_id.clone())),
            )
            .await?;
        let Record::Registry(RegistryRecord::Filing(filed)) = record.as_ref() else {
            return Err(PledgeError::other_record());
        };
        match filed {
            Some(filed) => {
                self.desk
                    .transition(
                        &w.status.request_id,
                        change_of(filed, &w.status),
                        self.poll(w.status.changed_at, self.config.status_poll),
                        "cadastre",
                    )
                    .await?;
                Ok(())
            }
            // The cadastre has no record of the filing: file it again under the same id.
            None => self.file(w, w.filing.payment_codes.clone()).await,
        }
    }

    async fn deliver(&self, owed: Owed) {
        let Owed {
            seq,
            bank,
            notice,
            attempts,
        } = owed;
        let result = match self.banks.get(&bank) {
            None => Err(format!(
                "no callback endpoint is configured for bank {bank} ([pledge.banks])"
            )),
            Some(callback) => match self.seal(&notice) {
                Err(e) => Err(e.to_string()),
                Ok(seal) => callback
                    .notify(&SealedNotice { notice, seal })
                    .await
                    .map_err(|e| e.to_string()),
            },
        };
        if let Some(m) = &self.metrics {
            m.delivery("bank", result.is_ok());
        }
        let stored = match result {
            Ok(()) => self.desk.outbox.delivered(seq).await,
            Err(e) => {
                tracing::warn!(seq, error = %e, "bank callback failed; retrying later");
                self.desk
                    .outbox
                    .undelivered(seq, self.backoff(attempts), e, self.config.dead_after)
                    .await
            }
        };
        if let Err(e) = stored {
            tracing::error!(error = %e, "pledge worker: cannot record a delivery");
        }
    }

    fn seal(&self, notice: &kopir_adapters::bank::PledgeNotice) -> Result<String, PledgeError> {
        let Some(sealer) = &self.sealer else {
            return Ok(String::new());
        };
        let body = serde_json::to_vec(notice)
            .map_err(|e| PledgeError::Defect(format!("notice as JSON: {e}")))?;
        let seal = sealer
            .seal(&body, &notice.request_id, "pledge", CALLBACK_METHOD)
            .map_err(|e| PledgeError::Defect(e.to_string()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(seal))
    }
}
