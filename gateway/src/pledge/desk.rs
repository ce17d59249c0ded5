//! The pledge desk: what the pipeline calls for PledgeService. It verifies a contract against the
//! notary system and the legal cadastre, stores it in the outbox, and answers status and objection
//! requests; every change it makes is broadcast to the status watchers.

use std::sync::Arc;

use base64::Engine;
use chrono::Utc;
use kopir_adapters::cadastre::{CadastralNumber, PledgeFiling};
use kopir_core::identifiers::{mask, Iin};
use tokio::sync::{broadcast, Notify};

use super::error::PledgeError;
use super::outbox::{Accepted, Change, NewPledge, Outbox};
use super::{State, Status, Submission, STATUS_CHANGE};
use crate::call::{CallContext, GatewayRequest, Operation, Record};
use crate::error::GatewayError;
use crate::routing::Router;
use kopir_core::registry::{RegistryOp, RegistryRecord};
use kopir_store::journal::{Event, Journal};

/// The desk; cheap to clone.
#[derive(Clone)]
pub struct Desk {
    /// The outbox.
    pub outbox: Outbox,
    router: Router,
    journal: Option<Journal>,
    changes: broadcast::Sender<Status>,
    wake: Arc<Notify>,
}

impl Desk {
    /// A desk over `outbox`, calling registries through `router`, journaling changes.
    pub fn new(outbox: Outbox, router: Router, journal: Option<Journal>) -> Self {
        Self {
            outbox,
            router,
            journal,
            changes: broadcast::channel(4096).0,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Status changes as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Status> {
        self.changes.subscribe()
    }

    /// Wakes the worker (a contract was accepted).
    pub(crate) fn wake(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// Calls a registry through its route (breaker, limits, metrics).
    pub(crate) async fn registry(
        &self,
        ctx: Arc<CallContext>,
        op: Operation,
    ) -> Result<Arc<Record>, GatewayError> {
        Ok(self.router.route(GatewayRequest { ctx, op }).await?.record)
    }

    /// Journals and broadcasts a change the outbox committed.
    pub(crate) async fn changed(&self, status: &Status, cause: &str) {
        if let Some(journal) = &self.journal {
            let entry = Event {
                request_id: status.request_id.clone(),
                correlation_id: status.request_id.clone(),
                client: format!("bin:{}", status.bank),
                method: STATUS_CHANGE.into(),
                subject: status.contract_number.clone(),
                started_at: status.changed_at,
                registry: cause.to_string(),
                note: note(status),
                payload_digest: String::new(),
            };
            if let Err(e) = journal.append(entry.into()).await {
                // The change is in the outbox already; the journal gap is an operator's alarm.
                tracing::error!(error = %e, request_id = %status.request_id, "pledge status change not journaled");
            }
        }
        self.changes.send(status.clone()).ok();
    }

    /// Applies a change through the outbox; journals and broadcasts it when something changed.
    pub(crate) async fn transition(
        &self,
        id: &str,
        change: Change,
        next: chrono::DateTime<Utc>,
        cause: &str,
    ) -> Result<Option<Status>, PledgeError> {
        let changed = self.outbox.transition(id, change, next).await?;
        if let Some((status, _)) = &changed {
            self.changed(status, cause).await;
        }
        Ok(changed.map(|(s, _)| s))
    }

    async fn submit(&self, req: &GatewayRequest, s: &Submission) -> Result<Record, PledgeError> {
        let ctx = &req.ctx;
        let contract = &s.contract;
        let bank = ctx.client_bin().ok_or(PledgeError::NotABank(
            "a pledge contract is submitted by the pledgee bank's own client certificate",
        ))?;
        if bank.as_str() != contract.pledgee_bin {
            return Err(PledgeError::invalid(
                "contract.pledgee",
                "names another bank than the calling client: a bank submits its own contracts",
            ));
        }
        // A resubmission is answered from the outbox without calling any registry again.
        if let Some((existing, digest)) = self
            .outbox
            .existing(bank.as_str(), &contract.number)
            .await?
        {
            return settle(existing, digest == s.digest);
        }
        let signers = ctx.signers.as_ref().ok_or_else(|| PledgeError::Signature {
            failure: crate::error::SignatureFailure::Missing,
            detail: "a pledge contract must carry every party's signature".into(),
        })?;
        super::contract::check_signed(contract, signers)?;
        self.check_agents(ctx, contract).await?;
        check_guardianship(contract, Utc::now().date_naive())?;
        let number = CadastralNumber::parse(&contract.cadastral_number)
            .map_err(|e| PledgeError::invalid("contract.cadastral_number", e))?;
        let rights = match self
            .registry(ctx.clone(), Operation::Registry(RegistryOp::Rights(number)))
            .await
        {
            Err(GatewayError::Adapter(kopir_adapters::AdapterError::NotFound { .. })) => {
                return Err(PledgeError::Refused(format!(
                    "the legal cadastre holds no object {}",
                    contract.cadastral_number
                )))
            }
            other => other?,
        };
        let Record::Registry(RegistryRecord::Rights(rights)) = rights.as_ref() else {
            return Err(PledgeError::other_record());
        };
        let owners: Vec<&str> = rights.owners().collect();
        let pledgors = contract.pledgor_ids();
        if let Some(p) = pledgors.iter().find(|p| !owners.contains(&p.as_str())) {
            return Err(PledgeError::Refused(format!(
                "pledgor {} is not a registered owner of {} in the legal cadastre: only an owner can pledge it",
                mask(p),
                contract.cadastral_number
            )));
        }
        if let Some(o) = owners.iter().find(|o| !pledgors.iter().any(|p| p == *o)) {
            return Err(PledgeError::Refused(format!(
                "co-owner {} of {} is not among the pledgors: every owner of the object pledges it",
                mask(o),
                contract.cadastral_number
            )));
        }
        let doc = ctx.signed.as_ref().ok_or_else(PledgeError::other_record)?;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let status = Status::accepted(&ctx.request_id, bank.as_str(), &contract.number);
        let filing = PledgeFiling {
            message_id: ctx.request_id.clone(),
            contract_number: contract.number.clone(),
            pledgee_bin: contract.pledgee_bin.clone(),
            pledgors,
            cadastral_number: contract.cadastral_number.clone(),
            amount_tiyn: contract.amount_tiyn,
            document: b64(&doc.payload),
            signatures: doc.signatures.iter().map(|s| b64(s)).collect(),
            payment_codes: Vec::new(),
        };
        let accepted = self
            .outbox
            .accept(NewPledge {
                status,
                digest: s.digest.clone(),
                filing,
            })
            .await?;
        if let Accepted::New(status) = &accepted {
            self.wake.notify_one();
            self.changes.send(status.clone()).ok();
        }
        match accepted {
            Accepted::New(status) => Ok(Record::Pledge {
                status,
                duplicate: false,
            }),
            Accepted::Duplicate(status) => settle(status, true),
            Accepted::Conflict(status) => settle(status, false),
        }
    }

    /// Each agent may sign for its party: a valid notarised power of attorney for `pledge`, or
    /// (a legal representative) the minor party's parent in the persons database.
    async fn check_agents(
        &self,
        ctx: &Arc<CallContext>,
        contract: &super::Contract,
    ) -> Result<(), PledgeError> {
        let today = Utc::now();
        for (label, party) in contract.parties() {
            let Some(agent) = &party.agent else { continue };
            let agent_iin = Iin::parse(&agent.iin)
                .map_err(|e| PledgeError::invalid("contract.agent.iin", e.to_string()))?;
            if agent.legal_representative {
                let child = party
                    .iin
                    .as_deref()
                    .and_then(|i| Iin::parse(i).ok())
                    .filter(|i| i.is_minor_on(today.date_naive()))
                    .ok_or_else(|| {
                        PledgeError::Refused(format!(
                            "the {label} is not a minor: only a minor's parent signs as legal representative; an adult's agent needs a notarised power of attorney"
                        ))
                    })?;
                let record = self
                    .registry(
                        ctx.clone(),
                        Operation::Registry(RegistryOp::Relatives(child)),
                    )
                    .await?;
                let Record::Registry(RegistryRecord::Relatives(relatives)) = record.as_ref() else {
                    return Err(PledgeError::other_record());
                };
                let parent = relatives.iter().any(|r| {
                    r.iin == agent.iin && r.relation == kopir_core::model::Relation::Parent
                });
                if !parent {
                    return Err(PledgeError::Refused(format!(
                        "the {label}'s legal representative is not their parent in the persons database"
                    )));
                }
                continue;
            }
            let record = self
                .registry(
                    ctx.clone(),
                    Operation::Registry(RegistryOp::PowerOfAttorney {
                        number: agent.power_of_attorney.clone(),
                        agent: agent_iin,
                    }),
                )
                .await?;
            let Record::Registry(RegistryRecord::PowerOfAttorney(found)) = record.as_ref() else {
                return Err(PledgeError::other_record());
            };
            let poa = found.as_ref().ok_or_else(|| {
                PledgeError::Refused(format!(
                    "the {label}'s agent acts under power of attorney {}, which the notary system does not hold (only notarised powers of attorney are accepted)",
                    agent.power_of_attorney
                ))
            })?;
            let principal = party.id().unwrap_or_default();
            let defects = poa.defects(&principal, &agent.iin, "pledge", today);
            if !defects.is_empty() {
                return Err(PledgeError::Refused(format!(
                    "the {label}'s agent cannot sign: {}",
                    defects.join("; ")
                )));
            }
        }
        Ok(())
    }

    async fn status(&self, ctx: &CallContext, number: &str) -> Result<Status, PledgeError> {
        let bank = ctx.client_bin().ok_or(PledgeError::NotABank(
            "a bank asks with its own client certificate",
        ))?;
        self.outbox
            .find(bank.as_str(), number)
            .await?
            .ok_or_else(|| PledgeError::Unknown(number.to_string()))
    }

    async fn objection(
        &self,
        req: &GatewayRequest,
        number: &str,
        text: &str,
    ) -> Result<Status, PledgeError> {
        let status = self.status(&req.ctx, number).await?;
        let now = Utc::now();
        if let Some(deadline) = status.objection_deadline {
            if now > deadline && status.state != State::Objection {
                return Err(PledgeError::Refused(format!(
                    "the objection window closed at {} (2 working days after the preliminary refusal)",
                    deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )));
            }
        }
        match status.state {
            State::Objection => return Ok(status),
            State::PreliminaryRefusal => {}
            other => {
                return Err(PledgeError::Refused(format!(
                "contract {number} is {}: an objection is taken only against a preliminary refusal",
                other.as_str()
            )))
            }
        }
        let record = self
            .registry(
                req.ctx.clone(),
                Operation::Registry(RegistryOp::FileObjection {
                    message_id: status.request_id.clone(),
                    text: text.to_string(),
                }),
            )
            .await
            .map_err(|e| match e {
                GatewayError::Adapter(kopir_adapters::AdapterError::Registry {
                    message, ..
                }) => {
                    PledgeError::Refused(format!("the registrar refused the objection: {message}"))
                }
                other => other.into(),
            })?;
        let Record::Registry(RegistryRecord::Filing(Some(filed))) = record.as_ref() else {
            return Err(PledgeError::other_record());
        };
        let change = super::worker::change_of(filed, &status);
        Ok(self
            .transition(&status.request_id, change, now, "cadastre")
            .await?
            .unwrap_or(status))
    }
}

/// A minor's property is pledged only with the guardianship authority's permission, which holds
/// one month from issue (seed 003).
fn check_guardianship(
    contract: &super::Contract,
    today: chrono::NaiveDate,
) -> Result<(), PledgeError> {
    let minor = contract.pledgors.iter().position(|p| {
        p.iin
            .as_deref()
            .and_then(|i| Iin::parse(i).ok())
            .is_some_and(|i| i.is_minor_on(today))
    });
    let Some(index) = minor else {
        return Ok(());
    };
    let permission = contract.guardianship.as_ref().ok_or_else(|| {
        PledgeError::Refused(format!(
            "pledgor {} is a minor: pledging a minor's property needs the guardianship authority's permission (contract.guardianship)",
            index + 1
        ))
    })?;
    let until = permission
        .issued_on
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(permission.issued_on);
    if today < permission.issued_on || today > until {
        return Err(PledgeError::Refused(format!(
            "guardianship permission {} holds one month from its issue on {}: it is not in force today",
            permission.number, permission.issued_on
        )));
    }
    Ok(())
}

/// A status change as the journal notes it: the state, the grounds, what is awaited.
fn note(status: &Status) -> String {
    let mut note = status.state.as_str().to_string();
    if !status.grounds.is_empty() {
        note = format!("{note}: {}", status.grounds.join(" "));
    }
    if !status.detail.is_empty() {
        note = format!("{note} ({})", status.detail);
    }
    note
}

/// The answer to a contract number already in the outbox: the first answer again when the
/// content is the same, ALREADY_EXISTS when it is not.
fn settle(existing: Status, same_content: bool) -> Result<Record, PledgeError> {
    if same_content {
        Ok(Record::Pledge {
            status: existing,
            duplicate: true,
        })
    } else {
        Err(PledgeError::Conflict {
            number: existing.contract_number,
            accepted_at: existing
                .accepted_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            request_id: existing.request_id,
        })
    }
}

#[async_trait::async_trait]
impl crate::call::OwnService for Desk {
    async fn answer(&self, req: &GatewayRequest) -> Result<Option<Record>, GatewayError> {
        answer(Some(self), req).await
    }
}

/// Answers the pipeline's pledge operations; `None` for every other operation.
pub async fn answer(
    desk: Option<&Desk>,
    req: &GatewayRequest,
) -> Result<Option<Record>, GatewayError> {
    let pledge_op = matches!(
        req.op,
        Operation::SubmitPledge(_)
            | Operation::PledgeStatus(_)
            | Operation::Objection { .. }
            | Operation::ListOutbox { .. }
            | Operation::RedriveOutbox(_)
    );
    if !pledge_op {
        return Ok(None);
    }
    let desk = desk.ok_or_else(|| {
        PledgeError::Refused("this gateway does not take pledge contracts".into())
    })?;
    let status = |status| Record::Pledge {
        status,
        duplicate: false,
    };
    Ok(Some(match &req.op {
        Operation::SubmitPledge(s) => desk.submit(req, s).await?,
        Operation::PledgeStatus(number) => status(desk.status(&req.ctx, number).await?),
        Operation::Objection { number, text } => status(desk.objection(req, number, text).await?),
        Operation::ListOutbox { only_dead, limit } => Record::Outbox {
            backlog: desk.outbox.backlog().await?,
            items: desk.outbox.items(*only_dead, *limit).await?,
        },
        Operation::RedriveOutbox(id) => {
            let n = desk.outbox.redrive(id.clone()).await?;
            desk.wake.notify_one();
            Record::Redriven(n)
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use kopir_core::identifiers::check_digit;
    use kopir_core::pledge::{Contract, Guardianship, Loan, Party};

    /// A valid IIN of someone born on `yymmdd` with century-and-sex digit `c`.
    fn iin(yymmdd: &str, c: u8) -> String {
        let mut first = [0u8; 11];
        for (slot, b) in
            first
                .iter_mut()
                .zip(yymmdd.bytes().chain([b'0' + c, b'0', b'0', b'1', b'2']))
        {
            *slot = b - b'0';
        }
        // Try serial numbers until one has a check digit.
        for serial in 0..100u8 {
            first[9] = serial / 10;
            first[10] = serial % 10;
            if let Some(d) = check_digit(&first) {
                return first.iter().chain([&d]).map(|d| d.to_string()).collect();
            }
        }
        panic!("no valid IIN for {yymmdd}");
    }

    fn contract(owner: &str, guardianship: Option<Guardianship>) -> Contract {
        let party = Party {
            iin: Some(owner.into()),
            bin: None,
            name: "Owner".into(),
            agent: None,
        };
        Contract {
            number: "C-1".into(),
            pledgee_bin: "990140004565".into(),
            pledgors: vec![party.clone()],
            borrower: party,
            loan: Loan {
                number: "L-1".into(),
                date: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                amount_tiyn: 100,
            },
            cadastral_number: "21-320-000-101".into(),
            amount_tiyn: 100,
            signed_on: NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
            guardianship,
        }
    }

    fn permission(issued_on: NaiveDate) -> Guardianship {
        Guardianship {
            number: "G-7".into(),
            issued_on,
            issuer: "Guardianship authority".into(),
        }
    }

    #[test]
    fn a_minors_share_needs_a_permission_in_force_for_one_month() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let adult = iin("850101", 3);
        let minor = iin("150101", 5);
        assert!(check_guardianship(&contract(&adult, None), today).is_ok());
        let missing = check_guardianship(&contract(&minor, None), today);
        assert!(
            matches!(&missing, Err(PledgeError::Refused(m)) if m.contains("minor")),
            "{missing:?}"
        );
        let fresh = permission(today - chrono::Days::new(10));
        assert!(check_guardianship(&contract(&minor, Some(fresh)), today).is_ok());
        let lapsed = permission(today - chrono::Days::new(40));
        assert!(matches!(
            check_guardianship(&contract(&minor, Some(lapsed)), today),
            Err(PledgeError::Refused(m)) if m.contains("not in force")
        ));
        let future = permission(today + chrono::Days::new(1));
        assert!(check_guardianship(&contract(&minor, Some(future)), today).is_err());
    }

    #[test]
    fn a_resubmission_is_the_first_answer_and_other_content_a_conflict() {
        let existing = Status {
            state: State::Submitted,
            ..Status::accepted("req-1", "990140004565", "C-1")
        };
        assert!(matches!(
            settle(existing.clone(), true),
            Ok(Record::Pledge {
                duplicate: true,
                ..
            })
        ));
        assert!(matches!(
            settle(existing, false),
            Err(e @ PledgeError::Conflict { .. }) if e.to_string().contains("other content")
        ));
    }
}
