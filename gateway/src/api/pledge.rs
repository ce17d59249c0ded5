//! `kopir.v1.PledgeService`: banks' pledge contracts, through the pipeline to the pledge desk.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{respond, status, Answered, Origin};
use crate::error::GatewayError;
use crate::pipeline::{Operation, Pipeline, Record, Reply};
use crate::pledge::{self, Desk, State, Submission};
use crate::proto::v1 as pb;
use crate::proto::v1::pledge_service_server::PledgeService;
use kopir_trust::seal::Sealer;

/// The pledge service over the pipeline.
#[derive(Clone)]
pub struct PledgeApi {
    pipeline: Pipeline,
    sealer: Option<Arc<Sealer>>,
    desk: Desk,
}

impl PledgeApi {
    /// A service calling `pipeline`; `desk` feeds the status streams.
    pub fn new(pipeline: Pipeline, sealer: Option<Arc<Sealer>>, desk: Desk) -> Self {
        Self {
            pipeline,
            sealer,
            desk,
        }
    }
}

fn state(s: State) -> pb::PledgeState {
    match s {
        State::Accepted => pb::PledgeState::Accepted,
        State::AwaitingPayment => pb::PledgeState::AwaitingPayment,
        State::Submitted => pb::PledgeState::Submitted,
        State::Registered => pb::PledgeState::Registered,
        State::Refused => pb::PledgeState::Refused,
        State::Suspended => pb::PledgeState::Suspended,
        State::PreliminaryRefusal => pb::PledgeState::PreliminaryRefusal,
        State::Objection => pb::PledgeState::Objection,
    }
}

/// The status message of a contract's status (unsealed).
pub fn status_message(s: &pledge::Status) -> pb::PledgeStatus {
    pb::PledgeStatus {
        contract_number: s.contract_number.clone(),
        request_id: s.request_id.clone(),
        state: state(s.state).into(),
        grounds: s.grounds.clone(),
        detail: s.detail.clone(),
        hearing_at: s
            .hearing_at
            .map(kopir_core::time::rfc3339)
            .unwrap_or_default(),
        objection_deadline: s
            .objection_deadline
            .map(kopir_core::time::rfc3339)
            .unwrap_or_default(),
        changed_at: kopir_core::time::rfc3339(s.changed_at),
        r#final: s.state.is_final(),
        seal: Vec::new(),
    }
}

fn pledge_of(reply: &Reply, id: &str) -> Result<(pledge::Status, bool), Status> {
    match reply.record.as_ref() {
        Record::Pledge { status, duplicate } => Ok((status.clone(), *duplicate)),
        _ => Err(status(
            GatewayError::Server("the pledge desk returned another record".into()),
            Some(id),
        )),
    }
}

fn number(value: &str) -> Result<String, GatewayError> {
    if value.is_empty() || value.len() > 64 {
        return Err(GatewayError::invalid(
            "contract_number",
            "required: the bank's unique contract number",
        ));
    }
    Ok(value.to_string())
}

const REGISTRY: &str = "pledge";

impl PledgeApi {
    /// A contract's current status through the pipeline: the request id, the reply, the status.
    async fn current(
        &self,
        request: &Request<pb::GetPledgeStatusRequest>,
        method: &'static str,
    ) -> Result<(String, Reply, pledge::Status), Status> {
        let msg = request.get_ref();
        let Answered {
            request_id, reply, ..
        } = super::call(&self.pipeline, request, method, || {
            number(&msg.contract_number).map(Operation::PledgeStatus)
        })
        .await?;
        let (s, _) = pledge_of(&reply, &request_id)?;
        Ok((request_id, reply, s))
    }

    fn seal_status(&self, s: &pledge::Status, method: &str) -> Result<pb::PledgeStatus, Status> {
        let mut message = status_message(s);
        super::seal(
            &mut message,
            self.sealer.as_deref(),
            Origin::new(&s.request_id, method, REGISTRY),
        )?;
        Ok(message)
    }
}

type StatusStream = Pin<Box<dyn Stream<Item = Result<pb::PledgeStatus, Status>> + Send>>;

