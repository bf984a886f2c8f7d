//! Rampart's own protobuf API, generated from `sidecar/proto/rampart/v1/*.proto` by
//! `build.rs`: the `rampart.v1` messages, the `Decisions` server the sidecar runs, and a
//! `Decisions` client generic over any gRPC channel (for tests and Rust callers).

/// The `rampart` protobuf packages.
pub mod rampart {
    /// `rampart.v1`: the decision API (`Decisions/Decide`, `Decisions/DecideBatch`).
    pub mod v1 {
        #![allow(clippy::all, clippy::pedantic, missing_docs)]
        tonic::include_proto!("rampart.v1");
    }
}

/// The encoded `FileDescriptorSet` of the `rampart.v1` protos, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/rampart_v1_descriptor.bin"));
