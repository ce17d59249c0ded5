//! The pipeline's check stages. Identify is filled (rate limiting has its own module); the others
//! are wired in their places and pass requests through until their issues fill them (trust,
//! journal).

use super::check::Check;
use super::GatewayRequest;
use crate::error::GatewayError;

/// Names the client. Until client certificates land, the client is the organisation the request
/// metadata names (its BIN, validated at the edge), or `anonymous`.
#[derive(Clone, Copy)]
pub struct Identify;

impl Check for Identify {
    const NAME: &'static str = "identify";
    async fn check(&self, req: &mut GatewayRequest) -> Result<(), GatewayError> {
        let client = match &req.ctx.requester_bin {
            Some(bin) => format!("bin:{}", bin.as_str()),
            None => "anonymous".to_string(),
        };
        // The context is not shared yet at this first stage, so this does not copy it.
        std::sync::Arc::make_mut(&mut req.ctx).client = client;
        Ok(())
    }
}

/// Client × method access list (trust issue). Passes every request for now.
#[derive(Clone, Copy)]
pub struct Authorize;

impl Check for Authorize {
    const NAME: &'static str = "authorize";
    async fn check(&self, _req: &mut GatewayRequest) -> Result<(), GatewayError> {
        Ok(())
    }
}

/// CMS signature verification of signed requests (trust issue). Passes every request for now.
#[derive(Clone, Copy)]
pub struct VerifySignatures;

impl Check for VerifySignatures {
    const NAME: &'static str = "verify_signatures";
    async fn check(&self, _req: &mut GatewayRequest) -> Result<(), GatewayError> {
        Ok(())
    }
}

/// Consent of the data subject (journal issue). Passes every request for now.
#[derive(Clone, Copy)]
pub struct Consent;

impl Check for Consent {
    const NAME: &'static str = "consent";
    async fn check(&self, _req: &mut GatewayRequest) -> Result<(), GatewayError> {
        Ok(())
    }
}

/// Durable request record (journal issue). Passes every request for now.
#[derive(Clone, Copy)]
pub struct Journal;

impl Check for Journal {
    const NAME: &'static str = "journal";
    async fn check(&self, _req: &mut GatewayRequest) -> Result<(), GatewayError> {
        Ok(())
    }
}
