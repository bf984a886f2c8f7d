//! Every file the CLI reads, with its size limit (docs/cli.md, "Input limits").
//!
//! Reading goes through [`rampart_lang::input`]: at most the limit is ever read, so a
//! device or an endless pipe (`--request /dev/zero`) cannot grow memory; only regular files
//! are opened (a path of `-` reads standard input, bounded the same way); a leading UTF-8
//! byte order mark is ignored. Every failure is an I/O error of the command (exit 2).

use std::path::Path;

use rampart_lang::input::{self, ReadError};

use crate::exit::CliError;

/// What a file is, which sets its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A `.rampart` file (`rampart fmt`): the language's own limit.
    Policy,
    /// One request (`rampart eval --request`).
    Request,
    /// Requests to replay (`rampart bench --requests`).
    Requests,
    /// Entity data (`--entities`, `entities.json`, `entities "…"` in tests).
    Entities,
    /// A bundle written by `rampart build`.
    Bundle,
    /// An Ed25519 key (PEM).
    Key,
    /// A detached signature (`FILE.sig`).
    Signature,
    /// A mapping of entity types to SQL tables (`rampart plan --sql`).
    Mapping,
    /// Cedar policies or a Cedar schema (`rampart import cedar`).
    #[cfg_attr(
        not(feature = "cedar"),
        expect(dead_code, reason = "only `rampart import cedar` reads Cedar")
    )]
    Cedar,
}

const MIB: u64 = 1024 * 1024;

impl Input {
    /// The largest input of this kind, in bytes.
    pub const fn limit(self) -> u64 {
        match self {
            Input::Policy => rampart_lang::sources::MAX_FILE_BYTES,
            Input::Request => 16 * MIB,
            Input::Requests | Input::Entities | Input::Bundle => 256 * MIB,
            Input::Key => rampart_bundle::signature::MAX_KEY_FILE_BYTES as u64,
            Input::Signature => rampart_bundle::MAX_SIGNATURE_BYTES as u64,
            Input::Mapping => MIB,
            Input::Cedar => 16 * MIB,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Input::Policy => "policy file",
            Input::Request => "request",
            Input::Requests => "request file",
            Input::Entities => "entity file",
            Input::Bundle => "bundle",
            Input::Key => "key file",
            Input::Signature => "signature file",
            Input::Mapping => "mapping file",
            Input::Cedar => "Cedar file",
        }
    }
}

/// Reads the text of `path` (standard input for `-`) within the limit of `kind`, without
/// a leading byte order mark.
pub fn read(path: &Path, kind: Input) -> Result<String, CliError> {
    decode(path, kind, read_bytes(path, kind)?)
}

/// The bytes read from `path` as UTF-8 text, without a leading byte order mark.
pub fn decode(path: &Path, kind: Input, bytes: Vec<u8>) -> Result<String, CliError> {
    input::decode(bytes).map_err(|error| failure(path, kind, error))
}

/// Reads the bytes of `path` (standard input for `-`) within the limit of `kind`.
pub fn read_bytes(path: &Path, kind: Input) -> Result<Vec<u8>, CliError> {
    let result = if is_stdin(path) {
        input::read_stream(std::io::stdin().lock(), kind.limit())
    } else {
        input::read_file(path, kind.limit())
    };
    result.map_err(|error| failure(path, kind, error))
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn failure(path: &Path, kind: Input, error: ReadError) -> CliError {
    let shown = if is_stdin(path) {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    };
    match error {
        ReadError::Io(source) => CliError::Read {
            path: shown,
            source,
        },
        ReadError::NotAFile => CliError::Input(format!(
            "`{shown}` is not a regular file (use `-` to read standard input)"
        )),
        ReadError::TooLarge { limit } => CliError::Input(format!(
            "`{shown}` is larger than the {} limit for a {}",
            input::size(limit),
            kind.what()
        )),
        ReadError::NotUtf8 { at } => {
            CliError::Input(format!("`{shown}` is not valid UTF-8 (at byte {at})"))
        }
    }
}

/// Refuses a path that exists but is not a regular file, before the CLI hands it to code
/// that reads it on its own (`rampart serve --jwks`, `rampart log verify`); a missing file
/// is left for that code to report.
pub fn refuse_special_file(path: &Path) -> Result<(), CliError> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(CliError::Input(format!(
            "`{}` is not a regular file",
            path.display()
        ))),
        Ok(_) | Err(_) => Ok(()),
    }
}
