//! Real services started by the `fleet_*` tests on loopback, each in its own temp folder
//! and stopped on drop (`scripts/services-setup.sh` installs them).

#![allow(dead_code)]

pub mod redis;
