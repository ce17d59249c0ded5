//! The journal end to end, on both backends: SQLite always; PostgreSQL when KOPIR_TEST_PG names
//! a database (`.ci/run` sets it), else those runs say they were skipped.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kopir_core::model::Relation;
use kopir_gateway::config::{JournalBackend, JournalConfig};
use kopir_gateway::proto::v1 as pb;
use kopir_gateway::proto::v1::access_log_service_client::AccessLogServiceClient;
use kopir_gateway::proto::v1::consent_service_client::ConsentServiceClient;
use kopir_gateway::proto::v1::identity_service_client::IdentityServiceClient;
use kopir_gateway::proto::v1::operator_service_client::OperatorServiceClient;
use kopir_mocks::notary::NewConsent;
use kopir_mocks::pki::DEMO_BANK_BIN;
use kopir_store::journal::{self, Entry, Journal};
use kopir_tests::{person_request, sign, test_config, Env};
use tonic::Code;
use tonic_types::StatusExt;

/// The journal settings of each backend under test, each in a place of its own.
fn backends(dir: &std::path::Path) -> Vec<JournalConfig> {
    let embedded = test_config().journal;
    let mut list = vec![JournalConfig {
        backend: JournalBackend::Sqlite,
        path: dir.join("journal.db"),
        ..embedded.clone()
    }];
    match std::env::var("KOPIR_TEST_PG") {
        Ok(url) if !url.is_empty() => list.push(JournalConfig {
            backend: JournalBackend::Postgres,
            url: Some(url),
            schema: format!("t_{}", uuid::Uuid::new_v4().simple()),
            ..embedded
        }),
        _ => eprintln!("KOPIR_TEST_PG not set: the PostgreSQL run is skipped"),
    }
    list
}

async fn env_with(journal: &JournalConfig) -> Env {
    let mut c = test_config();
    c.journal = journal.clone();
    Env::start(c).await
}

/// Runs an SQL statement on the journal's database, as someone tampering with it would.
async fn tamper(journal: &JournalConfig, sql: &str) {
    match journal.backend {
        JournalBackend::Sqlite => {
            let conn = rusqlite::Connection::open(&journal.path).unwrap();
            assert_eq!(conn.execute(sql, []).unwrap(), 1, "{sql}");
        }
        _ => {
            let url = journal.url.as_deref().unwrap();
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("SET search_path TO {}", journal.schema))
                .await
                .unwrap();
            assert_eq!(client.execute(sql, &[]).await.unwrap(), 1, "{sql}");
        }
    }
}

