//! `rampart apikey hash`: the SHA-256 of an API key, for the `sha256` field of a record of
//! `rampart serve --api-keys FILE`. The key is read from standard input (never from the
//! command line, where it would be seen in the process list and the shell history).
//!
//! Exit codes: 0 with the hex digest printed, 2 when the input is empty, not UTF-8 or
//! longer than 4 KiB.

use std::io::Read as _;

use crate::args::{ApikeyArgs, ApikeyCommand};
use crate::exit::{CliError, OK};
use crate::output::write_stdout;

/// The longest key accepted (the sidecar refuses longer ones).
const MAX_KEY_BYTES: u64 = 4096;

pub fn run(args: ApikeyArgs) -> Result<u8, CliError> {
    match args.command {
        ApikeyCommand::Hash => hash(),
    }
}

fn hash() -> Result<u8, CliError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_KEY_BYTES + 2)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::Input(format!("cannot read the key from standard input: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::Input("the key is not UTF-8 text".to_owned()))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(CliError::Input(
            "no key on standard input (`rampart apikey hash < key.txt`)".to_owned(),
        ));
    }
    if key.len() as u64 > MAX_KEY_BYTES {
        return Err(CliError::Input(
            "the key is longer than 4096 bytes".to_owned(),
        ));
    }
    write_stdout(format_args!("{}\n", rampart_sidecar::api_key_hash(key)));
    Ok(OK)
}
