//! Real services the fleet tests start on loopback, each with its own config and data
//! directory, stopped by PID on drop (`scripts/services-setup.sh` installs them).
#![allow(dead_code)]

pub mod rsyslog;
