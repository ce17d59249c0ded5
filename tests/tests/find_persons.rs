//! IdentityService.FindPersons: the persons database's search by name and birth date, or by an
//! identity document's number, through the gateway and the mock over real sockets.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Datelike;
use kopir_gateway::proto::convert;
use kopir_gateway::proto::v1 as pb;
use kopir_tests::{test_config, Env};
use tonic::Code;

fn by_name(
    surname: &str,
    given: &str,
    patronymic: &str,
    birth: chrono::NaiveDate,
) -> pb::FindPersonsRequest {
    pb::FindPersonsRequest {
        meta: None,
        criterion: Some(pb::find_persons_request::Criterion::ByName(
            pb::NameAndBirthDate {
                surname: surname.into(),
                given_name: given.into(),
                patronymic: patronymic.into(),
                birth_date: Some(convert::date(birth)),
            },
        )),
        signed: None,
    }
}

fn by_document(number: &str) -> pb::FindPersonsRequest {
    pb::FindPersonsRequest {
        meta: None,
        criterion: Some(pb::find_persons_request::Criterion::DocumentNumber(
            number.into(),
        )),
        signed: None,
    }
}

#[tokio::test]
async fn a_search_by_name_or_document_returns_every_field_of_the_persons_it_finds() {
    let env = Env::start(test_config()).await;
    let pop = env.demo.mocks.population.clone();
    let person = pop
        .adults()
        .find(|p| p.details.documents.len() > 1)
        .expect("an adult with an old passport and a card");
    let mut identity = env.identity();

    // By name and birth date: this person, and only persons of that name and date.
    let found = identity
        .find_persons(by_name(
            &person.surname,
            &person.given_name,
            &person.patronymic,
            person.birth_date,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!found.persons.is_empty());
    assert!(found.persons.iter().all(|p| p.surname == person.surname
        && p.given_name == person.given_name
        && p.birth_date
            .as_ref()
            .map(|d| (d.year, d.month as u32, d.day as u32))
            == Some((
                person.birth_date.year(),
                person.birth_date.month(),
                person.birth_date.day()
            ))));
    let got = found
        .persons
        .iter()
        .find(|p| p.iin == person.iin)
        .expect("the person is found");
    assert_eq!(*got, convert::person(person));
    assert_eq!(found.info.unwrap().registry, "persons");

    // By an identity document's number, the current card's or the old passport's.
    for doc in &person.details.documents {
        let found = identity
            .find_persons(by_document(&doc.number))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            found.persons,
            vec![convert::person(person)],
            "by {}",
            doc.number
        );
    }

    // No one matches: an empty list, not an error.
    let none = identity
        .find_persons(by_name("Жоқов", "Жоқ", "", person.birth_date))
        .await
        .unwrap()
        .into_inner();
    assert!(none.persons.is_empty());
    let none = identity
        .find_persons(by_document("X0000000"))
        .await
        .unwrap()
        .into_inner();
    assert!(none.persons.is_empty());

    // The search token the gateway presented names no one, under the portal's lawful basis.
    let (_, token) = kopir_tests::sent_token(&env);
    let grant = env.demo.mocks.kdp.tokens().grant(&token).expect("issued");
    assert_eq!(grant.subject, None);
    assert!(grant.basis.starts_with("lawful access"), "{}", grant.basis);
}

#[tokio::test]
async fn a_search_is_refused_without_a_criterion_or_a_lawful_basis() {
    let env = Env::start(test_config()).await;
    let mut identity = env.identity();
    let birth = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    for (request, field) in [
        (
            pb::FindPersonsRequest {
                meta: None,
                criterion: None,
                signed: None,
            },
            "criterion",
        ),
        (by_name("", "", "Серікұлы", birth), "by_name"),
        (by_document("12 34"), "document_number"),
        (by_document(""), "document_number"),
        (
            pb::FindPersonsRequest {
                meta: None,
                criterion: Some(pb::find_persons_request::Criterion::ByName(
                    pb::NameAndBirthDate {
                        surname: "Абаев".into(),
                        birth_date: Some(pb::Date {
                            year: 1990,
                            month: 2,
                            day: 30,
                        }),
                        ..Default::default()
                    },
                )),
                signed: None,
            },
            "by_name.birth_date",
        ),
    ] {
        let s = identity.find_persons(request).await.unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        assert!(s.message().contains(field), "{}", s.message());
    }
    // The bank is not listed for the search.
    let bank = env.channel_as("bank").await.unwrap();
    let s = pb::identity_service_client::IdentityServiceClient::new(bank)
        .find_persons(by_name("Абаев", "Ерлан", "", birth))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
}
