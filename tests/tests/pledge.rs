//! Banks' pledge contracts end to end: a bank submits a contract signed by every party, the
//! gateway verifies it against the notary system and the legal cadastre, accepts it durably,
//! waits for the payment e-check, files it, relays the registrar's decision and calls the bank
//! back. Every outcome is driven through the mocks' own data.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::cadastre_service_client::CadastreServiceClient;
use kopir_gateway::proto::v1::notary_service_client::NotaryServiceClient;
use kopir_gateway::proto::v1::pledge_service_client::PledgeServiceClient;
use kopir_gateway::Config;
use kopir_mocks::cadastre::NewObject;
use kopir_mocks::notary::NewPowerOfAttorney;
use kopir_mocks::payments::Payment;
use kopir_mocks::pki::{Holder, Issued, Window, DEMO_BANK_BIN, DEMO_OFFICER_IIN};
use kopir_tests::{sign, test_config, Env};
use kopir_trust::signing::KeyAlgorithm;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

const SUBMIT: &str = "kopir.v1.PledgeService/SubmitPledgeContract";
const OBJECTION: &str = "kopir.v1.PledgeService/SubmitObjection";
const FEE: i64 = 432_500;

fn pledge_config() -> Config {
    let mut c = test_config();
    c.pledge.payment_wait = Duration::from_millis(1500);
    c.pledge.payment_poll = Duration::from_millis(100);
    c.pledge.status_poll = Duration::from_millis(100);
    c.pledge.retry_min = Duration::from_millis(100);
    c.pledge.retry_max = Duration::from_millis(400);
    c
}

/// A bank's desk in a test: the env, a channel as the bank, and the people who sign.
struct Desk {
    env: Env,
    bank: Channel,
    /// The pledgor (owner) and the borrower: the same person here.
    owner: Issued,
    owner_iin: String,
    next: std::sync::atomic::AtomicU32,
}

/// A contract as the test builds it: the typed message and the signed JSON form.
struct Draft {
    message: pb::PledgeContract,
    json: serde_json::Value,
    /// Who signs: the officer, plus these people.
    signers: Vec<(String, Issued)>,
}

impl Desk {
    async fn start() -> Self {
        Self::with(pledge_config()).await
    }

    async fn with(config: Config) -> Self {
        let env = Env::start(config).await;
        let bank = env.channel_as("bank").await.expect("the bank connects");
        let owner_iin = adult(&env, 0);
        let owner = person(&env, &owner_iin);
        Self {
            env,
            bank,
            owner,
            owner_iin,
            next: std::sync::atomic::AtomicU32::new(1),
        }
    }

    fn pledges(&self) -> PledgeServiceClient<Channel> {
        PledgeServiceClient::new(self.bank.clone())
    }

