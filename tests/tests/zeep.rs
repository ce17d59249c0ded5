//! A SOAP toolkit nobody here wrote, Python zeep, generates a client from a mock registry's
//! `?wsdl` (the project's own WSDL and XSD set), signs its request with WS-Security through
//! python-xmlsec (libxmlsec1), gets an answer, and checks the registry's signature on it.
//! `.ci/run` installs zeep and xmlsec from PyPI and sets `KOPIR_REQUIRE_XML_TOOLS=1`, so there
//! a missing toolkit fails instead of skipping.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use kopir_tests::{run_tool, test_config, Env};

fn zeep_here() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import zeep, xmlsec"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var("KOPIR_REQUIRE_XML_TOOLS").as_deref() != Ok("1"),
        "Python zeep and xmlsec are required (pip install zeep xmlsec)"
    );
    if !ok {
        eprintln!("skipped: Python zeep or xmlsec not installed");
    }
    ok
}

// The Python client blocks its thread while the mock answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zeep_client_generated_from_the_mock_wsdl_calls_the_registry() {
    if !zeep_here() {
        return;
    }
    let env = Env::start(test_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let keys = &env.demo.pki;
    // Any certificate of the demo CA signs for the client; the citizen's is RSA (the gateway's
    // own is ECDSA), so both algorithms cross python-xmlsec and the mock.
    let cert = write("client.pem", keys.citizen.cert_pem().unwrap());
    let key = write("client.key", keys.citizen.key_pem().unwrap());
    let registry = write("registry.pem", keys.registry_wsse.cert_pem().unwrap());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/syncchannel_zeep.py");
    let iin = env.sample_iin();
    // The persons database opens a record only with a consent token bound to the presenting key.
    let token = kopir_tests::consent_token(&env, &iin, "zeep-client").await;
    let wsdl = format!("{}?wsdl", env.demo.mocks.persons.url());
    let call = |registry_cert: &Path| {
        run_tool(
            Command::new("python3")
                .arg(&script)
                .arg(&wsdl)
                .arg(&cert)
                .arg(&key)
                .arg(registry_cert)
                .arg(kopir_mocks::DEFAULT_SENDER_ID)
                .arg(kopir_mocks::DEFAULT_SENDER_PASSWORD)
                .arg(&iin)
                .arg(&token)
                .arg("zeep-client"),
        )
    };
    let (ok, out) = call(&registry);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with('[')).collect();
    assert_eq!(lines, vec!["SCSS001", iin.as_str()], "{out}");
    // Checked against another certificate, the registry's signature is refused by zeep.
    let (ok, out) = call(&cert);
    assert!(!ok, "zeep took a reply signed by another key: {out}");
    assert!(out.contains("SignatureVerificationFailed"), "{out}");
}
