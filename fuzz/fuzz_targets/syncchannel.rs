//! A registry's SyncChannel reply as it arrives, any bytes: the adapter reads it (envelope,
//! status, fault `ErrorInfo`, `<data>` as element or `xs:string`, enveloped signature) and the
//! WS-Security check runs over it, the persons and legal-entities databases' payload readers
//! read its `<data>`, none panicking; canonicalizing a document twice gives the same bytes.
#![no_main]

use std::sync::OnceLock;

use kopir_adapters::syncchannel::{Endpoint, SyncChannelClient, Wire};
use kopir_xmlsec::c14n::{canonicalize, Method};
use libfuzzer_sys::fuzz_target;

fn client() -> &'static (tokio::runtime::Runtime, SyncChannelClient) {
    static CLIENT: OnceLock<(tokio::runtime::Runtime, SyncChannelClient)> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let endpoint = Endpoint {
            url: "http://127.0.0.1:9/SyncChannel".parse().expect("url"),
            sender_id: "KOPIR".into(),
            sender_password: String::new(),
            connect_timeout: std::time::Duration::from_millis(10),
            request_timeout: std::time::Duration::from_millis(10),
            pool_max_idle: 0,
            wire: Wire {
                not_found_codes: vec!["NOTF001".into()],
                ..Wire::default()
            },
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let client = SyncChannelClient::new("persons", endpoint).expect("client");
        (rt, client)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rt, client) = client();
    let _ = rt.block_on(client.read_reply(text, |payload| {
        let persons = payload
            .data(kopir_adapters::persons::parse_search)
            .map(|r| r.1.len());
        let links = payload
            .data(kopir_adapters::persons::parse_links)
            .map(|r| r.1.len());
        let entity = payload
            .root(kopir_adapters::legal_entities::parse_response)
            .map(|r| r.1.is_some());
        Ok((persons.is_ok(), links.is_ok(), entity.is_ok()))
    }));
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return;
    };
    let _ =
        kopir_xmlsec::wsse::verify_envelope(&doc, chrono::Utc::now(), std::time::Duration::ZERO);
    let _ = kopir_xmlsec::enveloped::verify(text);
    for method in [
        Method::exclusive(),
        Method::from_uri(kopir_xmlsec::c14n::C14N).expect("c14n"),
    ] {
        let Ok(once) = canonicalize(doc.root_element(), None, &method) else {
            continue;
        };
        let once = String::from_utf8(once).expect("canonical XML is UTF-8");
        let again = roxmltree::Document::parse(&once).expect("canonical XML parses");
        let twice = canonicalize(again.root_element(), None, &method).expect("canonicalizes again");
        assert_eq!(
            once.as_bytes(),
            twice.as_slice(),
            "canonicalization is not idempotent"
        );
    }
});
