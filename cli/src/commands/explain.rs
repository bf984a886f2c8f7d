//! `rampart explain CODE`: the documentation of a diagnostic or lint.

use rampart_lang::diagnostics::DOCS_URL;
use serde_json::json;

use crate::args::{ExplainArgs, ExplainFormat};
use crate::exit::{CliError, OK};
use crate::output::outln;

pub fn run(args: ExplainArgs) -> Result<u8, CliError> {
    let code = args.code.trim().to_ascii_uppercase();
    let Some(doc) = rampart_lang::lints::code_docs(&code) else {
        return Err(CliError::Input(format!(
            "unknown code `{}`; codes look like `E005` or `L001`",
            args.code
        )));
    };
    match args.format {
        ExplainFormat::Human => outln!("{doc}"),
        ExplainFormat::Json => outln!("{}", explain_json(&code, doc)),
    }
    Ok(OK)
}

/// The documentation of a known `code` as one JSON object.
fn explain_json(code: &str, doc: String) -> serde_json::Value {
    let url = format!("{DOCS_URL}/{code}");
    match rampart_lang::lints::lint(code) {
        Some(meta) => json!({
            "code": meta.code,
            "kind": "lint",
            "name": meta.name,
            "severity": meta.severity.as_str(),
            "summary": meta.summary,
            "since": meta.since,
            "docs": doc,
            "url": url,
        }),
        None => {
            let text = rampart_lang::check::docs::error_docs(code).unwrap_or_default();
            let summary = text.lines().next().unwrap_or_default();
            json!({
                "code": code,
                "kind": "error",
                "severity": "error",
                "summary": summary,
                "docs": doc,
                "url": url,
            })
        }
    }
}
