//! The pest parser generated from `src/grammar.pest`.

/// Parser for `.rampart` files; [`Rule`] names every grammar rule.
#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
pub(crate) struct RampartParser;
