//! `rampart.toml`: the policy folder's project file.
//!
//! Optional. Today it holds the compliance settings of the repository: the frameworks the
//! policies answer to (lint `L010` then asks every `allow` for a `@control`, and
//! `rampart compliance` reports these frameworks by default) and the waivers that mark a
//! control not applicable, each with the reason an auditor will read.
//!
//! ```toml
//! [compliance]
//! frameworks = ["pci-dss-4.0", "owasp-api-2023"]
//!
//! [[compliance.waiver]]
//! control = "pci-dss-4.0/3.5.1"
//! reason = "this API stores no PAN: card data goes straight to the vault"
//! ```
//!
//! A file that does not parse, an unknown key, or a waiver without a reason is `E023`; a
//! framework or control the catalogs do not know is `E022`.

use serde::Deserialize;
use toml::Spanned;

use crate::ast::Span;
use crate::controls::Catalogs;
use crate::diagnostics::{Diagnostic, SourceFile};

/// The project file's name, at the root of the policy folder.
pub const PROJECT_FILE: &str = "rampart.toml";

/// A parsed `rampart.toml`.
#[derive(Debug, Clone)]
pub struct Project {
    pub source: SourceFile,
    pub compliance: Compliance,
}

/// The `[compliance]` table.
#[derive(Debug, Clone, Default)]
pub struct Compliance {
    /// Framework names as written (slug or alias).
    pub frameworks: Vec<Named>,
    pub waivers: Vec<Waiver>,
}

/// A name and where it is written.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub span: Span,
}

/// A control marked not applicable.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// The control reference as written (`pci-dss-4.0/3.5.1`).
    pub control: String,
    pub reason: String,
    /// The span of the control reference.
    pub span: Span,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    #[serde(default)]
    compliance: Option<RawCompliance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompliance {
    #[serde(default)]
    frameworks: Vec<Spanned<String>>,
    #[serde(default, rename = "waiver")]
    waivers: Vec<Spanned<RawWaiver>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    control: Spanned<String>,
    #[serde(default)]
    reason: String,
}

impl Project {
    /// Parses the project file; a file that does not parse gives one `E023` diagnostic.
    pub fn parse(source: SourceFile) -> Result<Project, Diagnostic> {
        let raw: RawProject = match toml::from_str(source.text()) {
            Ok(raw) => raw,
            Err(err) => {
                let span = err
                    .span()
                    .map_or(Span::new(0, 0), |r| Span::new(r.start, r.end));
                let message = err.message().trim().to_owned();
                return Err(Diagnostic::error(
                    "E023",
                    format!("invalid `{PROJECT_FILE}`: {message}"),
                )
                .with_label(span, "here")
                .with_help("see `rampart explain E023` for the keys the project file takes")
                .in_file(&source));
            }
        };
        let mut compliance = Compliance::default();
        if let Some(raw) = raw.compliance {
            compliance.frameworks = raw
                .frameworks
                .into_iter()
                .map(|f| {
                    let span = Span::new(f.span().start, f.span().end);
                    Named {
                        name: f.into_inner(),
                        span,
                    }
                })
                .collect();
            compliance.waivers = raw
                .waivers
                .into_iter()
                .map(|w| {
                    let w = w.into_inner();
                    let span = Span::new(w.control.span().start, w.control.span().end);
                    Waiver {
                        control: w.control.into_inner(),
                        reason: w.reason,
                        span,
                    }
                })
                .collect();
        }
        Ok(Project { source, compliance })
    }

    /// Checks the names against the catalogs: unknown frameworks and controls (`E022`),
    /// waivers without a reason (`E023`).
    pub fn check(&self, catalogs: &Catalogs) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for f in &self.compliance.frameworks {
            if catalogs.framework(&f.name).is_none() {
                let known: Vec<&str> = catalogs
                    .frameworks()
                    .iter()
                    .map(|f| f.slug.as_str())
                    .collect();
                let mut d =
                    Diagnostic::error("E022", format!("unknown compliance framework `{}`", f.name))
                        .with_label(f.span, "not a framework of the control catalogs");
                d = match crate::diagnostics::closest(&f.name, known.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("known frameworks: {}", known.join(", "))),
                };
                out.push(d.in_file(&self.source));
            }
        }
        for w in &self.compliance.waivers {
            if let Err(err) = catalogs.resolve(&w.control) {
                out.push(crate::controls::diagnostic(&err, w.span).in_file(&self.source));
            }
            if w.reason.trim().is_empty() {
                out.push(
                    Diagnostic::error(
                        "E023",
                        format!("the waiver of `{}` gives no reason", w.control),
                    )
                    .with_label(w.span, "this waiver")
                    .with_help("add `reason = \"…\"`: why the control does not apply here")
                    .in_file(&self.source),
                );
            }
        }
        out
    }
}
