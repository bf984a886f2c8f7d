//! Helpers shared by the test files (each test file includes what it uses).
#![allow(dead_code, reason = "each test file uses part of the host")]

pub mod host;
