//! `rampart completions SHELL`: prints the shell completion script, generated from the
//! same argument definitions the command parses with, so it never lags behind a new flag.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::exit::{CliError, OK};
use crate::output::out;

pub fn run(args: &CompletionsArgs) -> Result<u8, CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "rampart", &mut script);
    let script = String::from_utf8(script)
        .map_err(|_| CliError::Input("the completion script is not UTF-8".to_owned()))?;
    out!("{script}");
    Ok(OK)
}
