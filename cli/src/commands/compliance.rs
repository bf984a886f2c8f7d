//! `rampart compliance DIR`: which controls of each framework the policy set enforces.
//!
//! The folder is compiled as `rampart check` compiles it (errors are printed and exit 1);
//! the report itself is [`rampart_lang::compliance::report`], printed as text, JSON,
//! Markdown or an OSCAL component definition. `--fail-under N` turns it into a CI gate.

mod list;
mod oscal;
mod render;

use std::path::Path;

use rampart_lang::compliance::{self, Report};
use rampart_lang::controls::{Catalogs, Framework};

use crate::args::{ComplianceArgs, ComplianceFormat};
use crate::exit::{CliError, FAILURE, OK};
use crate::output::out;
use crate::policy;

pub fn run(args: ComplianceArgs) -> Result<u8, CliError> {
    let catalogs = Catalogs::builtin();
    if let Some(err) = catalogs.errors().first() {
        return Err(CliError::Input(format!(
            "the builtin control catalog `{}` does not load: {}",
            err.file, err.message
        )));
    }
    let asked = resolve_frameworks(catalogs, &args.frameworks)?;
    if args.list {
        return list::run(catalogs, &asked, args.format);
    }
    let Some(dir) = args.dir.as_deref() else {
        return Err(CliError::Input(
            "give the policy folder to report on, or `--list`".to_owned(),
        ));
    };
    let (set, compiled) = policy::compile_dir(dir)?;
    let Some(bundle) = compiled.bundle.as_ref() else {
        crate::output::print_human(&compiled.diagnostics);
        return Ok(FAILURE);
    };
    let project = set.project.as_ref();
    let frameworks = if asked.is_empty() {
        compliance::default_frameworks(bundle, catalogs, project)
    } else {
        asked
    };
    let report = compliance::report(bundle, catalogs, project, &frameworks);
    for u in &report.unresolved {
        eprintln!(
            "warning: rule `{}` ({}:{}): control `{}` is in no catalog; left out of the report",
            u.rule.id, u.rule.file, u.rule.line, u.reference
        );
    }
    if report.frameworks.is_empty() {
        eprintln!(
            "note: no framework to report: no rule has a `@control` and `rampart.toml` declares \
             none (use `--framework`)"
        );
    }
    let text = match args.format {
        ComplianceFormat::Human => render::human(&report, render::use_colour()),
        ComplianceFormat::Json => json(&report)?,
        ComplianceFormat::Markdown => render::markdown(&report),
        ComplianceFormat::Oscal => {
            let doc = oscal::component_definition(&report, &oscal::Subject::of(&set, bundle));
            pretty(&doc)?
        }
    };
    out!("{text}");
    Ok(gate(&report, args.fail_under))
}

/// The frameworks named by `--framework`, deduplicated, in the order given.
fn resolve_frameworks<'c>(
    catalogs: &'c Catalogs,
    names: &[String],
) -> Result<Vec<&'c Framework>, CliError> {
    let mut out: Vec<&Framework> = Vec::new();
    for name in names {
        let Some(f) = catalogs.framework(name) else {
            let known = catalogs
                .frameworks()
                .iter()
                .flat_map(|f| std::iter::once(&f.slug).chain(&f.aliases))
                .map(String::as_str);
            let hint = match rampart_lang::diagnostics::closest(name, known) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "`rampart compliance --list` prints every framework".to_owned(),
            };
            return Err(CliError::Input(format!(
                "unknown compliance framework `{name}`: {hint}"
            )));
        };
        if !out.iter().any(|g| g.slug == f.slug) {
            out.push(f);
        }
    }
    Ok(out)
}

/// `--fail-under`: exit 1, with one line on standard error per framework below the bar.
fn gate(report: &Report, fail_under: Option<f64>) -> u8 {
    let Some(bar) = fail_under else {
        return OK;
    };
    let mut code = OK;
    for f in &report.frameworks {
        if f.coverage < bar {
            eprintln!(
                "error: `{}` coverage {:.1}% is below --fail-under {bar}",
                f.framework, f.coverage
            );
            code = FAILURE;
        }
    }
    code
}

/// The JSON report (schema in docs/cli.md), with a final newline.
fn json(report: &Report) -> Result<String, CliError> {
    let value = serde_json::to_value(report)
        .map_err(|e| CliError::Input(format!("cannot write the report as JSON: {e}")))?;
    pretty(&value)
}

fn pretty(value: &serde_json::Value) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| CliError::Input(format!("cannot write the report as JSON: {e}")))
}

/// `--fail-under`'s value: a percentage from 0 to 100, decimals allowed.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    match text.trim().trim_end_matches('%').parse::<f64>() {
        Ok(n) if (0.0..=100.0).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a percentage from 0 to 100 (`80`, `92.5`), found `{text}`"
        )),
    }
}

/// The folder's name, for titles (`payments`; the full path when it has none).
fn dir_name(root: &Path) -> String {
    let absolute = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| root.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_checked() {
        assert_eq!(parse_percent("80"), Ok(80.0));
        assert_eq!(parse_percent("92.5"), Ok(92.5));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert!(parse_percent("100.1").is_err());
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("NaN").is_err());
        assert!(parse_percent("lots").is_err());
    }
}
