//! Configuration files as an operator writes them: parsing and validation never panic, and what
//! loads is usable (every registry present).
#![no_main]

use kopir_gateway::routing::RegistryId;
use kopir_gateway::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::parse(text, "fuzz") {
        for id in RegistryId::ALL {
            assert!(config.registry(id).is_ok(), "a loaded config lacks {id:?}");
        }
    }
});
