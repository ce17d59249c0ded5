//! The legal cadastre's records: objects, rights and encumbrances, pledge filings and decisions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A real-estate object with its technical and identification characteristics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealEstate {
    /// Cadastral number.
    pub cadastral_number: String,
    /// `apartment`, `house`, `non_residential`, `land`.
    pub kind: String,
    /// Where it is.
    pub address: super::Address,
    /// Square metres, decimal text.
    pub total_area_m2: String,
    /// Square metres, decimal text.
    pub living_area_m2: String,
    /// Rooms.
    pub rooms: i32,
    /// Floor of the object.
    pub floor: i32,
    /// Floors of the building.
    pub floors: i32,
    /// Year of construction.
    pub year_built: i32,
    /// Wall material.
    pub wall_material: String,
}

/// A registered right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Right {
    /// `ownership`, `joint_ownership`, `shared_ownership`.
    pub kind: String,
    /// Holder's IIN or BIN.
    pub holder: String,
    /// Share as a fraction, "1" for the whole.
    pub share: String,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
}

/// A registered encumbrance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encumbrance {
    /// `pledge`, `arrest`, `lease`, ...
    pub kind: String,
    /// Who holds it (a bank's BIN, a court, a bailiff).
    pub holder: String,
    /// The document it rests on.
    pub basis: String,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
}

/// Rights and encumbrances on one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    /// The object.
    pub cadastral_number: String,
    /// Registered rights.
    pub rights: Vec<Right>,
    /// Registered encumbrances.
    pub encumbrances: Vec<Encumbrance>,
}

impl Rights {
    /// The holders of ownership rights.
    pub fn owners(&self) -> impl Iterator<Item = &str> {
        self.rights
            .iter()
            .filter(|r| r.kind.ends_with("ownership"))
            .map(|r| r.holder.as_str())
    }
}

/// A pledge contract as the gateway delivers it for registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PledgeFiling {
    /// The gateway's message id (the submission's request id): the registry's idempotency key.
    pub message_id: String,
    /// The bank's unique contract number.
    pub contract_number: String,
    /// The pledgee bank.
    pub pledgee_bin: String,
    /// The pledgors' IINs or BINs.
    pub pledgors: Vec<String>,
    /// The object.
    pub cadastral_number: String,
    /// The secured amount in tiyn.
    pub amount_tiyn: i64,
    /// The signed contract document (JSON, as the parties signed it), base64.
    pub document: String,
    /// The parties' detached CMS signatures, base64.
    pub signatures: Vec<String>,
    /// The payment e-checks the gateway matched (unique payment codes); empty when none was found.
    pub payment_codes: Vec<String>,
}

/// The registrar's state of a filed pledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Received; the registrar has not decided.
    Accepted,
    /// Entered in the registration sheet.
    Registered,
    /// Refused, with grounds.
    Refused,
    /// Suspended, with grounds.
    Suspended,
    /// Grounds to refuse found; hearing set, objection window open.
    PreliminaryRefusal,
    /// An objection was filed; the hearing decides.
    Objection,
}

/// A filed pledge as the cadastre reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingStatus {
    /// The gateway's message id.
    pub message_id: String,
    /// The registrar's state.
    pub decision: Decision,
    /// Legal grounds (of a refusal, suspension, preliminary refusal; the basis of a registration).
    #[serde(default)]
    pub grounds: Vec<String>,
    /// A preliminary refusal's hearing.
    #[serde(default)]
    pub hearing_at: Option<DateTime<Utc>>,
    /// Until when an objection is taken (2 working days after the preliminary refusal).
    #[serde(default)]
    pub objection_deadline: Option<DateTime<Utc>>,
    /// When the registrar decided (or received, while undecided).
    pub decided_at: DateTime<Utc>,
}
