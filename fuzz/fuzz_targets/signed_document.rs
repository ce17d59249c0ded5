//! A signed request as a client sends it: the JSON document and a CMS signature, through the
//! gateway's own checks (document, binding, CMS decoding, the signer's certificate). Never a
//! panic; with no trusted root, never an accepted signature.
#![no_main]

use std::sync::OnceLock;

use kopir_core::identifiers::Bin;
use kopir_trust::config::TrustConfig;
use kopir_trust::document::{CallFacts, SignedDocument, SignerRule};
use kopir_trust::Trust;
use libfuzzer_sys::fuzz_target;

fn trust() -> &'static (Trust, tokio::runtime::Runtime, Bin) {
    static ONCE: OnceLock<(Trust, tokio::runtime::Runtime, Bin)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let trust = Trust::new(&TrustConfig::default()).expect("a trust store without roots");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let portal = Bin::parse("000940001238").expect("the demo portal's BIN");
        (trust, runtime, portal)
    })
}

// The input: a two-byte little-endian payload length, the payload (the JSON document), then one
// CMS signature; an odd length asks for the requester rule. The seeds are real signed requests.
fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes(*head)).min(rest.len());
    let (payload, signature) = rest.split_at(len);
    let (trust, runtime, portal) = trust();
    let doc = SignedDocument {
        payload: payload.to_vec(),
        signatures: vec![signature.to_vec()],
    };
    let rule = if len % 2 == 1 {
        SignerRule::Requester
    } else {
        SignerRule::None
    };
    let outcome = runtime.block_on(trust.verify_document(
        Some(&doc),
        rule,
        CallFacts {
            method: "kopir.v1.IdentityService/GetPerson",
            subject: Some("900502400668"),
            client_bin: Some(portal),
        },
    ));
    // No root is trusted, so no document that carries a signature may pass.
    if let Ok(Some(signers)) = outcome {
        assert!(
            signers.signatures.is_empty(),
            "a signature verified without a root"
        );
    }
});
