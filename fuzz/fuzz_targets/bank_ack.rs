//! A bank's answer to a pledge notice, as the callback adapter reads it after the transport: an
//! HTTP status and a body, judged for the event sent. Never a panic; only a 2xx JSON body naming
//! that very event is an acknowledgement.
#![no_main]

use libfuzzer_sys::fuzz_target;

const EVENT: &str = "3f2b8c1e-6d4a-4f1b-9a7e-2c5d8e9f0a1b";

// The input: a two-byte little-endian HTTP status, then the body. The seeds are real answers.
fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = u16::from_le_bytes(*head);
    let judged = kopir_adapters::bank::judge_answer("bank", EVENT, status, body);
    if judged.is_ok() {
        assert!((200..300).contains(&status), "accepted under HTTP {status}");
        let value: serde_json::Value = serde_json::from_slice(body).expect("accepted JSON parses");
        assert_eq!(value["event_id"], EVENT, "accepted for another event");
    }
});
