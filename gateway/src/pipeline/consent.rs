//! Consent of the person whose data is read (seed 004, service 5; seed 000 on digital documents):
//! a requester may read another person's record or address reference only with that person's
//! consent, given by one-time code through the portal (stored here) or before a notary (found in
//! the notary system). Exempt: the person's own data, their spouse, parents and children, and a
//! state body reading on its own account under a configured legal basis.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kopir_core::identifiers::Iin;
use kopir_core::model::Relation;

use super::check::Check;
use super::{GatewayRequest, Operation, Record};
use crate::access::AccessControl;
use crate::error::{ConsentFailure, GatewayError};
use crate::routing::Router;
use kopir_core::model::person::{IssuedToken, KdpToken, TokenGrant};
use kopir_core::registry::{RegistryOp, RegistryRecord};
use kopir_store::journal::Store;

/// IdentityService's person-record read.
pub const GET_PERSON: &str = kopir_core::methods::identity_service::GET_PERSON;
/// IdentityService's search by name or document.
pub const FIND_PERSONS: &str = kopir_core::methods::identity_service::FIND_PERSONS;
/// IdentityService's address-reference read.
pub const GET_ADDRESS_REFERENCE: &str =
    kopir_core::methods::identity_service::GET_ADDRESS_REFERENCE;

/// The consent scope a method reads under, and its name for people; none when the method reads
/// no one's personal data.
pub fn scope_of(method: &str) -> Option<(&'static str, &'static str)> {
    match method {
        GET_PERSON | FIND_PERSONS => Some(("person", "person record")),
        GET_ADDRESS_REFERENCE => Some(("address", "address reference")),
        _ => None,
    }
}

/// Every consent scope.
pub const SCOPES: [&str; 2] = ["person", "address"];

/// The consent check.
#[derive(Clone)]
pub struct Consent {
    /// Lawful access per client.
    pub access: AccessControl,
    /// Consents given through the portal.
    pub store: Option<Arc<dyn Store>>,
    /// The routes to the persons database (family links), the notary system (notarised
    /// consents) and the access control service (tokens): the consent stage's registry calls
    /// are protected and counted like any other.
    pub router: Router,
    /// The consent tokens obtained.
    pub tokens: Tokens,
}

/// Whether one consent allows reading `scope` now.
fn judge(
    revoked: bool,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    scopes: &[String],
    scope: &str,
) -> Result<(), ConsentFailure> {
    let now = Utc::now();
    if !scopes.iter().any(|s| s == scope) {
        Err(ConsentFailure::OutOfScope)
    } else if revoked {
        Err(ConsentFailure::Revoked)
    } else if until <= now || from.is_some_and(|f| f > now) {
        Err(ConsentFailure::Expired)
    } else {
        Ok(())
    }
}

impl Consent {
    /// Asks a registry through its route, under the call's context (its ids and deadline).
    async fn ask(&self, req: &GatewayRequest, op: Operation) -> Result<Arc<Record>, GatewayError> {
        let ctx = req.ctx.clone();
        Ok(self.router.route(GatewayRequest { ctx, op }).await?.record)
    }
}

fn relation_name(r: Relation) -> &'static str {
    match r {
        Relation::Spouse => "spouse",
        Relation::Parent => "parent",
        Relation::Child => "child",
    }
}

impl Check for Consent {
    const NAME: &'static str = "consent";
    async fn check(&self, req: &mut GatewayRequest) -> Result<(), GatewayError> {
        let Some((scope, what)) = scope_of(req.ctx.method) else {
            return Ok(());
        };
        let (subject, (requester, basis)) = match &req.op {
            Operation::Registry(RegistryOp::Person { iin, .. }) => {
                let subject = iin.clone();
                let found = self.basis(req, &subject, scope, what).await?;
                (Some(subject), found)
            }
            Operation::Registry(RegistryOp::FindPersons { .. }) => (None, self.search_basis(req)?),
            _ => return Ok(()),
        };
        req.ctx.trail.basis(basis.clone());
        // The persons database opens the record only with the citizen's consent token for this
        // reader, subject and scope, which the access control service issues on the basis found.
        let issued = self.token(req, (requester, subject, scope, basis)).await?;
        if let Operation::Registry(
            RegistryOp::Person { token, .. } | RegistryOp::FindPersons { token, .. },
        ) = &mut req.op
        {
            *token = Some(issued);
        }
        Ok(())
    }
}

