//! `rampart explain CODE`: the documentation of a diagnostic or lint.

use crate::args::ExplainArgs;
use crate::exit::{CliError, OK};
use crate::output::outln;

pub fn run(args: ExplainArgs) -> Result<u8, CliError> {
    let code = args.code.trim().to_ascii_uppercase();
    match rampart_lang::lints::code_docs(&code) {
        Some(doc) => {
            outln!("{doc}");
            Ok(OK)
        }
        None => Err(CliError::Input(format!(
            "unknown code `{}`; codes look like `E005` or `L001`",
            args.code
        ))),
    }
}
