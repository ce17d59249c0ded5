//! IINs, BINs and cadastral numbers as clients type them: parsing never panics, and what parses
//! prints back as it was read.
#![no_main]

use kopir_core::identifiers::{Bin, CadastralNumber, Iin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(iin) = Iin::parse(text) {
        assert_eq!(iin.as_str(), text);
        let _ = iin.masked();
    }
    if let Ok(bin) = Bin::parse(text) {
        assert_eq!(bin.as_str(), text);
    }
    let _ = CadastralNumber::parse(text);
});