impl Consent {
    /// The consent token for (reader, subject, scope, basis): the one issued before while it
    /// holds for another minute, or a new one from the access control service, through its route.
    async fn token(
        &self,
        req: &GatewayRequest,
        (requester, subject, scope, basis): (String, Option<Iin>, &'static str, String),
    ) -> Result<KdpToken, GatewayError> {
        let key = (
            requester,
            subject
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            scope,
            basis,
        );
        let margin = chrono::Duration::seconds(60);
        if let Some(t) = self.tokens.issued.get(&key) {
            if t.expires_at - margin > Utc::now() {
                return Ok(t.token);
            }
        }
        let grant = TokenGrant {
            requester: key.0.clone(),
            subject,
            scope: scope.to_string(),
            basis: key.3.clone(),
            holder: self.tokens.holder.to_string(),
        };
        let reply = self
            .ask(
                req,
                Operation::Registry(RegistryOp::ConsentToken(Arc::new(grant))),
            )
            .await?;
        let Record::Registry(RegistryRecord::ConsentToken(issued)) = reply.as_ref() else {
            return Err(GatewayError::other_record());
        };
        self.tokens.issued.insert(key, issued.clone());
        Ok(issued.token.clone())
    }

    /// The basis of a search by name or document: its persons are not known before it runs, so
    /// no one's consent can be judged; it is open to an organisation reading on its own account
    /// (unsigned) under a lawful basis for the method.
    fn search_basis(&self, req: &GatewayRequest) -> Result<(String, String), GatewayError> {
        let bin = req.ctx.client_bin().map(|b| b.as_str()).unwrap_or("");
        let signed_by_person = req
            .ctx
            .signers
            .as_ref()
            .and_then(|s| s.requester_iin())
            .is_some();
        match self.access.policy().lawful_basis(bin, req.ctx.method) {
            Some(basis) if !signed_by_person => Ok((
                req.ctx.client.to_string(),
                format!("lawful access: {basis}"),
            )),
            _ => Err(GatewayError::Consent {
                failure: ConsentFailure::Missing,
                requester: req.ctx.client.masked(),
                subject: "(a search)".into(),
                scope: "person search".into(),
                detail: "a search by name or document is open to a state body reading on its own account under a lawful basis; read one person by IIN with their consent (GetPerson)".into(),
            }),
        }
    }

    /// The reader (`iin:…` or the client's principal) and the basis on which it may read
    /// `subject`'s data under `scope`, or the refusal.
    async fn basis(
        &self,
        req: &GatewayRequest,
        subject: &Iin,
        scope: &'static str,
        what: &'static str,
    ) -> Result<(String, String), GatewayError> {
        let person: Option<Iin> = req.ctx.signers.as_ref().and_then(|s| s.requester_iin());
        // A request signed by a person is that person's; unsigned, it is the organisation's own.
        let (grantee, shown) = match &person {
            Some(iin) if iin == subject => {
                return Ok((format!("iin:{}", iin.as_str()), "own data".into()));
            }
            Some(iin) => (
                format!("iin:{}", iin.as_str()),
                format!("iin:{}", iin.masked()),
            ),
            None => {
                let bin = req.ctx.client_bin().map(|b| b.as_str()).unwrap_or("");
                if let Some(basis) = self.access.policy().lawful_basis(bin, req.ctx.method) {
                    return Ok((
                        req.ctx.client.to_string(),
                        format!("lawful access: {basis}"),
                    ));
                }
                // Refusals mask the requester's BIN like every other number they show.
                (req.ctx.client.to_string(), req.ctx.client.masked())
            }
        };
        if let Some(iin) = &person {
            let reply = self
                .ask(req, Operation::Registry(RegistryOp::Relatives(iin.clone())))
                .await?;
            let Record::Registry(RegistryRecord::Relatives(relatives)) = reply.as_ref() else {
                return Err(GatewayError::other_record());
            };
            if let Some(r) = relatives.iter().find(|r| r.iin == subject.as_str()) {
                return Ok((
                    grantee,
                    format!(
                        "family link: {} (no consent needed)",
                        relation_name(r.relation)
                    ),
                ));
            }
        }
        let mut failures = Vec::new();
        if let Some(store) = &self.store {
            for c in store.consents(subject.as_str(), &grantee).await? {
                match judge(c.revoked_at.is_some(), None, c.expires_at, &c.scope, scope) {
                    Ok(()) => {
                        return Ok((grantee, format!("consent {} given by {}", c.id, c.way)));
                    }
                    Err(f) => failures.push(f),
                }
            }
        }
        let reply = self
            .ask(
                req,
                Operation::Registry(RegistryOp::NotarisedConsents(subject.clone())),
            )
            .await?;
        let Record::Registry(RegistryRecord::NotarisedConsents(notarised)) = reply.as_ref() else {
            return Err(GatewayError::other_record());
        };
        for c in notarised.iter().filter(|c| {
            let g = match (&c.grantee_iin, &c.grantee_bin) {
                (Some(i), _) => format!("iin:{i}"),
                (None, Some(b)) => format!("bin:{b}"),
                (None, None) => String::new(),
            };
            g == grantee
        }) {
            match judge(
                c.revoked,
                Some(c.valid_from),
                c.valid_until,
                &c.scope,
                scope,
            ) {
                Ok(()) => {
                    return Ok((grantee, format!("notarised consent {}", c.number)));
                }
                Err(f) => failures.push(f),
            }
        }
        let failure = [
            ConsentFailure::Expired,
            ConsentFailure::Revoked,
            ConsentFailure::OutOfScope,
        ]
        .into_iter()
        .find(|f| failures.contains(f))
        .unwrap_or(ConsentFailure::Missing);
        let detail = match failure {
            ConsentFailure::Missing => "no consent of this person for this requester was found, neither given through the portal nor notarised".to_string(),
            ConsentFailure::Expired => "the person's consent for this requester has lapsed".to_string(),
            ConsentFailure::Revoked => "the person withdrew their consent for this requester".to_string(),
            ConsentFailure::OutOfScope => format!("the person's consent for this requester does not cover the {what} (scope \"{scope}\")"),
        };
        Err(GatewayError::Consent {
            failure,
            requester: shown,
            subject: subject.masked(),
            scope: what.to_string(),
            detail,
        })
    }
}

/// A token's reader, subject (empty for a search), scope and basis.
type TokenKey = (String, String, &'static str, String);

/// The consent tokens issued to this gateway, and the key they are bound to.
#[derive(Clone)]
pub struct Tokens {
    /// The base64 DER certificate that presents the tokens to the persons database (its
    /// WS-Security signer).
    pub holder: Arc<str>,
    /// Tokens by (reader, subject, scope, basis).
    issued: Arc<moka::sync::Cache<TokenKey, IssuedToken>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("issued", &self.issued.entry_count())
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// No token yet, bound to `holder`.
    pub fn new(holder: String) -> Self {
        Self {
            holder: Arc::from(holder),
            // Behind an Arc: the stage is cloned per call, a moka handle's clone is not free.
            issued: Arc::new(
                moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(std::time::Duration::from_secs(3600))
                    .build(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_consent_holds_only_in_scope_in_force_and_not_withdrawn() {
        let now = Utc::now();
        let later = now + Duration::days(30);
        let person = scopes(&["person"]);
        assert_eq!(judge(false, None, later, &person, "person"), Ok(()));
        assert_eq!(
            judge(
                false,
                Some(now - Duration::days(1)),
                later,
                &person,
                "person"
            ),
            Ok(())
        );
        assert_eq!(
            judge(false, None, later, &person, "address"),
            Err(ConsentFailure::OutOfScope)
        );
        assert_eq!(
            judge(true, None, later, &person, "person"),
            Err(ConsentFailure::Revoked)
        );
        assert_eq!(
            judge(false, None, now - Duration::seconds(1), &person, "person"),
            Err(ConsentFailure::Expired)
        );
        assert_eq!(
            judge(
                false,
                Some(now + Duration::days(1)),
                later,
                &person,
                "person"
            ),
            Err(ConsentFailure::Expired),
            "a consent not yet in force does not hold"
        );
        // Out of scope is reported before a withdrawal: the scope is what the person chose.
        assert_eq!(
            judge(true, None, later, &person, "address"),
            Err(ConsentFailure::OutOfScope)
        );
    }

    #[test]
    fn only_the_person_reads_are_under_consent() {
        assert_eq!(scope_of(GET_PERSON).map(|s| s.0), Some("person"));
        assert_eq!(
            scope_of(GET_ADDRESS_REFERENCE).map(|s| s.0),
            Some("address")
        );
        assert_eq!(
            scope_of(kopir_core::methods::identity_service::GET_LEGAL_ENTITY),
            None
        );
        for (scope, _) in [GET_PERSON, GET_ADDRESS_REFERENCE].map(|m| scope_of(m).expect("scoped"))
        {
            assert!(SCOPES.contains(&scope));
        }
    }
}
