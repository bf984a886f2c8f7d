//! Real services for the fleet tests (`fleet_*.rs`), installed by
//! `scripts/services-setup.sh`: each starter runs its own instance on loopback with its own
//! config and data in a temp dir, and stops it by PID on drop. `key_server`, `bundle_server`
//! and `pki` are the test harness's own identity provider, HTTPS bundle server and
//! certificates.

#![allow(dead_code)] // each test file uses a different part

pub mod bundle_server;
pub mod key_server;
pub mod pki;
pub mod prometheus;
pub mod redis;
pub mod registry;
pub mod rsyslog;
