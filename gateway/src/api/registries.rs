//! `kopir.v1.NotaryService` and `kopir.v1.CadastreService`: registry reads through the pipeline.

use std::sync::Arc;

use chrono::Utc;
use kopir_adapters::cadastre::CadastralNumber;
use kopir_core::identifiers::{Bin, Iin};
use kopir_proto::convert;
use tonic::{Request, Response, Status};

use super::{respond, status, Answered, Origin};
use crate::error::GatewayError;
use crate::pipeline::{Operation, Pipeline, Record};
use crate::proto::v1 as pb;
use crate::proto::v1::cadastre_service_server::CadastreService;
use crate::proto::v1::notary_service_server::NotaryService;
use kopir_core::registry::{RegistryOp, RegistryRecord};
use kopir_trust::seal::Sealer;

/// The notary and cadastre services over the pipeline.
#[derive(Clone)]
pub struct RegistryApi {
    pipeline: Pipeline,
    sealer: Option<Arc<Sealer>>,
}

impl RegistryApi {
    /// A service calling `pipeline`, sealing with `sealer` when given.
    pub fn new(pipeline: Pipeline, sealer: Option<Arc<Sealer>>) -> Self {
        Self { pipeline, sealer }
    }
}

fn cadastral(value: &str) -> Result<CadastralNumber, GatewayError> {
    CadastralNumber::parse(value).map_err(|e| GatewayError::invalid("cadastral_number", e))
}

fn unexpected(id: &str) -> Status {
    status(
        GatewayError::Server("the registry route returned another record".into()),
        Some(id),
    )
}

#[tonic::async_trait]
impl NotaryService for RegistryApi {
    async fn verify_power_of_attorney(
        &self,
        request: Request<pb::VerifyPowerOfAttorneyRequest>,
    ) -> Result<Response<pb::VerifyPowerOfAttorneyResponse>, Status> {
        const METHOD: &str = kopir_core::methods::notary_service::VERIFY_POWER_OF_ATTORNEY;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            if msg.number.is_empty() || msg.number.len() > 64 {
                return Err(GatewayError::invalid(
                    "number",
                    "required: the power of attorney's number in the notary system",
                ));
            }
            if !msg.principal.is_empty()
                && Iin::parse(&msg.principal).is_err()
                && Bin::parse(&msg.principal).is_err()
            {
                return Err(GatewayError::invalid(
                    "principal",
                    "an IIN or BIN of 12 digits with a valid check digit, or empty",
                ));
            }
            Ok(Operation::Registry(RegistryOp::PowerOfAttorney {
                number: msg.number.clone(),
                agent: super::iin("agent", msg.agent.as_ref())?,
            }))
        })
        .await?;
        let Record::Registry(RegistryRecord::PowerOfAttorney(found)) = reply.record.as_ref() else {
            return Err(unexpected(&id));
        };
        let agent = msg.agent.as_ref().map(|a| a.value.as_str()).unwrap_or("");
        let reasons = match found {
            Some(p) => p.defects(&msg.principal, agent, &msg.action, Utc::now()),
            None => vec![format!(
                "the notary system holds no notarised power of attorney numbered {}",
                msg.number
            )],
        };
        let message = pb::VerifyPowerOfAttorneyResponse {
            valid: reasons.is_empty(),
            reasons,
            power_of_attorney: found.as_ref().map(|p| pb::PowerOfAttorney {
                number: p.number.clone(),
                principal: p.principal.clone(),
                agent: Some(pb::Iin {
                    value: p.agent_iin.clone(),
                }),
                scope: p.scope.clone(),
                valid_from: kopir_core::time::rfc3339(p.valid_from),
                valid_until: kopir_core::time::rfc3339(p.valid_until),
                revoked: p.revoked,
                notary: p.notary.clone(),
            }),
            request_id: id.clone(),
            seal: Vec::new(),
        };
        let origin = Origin::new(&id, METHOD, "notary");
        respond(message, self.sealer.as_deref(), origin, &reply)
    }
}

#[tonic::async_trait]
impl CadastreService for RegistryApi {
    async fn get_real_estate(
        &self,
        request: Request<pb::GetRealEstateRequest>,
    ) -> Result<Response<pb::GetRealEstateResponse>, Status> {
        const METHOD: &str = kopir_core::methods::cadastre_service::GET_REAL_ESTATE;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            cadastral(&msg.cadastral_number).map(|v| Operation::Registry(RegistryOp::RealEstate(v)))
        })
        .await?;
        let Record::Registry(RegistryRecord::RealEstate(o)) = reply.record.as_ref() else {
            return Err(unexpected(&id));
        };
        let message = pb::GetRealEstateResponse {
            real_estate: Some(pb::RealEstate {
                cadastral_number: o.cadastral_number.clone(),
                kind: o.kind.clone(),
                address: Some(convert::address(&o.address)),
                total_area_m2: o.total_area_m2.clone(),
                living_area_m2: o.living_area_m2.clone(),
                rooms: o.rooms,
                floor: o.floor,
                floors: o.floors,
                year_built: o.year_built,
                wall_material: o.wall_material.clone(),
            }),
            request_id: id.clone(),
            seal: Vec::new(),
        };
        let origin = Origin::new(&id, METHOD, "cadastre");
        respond(message, self.sealer.as_deref(), origin, &reply)
    }

    async fn get_rights_and_encumbrances(
        &self,
        request: Request<pb::GetRightsAndEncumbrancesRequest>,
    ) -> Result<Response<pb::GetRightsAndEncumbrancesResponse>, Status> {
        const METHOD: &str = kopir_core::methods::cadastre_service::GET_RIGHTS_AND_ENCUMBRANCES;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            cadastral(&msg.cadastral_number).map(|v| Operation::Registry(RegistryOp::Rights(v)))
        })
        .await?;
        let Record::Registry(RegistryRecord::Rights(r)) = reply.record.as_ref() else {
            return Err(unexpected(&id));
        };
        let message = pb::GetRightsAndEncumbrancesResponse {
            cadastral_number: r.cadastral_number.clone(),
            rights: r
                .rights
                .iter()
                .map(|x| pb::Right {
                    kind: x.kind.clone(),
                    holder: x.holder.clone(),
                    share: x.share.clone(),
                    registered_at: kopir_core::time::rfc3339(x.registered_at),
                })
                .collect(),
            encumbrances: r
                .encumbrances
                .iter()
                .map(|e| pb::Encumbrance {
                    kind: e.kind.clone(),
                    holder: e.holder.clone(),
                    basis: e.basis.clone(),
                    registered_at: kopir_core::time::rfc3339(e.registered_at),
                })
                .collect(),
            request_id: id.clone(),
            seal: Vec::new(),
        };
        let origin = Origin::new(&id, METHOD, "cadastre");
        respond(message, self.sealer.as_deref(), origin, &reply)
    }
}
