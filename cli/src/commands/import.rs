//! `rampart import cedar POLICIES --schema S -o DIR`: translate another policy language into
//! a Rampart policy folder.
//!
//! **Key design decision:** the importer reads the source language with that language's own
//! parser (the `cedar-policy` crate) and translates from its documented JSON forms, so what
//! is translated is exactly what the other engine would run. It lives in the CLI, behind the
//! `cedar` cargo feature (on by default): the engine never depends on a foreign parser.

use crate::args::ImportCommand;
use crate::exit::CliError;

#[cfg(feature = "cedar")]
mod cedar;

pub fn run(command: ImportCommand) -> Result<u8, CliError> {
    match command {
        ImportCommand::Cedar(args) => run_cedar(args),
    }
}

#[cfg(feature = "cedar")]
fn run_cedar(args: crate::args::ImportCedarArgs) -> Result<u8, CliError> {
    cedar::run(&args)
}

#[cfg(not(feature = "cedar"))]
fn run_cedar(_args: crate::args::ImportCedarArgs) -> Result<u8, CliError> {
    Err(CliError::Input(
        "this `rampart` was built without the `cedar` feature: rebuild it with the default \
         features (or `--features cedar`) to import Cedar"
            .to_owned(),
    ))
}
