//! Exit codes: part of the command-line interface, tested with assert_cmd.

/// Everything passed: no errors, all tests passed, the decision is allow.
pub const OK: u8 = 0;
/// Policy errors, failing tests, or a deny from `rampart eval`.
pub const FAILURE: u8 = 1;
/// Bad usage or an I/O error (missing file, unreadable folder, malformed JSON input file).
pub const USAGE: u8 = 2;

/// An error that ends the command with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Input(String),
}
