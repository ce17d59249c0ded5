//! Compiles `proto/` with protox (pure Rust), so a build needs no system `protoc`.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = [
        "kopir/v1/common.proto",
        "kopir/v1/identity.proto",
        "kopir/v1/operator.proto",
        "kopir/v1/privacy.proto",
        "kopir/v1/notary.proto",
        "kopir/v1/cadastre.proto",
        "kopir/v1/pledge.proto",
        "kopir/v1/channel.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", proto_root.join(f).display());
    }
    let fds = protox::compile(files, [&proto_root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("kopir_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Bad request bytes are the caller's INVALID_ARGUMENT, not tonic's INTERNAL.
        .codec_path("crate::codec::KopirCodec")
        .compile_fds(fds)?;
    Ok(())
}
