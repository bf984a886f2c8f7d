//! `rampart check DIR…`: parse, type-check and lint; report every diagnostic.
//! `rampart lint DIR…`: the same run, reported as a lint run.
//!
//! Both print every diagnostic (lints only run on a folder without errors, so the errors
//! that stop them are part of a lint report too) and share the exit codes: 1 on an
//! error, or on a warning with `--deny-warnings`; 0 otherwise.

mod sarif;

use rampart_lang::Diagnostic;

use crate::args::{CheckArgs, CheckFormat};
use crate::exit::{CliError, FAILURE, OK};
use crate::output;
use crate::output::outln;
use crate::policy;

/// What the run is reported as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Check,
    Lint,
}

/// `rampart check`.
pub fn run(args: CheckArgs) -> Result<u8, CliError> {
    run_as(args, Mode::Check)
}

/// `rampart lint`: only lint findings and the errors that keep lints from running.
pub fn run_lint(args: CheckArgs) -> Result<u8, CliError> {
    run_as(args, Mode::Lint)
}

fn run_as(args: CheckArgs, mode: Mode) -> Result<u8, CliError> {
    let mut all = Vec::new();
    let mut files = 0usize;
    for dir in &args.dirs {
        let (set, compiled) = policy::compile_dir(dir)?;
        files += set.files.len();
        all.extend(compiled.diagnostics);
    }
    if mode == Mode::Lint {
        all.retain(|d| d.is_error() || is_lint(d));
    }
    let errors = all.iter().filter(|d| d.is_error()).count();
    let warnings = all.len() - errors;
    match args.format {
        CheckFormat::Json => {
            outln!("{}", output::diagnostics_json(&all));
        }
        CheckFormat::Sarif => {
            outln!("{:#}", sarif::report(&all));
        }
        CheckFormat::Human => {
            output::print_human(&all);
            let s = if files == 1 { "" } else { "s" };
            match mode {
                Mode::Check if errors == 0 => eprintln!("checked {files} file{s}: no errors"),
                Mode::Lint if all.is_empty() => eprintln!("linted {files} file{s}: no findings"),
                Mode::Check | Mode::Lint => {}
            }
        }
    }
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    Ok(if failed { FAILURE } else { OK })
}

/// A security lint finding (`L0xx`).
fn is_lint(diag: &Diagnostic) -> bool {
    rampart_lang::lints::lint(diag.code()).is_some()
}
