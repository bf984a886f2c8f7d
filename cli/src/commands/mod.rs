//! One module per subcommand.

pub mod apikey;
pub mod bench;
pub mod build;
pub mod bundle;
pub mod check;
pub mod completions;
pub mod compliance;
pub mod eval;
pub mod explain;
pub mod fmt;
pub mod import;
pub mod log;
pub mod plan;
pub mod push;
pub mod serve;
pub mod test;
