//! Services the `fleet_*` tests start and stop themselves, each on loopback with its own
//! data, killed on drop and bounded in time.

#![allow(dead_code)] // each test file uses a different part

pub mod key_server;
pub mod pki;