async fn search(env: &Env, request_id: &str) -> Vec<pb::JournalRecord> {
    let channel = env.channel_as("operator").await.unwrap();
    OperatorServiceClient::new(channel)
        .search_journal(pb::SearchJournalRequest {
            request_id: request_id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records
}

fn with_id(iin: &str, id: &str) -> pb::GetPersonRequest {
    let mut r = person_request(iin);
    r.meta = Some(pb::RequestMeta {
        request_id: id.into(),
        purpose: "test purpose".into(),
        ..Default::default()
    });
    r
}

#[tokio::test]
async fn every_call_leaves_its_records_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for journal in backends(dir.path()) {
        let env = env_with(&journal).await;
        let iin = env.sample_iin();
        // The portal reads on its legal basis; the bank without the person's consent is refused.
        env.identity()
            .get_person(with_id(&iin, "read-1"))
            .await
            .unwrap();
        let bank = IdentityServiceClient::new(env.channel_as("bank").await.unwrap());
        let denied = bank
            .clone()
            .get_person(with_id(&iin, "read-2"))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);

        let records = search(&env, "read-1").await;
        assert_eq!(records.len(), 2, "{records:?}");
        let (req, resp) = (&records[0], &records[1]);
        assert_eq!(
            (req.kind.as_str(), resp.kind.as_str()),
            ("request", "response")
        );
        assert_eq!(resp.outcome, "OK");
        assert_eq!(resp.client, "bin:000940001238");
        assert_eq!(resp.subject, iin);
        assert_eq!(resp.purpose, "test purpose");
        assert_eq!(resp.method, "kopir.v1.IdentityService/GetPerson");
        assert_eq!(resp.registry, "persons");
        assert!(resp.registry_us > 0);
        assert!(resp.note.contains("lawful access"), "{}", resp.note);
        assert!(resp.body.contains(&iin), "the policy keeps identity bodies");
        assert_eq!(resp.prev_hash, req.hash, "consecutive records link");
        let refused = search(&env, "read-2").await;
        assert_eq!(refused[1].outcome, "PERMISSION_DENIED");
        assert_eq!(refused[1].client, format!("bin:{DEMO_BANK_BIN}"));
        assert!(refused[1].body.is_empty());
        // A malformed IIN is refused at the edge, and still journaled with the client who sent it.
        let mut typo: String = iin.clone();
        let last = typo.pop().unwrap();
        typo.push(if last == '0' { '1' } else { '0' });
        let s = env
            .identity()
            .get_person(with_id(&typo, "typo-1"))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
        let typo_records = search(&env, "typo-1").await;
        assert_eq!(typo_records.len(), 2, "{typo_records:?}");
        assert_eq!(typo_records[1].outcome, "INVALID_ARGUMENT");
        assert_eq!(typo_records[1].client, "bin:000940001238");

        let store = journal::open(&journal).await.unwrap().unwrap();
        let intact = journal::verify(store.as_ref()).await.unwrap();
        assert!(intact.broken.is_none(), "{:?}", intact.broken);
        let n = intact.head.unwrap().0;
        assert!(n >= 6, "4 lookups' records and the searches' own");

        // Deleting a record: verify names the gap.
        tamper(
            &journal,
            &format!("DELETE FROM journal WHERE seq = {}", n - 1),
        )
        .await;
        let b = journal::verify(store.as_ref())
            .await
            .unwrap()
            .broken
            .unwrap();
        assert_eq!(b.seq, n - 1, "{b}");
        assert!(b.reason.contains("missing"), "{b}");
        // Editing an earlier one: verify now stops there.
        tamper(&journal, "UPDATE journal SET outcome = 0 WHERE seq = 4").await;
        let b = journal::verify(store.as_ref())
            .await
            .unwrap()
            .broken
            .unwrap();
        assert_eq!(b.seq, 4, "{b}");
        assert!(b.reason.contains("altered"), "{b}");
    }
}