    /// A fresh object owned by `owners`, with `encumbrances`.
    fn object(&self, owners: Vec<String>, encumbrances: Vec<(&str, &str, &str)>) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let number = format!("21-777-{:03}-{:03}", n / 1000, n % 1000);
        self.env.demo.mocks.cadastre.register_object(NewObject {
            cadastral_number: number.clone(),
            owners,
            encumbrances: encumbrances
                .into_iter()
                .map(|(a, b, c)| (a.into(), b.into(), c.into()))
                .collect(),
        });
        number
    }

    /// A contract number of its own for each test contract.
    fn number(&self, tag: &str) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("DB-{tag}-{n:04}")
    }

    /// The owner pledges `cadastral` for their own loan, signing themself.
    fn draft(&self, number: &str, cadastral: &str) -> Draft {
        let party = |iin: &str| pb::ContractParty {
            iin: iin.into(),
            bin: String::new(),
            name: "Demo Owner".into(),
            agent: None,
        };
        let message = pb::PledgeContract {
            number: number.into(),
            pledgee: Some(pb::Bin {
                value: DEMO_BANK_BIN.into(),
            }),
            pledgors: vec![party(&self.owner_iin)],
            borrower: Some(party(&self.owner_iin)),
            loan: Some(pb::LoanAgreement {
                number: format!("LOAN-{number}"),
                date: Some(pb::Date {
                    year: 2026,
                    month: 11,
                    day: 20,
                }),
                amount_tiyn: 2_500_000_000,
            }),
            cadastral_number: cadastral.into(),
            amount_tiyn: 3_000_000_000,
            signed_on: Some(pb::Date {
                year: 2026,
                month: 11,
                day: 24,
            }),
            guardianship: None,
        };
        Draft {
            json: contract_json(&message),
            message,
            signers: vec![(self.owner_iin.clone(), self.owner.clone())],
        }
    }

    fn request(&self, d: &Draft) -> pb::SubmitPledgeContractRequest {
        let mut parties = vec![serde_json::json!({
            "role": "pledgee", "iin": DEMO_OFFICER_IIN, "bin": DEMO_BANK_BIN
        })];
        parties.extend(
            d.signers
                .iter()
                .map(|(iin, _)| serde_json::json!({"role": "party", "iin": iin})),
        );
        let payload = serde_json::to_vec(&serde_json::json!({
            "method": SUBMIT,
            "subject": d.message.number,
            "parties": parties,
            "contract": d.json,
        }))
        .unwrap();
        let ca = &self.env.demo.pki.ca;
        let mut signatures = vec![sign(&self.env.demo.pki.officer, ca, &payload)];
        signatures.extend(d.signers.iter().map(|(_, who)| sign(who, ca, &payload)));
        pb::SubmitPledgeContractRequest {
            meta: None,
            contract: Some(d.message.clone()),
            signed: Some(pb::SignedDocument {
                payload,
                signatures,
            }),
        }
    }

    async fn submit(&self, d: &Draft) -> Result<pb::SubmitPledgeContractResponse, tonic::Status> {
        self.pledges()
            .submit_pledge_contract(self.request(d))
            .await
            .map(tonic::Response::into_inner)
    }

    fn pay(&self, number: &str, amount_tiyn: i64) {
        self.env
            .demo
            .mocks
            .payments
            .pay(Payment {
                payer: self.owner_iin.clone(),
                contract_number: number.into(),
                amount_tiyn,
            })
            .expect("payment taken");
    }

    async fn status(&self, number: &str) -> pb::PledgeStatus {
        self.pledges()
            .get_pledge_status(pb::GetPledgeStatusRequest {
                meta: None,
                contract_number: number.into(),
                signed: None,
            })
            .await
            .expect("status")
            .into_inner()
    }

    /// Pays `paid_tiyn` (none when 0) for a new contract of the owner over a new object with
    /// `encumbrances`, and submits it: its number, once accepted.
    async fn submitted(
        &self,
        tag: &str,
        paid_tiyn: i64,
        encumbrances: Vec<(&str, &str, &str)>,
    ) -> String {
        let number = self.number(tag);
        if paid_tiyn > 0 {
            self.pay(&number, paid_tiyn);
        }
        let object = self.object(vec![self.owner_iin.clone()], encumbrances);
        self.submit(&self.draft(&number, &object))
            .await
            .expect("accepted");
        number
    }

    /// Waits until the contract is in `state`, returning its status.
    async fn reaches(&self, number: &str, state: pb::PledgeState) -> pb::PledgeStatus {
        let mut last = None;
        for _ in 0..200 {
            let s = self.status(number).await;
            if s.state() == state {
                return s;
            }
            last = Some(s);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("contract {number} did not reach {state:?}; last: {last:?}");
    }

    /// Waits until the contract is refused, on grounds that say `why`.
    async fn refused_for(&self, number: &str, why: &str) {
        let refused = self.reaches(number, pb::PledgeState::Refused).await;
        assert!(
            refused.grounds.iter().any(|g| g.contains(why)),
            "{:?}",
            refused.grounds
        );
    }

    /// Waits until the bank has recorded `states` for the contract.
    async fn bank_learns(&self, number: &str, states: &[&str]) {
        let bank = &self.env.demo.mocks.bank;
        let ok = Env::eventually(Duration::from_secs(10), async || {
            bank.states(number) == states
        })
        .await;
        assert!(
            ok,
            "bank recorded {:?}, expected {states:?}",
            bank.states(number)
        );
    }
}

/// The IIN of the `n`th living adult of the population after the first few (the demo's own).
fn adult(env: &Env, n: usize) -> String {
    env.demo
        .mocks
        .population
        .adults()
        .nth(20 + n)
        .expect("the population holds adults")
        .iin
        .clone()
}

fn person(env: &Env, iin: &str) -> Issued {
    env.demo
        .pki
        .ca
        .issue(
            &Holder::Person {
                iin: iin.into(),
                name: "Test Person".into(),
            },
            KeyAlgorithm::EcdsaP256,
            Window::days(30),
        )
        .expect("a person's certificate")
}

/// The JSON form of a contract message, as the parties sign it (the gateway's own mapping).
fn contract_json(c: &pb::PledgeContract) -> serde_json::Value {
    serde_json::to_value(kopir_gateway::pledge::contract::from_proto(Some(c)).unwrap()).unwrap()
}

