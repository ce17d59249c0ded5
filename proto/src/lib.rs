//! Köpir's gRPC API (`kopir.v1`), compiled from the `.proto` files beside this crate by protox
//! (pure Rust, no system `protoc`), shared by the gateway and the mock registries' gRPC front.

pub mod codec;
pub mod convert;

/// `kopir.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("kopir.v1");
}

/// Encoded file descriptor set of every `kopir.v1` proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/kopir_descriptor.bin"));
