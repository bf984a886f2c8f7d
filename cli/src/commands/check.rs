//! `rampart check DIR…`: parse, type-check and lint; report every diagnostic.
//! `rampart lint DIR…`: the same run, reported as a lint run.
//!
//! Both print every diagnostic (lints only run on a folder without errors, so the errors
//! that stop them are part of a lint report too) and share the exit codes: 1 on an
//! error, or on a warning with `--deny-warnings`; 0 otherwise.

mod sarif;

use std::path::Path;

use rampart_lang::ast::Span;
use rampart_lang::{Compiled, Diagnostic, SourceFile};

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
        let entity_data = entity_data_diagnostic(dir, &compiled)?;
        all.extend(compiled.diagnostics);
        all.extend(entity_data);
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

/// `entities.json` beside the policies, read against the compiled schema as `eval`, `serve`
/// and `build --target wasm` read it: `E025` when it does not load. Only a folder that
/// compiled is checked (its schema is known); an unreadable file is an input error (exit 2).
fn entity_data_diagnostic(dir: &Path, compiled: &Compiled) -> Result<Option<Diagnostic>, CliError> {
    let path = dir.join("entities.json");
    let Some(bundle) = compiled.bundle.as_ref() else {
        return Ok(None);
    };
    if !dir.is_dir() || !path.is_file() {
        return Ok(None);
    }
    let text = crate::input::read(&path, crate::input::Input::Entities)?;
    let Ok(engine) = rampart_engine::Engine::new(bundle.clone()) else {
        return Ok(None);
    };
    let Err(error) = engine.load_entities(&text) else {
        return Ok(None);
    };
    let span = entity_span(&engine, &text);
    let source = SourceFile::new(&path, path.display().to_string(), text);
    Ok(Some(
        Diagnostic::error("E025", format!("`entities.json` does not load: {error}"))
            .with_label(span, "here")
            .with_help("`rampart eval` and `rampart serve` would refuse this folder's entity data; see `rampart explain E025`")
            .in_file(&source),
    ))
}

/// Where entity data goes wrong: the JSON syntax error, else the first entity that does not
/// load on its own, else the start of the file (a duplicate or a parent cycle is between
/// entities).
fn entity_span(engine: &rampart_engine::Engine, text: &str) -> Span {
    let items: Vec<&serde_json::value::RawValue> = match serde_json::from_str(text) {
        Ok(items) => items,
        Err(error) => {
            let offset = text
                .split_inclusive('\n')
                .take(error.line().saturating_sub(1))
                .map(str::len)
                .sum::<usize>()
                .saturating_add(error.column().saturating_sub(1))
                .min(text.len());
            return Span::new(offset, offset);
        }
    };
    for raw in items {
        let item = raw.get();
        let alone = format!("[{item}]");
        if engine.load_entities(&alone).is_err() {
            let start = (item.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
            return Span::new(start, start.saturating_add(item.len()).min(text.len()));
        }
    }
    Span::new(0, 0)
}

/// A security lint finding (`L0xx`).
fn is_lint(diag: &Diagnostic) -> bool {
    rampart_lang::lints::lint(diag.code()).is_some()
}
