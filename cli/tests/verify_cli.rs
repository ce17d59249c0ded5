//! `kopir verify` on a sealed response file: valid as sealed, invalid after one changed byte.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use kopir_gateway::api::Sealed;
use kopir_gateway::proto::v1 as pb;
use kopir_mocks::pki::DemoPki;
use kopir_trust::seal::Sealer;
use prost::Message;

fn verify(file: &std::path::Path, cert: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kopir"))
        .arg("verify")
        .arg(file)
        .arg("--cert")
        .arg(cert)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn kopir_verify_accepts_a_sealed_response_and_rejects_a_changed_one() {
    let dir = tempfile::tempdir().unwrap();
    let pki = DemoPki::generate("900502400668", Duration::from_secs(60)).unwrap();
    pki.write(dir.path()).unwrap();
    let sealer = Sealer::load(
        &dir.path().join("gateway-seal.crt"),
        &dir.path().join("gateway-seal.key"),
    )
    .unwrap();
    let mut response = pb::GetPersonResponse {
        person: Some(pb::Person {
            iin: "900502400668".into(),
            surname: "Сейткали".into(),
            ..Default::default()
        }),
        info: Some(pb::ResponseInfo {
            request_id: "req-1".into(),
            registry: "persons".into(),
            ..Default::default()
        }),
        seal: Vec::new(),
    };
    let seal = sealer
        .seal(
            &response.encode_to_vec(),
            "req-1",
            "persons",
            "kopir.v1.IdentityService/GetPerson",
        )
        .unwrap();
    response.set_seal(seal);
    let bytes = response.encode_to_vec();
    let file = dir.path().join("response.bin");
    let cert = dir.path().join("gateway-seal.crt");
    std::fs::write(&file, &bytes).unwrap();

    let (ok, text) = verify(&file, &cert);
    assert!(ok, "{text}");
    assert!(
        text.contains("SEAL VALID") && text.contains("req-1"),
        "{text}"
    );

    let mut changed = bytes.clone();
    changed[10] ^= 0x01;
    std::fs::write(&file, &changed).unwrap();
    let (ok, text) = verify(&file, &cert);
    assert!(!ok, "a changed byte still verified: {text}");
    assert!(text.contains("SEAL INVALID"), "{text}");

    // The portal's certificate is not the gateway's sealing certificate.
    std::fs::write(&file, &bytes).unwrap();
    let (ok, text) = verify(&file, &dir.path().join("portal.crt"));
    assert!(!ok, "{text}");
}
