//! `kopir.v1.IdentityService`.

use chrono::Utc;
use kopir_core::model::{LifeStatus, PersonQuery};
use tonic::{Request, Response, Status};

use kopir_proto::convert;

use std::sync::Arc;

use super::{respond, status, Answered, Origin, Sealed};
use crate::error::GatewayError;
use crate::pipeline::{Operation, Pipeline, Record, Reply};
use crate::proto::v1 as pb;
use crate::proto::v1::identity_service_server::IdentityService;
use kopir_core::registry::{RegistryOp, RegistryRecord};
use kopir_trust::seal::Sealer;

/// The identity service over the pipeline.
#[derive(Clone)]
pub struct Identity {
    pipeline: Pipeline,
    sealer: Option<Arc<Sealer>>,
}

impl Identity {
    /// A service calling `pipeline`, sealing responses with `sealer` when given.
    pub fn new(pipeline: Pipeline, sealer: Option<Arc<Sealer>>) -> Self {
        Self { pipeline, sealer }
    }

    fn respond<T: Sealed>(
        &self,
        message: T,
        origin: Origin<'_>,
        reply: &Reply,
    ) -> Result<Response<T>, Status> {
        respond(message, self.sealer.as_deref(), origin, reply)
    }
}

fn info(reply: &Reply, request_id: &str, registry: &str) -> pb::ResponseInfo {
    let registry_time = match reply.record.as_ref() {
        Record::Registry(RegistryRecord::Person(f)) => f.registry_time,
        Record::Registry(RegistryRecord::LegalEntity(f)) => f.registry_time,
        Record::Registry(RegistryRecord::Persons(f)) => f.registry_time,
        _ => Utc::now(),
    };
    pb::ResponseInfo {
        request_id: request_id.to_string(),
        registry: registry.to_string(),
        from_cache: reply.from_cache,
        stale: reply.stale,
        registry_time: kopir_core::time::rfc3339(registry_time),
    }
}

/// A search's criterion, as the persons database allows one.
fn query(msg: &pb::FindPersonsRequest) -> Result<PersonQuery, GatewayError> {
    use pb::find_persons_request::Criterion;
    // Names and numbers as people write them: printable, of a sensible length.
    let part = |field: &str, value: &str, max: usize| -> Result<String, GatewayError> {
        let value = value.trim();
        if value.chars().count() > max || value.chars().any(char::is_control) {
            return Err(GatewayError::invalid(
                field,
                format!("at most {max} printable characters"),
            ));
        }
        Ok(value.to_string())
    };
    match &msg.criterion {
        Some(Criterion::ByName(n)) => {
            let surname = part("by_name.surname", &n.surname, 100)?;
            let name = part("by_name.given_name", &n.given_name, 100)?;
            if surname.is_empty() && name.is_empty() {
                return Err(GatewayError::invalid(
                    "by_name",
                    "a surname or a given name is required beside the birth date",
                ));
            }
            Ok(PersonQuery::Name {
                surname,
                name,
                patronymic: part("by_name.patronymic", &n.patronymic, 100)?,
                birth_date: crate::proto::date("by_name.birth_date", n.birth_date.as_ref())?,
            })
        }
        Some(Criterion::DocumentNumber(number)) => {
            let number = part("document_number", number, 20)?;
            if number.is_empty() || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(GatewayError::invalid(
                    "document_number",
                    "required: the document's number, letters and digits",
                ));
            }
            Ok(PersonQuery::Document(number))
        }
        None => Err(GatewayError::invalid(
            "criterion",
            "required: by_name (a name and birth date) or document_number",
        )),
    }
}

fn unexpected() -> GatewayError {
    GatewayError::Server("the persons route returned another registry's record".into())
}

