//! Side-by-side benchmarks of Rampart, cedar-policy and regorus.
//!
//! **Key design decision:** one generator ([`gen`]) builds each workload as a logical
//! model and writes it in all three languages, with one entity data set and one
//! fixed-seed request stream; before anything is timed, [`agree::check`] makes every
//! engine decide every request and fails loudly on any disagreement. So the numbers
//! compare the same decisions, not merely similar-looking policies.
//!
//! Code map: [`gen`] (generator and emitters), [`engines`] (one adapter per engine),
//! [`agree`] (the agreement check), [`measure`] (latency, throughput, allocations),
//! [`report`] (the `report` command's tables and JSON), [`alloc`] (a counting global
//! allocator the report binary installs), [`rss`] (resident memory).

pub mod agree;
pub mod alloc;
pub mod engines;
pub mod error;
pub mod gen;
pub mod measure;
pub mod report;
pub mod rss;

pub use error::BenchError;
