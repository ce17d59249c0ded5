//! The pipeline's check stages: identify, authorize and signatures (rate limiting, consent and
//! the journal have their own modules).

use std::sync::Arc;

use kopir_core::principal::Principal;
use kopir_core::registry::RegistryOp;

use super::check::Check;
use super::GatewayRequest;
use crate::access::AccessControl;
use crate::error::GatewayError;
use kopir_trust::document::CallFacts;
use kopir_trust::Trust;

/// Names the client: the organisation (BIN) of its TLS client certificate, after a revocation
/// check. In plaintext development mode, the organisation the request metadata names.
#[derive(Clone)]
pub struct Identify {
    /// The trust store.
    pub trust: Arc<Trust>,
    /// Whether the gateway serves without TLS (development only).
    pub plaintext: bool,
}

impl Check for Identify {
    const NAME: &'static str = "identify";
    async fn check(&self, req: &mut GatewayRequest) -> Result<(), GatewayError> {
        let bin = if self.plaintext {
            req.ctx.requester_bin.clone()
        } else {
            let chain = req.ctx.peer_chain.clone().ok_or_else(|| {
                GatewayError::Unauthenticated(
                    "no client certificate: connect over TLS with your organisation's certificate"
                        .into(),
                )
            })?;
            self.trust.client(&chain).await?.holder.bin.clone()
        };
        // The legal-entities database is told which organisation asks (`RequestorBIN`).
        if let crate::call::Operation::Registry(RegistryOp::LegalEntity { requestor, .. }) =
            &mut req.op
        {
            requestor.clone_from(&bin);
        }
        // The context is not shared yet at this first stage, so this does not copy it.
        let ctx = Arc::make_mut(&mut req.ctx);
        ctx.client = bin.map_or(Principal::Anonymous, Principal::Organisation);
        Ok(())
    }
}

/// Refuses a request the API could not read ([`Operation::Invalid`]), once it has been
/// identified, counted and journaled.
///
/// [`Operation::Invalid`]: crate::call::Operation::Invalid
#[derive(Clone)]
pub struct RefuseInvalid;

impl Check for RefuseInvalid {
    const NAME: &'static str = "refuse_invalid";
    async fn check(&self, req: &mut GatewayRequest) -> Result<(), GatewayError> {
        match &req.op {
            crate::call::Operation::Invalid { field, reason } => {
                Err(GatewayError::invalid(field, reason.clone()))
            }
            _ => Ok(()),
        }
    }
}

/// Client × method access list: nobody unlisted may call anything.
#[derive(Clone)]
pub struct Authorize {
    /// The swappable access list.
    pub access: AccessControl,
}

impl Check for Authorize {
    const NAME: &'static str = "authorize";
    async fn check(&self, req: &mut GatewayRequest) -> Result<(), GatewayError> {
        match req.ctx.client_bin() {
            Some(bin) => self.access.authorize(bin.as_str(), req.ctx.method),
            None => Err(GatewayError::PermissionDenied {
                client: "anonymous".into(),
                method: req.ctx.method.to_string(),
            }),
        }
    }
}

/// CMS signatures of signed requests, against the method's signer rule; a request document is
/// taken once (its signer and nonce remembered for its freshness window).
#[derive(Clone)]
pub struct VerifySignatures {
    /// The trust store.
    pub trust: Arc<Trust>,
    /// The signer rules.
    pub access: AccessControl,
    /// The nonces already taken.
    pub replay: kopir_store::replay::Replay,
}

impl Check for VerifySignatures {
    const NAME: &'static str = "verify_signatures";
    async fn check(&self, req: &mut GatewayRequest) -> Result<(), GatewayError> {
        let rule = self.access.policy().signer_rule(req.ctx.method);
        let subject = req.op.subject();
        let signers = self
            .trust
            .verify_document(
                req.ctx.signed.as_deref(),
                rule,
                CallFacts {
                    method: req.ctx.method,
                    subject: (!subject.is_empty()).then_some(subject),
                    client_bin: req.ctx.client_bin(),
                },
            )
            .await?;
        if let Some(s) = signers {
            if let Some((signer, nonce)) = s.replay_key() {
                let now = chrono::Utc::now();
                let window = self.trust.freshness() + 2 * self.trust.clock_skew();
                let until = now + chrono::Duration::from_std(window).unwrap_or_default();
                let first = self
                    .replay
                    .first_use(signer, nonce, now, until)
                    .await
                    .map_err(|e| GatewayError::ReplayUnavailable(e.to_string()))?;
                if !first {
                    return Err(GatewayError::Signature {
                        failure: kopir_trust::error::SignatureFailure::Replayed,
                        detail: "its signer and nonce were already used".into(),
                    });
                }
            }
            if let Some(iin) = s.requester_iin() {
                req.ctx.trail.actor(format!("iin:{}", iin.as_str()));
            }
            if let Some(purpose) = s.document.purpose.clone().filter(|p| !p.is_empty()) {
                req.ctx.trail.signed_purpose(purpose);
            }
            Arc::make_mut(&mut req.ctx).signers = Some(Arc::new(s));
        }
        Ok(())
    }
}
