//! Banks' electronic pledge contracts in the gateway's terms: the contract the parties sign, its
//! lifecycle and status as the bank sees it, and the outbox's figures for operators. Reading a
//! contract from the API and checking its signatures are the gateway's; these are the data.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A contract's place in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Verified and stored.
    Accepted,
    /// No complete payment e-check yet.
    AwaitingPayment,
    /// Filed with the cadastre, undecided.
    Submitted,
    /// Registered.
    Registered,
    /// Refused.
    Refused,
    /// Suspended.
    Suspended,
    /// Preliminary refusal: hearing set, objection window open.
    PreliminaryRefusal,
    /// Objection filed; the hearing decides.
    Objection,
}

impl State {
    /// Every state, for parsing.
    const ALL: [State; 8] = [
        Self::Accepted,
        Self::AwaitingPayment,
        Self::Submitted,
        Self::Registered,
        Self::Refused,
        Self::Suspended,
        Self::PreliminaryRefusal,
        Self::Objection,
    ];

    /// The stored and notified name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Submitted => "submitted",
            Self::Registered => "registered",
            Self::Refused => "refused",
            Self::Suspended => "suspended",
            Self::PreliminaryRefusal => "preliminary_refusal",
            Self::Objection => "objection",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the registrar has decided for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Registered | Self::Refused)
    }

    /// Whether the contract has reached the cadastre.
    pub fn is_filed(self) -> bool {
        !matches!(self, Self::Accepted | Self::AwaitingPayment)
    }
}

/// A contract's status as the bank sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The submission's request id (the filing's message id).
    pub request_id: String,
    /// The pledgee bank's BIN.
    pub bank: String,
    /// The bank's unique contract number.
    pub contract_number: String,
    /// Where it is.
    pub state: State,
    /// The registrar's legal grounds.
    pub grounds: Vec<String>,
    /// What the gateway waits for, or the last delivery problem.
    pub detail: String,
    /// A preliminary refusal's hearing.
    pub hearing_at: Option<DateTime<Utc>>,
    /// A preliminary refusal's objection deadline.
    pub objection_deadline: Option<DateTime<Utc>>,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
    /// When it entered `state`.
    pub changed_at: DateTime<Utc>,
}

impl Status {
    /// A contract accepted now: the status the outbox stores first.
    pub fn accepted(request_id: &str, bank: &str, contract_number: &str) -> Self {
        let now = Utc::now();
        Self {
            request_id: request_id.into(),
            bank: bank.into(),
            contract_number: contract_number.into(),
            state: State::Accepted,
            grounds: Vec::new(),
            detail: String::new(),
            hearing_at: None,
            objection_deadline: None,
            accepted_at: now,
            changed_at: now,
        }
    }
}

/// A verified submission as the API hands it to the pipeline.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The contract, from the request's typed fields.
    pub contract: Contract,
    /// SHA-256 (hex) of the signed document: the same contract resubmitted has the same digest.
    pub digest: String,
}

/// A pledge contract; its JSON form is the `contract` object of the signed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// The bank's unique number.
    pub number: String,
    /// The pledgee bank.
    pub pledgee_bin: String,
    /// Owners who pledge.
    pub pledgors: Vec<Party>,
    /// The borrower of the secured loan.
    pub borrower: Party,
    /// The secured loan agreement.
    pub loan: Loan,
    /// The pledged object.
    pub cadastral_number: String,
    /// The secured amount, tiyn.
    pub amount_tiyn: i64,
    /// When the parties signed.
    pub signed_on: NaiveDate,
    /// The guardianship authority's permission, when a pledgor is a minor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardianship: Option<Guardianship>,
}

/// The guardianship authority's permission to pledge a minor's property (seed 003).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardianship {
    /// Its number.
    pub number: String,
    /// When it was issued; it holds one month.
    pub issued_on: NaiveDate,
    /// The authority.
    #[serde(default)]
    pub issuer: String,
}

/// A person (IIN) or an organisation (BIN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// A person's IIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iin: Option<String>,
    /// An organisation's BIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    /// Name as written in the contract.
    #[serde(default)]
    pub name: String,
    /// Who signs for the party under a power of attorney.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
}

