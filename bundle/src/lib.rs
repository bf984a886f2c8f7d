//! Rampart bundles across a fleet: how a compiled bundle is signed and verified, and (with
//! the `transport` feature) how it travels — pushed to and pulled from an OCI registry or an
//! HTTPS server.
//!
//! **Key design decision:** verification needs nothing but bytes and a public key, so the
//! crate without `transport` has no async runtime, no network and no TLS stack, and builds
//! for `wasm32-unknown-unknown`; everything that talks to the network sits behind
//! `transport`, which the sidecar and the CLI enable. The outbound HTTPS client of the
//! sidecar (bundle and key fetches, log shipping) is built here too, once, so that every
//! outgoing connection trusts the same roots ([`transport::http_client`]).

#[cfg(feature = "transport")]
pub mod transport;

pub mod signature;

pub use signature::{
    digest, sign, verify, KeyError, Manifest, PublicKey, SigningKey, Verified, VerifyError,
    DEFAULT_MAX_BUNDLE_BYTES, MAX_SIGNATURE_BYTES,
};
