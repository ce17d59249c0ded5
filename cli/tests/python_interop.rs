//! A Python grpcio client, generated from `proto/` at test time, calls GetPerson on `kopir demo`
//! and carries the demo's sample pledge contract (its grpcurl JSON) through to REGISTERED.
//!
//! Needs `python3` with `grpcio` and `grpcio-tools`; `.ci/run` installs them and sets
//! `KOPIR_REQUIRE_PYTHON_INTEROP=1`, so there a missing toolchain fails the test instead of
//! skipping it.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use kopir_mocks::{Population, PopulationSpec};

fn python_has_grpc() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn python_grpcio_client_gets_a_person_from_the_demo() {
    if !python_has_grpc() {
        assert!(
            std::env::var("KOPIR_REQUIRE_PYTHON_INTEROP").as_deref() != Ok("1"),
            "python3 with grpcio and grpcio-tools is required (pip install grpcio grpcio-tools)"
        );
        eprintln!("SKIPPED: python3 with grpcio/grpcio-tools not found");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let gen = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(root.join("proto"))
        .arg(format!("--python_out={}", out.path().display()))
        .arg(format!("--grpc_python_out={}", out.path().display()))
        .arg(root.join("proto/kopir/v1/common.proto"))
        .arg(root.join("proto/kopir/v1/identity.proto"))
        .arg(root.join("proto/kopir/v1/pledge.proto"))
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "protoc: {}",
        String::from_utf8_lossy(&gen.stderr)
    );

    let demo = support::DemoChild::start();
    let (addr, iin) = (demo.addr.clone(), demo.iin.clone());
    let pki = demo.pki();

    let run = Command::new("python3")
        .arg(root.join("tests/python/get_person.py"))
        .args([&addr, &iin])
        .arg(&pki)
        .env("PYTHONPATH", out.path())
        .output()
        .unwrap();
    // The demo's sample pledge contract, as a bank using another toolchain would send it.
    let pledge = Command::new("python3")
        .arg(root.join("tests/python/pledge.py"))
        .arg(&addr)
        .arg(&demo.payments)
        .arg(&pki)
        .env("PYTHONPATH", out.path())
        .output()
        .unwrap();
    drop(demo);
    assert!(
        run.status.success(),
        "python client: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        pledge.status.success(),
        "python pledge client: {}",
        String::from_utf8_lossy(&pledge.stderr)
    );
    let flow: serde_json::Value =
        serde_json::from_str(String::from_utf8(pledge.stdout).unwrap().trim()).unwrap();
    eprintln!("pledge flow: {flow}");
    assert_eq!(flow["accepted"], "ACCEPTED");
    assert_eq!(flow["sealed"], true);
    assert_eq!(flow["final"], true, "{flow}");
    let states: Vec<&str> = flow["states"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(states.contains(&"SUBMITTED"), "{flow}");
    assert_eq!(states.last(), Some(&"REGISTERED"), "{flow}");
    let text = String::from_utf8(run.stdout).unwrap();
    let got: serde_json::Value = serde_json::from_str(text.trim()).unwrap();

    // The demo's embedded defaults generate the default population, so the expected record is
    // known here without asking the gateway.
    let pop = Population::generate(PopulationSpec::default());
    let expected = &pop.persons[&iin];
    assert_eq!(got["iin"], expected.iin.as_str());
    assert_eq!(got["surname"], expected.surname.as_str());
    assert_eq!(got["given_name"], expected.given_name.as_str());
    assert_eq!(got["life_status"], "LIFE_STATUS_ALIVE");
    // The published parts, through another toolchain: reference values in both languages,
    // every document with its status, the registration's address-register code, and a search.
    let d = &expected.details;
    assert_eq!(
        got["gender"],
        serde_json::json!([d.gender.code, d.gender.name_ru, d.gender.name_kz])
    );
    assert_eq!(
        got["citizenship"],
        serde_json::json!([
            d.citizenship.code,
            d.citizenship.name_ru,
            d.citizenship.name_kz
        ])
    );
    let documents: Vec<serde_json::Value> = d
        .documents
        .iter()
        .map(|doc| serde_json::json!([doc.kind.code, doc.number, doc.status.code]))
        .collect();
    assert_eq!(got["documents"], serde_json::Value::Array(documents));
    assert_eq!(
        got["ar_code"],
        d.reg_address.as_ref().map_or("", |r| r.ar_code.as_str())
    );
    if !d.documents.is_empty() {
        assert_eq!(got["found_by_document"], serde_json::json!([expected.iin]));
    }
    assert_eq!(got["registry"], "persons");
    assert!(!got["request_id_header"].as_str().unwrap_or("").is_empty());
    assert_eq!(got["invalid"]["code"], "INVALID_ARGUMENT");
    assert!(got["invalid"]["message"]
        .as_str()
        .unwrap()
        .contains("iin.value"));
}
