//! Logs and spans over a full run carry no IIN, BIN or registry password, only masked forms.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use kopir_tests::{person_request, test_config, unknown_iin, Env};
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_personal_number_or_secret_in_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,h2=info,hyper=info,hyper_util=info,tower=info,reqwest=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        // Span openings and closings are printed with their fields, so spans are checked too.
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .init();

    let mut config = test_config();
    config
        .registry_mut(kopir_gateway::routing::RegistryId::Persons)
        .unwrap()
        .deadline_ms = 300;
    let env = Env::start(config).await;
    let pop = env.demo.mocks.population.clone();
    let person = pop.sample_person().unwrap();
    let entity = pop.sample_entity().unwrap();
    let unknown = unknown_iin(&env);
    let mut client = env.identity();
    client
        .get_person(person_request(&person.iin))
        .await
        .unwrap();
    client
        .get_person(person_request(&person.iin))
        .await
        .unwrap();
    client.get_person(person_request(&unknown)).await.ok();
    client
        .get_legal_entity(kopir_tests::entity_request(&entity.bin))
        .await
        .unwrap();
    env.demo.mocks.persons.set_latency_ms(600);
    let slow = pop.person_order[5].clone();
    client.get_person(person_request(&slow)).await.ok();
    env.demo.mocks.persons.stop().await;
    let down = pop.person_order[6].clone();
    client.get_person(person_request(&down)).await.ok();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request"), "spans were recorded:\n{logs}");
    // No exporter is set, so no trace exists: the request lines carry no all-zero trace id.
    assert!(logs.contains("request done"), "{logs}");
    assert!(
        !logs.contains("trace_id=00000000000000000000000000000000"),
        "an all-zero trace id was logged"
    );
    assert!(logs.contains(&format!("{}******{}", &person.iin[..4], &person.iin[10..])));
    for secret in [
        person.iin.as_str(),
        unknown.as_str(),
        entity.bin.as_str(),
        slow.as_str(),
        down.as_str(),
        person.surname.as_str(),
        "demo-password",
    ] {
        assert!(!logs.contains(secret), "logs leak {secret}:\n{logs}");
    }
}
