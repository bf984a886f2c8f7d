//! Printing diagnostics for people (miette, coloured on terminals) and machines (JSON).

use std::io::IsTerminal;

use rampart_lang::invisible::escape_invisible;
use rampart_lang::Diagnostic;

/// Whether human output on a stream uses colour: never when `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org>), always when `CLICOLOR_FORCE` is set to
/// something other than `0`, otherwise when the stream is a terminal.
pub fn colour(stream_is_terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") && std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    stream_is_terminal
}

/// Renders one diagnostic the way a person reads it: coloured when [`colour`] says so for
/// standard error, plain otherwise. Never panics, whatever the spans (see
/// [`Diagnostic::render_with`]).
pub fn render_human(diag: &Diagnostic) -> String {
    if colour(std::io::stderr().is_terminal()) {
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode())
            .with_width(100);
        return diag.render_with(&handler);
    }
    diag.render_plain()
}

/// How many diagnostics with the same code in the same file are printed for people; the
/// rest are counted in one "… and N more" line (JSON and SARIF reports list them all).
pub const MAX_PER_FILE_AND_CODE: usize = 50;

/// Prints diagnostics to standard error, at most [`MAX_PER_FILE_AND_CODE`] per file and
/// code, followed by a one-line summary that counts them all.
pub fn print_human(diags: &[Diagnostic]) {
    use std::collections::HashMap;
    let key = |d: &Diagnostic| (d.file().map(|f| f.name().to_owned()), d.code());
    let mut seen: HashMap<(Option<String>, &str), usize> = HashMap::new();
    for diag in diags {
        let n = seen.entry(key(diag)).or_default();
        *n += 1;
        if *n <= MAX_PER_FILE_AND_CODE {
            eprint!("{}", render_human(diag));
        }
    }
    let mut hidden: Vec<_> = seen
        .into_iter()
        .filter(|(_, n)| *n > MAX_PER_FILE_AND_CODE)
        .collect();
    hidden.sort();
    for ((file, code), n) in hidden {
        let in_file = file
            .map(|f| format!(" in `{}`", escape_invisible(&f)))
            .unwrap_or_default();
        eprintln!(
            "… and {} more `{code}`{in_file} not shown (`rampart check --format json` lists them all)",
            n - MAX_PER_FILE_AND_CODE
        );
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if errors + warnings > 0 {
        eprintln!("{}", summary(errors, warnings));
    }
}

fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// The JSON report of `rampart check --format json`.
pub fn diagnostics_json(diags: &[Diagnostic]) -> serde_json::Value {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    serde_json::json!({
        "diagnostics": diags.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
        "errors": errors,
        "warnings": diags.len() - errors,
    })
}

/// Writes to standard output. A closed pipe (`rampart eval … | head`) ends the process
/// quietly with the exit code computed so far being irrelevant to the reader, as `ripgrep`
/// does; other write errors are reported.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {err}");
        std::process::exit(i32::from(crate::exit::USAGE));
    }
}

/// `println!` that survives a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that survives a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}

pub(crate) use {out, outln};
