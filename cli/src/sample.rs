//! The demo's sample pledge contract, as the demo prints it and the benchmark and tests submit it.

use kopir_gateway::error::GatewayError;
use kopir_gateway::pledge::contract;
use kopir_gateway::proto::v1 as pb;
use kopir_mocks::pki::{DEMO_BANK_BIN, DEMO_OFFICER_IIN};

/// A contract of `owner` pledging `object` to the demo bank for their own loan, as the demo's
/// sample and the benchmark's submissions use it.
pub fn sample(number: &str, owner: &str, object: &str) -> pb::PledgeContract {
    let party = pb::ContractParty {
        iin: owner.into(),
        bin: String::new(),
        name: "Demo Owner".into(),
        agent: None,
    };
    let date = Some(pb::Date {
        year: 2026,
        month: 11,
        day: 24,
    });
    pb::PledgeContract {
        number: number.into(),
        pledgee: Some(pb::Bin {
            value: DEMO_BANK_BIN.into(),
        }),
        pledgors: vec![party.clone()],
        borrower: Some(party),
        loan: Some(pb::LoanAgreement {
            number: format!("L-{number}"),
            date,
            amount_tiyn: 100_000_000,
        }),
        cadastral_number: object.into(),
        amount_tiyn: 120_000_000,
        signed_on: date,
        guardianship: None,
    }
}

/// The document the parties sign for `contract`: the pledgee bank's officer and each pledgor.
pub fn document(contract: &pb::PledgeContract) -> Result<Vec<u8>, GatewayError> {
    let mut parties = vec![serde_json::json!({
        "role": "pledgee",
        "iin": DEMO_OFFICER_IIN,
        "bin": contract.pledgee.as_ref().map(|b| b.value.clone()).unwrap_or_default(),
    })];
    parties.extend(
        contract
            .pledgors
            .iter()
            .map(|p| serde_json::json!({"role": "pledgor", "iin": p.iin})),
    );
    serde_json::to_vec(&serde_json::json!({
        "method": "kopir.v1.PledgeService/SubmitPledgeContract",
        "subject": contract.number,
        "parties": parties,
        "contract": contract::from_proto(Some(contract))?,
    }))
    .map_err(|e| GatewayError::Server(format!("contract document: {e}")))
}