/// Someone who signs for a party: under a notarised power of attorney, or as a minor's parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The agent's IIN.
    pub iin: String,
    /// The power of attorney's number in the notary system (empty for a legal representative).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub power_of_attorney: String,
    /// A parent acting for a minor child.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_representative: bool,
}

/// The secured loan agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loan {
    /// Its number.
    pub number: String,
    /// Its date.
    pub date: NaiveDate,
    /// Its amount, tiyn.
    pub amount_tiyn: i64,
}

impl Contract {
    /// Every party with its role label, pledgee included (as an organisation).
    pub fn parties(&self) -> Vec<(String, Party)> {
        let mut all: Vec<(String, Party)> = self
            .pledgors
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("pledgor {}", i + 1), p.clone()))
            .collect();
        all.push(("borrower".into(), self.borrower.clone()));
        all.push((
            "pledgee".into(),
            Party {
                iin: None,
                bin: Some(self.pledgee_bin.clone()),
                name: String::new(),
                agent: None,
            },
        ));
        all
    }

    /// The pledgors' IINs or BINs.
    pub fn pledgor_ids(&self) -> Vec<String> {
        self.pledgors.iter().filter_map(Party::id).collect()
    }
}

impl Party {
    /// The IIN or BIN.
    pub fn id(&self) -> Option<String> {
        self.iin.clone().or_else(|| self.bin.clone())
    }
}

/// What is waiting, for operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Backlog {
    /// Contracts not yet decided for good.
    pub open_pledges: u64,
    /// Notices not yet acknowledged by their bank.
    pub undelivered_notices: u64,
    /// Age of the oldest unacknowledged notice, seconds.
    pub oldest_notice_age_s: u64,
    /// Contracts and notices given up on until an operator re-drives them.
    pub dead_letters: u64,
}

/// What an outbox item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A contract the worker moves on.
    Pledge,
    /// A notice owed to a bank.
    Notice,
}

impl ItemKind {
    /// The name operators see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pledge => "pledge",
            Self::Notice => "notice",
        }
    }
}

/// One waiting contract or notice, as operators inspect it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Item {
    /// A contract the worker moves on, or a notice owed to a bank.
    pub kind: ItemKind,
    /// The submission's request id.
    pub request_id: String,
    /// The bank's BIN.
    pub bank: String,
    /// The contract number.
    pub contract_number: String,
    /// The contract's state, or the state the notice tells.
    pub state: String,
    /// Failed attempts in a row.
    pub attempts: u32,
    /// The last failure, or what the contract waits for.
    pub last_error: String,
    /// When it is tried next (meaningless for a dead letter).
    pub next_attempt_at: DateTime<Utc>,
    /// When it was accepted or owed.
    pub created_at: DateTime<Utc>,
    /// Whether it is a dead letter.
    pub dead: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_know_where_they_are() {
        let all = [
            State::Accepted,
            State::AwaitingPayment,
            State::Submitted,
            State::Registered,
            State::Refused,
            State::Suspended,
            State::PreliminaryRefusal,
            State::Objection,
        ];
        for s in all {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("lost"), None);
        let finals: Vec<State> = all.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [State::Registered, State::Refused]);
        assert!(!State::Accepted.is_filed() && !State::AwaitingPayment.is_filed());
        assert!(all[2..].iter().all(|s| s.is_filed()));
    }

    #[test]
    fn a_contracts_parties_are_its_pledgors_borrower_and_pledgee() {
        let owner = Party {
            iin: Some("850101300011".into()),
            bin: None,
            name: "Owner".into(),
            agent: None,
        };
        let c = Contract {
            number: "C-1".into(),
            pledgee_bin: "990140004565".into(),
            pledgors: vec![owner.clone()],
            borrower: owner,
            loan: Loan {
                number: "L-1".into(),
                date: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                amount_tiyn: 1,
            },
            cadastral_number: "21-320-000-101".into(),
            amount_tiyn: 1,
            signed_on: NaiveDate::from_ymd_opt(2026, 11, 2).expect("date"),
            guardianship: None,
        };
        let labels: Vec<String> = c.parties().into_iter().map(|(l, _)| l).collect();
        assert_eq!(labels, ["pledgor 1", "borrower", "pledgee"]);
        assert_eq!(c.pledgor_ids(), ["850101300011"]);
    }
}
