//! Köpir's vocabulary, with no I/O: parsed identifiers (IIN, BIN, cadastral number) kept parsed
//! end to end, who a call is by or about ([`principal::Principal`]), the registries
//! ([`registry::RegistryId`]), every gRPC method's full name generated from `proto/`
//! ([`methods`]), and who must sign a method's requests ([`signer::SignerRule`]). Every other
//! crate of the workspace may use it; it uses none of them.

pub mod channel;
pub mod digest;
pub mod identifiers;
pub mod methods;
pub mod model;
pub mod pledge;
pub mod principal;
pub mod registry;
pub mod signer;
pub mod time;
