//! Compiles Rampart's own protos (`proto/rampart/v1/*.proto`) without protoc: protox
//! parses them (the well-known types it needs are built in), tonic-prost-build generates
//! the messages and the `rampart.v1.Decisions` server and client, and the encoded file
//! descriptor set is written beside them for gRPC reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: [&str; 1] = ["rampart/v1/decisions.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = protox::compile(PROTOS, ["proto"])?;
    std::fs::write(out.join("rampart_v1_descriptor.bin"), files.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // The client is generic over any channel: the sidecar itself has no client transport.
        .build_transport(false)
        // prost, with each request's size, fields and batch items bounded before decoding.
        .codec_path("crate::decisions::codec::DecisionsCodec")
        .compile_fds(files)?;
    Ok(())
}
