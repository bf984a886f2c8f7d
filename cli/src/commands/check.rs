//! `rampart check DIR…`: parse, type-check and lint; report every diagnostic.

use crate::args::{CheckArgs, CheckFormat};
use crate::exit::{CliError, FAILURE, OK};
use crate::output;
use crate::output::outln;
use crate::policy;

pub fn run(args: CheckArgs) -> Result<u8, CliError> {
    let mut all = Vec::new();
    let mut files = 0usize;
    for dir in &args.dirs {
        let (set, compiled) = policy::compile_dir(dir)?;
        files += set.files.len();
        all.extend(compiled.diagnostics);
    }
    let errors = all.iter().filter(|d| d.is_error()).count();
    let warnings = all.len() - errors;
    match args.format {
        CheckFormat::Json => {
            outln!("{}", output::diagnostics_json(&all));
        }
        CheckFormat::Human => {
            output::print_human(&all);
            if errors == 0 {
                let s = if files == 1 { "" } else { "s" };
                eprintln!("checked {files} file{s}: no errors");
            }
        }
    }
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    Ok(if failed { FAILURE } else { OK })
}