fn reason(s: &tonic::Status) -> String {
    s.get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_paid_contract_is_registered_and_the_bank_is_told_with_a_sealed_notice() {
    let desk = Desk::start().await;
    let object = desk.object(vec![desk.owner_iin.clone()], vec![]);
    let number = desk.number("OK");
    desk.pay(&number, FEE);
    let draft = desk.draft(&number, &object);
    let accepted = desk.submit(&draft).await.expect("accepted");
    assert_eq!(accepted.state(), pb::PledgeState::Accepted);
    assert!(!accepted.duplicate);
    assert!(!accepted.seal.is_empty(), "the answer is sealed");

    // The watch stream shows every change until the final one, then ends.
    let mut stream = desk
        .pledges()
        .watch_pledge_status(pb::GetPledgeStatusRequest {
            meta: None,
            contract_number: number.clone(),
            signed: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(s) = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the stream moves")
        .unwrap()
    {
        seen.push(s.state());
    }
    assert_eq!(seen.last(), Some(&pb::PledgeState::Registered), "{seen:?}");

    let status = desk.status(&number).await;
    assert!(status.r#final);
    assert!(
        !status.grounds.is_empty(),
        "the registrar's basis is relayed"
    );
    assert_eq!(status.request_id, accepted.request_id);

    desk.bank_learns(&number, &["submitted", "registered"])
        .await;
    let notice = desk.env.demo.mocks.bank.notices(&number).pop().unwrap();
    let seal = base64::engine::general_purpose::STANDARD
        .decode(&notice.seal)
        .unwrap();
    let certs = kopir_trust::read_pem_certificates(&desk.env.pki_file("gateway-seal.crt")).unwrap();
    let body = serde_json::to_vec(&notice.notice).unwrap();
    let report = kopir_trust::seal::verify_seal(&body, &seal, &certs[0])
        .expect("the notice's seal verifies");
    assert_eq!(report.statement.request_id, accepted.request_id);
    let mut forged = notice.notice.clone();
    forged.state = "refused".into();
    assert!(kopir_trust::seal::verify_seal(
        &serde_json::to_vec(&forged).unwrap(),
        &seal,
        &certs[0]
    )
    .is_err());

    // The pledge is now on the object's encumbrances, through CadastreService.
    let rights = CadastreServiceClient::new(desk.bank.clone())
        .get_rights_and_encumbrances(pb::GetRightsAndEncumbrancesRequest {
            meta: None,
            cadastral_number: object.clone(),
            signed: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(rights
        .encumbrances
        .iter()
        .any(|e| e.kind == "pledge" && e.holder == DEMO_BANK_BIN && e.basis.contains(&number)));
    assert_eq!(desk.env.demo.mocks.cadastre.filings_of(&number), 1);
}

#[tokio::test]
async fn a_missing_party_signature_is_refused_before_acceptance() {
    let desk = Desk::start().await;
    let object = desk.object(vec![desk.owner_iin.clone()], vec![]);
    let number = desk.number("SIG");
    let mut draft = desk.draft(&number, &object);
    // The document names the owner, but only the bank's officer signs.
    let mut request = desk.request(&draft);
    request.signed.as_mut().unwrap().signatures.truncate(1);
    let s = desk
        .pledges()
        .submit_pledge_contract(request)
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
    assert_eq!(reason(&s), "PARTY_SIGNATURE_MISSING");
    assert!(!s.message().contains(&desk.owner_iin), "no IIN in messages");

    // The owner left out of the document's parties altogether: the contract still names them.
    draft.signers.clear();
    let s = desk.submit(&draft).await.unwrap_err();
    assert_eq!(reason(&s), "PARTY_SIGNATURE_MISSING", "{}", s.message());
    assert!(s.message().contains("pledgor 1"), "{}", s.message());

    // A signed contract that differs from the request's.
    let draft = desk.draft(&number, &object);
    let mut request = desk.request(&draft);
    request.contract.as_mut().unwrap().amount_tiyn += 1;
    let s = desk
        .pledges()
        .submit_pledge_contract(request)
        .await
        .unwrap_err();
    assert_eq!(reason(&s), "SIGNED_DOCUMENT_MISMATCH", "{}", s.message());
    assert!(s.message().contains("amount_tiyn"), "{}", s.message());
    let missing = desk
        .pledges()
        .get_pledge_status(pb::GetPledgeStatusRequest {
            meta: None,
            contract_number: number.clone(),
            signed: None,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "nothing was accepted");
}

#[tokio::test]
async fn an_agent_signs_under_a_valid_power_of_attorney_and_not_under_an_expired_one() {
    let desk = Desk::start().await;
    let object = desk.object(vec![desk.owner_iin.clone()], vec![]);
    let agent_iin = adult(&desk.env, 1);
    let agent = person(&desk.env, &agent_iin);
    let notary = &desk.env.demo.mocks.notary;
    let certify = |valid_days| {
        notary
            .certify(NewPowerOfAttorney {
                principal: desk.owner_iin.clone(),
                agent_iin: agent_iin.clone(),
                scope: vec!["pledge".into(), "real_estate".into()],
                valid_days,
            })
            .unwrap()
            .number
    };
    let with_agent = |number: &str, poa: &str| {
        let mut d = desk.draft(number, &object);
        d.message.pledgors[0].agent = Some(pb::PartyAgent {
            iin: Some(pb::Iin {
                value: agent_iin.clone(),
            }),
            power_of_attorney: poa.into(),
            legal_representative: false,
        });
        d.message.borrower.as_mut().unwrap().agent = d.message.pledgors[0].agent.clone();
        d.json = contract_json(&d.message);
        d.signers = vec![(agent_iin.clone(), agent.clone())];
        d
    };

    let expired = certify(-3);
    let s = desk
        .submit(&with_agent(&desk.number("POA"), &expired))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
    assert!(s.message().contains("expired"), "{}", s.message());

    let unknown = desk
        .submit(&with_agent(&desk.number("POA"), "PA-9999999"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::FailedPrecondition);
    assert!(
        unknown.message().contains("does not hold"),
        "{}",
        unknown.message()
    );

    let valid = certify(30);
    let number = desk.number("POA");
    desk.pay(&number, FEE);
    desk.submit(&with_agent(&number, &valid))
        .await
        .expect("the agent signs for the owner");
    desk.reaches(&number, pb::PledgeState::Registered).await;

    // The same check as a portal or bank asks it directly.
    let check = |number: &str| pb::VerifyPowerOfAttorneyRequest {
        meta: None,
        number: number.into(),
        principal: desk.owner_iin.clone(),
        agent: Some(pb::Iin {
            value: agent_iin.clone(),
        }),
        action: "pledge".into(),
        signed: None,
    };
    let mut client = NotaryServiceClient::new(desk.bank.clone());
    let ok = client
        .verify_power_of_attorney(check(&valid))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.valid, "{:?}", ok.reasons);
    let bad = client
        .verify_power_of_attorney(check(&expired))
        .await
        .unwrap()
        .into_inner();
    assert!(!bad.valid);
    assert!(
        bad.reasons.iter().any(|r| r.contains("expired")),
        "{:?}",
        bad.reasons
    );
}

#[tokio::test]
async fn a_pledgor_who_is_not_the_owner_is_refused() {
    let desk = Desk::start().await;
    let someone_else = adult(&desk.env, 2);
    let object = desk.object(vec![someone_else], vec![]);
    let s = desk
        .submit(&desk.draft(&desk.number("OWN"), &object))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
    assert!(
        s.message().contains("not a registered owner"),
        "{}",
        s.message()
    );

    let s = desk
        .submit(&desk.draft(&desk.number("OWN"), "21-999-999-999"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition);
    assert!(s.message().contains("holds no object"), "{}", s.message());
}

#[tokio::test]
async fn unpaid_and_underpaid_contracts_wait_for_payment_then_the_registrar_decides() {
    let desk = Desk::start().await;
    // Underpaid, then topped up: registered.
    let topped = desk.submitted("PAY", 200_000, vec![]).await;
    let waiting = desk
        .reaches(&topped, pb::PledgeState::AwaitingPayment)
        .await;
    assert!(
        waiting.detail.contains("2000.00 of the 4325.00"),
        "{}",
        waiting.detail
    );
    desk.pay(&topped, FEE - 200_000);
    desk.reaches(&topped, pb::PledgeState::Registered).await;
    desk.bank_learns(&topped, &["awaiting_payment", "submitted", "registered"])
        .await;

    // Never paid: after the wait the registrar refuses it for non-payment.
    let unpaid = desk.submitted("PAY", 0, vec![]).await;
    let waiting = desk
        .reaches(&unpaid, pb::PledgeState::AwaitingPayment)
        .await;
    assert!(
        waiting.detail.contains("no payment e-check"),
        "{}",
        waiting.detail
    );
    desk.refused_for(&unpaid, "not paid in full").await;
    // Underpaid past the wait: refused, and the grounds say how much was paid.
    let short = desk.submitted("PAY", 100_000, vec![]).await;
    desk.refused_for(&short, "cover 100000 of the 432500").await;
}

/// A payment-gateway outage while a contract waits for its fee: the worker's failed checks are
/// its own business, so the bank is not told "awaiting payment" a second time, under a new event
/// id, when the gateway returns and the fee is still unpaid.
#[tokio::test]
async fn an_outage_while_waiting_for_payment_tells_the_bank_nothing_new() {
    let mut config = pledge_config();
    config.pledge.payment_wait = Duration::from_secs(20);
    let desk = Desk::with(config).await;
    let payments = &desk.env.demo.mocks.payments;
    let number = desk.submitted("OUT", 0, vec![]).await;
    desk.reaches(&number, pb::PledgeState::AwaitingPayment)
        .await;
    desk.bank_learns(&number, &["awaiting_payment"]).await;
    let told = desk.env.demo.mocks.bank.notices(&number).len();
    payments.set_down(true);
    // Several checks fail (the worker polls every 100 ms), then several find it still unpaid.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    payments.set_down(false);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let waiting = desk.status(&number).await;
    assert_eq!(waiting.state(), pb::PledgeState::AwaitingPayment);
    assert!(
        waiting.detail.contains("no payment e-check"),
        "the bank's status keeps what it was told, not the outage: {}",
        waiting.detail
    );
    assert_eq!(
        desk.env.demo.mocks.bank.notices(&number).len(),
        told,
        "a second notice of the same state: {:?}",
        desk.env.demo.mocks.bank.states(&number)
    );
    desk.pay(&number, FEE);
    desk.reaches(&number, pb::PledgeState::Registered).await;
    desk.bank_learns(&number, &["awaiting_payment", "submitted", "registered"])
        .await;
}

#[tokio::test]
async fn a_contract_accepted_while_the_cadastre_is_down_is_filed_once_it_returns() {
    let desk = Desk::start().await;
    let cadastre = &desk.env.demo.mocks.cadastre;
    let object = desk.object(vec![desk.owner_iin.clone()], vec![]);
    // The ownership check reads the cadastre before acceptance; the outage starts right after.
    let number = desk.number("DOWN");
    desk.pay(&number, FEE);
    let draft = desk.draft(&number, &object);
    cadastre.set_down(true).await.unwrap();
    let s = desk.submit(&draft).await.unwrap_err();
    assert_eq!(
        s.code(),
        Code::Unavailable,
        "nothing accepted without the ownership check: {}",
        s.message()
    );
    cadastre.set_down(false).await.unwrap();
    // Accepted, then the cadastre goes down before the worker files it.
    let accepted = {
        let r = desk.submit(&draft).await.expect("accepted");
        cadastre.set_down(true).await.unwrap();
        r
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let waiting = desk.status(&number).await;
    assert!(
        matches!(
            waiting.state(),
            pb::PledgeState::Accepted | pb::PledgeState::Submitted
        ),
        "{waiting:?}"
    );
    assert_eq!(
        cadastre.filings_of(&number),
        u32::from(waiting.state() == pb::PledgeState::Submitted)
    );
    cadastre.set_down(false).await.unwrap();
    let done = desk.reaches(&number, pb::PledgeState::Registered).await;
    assert_eq!(done.request_id, accepted.request_id);
    assert_eq!(cadastre.filings_of(&number), 1, "filed exactly once");
    // The failed filings were the worker's own: the bank learnt each state once.
    desk.bank_learns(&number, &["submitted", "registered"])
        .await;
}

#[tokio::test]
async fn a_failing_bank_callback_is_retried_until_acknowledged_and_recorded_once() {
    let desk = Desk::start().await;
    let bank = &desk.env.demo.mocks.bank;
    bank.fail_next(4);
    let number = desk.submitted("CB", FEE, vec![]).await;
    desk.reaches(&number, pb::PledgeState::Registered).await;
    desk.bank_learns(&number, &["submitted", "registered"])
        .await;
    assert!(
        bank.posts() >= 6,
        "4 failed deliveries, then 2: {}",
        bank.posts()
    );
    let ids: std::collections::BTreeSet<String> = bank
        .notices(&number)
        .into_iter()
        .map(|n| n.notice.event_id)
        .collect();
    assert_eq!(ids.len(), 2, "each change recorded exactly once");
}

#[tokio::test]
async fn a_resubmission_gets_the_first_answer_and_no_second_registration() {
    let desk = Desk::start().await;
    let object = desk.object(vec![desk.owner_iin.clone()], vec![]);
    let number = desk.number("DUP");
    desk.pay(&number, FEE);
    let draft = desk.draft(&number, &object);
    let first = desk.submit(&draft).await.unwrap();
    // The same contract, signed again (new signatures, same document).
    let again = desk.submit(&draft).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.request_id, first.request_id);
    desk.reaches(&number, pb::PledgeState::Registered).await;
    let after = desk.submit(&draft).await.unwrap();
    assert_eq!(after.request_id, first.request_id);
    assert_eq!(desk.env.demo.mocks.cadastre.filings_of(&number), 1);

    // Other content under the same number.
    let mut other = desk.draft(&number, &object);
    other.message.amount_tiyn += 100;
    other.json = contract_json(&other.message);
    let s = desk.submit(&other).await.unwrap_err();
    assert_eq!(s.code(), Code::AlreadyExists, "{}", s.message());
    assert!(s.message().contains(&first.request_id), "{}", s.message());
}

async fn object_to(desk: &Desk, number: &str) -> Result<pb::PledgeStatus, tonic::Status> {
    let payload = serde_json::to_vec(&serde_json::json!({
        "method": OBJECTION,
        "subject": number,
        "requester": {"iin": DEMO_OFFICER_IIN, "bin": DEMO_BANK_BIN},
        "via": DEMO_BANK_BIN,
        "nonce": uuid::Uuid::new_v4().to_string(),
    }))
    .unwrap();
    let signature = sign(&desk.env.demo.pki.officer, &desk.env.demo.pki.ca, &payload);
    desk.pledges()
        .submit_objection(pb::SubmitObjectionRequest {
            meta: None,
            contract_number: number.into(),
            text: "The prior pledgee consented; the consent is attached to the registration file."
                .into(),
            signed: Some(pb::SignedDocument {
                payload,
                signatures: vec![signature],
            }),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn an_objection_in_time_leads_to_the_hearing_and_a_late_one_is_refused() {
    let desk = Desk::start().await;
    let prior = vec![("pledge", "971240001315", "pledge contract KZ-PL-2024-0042")];
    let in_time = desk.number("OBJ");
    desk.pay(&in_time, FEE);
    desk.submit(&desk.draft(
        &in_time,
        &desk.object(vec![desk.owner_iin.clone()], prior.clone()),
    ))
    .await
    .unwrap();
    let pre = desk
        .reaches(&in_time, pb::PledgeState::PreliminaryRefusal)
        .await;
    assert!(!pre.hearing_at.is_empty() && !pre.objection_deadline.is_empty());
    assert!(
        pre.grounds.iter().any(|g| g.contains("already pledged")),
        "{:?}",
        pre.grounds
    );
    let objected = object_to(&desk, &in_time).await.expect("objection in time");
    assert_eq!(objected.state(), pb::PledgeState::Objection);
    desk.reaches(&in_time, pb::PledgeState::Registered).await;
    desk.bank_learns(
        &in_time,
        &[
            "submitted",
            "preliminary_refusal",
            "objection",
            "registered",
        ],
    )
    .await;
    let s = object_to(&desk, &in_time).await.unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());

    // The registrar's clock runs 5 days behind the decision's filing: the window has closed.
    let late = desk.number("OBJ");
    desk.pay(&late, FEE);
    desk.env
        .demo
        .mocks
        .cadastre
        .set_clock_offset(chrono::Duration::days(-6));
    desk.submit(&desk.draft(&late, &desk.object(vec![desk.owner_iin.clone()], prior)))
        .await
        .unwrap();
    let st = desk
        .reaches(&late, pb::PledgeState::PreliminaryRefusal)
        .await;
    desk.env
        .demo
        .mocks
        .cadastre
        .set_clock_offset(chrono::Duration::zero());
    let s = object_to(&desk, &late).await.unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
    assert!(
        s.message().contains("window closed"),
        "{} ({st:?})",
        s.message()
    );
    desk.refused_for(&late, "No objection was filed").await;
}

#[tokio::test]
async fn an_arrest_suspends_registration_with_its_grounds() {
    let desk = Desk::start().await;
    let number = desk.number("ARR");
    desk.pay(&number, FEE);
    let object = desk.object(
        vec![desk.owner_iin.clone()],
        vec![(
            "arrest",
            "Astana bailiffs' office",
            "bailiff's order 2026-AR-2001",
        )],
    );
    desk.submit(&desk.draft(&number, &object)).await.unwrap();
    let s = desk.reaches(&number, pb::PledgeState::Suspended).await;
    assert!(
        s.grounds.iter().any(|g| g.contains("2026-AR-2001")),
        "{:?}",
        s.grounds
    );
    assert!(!s.r#final);
    let object = CadastreServiceClient::new(desk.bank.clone())
        .get_real_estate(pb::GetRealEstateRequest {
            meta: None,
            cadastral_number: object,
            signed: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(object.real_estate.unwrap().rooms > 0);
}

#[tokio::test]
async fn only_the_submitting_bank_sees_a_contract_and_others_may_not_submit() {
    let desk = Desk::start().await;
    let number = desk.submitted("ACL", FEE, vec![]).await;
    // The portal is not listed for PledgeService.
    let s = PledgeServiceClient::new(desk.env.channel.clone())
        .get_pledge_status(pb::GetPledgeStatusRequest {
            meta: None,
            contract_number: number.clone(),
            signed: None,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
    let bad = desk
        .pledges()
        .submit_pledge_contract(pb::SubmitPledgeContractRequest {
            meta: None,
            contract: None,
            signed: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("contract"), "{}", bad.message());
}

#[tokio::test]
async fn a_bank_that_never_answers_leaves_a_dead_letter_that_operators_see_and_redrive() {
    use kopir_gateway::proto::v1::operator_service_client::OperatorServiceClient;
    let mut config = pledge_config();
    config.pledge.dead_after = 3;
    let desk = Desk::with(config).await;
    let bank = &desk.env.demo.mocks.bank;
    bank.fail_next(1000);
    let number = desk.number("DEAD");
    desk.pay(&number, FEE);
    let accepted = desk
        .submit(&desk.draft(&number, &desk.object(vec![desk.owner_iin.clone()], vec![])))
        .await
        .unwrap();
    desk.reaches(&number, pb::PledgeState::Registered).await;
    let mut operator = OperatorServiceClient::new(desk.env.channel_as("operator").await.unwrap());
    let dead = Env::eventually(Duration::from_secs(10), async || {
        let list = operator
            .list_outbox(pb::ListOutboxRequest {
                only_dead: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        list.dead_letters == 1
            && list.items.iter().any(|i| {
                i.kind == "notice"
                    && i.dead
                    && i.request_id == accepted.request_id
                    && i.attempts == 3
            })
    })
    .await;
    assert!(dead, "the notice became a dead letter after 3 failures");
    let posts = bank.posts();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(bank.posts(), posts, "a dead letter is not retried");
    // The backlog shows in the metrics and the console's data.
    let seen = Env::eventually(Duration::from_secs(5), async || {
        let (_, m) = kopir_tests::scrape(&desk.env).await;
        kopir_tests::metric(&m, "kopir_outbox", &[("what", "dead_letters")]) == Some(1.0)
            && kopir_tests::metric(&m, "kopir_outbox", &[("what", "undelivered_notices")])
                == Some(2.0)
    })
    .await;
    assert!(
        seen,
        "the outbox gauges show the dead letter and the notice behind it"
    );

    bank.fail_next(0);
    let redriven = operator
        .redrive_outbox(pb::RedriveOutboxRequest {
            request_id: accepted.request_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        redriven.redriven, 2,
        "the dead notice and the one held behind it"
    );
    desk.bank_learns(&number, &["submitted", "registered"])
        .await;
    // Only operators may look.
    let s = OperatorServiceClient::new(desk.bank.clone())
        .list_outbox(pb::ListOutboxRequest::default())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_minors_share_is_pledged_by_a_parent_with_the_guardianship_permission_in_force() {
    let desk = Desk::start().await;
    let pop = &desk.env.demo.mocks.population;
    let today = chrono::Utc::now().date_naive();
    let (child, parent) = pop
        .person_order
        .iter()
        .filter(|i| {
            kopir_core::identifiers::Iin::parse(i)
                .unwrap()
                .is_minor_on(today)
        })
        .find_map(|c| {
            let parent = pop
                .relatives
                .get(c)?
                .iter()
                .find(|(_, r)| *r == kopir_core::model::Relation::Parent)?;
            Some((c.clone(), parent.0.clone()))
        })
        .expect("the population holds a minor with a parent");
    let parent_cert = person(&desk.env, &parent);
    let object = desk.object(vec![parent.clone(), child.clone()], vec![]);
    let draft = |number: &str, agent: &str, permission: Option<chrono::NaiveDate>| {
        let person = |iin: &str, agent: Option<&str>| pb::ContractParty {
            iin: iin.into(),
            bin: String::new(),
            name: "Family".into(),
            agent: agent.map(|a| pb::PartyAgent {
                iin: Some(pb::Iin { value: a.into() }),
                power_of_attorney: String::new(),
                legal_representative: true,
            }),
        };
        let mut message = desk.draft(number, &object).message;
        message.pledgors = vec![person(&parent, None), person(&child, Some(agent))];
        message.borrower = Some(person(&parent, None));
        message.guardianship = permission.map(|d| pb::GuardianshipPermission {
            number: "GP-2026-117".into(),
            issued_on: Some(pb::Date {
                year: chrono::Datelike::year(&d),
                month: i32::try_from(chrono::Datelike::month(&d)).unwrap(),
                day: i32::try_from(chrono::Datelike::day(&d)).unwrap(),
            }),
            issuer: "Education department of Esil district".into(),
        });
        Draft {
            json: contract_json(&message),
            message,
            signers: vec![(parent.clone(), parent_cert.clone())],
        }
    };
    let refused = |s: tonic::Status, what: &str| {
        assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
        assert!(s.message().contains(what), "{}", s.message());
        assert!(!s.message().contains(&child), "no IIN in messages");
    };

    refused(
        desk.submit(&draft(&desk.number("MIN"), &parent, None))
            .await
            .unwrap_err(),
        "is a minor",
    );
    let stale = today - chrono::Duration::days(40);
    refused(
        desk.submit(&draft(&desk.number("MIN"), &parent, Some(stale)))
            .await
            .unwrap_err(),
        "not in force",
    );
    // Someone who is not the child's parent cannot sign as its legal representative.
    let stranger = desk.owner_iin.clone();
    let mut not_parent = draft(&desk.number("MIN"), &stranger, Some(today));
    not_parent
        .signers
        .push((stranger.clone(), desk.owner.clone()));
    refused(
        desk.submit(&not_parent).await.unwrap_err(),
        "not their parent",
    );

    let number = desk.number("MIN");
    desk.pay(&number, FEE);
    desk.submit(&draft(&number, &parent, Some(today)))
        .await
        .expect("the parent pledges the family's apartment with the permission");
    desk.reaches(&number, pb::PledgeState::Registered).await;
}

#[tokio::test]
async fn the_notary_adapter_reads_consents_and_powers_of_attorney_by_number_and_by_iin() {
    use kopir_adapters::notary::{NotaryRegistry, RestNotary};
    let env = Env::start(test_config()).await;
    let notary_mock = &env.demo.mocks.notary;
    let (principal, agent) = (adult(&env, 3), adult(&env, 4));
    let poa = notary_mock
        .certify(NewPowerOfAttorney {
            principal: principal.clone(),
            agent_iin: agent.clone(),
            scope: vec!["pledge".into()],
            valid_days: 10,
        })
        .unwrap();
    let consent = notary_mock
        .register(kopir_mocks::notary::NewConsent {
            subject_iin: principal.clone(),
            grantee_iin: None,
            grantee_bin: Some(DEMO_BANK_BIN.into()),
            scope: vec!["person".into()],
            valid_days: 10,
        })
        .unwrap();
    let endpoint = kopir_adapters::syncchannel::Endpoint {
        url: notary_mock.url().parse().unwrap(),
        sender_id: kopir_mocks::DEFAULT_SENDER_ID.into(),
        sender_password: kopir_mocks::DEFAULT_SENDER_PASSWORD.into(),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        pool_max_idle: 1,
        wire: kopir_adapters::syncchannel::Wire::default(),
    };
    let notary = RestNotary::new("notary", endpoint.clone()).unwrap();
    let iin = |s: &str| kopir_core::identifiers::Iin::parse(s).unwrap();

    let by_number = notary.power_of_attorney(&poa.number, "t").await.unwrap();
    assert_eq!(by_number.as_ref(), Some(&poa));
    for person in [&principal, &agent] {
        let of = notary
            .powers_of_attorney_of(&iin(person), "t")
            .await
            .unwrap();
        assert_eq!(of, vec![poa.clone()], "granted or held by {person}");
    }
    assert!(notary
        .powers_of_attorney_of(&iin(&adult(&env, 5)), "t")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        notary.consent(&consent.number, "t").await.unwrap(),
        Some(consent.clone())
    );
    assert_eq!(notary.consent("NC-9999999", "t").await.unwrap(), None);
    assert_eq!(
        notary.consent("../powers-of-attorney", "t").await.unwrap(),
        None
    );
    assert!(notary
        .consents(&iin(&principal), "t")
        .await
        .unwrap()
        .contains(&consent));

    // The sender's credentials are checked on every read.
    let stranger = RestNotary::new(
        "notary",
        kopir_adapters::syncchannel::Endpoint {
            sender_password: "wrong".into(),
            ..endpoint
        },
    )
    .unwrap();
    let refused = stranger.consent(&consent.number, "t").await.unwrap_err();
    assert!(
        matches!(refused, kopir_adapters::AdapterError::Registry { ref code, .. } if code == "UNKNOWN_SENDER"),
        "{refused:?}"
    );
}
