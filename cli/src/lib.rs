//! The `kopir` command's library: what the binary runs besides the gateway itself — the demo (the
//! mock registries and a gateway in one process), the benchmarks, the journal's command line and
//! the demo's sample contract. The one non-test user of `kopir-mocks`.

pub mod bench;
pub mod call;
pub mod demo;
pub mod journal;
pub mod sample;