#[tonic::async_trait]
impl IdentityService for Identity {
    async fn get_person(
        &self,
        request: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::GetPersonResponse>, Status> {
        const METHOD: &str = kopir_core::methods::identity_service::GET_PERSON;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            super::iin("iin", msg.iin.as_ref())
                .map(|iin| Operation::Registry(RegistryOp::Person { iin, token: None }))
        })
        .await?;
        let Record::Registry(RegistryRecord::Person(p)) = reply.record.as_ref() else {
            return Err(status(unexpected(), Some(&id)));
        };
        let message = pb::GetPersonResponse {
            person: Some(convert::person(&p.record)),
            info: Some(info(&reply, &id, "persons")),
            seal: Vec::new(),
        };
        self.respond(message, Origin::new(&id, METHOD, "persons"), &reply)
    }

    async fn get_legal_entity(
        &self,
        request: Request<pb::GetLegalEntityRequest>,
    ) -> Result<Response<pb::GetLegalEntityResponse>, Status> {
        const METHOD: &str = kopir_core::methods::identity_service::GET_LEGAL_ENTITY;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            super::bin("bin", msg.bin.as_ref()).map(|bin| {
                Operation::Registry(RegistryOp::LegalEntity {
                    bin,
                    requestor: None,
                })
            })
        })
        .await?;
        let Record::Registry(RegistryRecord::LegalEntity(e)) = reply.record.as_ref() else {
            return Err(status(unexpected(), Some(&id)));
        };
        let message = pb::GetLegalEntityResponse {
            legal_entity: Some(convert::legal_entity(&e.record)),
            info: Some(info(&reply, &id, "legal_entities")),
            seal: Vec::new(),
        };
        self.respond(message, Origin::new(&id, METHOD, "legal_entities"), &reply)
    }

    async fn find_persons(
        &self,
        request: Request<pb::FindPersonsRequest>,
    ) -> Result<Response<pb::FindPersonsResponse>, Status> {
        const METHOD: &str = kopir_core::methods::identity_service::FIND_PERSONS;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            reply,
            ..
        } = super::call(&self.pipeline, &request, METHOD, || {
            query(msg)
                .map(|query| Operation::Registry(RegistryOp::FindPersons { query, token: None }))
        })
        .await?;
        let Record::Registry(RegistryRecord::Persons(found)) = reply.record.as_ref() else {
            return Err(status(unexpected(), Some(&id)));
        };
        let message = pb::FindPersonsResponse {
            persons: found.record.iter().map(convert::person).collect(),
            info: Some(info(&reply, &id, "persons")),
            seal: Vec::new(),
        };
        self.respond(message, Origin::new(&id, METHOD, "persons"), &reply)
    }

    async fn get_address_reference(
        &self,
        request: Request<pb::GetAddressReferenceRequest>,
    ) -> Result<Response<pb::GetAddressReferenceResponse>, Status> {
        const METHOD: &str = kopir_core::methods::identity_service::GET_ADDRESS_REFERENCE;
        let msg = request.get_ref();
        let Answered {
            request_id: id,
            received_at,
            reply,
        } = super::call(&self.pipeline, &request, METHOD, || {
            super::iin("iin", msg.iin.as_ref())
                .map(|iin| Operation::Registry(RegistryOp::Person { iin, token: None }))
        })
        .await?;
        let requested_at = kopir_core::time::rfc3339(received_at);
        let Record::Registry(RegistryRecord::Person(p)) = reply.record.as_ref() else {
            return Err(status(unexpected(), Some(&id)));
        };
        let person = &p.record;
        if person.life_status == LifeStatus::Deceased {
            return Err(status(
                GatewayError::FailedPrecondition(
                    "the persons registry records this person as deceased; an address reference is issued only for living persons".into(),
                ),
                Some(&id),
            ));
        }
        if person.registration.is_none() && person.deregistration.is_none() {
            return Err(status(
                GatewayError::FailedPrecondition(
                    "the persons registry holds no registration or deregistration for this person, so there is nothing to certify".into(),
                ),
                Some(&id),
            ));
        }
        // Every issued reference gets its own number, even when the data came from the cache.
        let number = format!("AR-{}", uuid::Uuid::now_v7().simple()).to_uppercase();
        let issued_at = kopir_core::time::rfc3339(Utc::now());
        let message = pb::GetAddressReferenceResponse {
            reference: Some(convert::address_reference(
                person,
                number,
                &requested_at,
                &issued_at,
            )),
            info: Some(info(&reply, &id, "persons")),
            seal: Vec::new(),
        };
        self.respond(message, Origin::new(&id, METHOD, "persons"), &reply)
    }
}
