//! `rampart build DIR -o FILE`: compile a folder into a bundle file the engine loads
//! without the parser.

use crate::args::BuildArgs;
use crate::exit::{CliError, FAILURE, OK};
use crate::policy;

pub fn run(args: BuildArgs) -> Result<u8, CliError> {
    let Some(loaded) = policy::load_reporting(&args.dir)? else {
        return Ok(FAILURE);
    };
    let bundle = loaded.engine.bundle();
    std::fs::write(&args.output, bundle.to_json()).map_err(|source| CliError::Write {
        path: args.output.display().to_string(),
        source,
    })?;
    eprintln!(
        "wrote {} ({} rules, {} obligations, {} routes, revision {})",
        args.output.display(),
        bundle.rules.len(),
        bundle.obligations.len(),
        bundle.routes.len(),
        bundle.revision
    );
    Ok(OK)
}
