//! A pledge contract in the gateway's terms: read from the request's typed fields, checked against
//! the document the parties signed, and the signers each party needs.

use chrono::NaiveDate;
use kopir_adapters::cadastre::CadastralNumber;
use kopir_core::identifiers::{Bin, Iin};

use super::error::PledgeError;
use crate::error::SignatureFailure;
use crate::proto::v1 as pb;
use kopir_trust::document::Signers;
use kopir_trust::Holder;

pub use kopir_core::pledge::{Agent, Contract, Guardianship, Loan, Party};

/// Reads and validates the request's contract; errors name the field.
pub fn from_proto(c: Option<&pb::PledgeContract>) -> Result<Contract, PledgeError> {
    let c = c.ok_or_else(|| invalid("contract", "required"))?;
    if c.pledgors.is_empty() {
        return Err(invalid("contract.pledgors", "name at least one pledgor"));
    }
    let number = text("contract.number", &c.number, 64)?;
    if !number
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_/.".contains(&b))
    {
        return Err(invalid(
            "contract.number",
            "use A-Z, a-z, 0-9, '-', '_', '/', '.' (the bank's unique number)",
        ));
    }
    let loan = c
        .loan
        .as_ref()
        .ok_or_else(|| invalid("contract.loan", "required"))?;
    let positive = |field: &str, v: i64| {
        if v > 0 {
            Ok(v)
        } else {
            Err(invalid(field, "must be above 0 (tiyn)"))
        }
    };
    CadastralNumber::parse(&c.cadastral_number)
        .map_err(|e| invalid("contract.cadastral_number", e))?;
    Ok(Contract {
        number,
        pledgee_bin: crate::proto::bin("contract.pledgee", c.pledgee.as_ref())?
            .as_str()
            .to_string(),
        pledgors: c
            .pledgors
            .iter()
            .enumerate()
            .map(|(i, p)| party(&format!("contract.pledgors[{i}]"), Some(p)))
            .collect::<Result<_, _>>()?,
        borrower: party("contract.borrower", c.borrower.as_ref())?,
        loan: Loan {
            number: text("contract.loan.number", &loan.number, 64)?,
            date: date("contract.loan.date", loan.date.as_ref())?,
            amount_tiyn: positive("contract.loan.amount_tiyn", loan.amount_tiyn)?,
        },
        cadastral_number: c.cadastral_number.clone(),
        amount_tiyn: positive("contract.amount_tiyn", c.amount_tiyn)?,
        signed_on: date("contract.signed_on", c.signed_on.as_ref())?,
        guardianship: c
            .guardianship
            .as_ref()
            .map(|g| -> Result<Guardianship, PledgeError> {
                Ok(Guardianship {
                    number: text("contract.guardianship.number", &g.number, 64)?,
                    issued_on: date("contract.guardianship.issued_on", g.issued_on.as_ref())?,
                    issuer: g.issuer.chars().take(300).collect(),
                })
            })
            .transpose()?,
    })
}

