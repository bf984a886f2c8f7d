//! Real services for the `fleet_*` tests, each started on loopback with its own data
//! folder and stopped on drop.

#![allow(dead_code)]

pub mod bundle_server;
pub mod registry;
