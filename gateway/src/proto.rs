//! The gRPC API types, from the `kopir-proto` crate.
pub use kopir_proto::{v1, FILE_DESCRIPTOR_SET};