#[tonic::async_trait]
impl PledgeService for PledgeApi {
    async fn submit_pledge_contract(
        &self,
        request: Request<pb::SubmitPledgeContractRequest>,
    ) -> Result<Response<pb::SubmitPledgeContractResponse>, Status> {
        const METHOD: &str = kopir_core::methods::pledge_service::SUBMIT_PLEDGE_CONTRACT;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            let contract = crate::pledge::contract::from_proto(msg.contract.as_ref())?;
            let payload = msg.signed.as_ref().map(|s| s.payload.as_slice());
            let digest = kopir_core::digest::sha256_hex(payload.unwrap_or_default());
            Ok(Operation::SubmitPledge(Arc::new(Submission {
                contract,
                digest,
            })))
        })
        .await?;
        let (s, duplicate) = pledge_of(&reply, &id)?;
        let message = pb::SubmitPledgeContractResponse {
            state: pb::PledgeState::Accepted.into(),
            request_id: s.request_id.clone(),
            accepted_at: kopir_core::time::rfc3339(s.accepted_at),
            duplicate,
            seal: Vec::new(),
        };
        let origin = Origin::new(&id, METHOD, REGISTRY);
        respond(message, self.sealer.as_deref(), origin, &reply)
    }

    async fn get_pledge_status(
        &self,
        request: Request<pb::GetPledgeStatusRequest>,
    ) -> Result<Response<pb::PledgeStatus>, Status> {
        const METHOD: &str = kopir_core::methods::pledge_service::GET_PLEDGE_STATUS;
        let (id, reply, s) = self.current(&request, METHOD).await?;
        let origin = Origin::new(&id, METHOD, REGISTRY);
        respond(status_message(&s), self.sealer.as_deref(), origin, &reply)
    }

    type WatchPledgeStatusStream = StatusStream;

    async fn watch_pledge_status(
        &self,
        request: Request<pb::GetPledgeStatusRequest>,
    ) -> Result<Response<Self::WatchPledgeStatusStream>, Status> {
        const METHOD: &str = kopir_core::methods::pledge_service::WATCH_PLEDGE_STATUS;
        // Subscribed before the current status is read, so no change falls between the two.
        let mut changes = self.desk.subscribe();
        let (id, _, current) = self.current(&request, METHOD).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let api = self.clone();
        tokio::spawn(async move {
            let mut last = current;
            if tx.send(api.seal_status(&last, METHOD)).await.is_err() {
                return;
            }
            while !last.state.is_final() {
                let next = match changes.recv().await {
                    // A change made between the subscription and the read is already in `last`.
                    Ok(s) if s.request_id == last.request_id && s != last => s,
                    Ok(_) => continue,
                    // Missed changes: read the current status from the outbox instead.
                    Err(RecvError::Lagged(_)) => {
                        match api
                            .desk
                            .outbox
                            .find(&last.bank, &last.contract_number)
                            .await
                        {
                            Ok(Some(s)) if s != last => s,
                            _ => continue,
                        }
                    }
                    Err(RecvError::Closed) => return,
                };
                last = next;
                if tx.send(api.seal_status(&last, METHOD)).await.is_err() {
                    return;
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(super::with_request_id(
            Box::pin(stream) as StatusStream,
            &id,
        ))
    }

    async fn submit_objection(
        &self,
        request: Request<pb::SubmitObjectionRequest>,
    ) -> Result<Response<pb::PledgeStatus>, Status> {
        const METHOD: &str = kopir_core::methods::pledge_service::SUBMIT_OBJECTION;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            let text = msg.text.trim();
            if text.is_empty() || text.chars().count() > 4000 {
                return Err(GatewayError::invalid(
                    "text",
                    "state the objection in 1 to 4000 characters",
                ));
            }
            Ok(Operation::Objection {
                number: number(&msg.contract_number)?,
                text: text.to_string(),
            })
        })
        .await?;
        let (s, _) = pledge_of(&reply, &id)?;
        let origin = Origin::new(&id, METHOD, REGISTRY);
        respond(status_message(&s), self.sealer.as_deref(), origin, &reply)
    }
}
