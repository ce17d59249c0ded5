//! Notarised consents and powers of attorney, and when a power of attorney lets an agent act.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A notarised consent of a person for someone to obtain their data (seed 004 §2, service 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotarisedConsent {
    /// The notarial act's registry number.
    pub number: String,
    /// The person who consents (IIN).
    pub subject_iin: String,
    /// The person allowed to obtain the data, when a person is.
    #[serde(default)]
    pub grantee_iin: Option<String>,
    /// The organisation allowed to obtain the data, when an organisation is.
    #[serde(default)]
    pub grantee_bin: Option<String>,
    /// What data (consent scopes: `person`, `address`).
    pub scope: Vec<String>,
    /// From when it holds.
    pub valid_from: DateTime<Utc>,
    /// Until when it holds.
    pub valid_until: DateTime<Utc>,
    /// Whether the person revoked it before a notary.
    #[serde(default)]
    pub revoked: bool,
    /// The notary who certified it.
    pub notary: String,
}

/// A notarised power of attorney (seed 003: only notarially certified ones are in ЕНИС).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerOfAttorney {
    /// The notarial act's registry number.
    pub number: String,
    /// Who grants it: a person's IIN or an organisation's BIN.
    pub principal: String,
    /// Who acts under it (IIN).
    pub agent_iin: String,
    /// What it authorises (`pledge`, `real_estate`, ...).
    pub scope: Vec<String>,
    /// From when it holds.
    pub valid_from: DateTime<Utc>,
    /// Until when it holds.
    pub valid_until: DateTime<Utc>,
    /// Whether the principal revoked it.
    #[serde(default)]
    pub revoked: bool,
    /// The notary who certified it.
    pub notary: String,
}

impl PowerOfAttorney {
    /// Why it does not let `agent` act for `principal` in `action` at `at`; empty when it does.
    pub fn defects(
        &self,
        principal: &str,
        agent: &str,
        action: &str,
        at: DateTime<Utc>,
    ) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.revoked {
            reasons.push(format!("power of attorney {} was revoked", self.number));
        }
        if at < self.valid_from {
            reasons.push(format!(
                "power of attorney {} holds only from {}",
                self.number,
                self.valid_from.format("%Y-%m-%d")
            ));
        }
        if at > self.valid_until {
            reasons.push(format!(
                "power of attorney {} expired on {}",
                self.number,
                self.valid_until.format("%Y-%m-%d")
            ));
        }
        if !principal.is_empty() && self.principal != principal {
            reasons.push(format!(
                "power of attorney {} was granted by another principal",
                self.number
            ));
        }
        if self.agent_iin != agent {
            reasons.push(format!(
                "power of attorney {} names another agent",
                self.number
            ));
        }
        if !action.is_empty() && !self.scope.iter().any(|s| s == action) {
            reasons.push(format!(
                "power of attorney {} does not cover \"{action}\" (it covers: {})",
                self.number,
                self.scope.join(", ")
            ));
        }
        reasons
    }
}