fn entry(i: usize) -> Entry {
    Entry::request(
        &format!("w-{i}"),
        "bin:000940001238",
        "kopir.v1.IdentityService/GetPerson",
        "850101300510",
        "concurrency",
        "x",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_keep_one_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    for config in backends(dir.path()) {
        // Two "replicas": separate connections and writers on one database.
        let a = Journal::start(journal::open(&config).await.unwrap().unwrap(), 64);
        let b = Journal::start(journal::open(&config).await.unwrap().unwrap(), 64);
        let mut tasks = Vec::new();
        for t in 0..8 {
            let j = if t % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                for i in 0..150 {
                    j.append(entry(t * 1000 + i)).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let v = journal::verify(a.store().as_ref()).await.unwrap();
        assert!(v.broken.is_none(), "{:?}", v.broken);
        assert_eq!(v.records, 1200);
        assert_eq!(v.head.map(|h| h.0), Some(1200));
    }
}

fn signed(env: &Env, method: &str, subject: &str, requester: &str) -> pb::SignedDocument {
    let payload = serde_json::to_vec(&serde_json::json!({
        "method": method,
        "subject": subject,
        "requester": {"iin": requester},
        "via": kopir_mocks::pki::DEMO_PORTAL_BIN,
        "nonce": uuid::Uuid::new_v4().to_string(),
    }))
    .unwrap();
    let sig = sign(&env.demo.pki.citizen, &env.demo.pki.ca, &payload);
    pb::SignedDocument {
        payload,
        signatures: vec![sig],
    }
}

fn reason(s: &tonic::Status) -> String {
    s.get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

#[tokio::test]
async fn consent_present_absent_expired_and_out_of_scope() {
    let dir = tempfile::tempdir().unwrap();
    for journal in backends(dir.path()) {
        let env = env_with(&journal).await;
        let people = &env.demo.mocks.population.person_order;
        let (absent, granted, narrow, lapsed) =
            (&people[20], &people[21], &people[22], &people[23]);
        let bank = IdentityServiceClient::new(env.channel_as("bank").await.unwrap());
        let get = |iin: &String| {
            let (mut bank, iin) = (bank.clone(), iin.clone());
            async move { bank.get_person(person_request(&iin)).await }
        };

        let s = get(absent).await.unwrap_err();
        assert_eq!(
            (s.code(), reason(&s).as_str()),
            (Code::PermissionDenied, "CONSENT_MISSING")
        );
        assert!(s.message().contains("one-time code"), "{}", s.message());
        assert!(!s.message().contains(absent.as_str()), "the IIN is masked");
        let bank_bin = kopir_mocks::pki::DEMO_BANK_BIN;
        assert!(
            !s.message().contains(bank_bin)
                && s.message()
                    .contains(&kopir_core::identifiers::mask(bank_bin)),
            "the requester's BIN is masked too: {}",
            s.message()
        );

        // A consent given by one-time code through the portal.
        let mut consents = ConsentServiceClient::new(env.channel.clone());
        let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
        let grant = |subject: &String, scope: &str| pb::GrantConsentRequest {
            subject: Some(pb::Iin {
                value: subject.clone(),
            }),
            grantee_bin: Some(pb::Bin {
                value: DEMO_BANK_BIN.into(),
            }),
            scope: vec![scope.into()],
            expires_at: expires.clone(),
            way: pb::ConsentWay::OneTimeCode as i32,
            confirmation: "otp-session-42".into(),
            ..Default::default()
        };
        let id = consents
            .grant_consent(grant(granted, "person"))
            .await
            .unwrap()
            .into_inner()
            .consent_id;
        assert!(get(granted).await.is_ok());
        // Withdrawn, it no longer holds.
        consents
            .revoke_consent(pb::RevokeConsentRequest {
                subject: Some(pb::Iin {
                    value: granted.clone(),
                }),
                consent_id: id,
                way: pb::ConsentWay::OneTimeCode as i32,
                confirmation: "otp-session-43".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let s = get(granted).await.unwrap_err();
        assert_eq!(reason(&s), "CONSENT_REVOKED");

        // Notarised consents: one for the address only, one lapsed.
        let notary = &env.demo.mocks.notary;
        let notarise = |subject: &String, scope: &str, days: i64| {
            notary
                .register(NewConsent {
                    subject_iin: subject.clone(),
                    grantee_iin: None,
                    grantee_bin: Some(DEMO_BANK_BIN.into()),
                    scope: vec![scope.into()],
                    valid_days: days,
                })
                .unwrap()
        };
        notarise(narrow, "address", 30);
        let s = get(narrow).await.unwrap_err();
        assert_eq!(reason(&s), "CONSENT_OUT_OF_SCOPE");
        assert!(s.message().contains("person record"), "{}", s.message());
        notarise(lapsed, "person", -1);
        let s = get(lapsed).await.unwrap_err();
        assert_eq!(reason(&s), "CONSENT_EXPIRED");
        let c = notarise(lapsed, "person", 10);
        assert!(
            get(lapsed).await.is_ok(),
            "a fresh notarised consent ({}) holds",
            c.number
        );
    }
}

#[tokio::test]
async fn list_accesses_shows_a_person_their_reads_and_refuses_anyone_else() {
    let dir = tempfile::tempdir().unwrap();
    for journal in backends(dir.path()) {
        let env = env_with(&journal).await;
        let me = env.sample_iin(); // the demo citizen's IIN
        let other = env.demo.mocks.population.person_order[30].clone();
        env.identity()
            .get_person(with_id(&me, "seen-1"))
            .await
            .unwrap();
        env.identity()
            .get_person(with_id(&other, "other-1"))
            .await
            .unwrap();

        let mut log = AccessLogServiceClient::new(env.channel.clone());
        let list = |iin: &str, doc: Option<pb::SignedDocument>| pb::ListAccessesRequest {
            iin: Some(pb::Iin { value: iin.into() }),
            signed: doc,
            ..Default::default()
        };
        const METHOD: &str = "kopir.v1.AccessLogService/ListAccesses";
        let mine = log
            .list_accesses(list(&me, Some(signed(&env, METHOD, &me, &me))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(mine.accesses.len(), 1, "{:?}", mine.accesses);
        let a = &mine.accesses[0];
        assert_eq!(a.request_id, "seen-1");
        assert_eq!(a.organisation_bin, "000940001238");
        assert_eq!(a.organisation_name, "egov.kz portal");
        assert_eq!(a.data, "person record");
        assert_eq!(a.purpose, "test purpose");
        assert!(!mine.seal.is_empty(), "the access log is sealed");

        // Another person's log, signed by me: refused.
        let s = log
            .list_accesses(list(&other, Some(signed(&env, METHOD, &other, &me))))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
        // Unsigned: refused.
        let s = log.list_accesses(list(&me, None)).await.unwrap_err();
        assert_eq!(reason(&s), "SIGNATURE_MISSING");
        // The refusals are journaled too.
        let store = journal::open(&journal).await.unwrap().unwrap();
        let refused = store
            .search(&journal::Query {
                method: Some(METHOD.into()),
                outcome: Some(Code::PermissionDenied as i32),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(refused.len(), 1);
    }
}

#[tokio::test]
async fn an_export_carries_its_chain_proof() {
    let dir = tempfile::tempdir().unwrap();
    for config in backends(dir.path()) {
        let j = Journal::start(journal::open(&config).await.unwrap().unwrap(), 64);
        for i in 0..10 {
            j.append(entry(i)).await.unwrap();
        }
        let out = dir.path().join(format!("{}.jsonl", config.schema));
        let header = kopir::journal::export(j.store().as_ref(), None, None, &out)
            .await
            .unwrap();
        assert_eq!(
            (header.records, header.anchor_seq, header.head_seq),
            (10, 0, 10)
        );
        let v = kopir::journal::verify_export(&out).unwrap();
        assert_eq!((v.records, v.broken), (10, None));
        // A changed byte in the file is found.
        let text = std::fs::read_to_string(&out).unwrap();
        std::fs::write(&out, text.replacen("concurrency", "concurrencY", 1)).unwrap();
        assert!(kopir::journal::verify_export(&out)
            .unwrap()
            .broken
            .is_some());
    }
}

#[tokio::test]
async fn a_family_link_needs_no_consent_and_a_stranger_does() {
    let dir = tempfile::tempdir().unwrap();
    let journal = backends(dir.path()).remove(0);
    let env = env_with(&journal).await;
    let population = &env.demo.mocks.population;
    let (parent, child) = population.sample_relatives(Relation::Child).unwrap();
    // Someone outside the parent's household.
    let stranger = population
        .person_order
        .iter()
        .find(|i| {
            **i != parent
                && !population
                    .relatives
                    .get(&parent)
                    .is_some_and(|r| r.iter().any(|(o, _)| o == *i))
        })
        .unwrap()
        .clone();
    // The parent's own signing certificate, from the demo CA.
    let signer = kopir_tests::person_signer(&env, &parent, "Test Parent");
    const METHOD: &str = "kopir.v1.IdentityService/GetPerson";
    let ask = |subject: &str, id: &str| {
        let payload = serde_json::to_vec(&serde_json::json!({
            "method": METHOD,
            "subject": subject,
            "requester": {"iin": parent},
            "purpose": "my child's record for school enrolment",
            "via": kopir_mocks::pki::DEMO_PORTAL_BIN,
            "nonce": uuid::Uuid::new_v4().to_string(),
        }))
        .unwrap();
        let mut r = with_id(subject, id);
        r.signed = Some(pb::SignedDocument {
            signatures: vec![sign(&signer, &env.demo.pki.ca, &payload)],
            payload,
        });
        r
    };

    let person = env
        .identity()
        .get_person(ask(&child, "family-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(person.person.unwrap().iin, child);
    let s = env
        .identity()
        .get_person(ask(&stranger, "family-2"))
        .await
        .unwrap_err();
    assert_eq!(
        (s.code(), reason(&s).as_str()),
        (Code::PermissionDenied, "CONSENT_MISSING"),
        "{}",
        s.message()
    );

    // The journal says on what ground the read was allowed.
    let records = search(&env, "family-1").await;
    assert_eq!(records[1].note, "family link: child (no consent needed)");
    assert_eq!(
        records[1].purpose, "my child's record for school enrolment",
        "the answer's record keeps the purpose the parent signed"
    );
    assert_eq!(records[1].actor, format!("iin:{parent}"));
}
