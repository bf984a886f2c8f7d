//! `rampart compliance --list`: the frameworks of the control catalogs and, for the
//! frameworks named with `--framework`, their controls.

use std::fmt::Write;

use rampart_lang::controls::{Catalogs, Framework};
use serde_json::{json, Value};

use crate::args::ComplianceFormat;
use crate::exit::{CliError, OK};
use crate::output::out;

/// Prints every framework, or the controls of `frameworks` when some are named.
pub fn run(
    catalogs: &Catalogs,
    frameworks: &[&Framework],
    format: ComplianceFormat,
) -> Result<u8, CliError> {
    let text = match format {
        ComplianceFormat::Human => human(catalogs, frameworks),
        ComplianceFormat::Json => {
            let value = to_json(catalogs, frameworks);
            serde_json::to_string_pretty(&value)
                .map(|s| s + "\n")
                .map_err(|e| CliError::Input(format!("cannot write the list as JSON: {e}")))?
        }
        ComplianceFormat::Markdown | ComplianceFormat::Oscal => {
            return Err(CliError::Input(
                "`--list` prints `--format human` or `--format json`".to_owned(),
            ))
        }
    };
    out!("{text}");
    Ok(OK)
}

fn human(catalogs: &Catalogs, frameworks: &[&Framework]) -> String {
    let mut out = String::new();
    if frameworks.is_empty() {
        let width = catalogs
            .frameworks()
            .iter()
            .map(|f| f.slug.chars().count())
            .max()
            .unwrap_or(0);
        for f in catalogs.frameworks() {
            let _ = writeln!(
                out,
                "{:<width$}  {} (version {}), {} controls",
                f.slug,
                f.title,
                f.version,
                f.controls.len()
            );
            if !f.aliases.is_empty() {
                let _ = writeln!(out, "{:<width$}  aliases: {}", "", f.aliases.join(", "));
            }
        }
        return out;
    }
    for (i, f) in frameworks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} — {} (version {}), {} controls",
            f.slug,
            f.title,
            f.version,
            f.controls.len()
        );
        let _ = writeln!(out, "source: {}", f.source);
        let width = f
            .controls
            .iter()
            .map(|c| c.id.chars().count())
            .max()
            .unwrap_or(0);
        for c in &f.controls {
            let _ = writeln!(
                out,
                "  {:<width$}  {:<7}  {}",
                c.id,
                c.automatable.as_str(),
                c.title
            );
        }
    }
    out
}

/// `{"frameworks":[{"framework","aliases","title","version","source","control_count",
/// "controls"?}]}`; `controls` only for frameworks named with `--framework`.
fn to_json(catalogs: &Catalogs, frameworks: &[&Framework]) -> Value {
    let entry = |f: &Framework, with_controls: bool| {
        let mut v = json!({
            "framework": f.slug,
            "aliases": f.aliases,
            "title": f.title,
            "version": f.version,
            "source": f.source,
            "control_count": f.controls.len(),
        });
        if with_controls {
            v["controls"] = f
                .controls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "title": c.title,
                        "automatable": c.automatable.as_str(),
                        "aliases": c.aliases,
                    })
                })
                .collect();
        }
        v
    };
    let list: Vec<Value> = if frameworks.is_empty() {
        catalogs
            .frameworks()
            .iter()
            .map(|f| entry(f, false))
            .collect()
    } else {
        frameworks.iter().map(|f| entry(f, true)).collect()
    };
    json!({ "frameworks": list })
}
