//! Generated protobuf types and services (compiled from `proto/` by protox at build time).
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `kopir.v1`.
pub mod v1 {
    tonic::include_proto!("kopir.v1");
}

/// Encoded file descriptor set of every `kopir.v1` proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/kopir_descriptor.bin"));
