//! `rampart fmt [--check] PATH…`: canonical formatting that keeps comments.
//!
//! Files are read within the policy file limit (4 MiB). A leading UTF-8 byte order mark is
//! ignored when parsing and dropped by formatting: a file that has one is reformatted.

use std::path::{Path, PathBuf};

use rampart_lang::{format_source, SourceFile};

use crate::args::FmtArgs;
use crate::exit::{CliError, FAILURE, OK};
use crate::input::{self, Input};
use crate::output;
use crate::output::{out, outln};

pub fn run(args: FmtArgs) -> Result<u8, CliError> {
    let mut unformatted = 0usize;
    let mut errors = 0usize;
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let raw = input::read_bytes(path, Input::Policy)?;
            let text = input::decode(path, Input::Policy, raw.clone())?;
            match format_source(&SourceFile::in_memory("<stdin>", &text)) {
                Ok(formatted) => {
                    if args.check && formatted.as_bytes() != raw {
                        unformatted += 1;
                        outln!("<stdin>");
                    } else if !args.check {
                        out!("{formatted}");
                    }
                }
                Err(diag) => {
                    errors += 1;
                    output::print_human(&[diag]);
                }
            }
            continue;
        }
        for file in rampart_files(path)? {
            let raw = input::read_bytes(&file, Input::Policy)?;
            let text = input::decode(&file, Input::Policy, raw.clone())?;
            let source = SourceFile::new(&file, file.display().to_string(), text);
            match format_source(&source) {
                Ok(formatted) if formatted.as_bytes() == raw => {}
                Ok(_) if args.check => {
                    unformatted += 1;
                    outln!("{}", file.display());
                }
                Ok(formatted) => {
                    std::fs::write(&file, formatted).map_err(|source| CliError::Write {
                        path: file.display().to_string(),
                        source,
                    })?;
                    eprintln!("formatted {}", file.display());
                }
                Err(diag) => {
                    errors += 1;
                    output::print_human(&[diag]);
                }
            }
        }
    }
    if args.check && unformatted > 0 {
        let s = if unformatted == 1 { "" } else { "s" };
        eprintln!("{unformatted} file{s} would be reformatted");
    }
    Ok(if errors > 0 || unformatted > 0 {
        FAILURE
    } else {
        OK
    })
}

/// The `.rampart` files of a path: the file itself, or every regular one under a folder
/// (sorted).
fn rampart_files(path: &Path) -> Result<Vec<PathBuf>, CliError> {
    let meta = std::fs::metadata(path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| CliError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name();
            let hidden = name.to_string_lossy().starts_with('.') || name == "target";
            if p.is_dir() && !hidden {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rampart") && p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}