/// Checks the parties signed this very contract: the signed document's `contract` equals the
/// request's, and each party (or its agent) is among the verified signers.
pub fn check_signed(contract: &Contract, signers: &Signers) -> Result<(), PledgeError> {
    let signed = signers
        .document
        .contract
        .as_ref()
        .ok_or_else(|| PledgeError::Signature {
            failure: SignatureFailure::WrongDocument,
            detail:
                "the signed document carries no \"contract\": the parties sign the contract itself"
                    .into(),
        })?;
    let ours = serde_json::to_value(contract)
        .map_err(|e| PledgeError::Defect(format!("contract as JSON: {e}")))?;
    let theirs: Contract =
        serde_json::from_value(signed.clone()).map_err(|e| PledgeError::Signature {
            failure: SignatureFailure::Malformed,
            detail: format!("the signed \"contract\" is not a pledge contract: {e}"),
        })?;
    if &theirs != contract {
        let theirs = serde_json::to_value(&theirs).unwrap_or_default();
        let field = ours
            .as_object()
            .and_then(|o| o.iter().find(|(k, v)| theirs.get(k.as_str()) != Some(*v)))
            .map_or("?", |(k, _)| k.as_str());
        return Err(PledgeError::Signature {
            failure: SignatureFailure::WrongDocument,
            detail: format!(
                "the request's contract differs from the contract the parties signed (field \"{field}\")"
            ),
        });
    }
    let holders: Vec<&Holder> = signers.signatures.iter().map(|s| &s.chain.holder).collect();
    for (label, p) in contract.parties() {
        let (who, signed) = match &p.agent {
            Some(a) => (
                format!("{label}'s agent"),
                holders
                    .iter()
                    .any(|h| h.iin.as_ref().map(Iin::as_str) == Some(&a.iin)),
            ),
            None => (
                label.clone(),
                holders.iter().any(|h| {
                    p.iin
                        .as_deref()
                        .is_none_or(|i| h.iin.as_ref().map(Iin::as_str) == Some(i))
                        && p.bin
                            .as_deref()
                            .is_none_or(|b| h.bin.as_ref().map(Bin::as_str) == Some(b))
                }),
            ),
        };
        if !signed {
            return Err(PledgeError::Signature {
                failure: SignatureFailure::PartyMissing,
                detail: format!("the {who} has not signed the contract"),
            });
        }
    }
    Ok(())
}

fn invalid(field: &str, reason: impl Into<String>) -> PledgeError {
    PledgeError::invalid(field, reason)
}

fn date(field: &str, d: Option<&pb::Date>) -> Result<NaiveDate, PledgeError> {
    let d = d.ok_or_else(|| invalid(field, "required: year, month, day"))?;
    u32::try_from(d.month)
        .ok()
        .zip(u32::try_from(d.day).ok())
        .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day))
        .ok_or_else(|| invalid(field, "not a calendar date"))
}

fn text(field: &str, value: &str, max: usize) -> Result<String, PledgeError> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("required: 1 to {max} printable characters"),
        ));
    }
    Ok(value.to_string())
}

fn party(field: &str, p: Option<&pb::ContractParty>) -> Result<Party, PledgeError> {
    let p = p.ok_or_else(|| invalid(field, "required: the party's iin or bin"))?;
    let iin = (!p.iin.is_empty())
        .then(|| Iin::parse(&p.iin).map(|i| i.as_str().to_string()))
        .transpose()
        .map_err(|e| invalid(&format!("{field}.iin"), e.to_string()))?;
    let bin = (!p.bin.is_empty())
        .then(|| Bin::parse(&p.bin).map(|b| b.as_str().to_string()))
        .transpose()
        .map_err(|e| invalid(&format!("{field}.bin"), e.to_string()))?;
    if iin.is_some() == bin.is_some() {
        return Err(invalid(
            field,
            "name the party by exactly one of iin (a person) or bin (an organisation)",
        ));
    }
    let agent = p
        .agent
        .as_ref()
        .map(|a| -> Result<Agent, PledgeError> {
            let poa = format!("{field}.agent.power_of_attorney");
            Ok(Agent {
                iin: crate::proto::iin(&format!("{field}.agent.iin"), a.iin.as_ref())?
                    .as_str()
                    .to_string(),
                power_of_attorney: match (a.legal_representative, a.power_of_attorney.is_empty()) {
                    (true, true) => String::new(),
                    (true, false) => return Err(invalid(
                        &poa,
                        "a legal representative acts without a power of attorney: leave it empty",
                    )),
                    (false, _) => text(&poa, &a.power_of_attorney, 64)?,
                },
                legal_representative: a.legal_representative,
            })
        })
        .transpose()?;
    Ok(Party {
        iin,
        bin,
        name: p.name.chars().take(300).collect(),
        agent,
    })
}
