//! Side-by-side benchmarks of Rampart, cedar-policy and regorus.
//!
//! **Key design decision:** one generator ([`gen`]) builds each workload as a logical
//! model and writes it in all three languages, with one entity data set and one
//! fixed-seed request stream; before anything is timed, [`agree::check`] makes every
//! engine decide every request and fails loudly on any disagreement. So the numbers
//! compare the same decisions, not merely similar-looking policies.
//!
//! **Design decision:** the figures a target is checked against are CPU time of the
//! deciding thread, the median of several rounds that interleave the engines, so that a
//! loaded machine slows a round, not a verdict.
//!
//! Code map: [`gen`] (generator and emitters), [`engines`] (one adapter per engine, each
//! deciding prepared requests and end to end from request JSON text, and the floor),
//! [`agree`] (the agreement check), [`measure`] (wall and CPU time per decision in rounds,
//! throughput, allocations), [`report`] (the `report` command, its tables, JSON and
//! targets), [`alloc`] (a counting global allocator the report binary installs: allocation
//! counts and live heap bytes), [`rss`] (resident memory).

pub mod agree;
pub mod alloc;
pub mod engines;
pub mod error;
pub mod gen;
pub mod measure;
pub mod report;
pub mod rss;

pub use error::BenchError;
