#![forbid(unsafe_code)]
//! Rampart's policy language: text in, checked program and compiled [`Bundle`] out.
//!
//! **Key design decision:** all the work that does not depend on a request happens here,
//! once: parsing, name resolution, type checking against the schema, lints, constant
//! folding, glob and regex validation, interning. The result is a [`Bundle`], plain data
//! the engine loads without a parser (`rampart-engine` has no dependency on this crate).
//!
//! ```text
//! PolicySet (files) ──parse──▶ ast::File* ──check──▶ diagnostics ──compile──▶ Bundle + tests
//! ```
//!
//! [`Bundle`]: rampart_engine::Bundle

pub mod ast;
pub mod check;
pub mod compile;
pub mod compliance;
pub mod controls;
pub mod diagnostics;
pub mod fmt;
pub mod input;
pub mod invisible;
pub mod lints;
pub mod parser;
pub mod project;
pub mod sources;
pub mod testing;
pub mod timings;

pub use compile::{compile, compile_timed, Compiled};
pub use diagnostics::{Diagnostic, Severity, SourceFile};
pub use fmt::{format_file, format_source};
pub use parser::parse;
pub use sources::{stdlib_packages, PolicySet};
pub use testing::TestCase;
