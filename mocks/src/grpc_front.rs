//! A minimal gRPC front of the mock registries: `kopir.v1.IdentityService` answered straight from
//! the population, with the same injected latency and faults as the SyncChannel endpoint. It is
//! the floor the benchmark measures the gateway and nginx against: what a client would see
//! calling the registry directly, if the registry spoke gRPC.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use kopir_core::identifiers::{Bin, Iin};
use kopir_proto::convert;
use kopir_proto::v1 as pb;
use kopir_proto::v1::identity_service_server::{IdentityService, IdentityServiceServer};
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::faults::Outcome;
use crate::registry::{MockRegistry, RegistryState};
use crate::MockError;

struct Front {
    persons: Arc<MockRegistry>,
    entities: Arc<MockRegistry>,
}

/// Applies the registry's latency and faults to one call, as its SyncChannel endpoint does.
async fn misbehave(state: &RegistryState) -> Result<(), Status> {
    state.calls.fetch_add(1, Ordering::Relaxed);
    let (latency, outcome) = state.faults.draw();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match outcome {
        // The gRPC front carries no WS-Security: signature faults do not apply.
        Outcome::Answer | Outcome::BadSignature | Outcome::Unsigned => Ok(()),
        Outcome::Hang => {
            let mut stopping = state.stopping.subscribe();
            stopping.wait_for(|s| *s).await.ok();
            Err(Status::unavailable("registry stopped"))
        }
        Outcome::Error | Outcome::Malformed | Outcome::Reset => {
            Err(Status::unavailable("registry internal failure"))
        }
    }
}

#[tonic::async_trait]
impl IdentityService for Front {
    async fn get_person(
        &self,
        request: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::GetPersonResponse>, Status> {
        let state = self.persons.state();
        misbehave(state).await?;
        let value = request
            .into_inner()
            .iin
            .map(|i| i.value)
            .unwrap_or_default();
        let iin = Iin::parse(&value).map_err(|e| Status::invalid_argument(format!("iin: {e}")))?;
        let person = state
            .population
            .persons
            .get(iin.as_str())
            .ok_or_else(|| Status::not_found("no person with this IIN"))?;
        Ok(Response::new(pb::GetPersonResponse {
            person: Some(convert::person(person)),
            info: None,
            seal: Vec::new(),
        }))
    }

    async fn get_legal_entity(
        &self,
        request: Request<pb::GetLegalEntityRequest>,
    ) -> Result<Response<pb::GetLegalEntityResponse>, Status> {
        let state = self.entities.state();
        misbehave(state).await?;
        let value = request
            .into_inner()
            .bin
            .map(|b| b.value)
            .unwrap_or_default();
        let bin = Bin::parse(&value).map_err(|e| Status::invalid_argument(format!("bin: {e}")))?;
        let entity = state
            .population
            .entities
            .get(bin.as_str())
            .ok_or_else(|| Status::not_found("no entity with this BIN"))?;
        Ok(Response::new(pb::GetLegalEntityResponse {
            legal_entity: Some(convert::legal_entity(entity)),
            info: None,
            seal: Vec::new(),
        }))
    }

    async fn find_persons(
        &self,
        _request: Request<pb::FindPersonsRequest>,
    ) -> Result<Response<pb::FindPersonsResponse>, Status> {
        Err(Status::unimplemented(
            "the registries' direct front reads records by number only (the benchmark's floor)",
        ))
    }

    async fn get_address_reference(
        &self,
        _request: Request<pb::GetAddressReferenceRequest>,
    ) -> Result<Response<pb::GetAddressReferenceResponse>, Status> {
        Err(Status::unimplemented(
            "the registries' direct front serves records only; address references are issued by the gateway",
        ))
    }
}

/// Serves the gRPC front on `addr`; returns the bound address and the server task.
pub async fn serve(
    addr: SocketAddr,
    persons: Arc<MockRegistry>,
    entities: Arc<MockRegistry>,
) -> Result<(SocketAddr, JoinHandle<()>), MockError> {
    let (listener, local) = crate::bind(addr).await?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let service = IdentityServiceServer::new(Front { persons, entities });
    let task = tokio::spawn(async move {
        if let Err(e) = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
        {
            tracing::warn!(error = %e, "mock gRPC front ended");
        }
    });
    Ok((local, task))
}
