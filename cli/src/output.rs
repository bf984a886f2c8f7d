//! Printing diagnostics for people (miette, coloured on terminals) and machines (JSON).

use std::io::IsTerminal;

use rampart_lang::Diagnostic;

/// Renders one diagnostic the way a person reads it: coloured on a terminal, plain otherwise.
pub fn render_human(diag: &Diagnostic) -> String {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        let handler = miette::GraphicalReportHandler::new().with_width(100);
        let mut out = String::new();
        if handler.render_report(&mut out, diag).is_ok() {
            return out;
        }
    }
    diag.render_plain()
}

/// Prints diagnostics to standard error, followed by a one-line summary.
pub fn print_human(diags: &[Diagnostic]) {
    for diag in diags {
        eprint!("{}", render_human(diag));
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
