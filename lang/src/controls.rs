//! Control catalogs: the compliance frameworks `@control("framework/id")` annotations name.
//!
//! The catalogs are data files (`stdlib/controls/*.toml`) embedded in the binary, one per
//! framework, with the control ids exactly as the framework publishes them (`4.2.1`,
//! `164.312(e)(1)`, `Art. 32(1)(a)`, `A.8.24`, `API1`). A reference is
//! `<framework>/<control id>`, where both parts are looked up forgivingly: a framework by
//! its slug or one of its aliases (`pci-dss-4.0`, `pci-dss`), a control by its id or one
//! of its aliases, ignoring case and white space (`gdpr/art32` finds `Art. 32`).
//!
//! ```toml
//! framework = "pci-dss-4.0"
//! aliases = ["pci-dss", "pci-dss-4.0.1"]
//! title = "Payment Card Industry Data Security Standard"
//! version = "4.0.1"
//! source = "https://…"
//!
//! [[control]]
//! id = "4.2.1"
//! title = "Strong cryptography safeguards PAN during transmission over open, public networks"
//! automatable = "partial"     # full | partial | none
//! aliases = []                # optional
//! ```

use std::sync::OnceLock;

use serde::Deserialize;

use crate::diagnostics::edit_distance;

include!(concat!(env!("OUT_DIR"), "/controls.rs"));

/// How much of a control a request-time rule can enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Automatable {
    /// A rule enforces the whole control (a TLS floor, authentication required).
    Full,
    /// A rule enforces the technical slice of the control; the rest is process.
    Partial,
    /// Process or configuration only: no rule can enforce it (reported as `manual`).
    None,
}

impl Automatable {
    pub fn as_str(self) -> &'static str {
        match self {
            Automatable::Full => "full",
            Automatable::Partial => "partial",
            Automatable::None => "none",
        }
    }
}

/// One control of a framework.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// The id exactly as published (`164.312(e)(1)`).
    pub id: String,
    pub title: String,
    pub automatable: Automatable,
    /// Other spellings that name this control (`art32` for `Art. 32`).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// One framework's catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    /// The canonical name used in references (`pci-dss-4.0`).
    #[serde(rename = "framework")]
    pub slug: String,
    /// Other names that refer to this framework (`pci-dss`).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub title: String,
    /// The published version the ids were read from (`4.0.1`).
    pub version: String,
    /// Where the ids and titles come from.
    pub source: String,
    /// In the framework's own order.
    #[serde(rename = "control", default)]
    pub controls: Vec<Control>,
}

impl Framework {
    /// The control with this id or alias (case and white space ignored).
    pub fn control(&self, id: &str) -> Option<&Control> {
        let key = normalize(id);
        self.controls
            .iter()
            .find(|c| normalize(&c.id) == key || c.aliases.iter().any(|a| normalize(a) == key))
    }

    /// Whether `name` is this framework's slug or one of its aliases.
    pub fn is_named(&self, name: &str) -> bool {
        let key = normalize(name);
        normalize(&self.slug) == key || self.aliases.iter().any(|a| normalize(a) == key)
    }
}

/// A resolved control reference.
#[derive(Debug, Clone, Copy)]
pub struct ControlRef<'a> {
    pub framework: &'a Framework,
    pub control: &'a Control,
}

impl ControlRef<'_> {
    /// `framework-slug/published-id`: the form reports use, whatever spelling the policy
    /// used.
    pub fn canonical(&self) -> String {
        format!("{}/{}", self.framework.slug, self.control.id)
    }
}

/// Why a control reference does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("control reference `{0}` is not of the form `framework/id`")]
    Malformed(String),
    #[error("unknown compliance framework `{name}`")]
    UnknownFramework {
        name: String,
        /// A close framework name, for "did you mean".
        suggestion: Option<String>,
    },
    #[error("`{id}` is not a control of `{framework}`")]
    UnknownControl {
        /// The framework's canonical slug.
        framework: String,
        id: String,
        /// A close control id, for "did you mean".
        suggestion: Option<String>,
    },
}

impl ControlError {
    /// The "did you mean" candidate, if any.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            ControlError::Malformed(_) => None,
            ControlError::UnknownFramework { suggestion, .. }
            | ControlError::UnknownControl { suggestion, .. } => suggestion.as_deref(),
        }
    }
}

/// The `E022` diagnostic of a reference that does not resolve, labelled at `span` (the
/// caller adds the file).
pub fn diagnostic(err: &ControlError, span: crate::ast::Span) -> crate::Diagnostic {
    let label = match err {
        ControlError::Malformed(_) => "write `framework/id`, e.g. `pci-dss-4.0/8.3.1`",
        ControlError::UnknownFramework { .. } => "not a framework of the control catalogs",
        ControlError::UnknownControl { .. } => "not in this framework's catalog",
    };
    let d = crate::Diagnostic::error("E022", err.to_string()).with_label(span, label);
    match err.suggestion() {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help("`rampart compliance --list` prints every framework and control id"),
    }
}

/// A catalog file that did not load (a bug of the stdlib data, caught by a test).
#[derive(Debug, Clone)]
pub struct CatalogLoadError {
    pub file: &'static str,
    pub message: String,
}

/// Every framework Rampart knows.
#[derive(Debug, Default)]
pub struct Catalogs {
    frameworks: Vec<Framework>,
    errors: Vec<CatalogLoadError>,
}

impl Catalogs {
    /// The catalogs embedded from `stdlib/controls/`, parsed once.
    pub fn builtin() -> &'static Catalogs {
        static BUILTIN: OnceLock<Catalogs> = OnceLock::new();
        BUILTIN.get_or_init(|| Catalogs::parse(CONTROL_CATALOGS))
    }

    /// Parses `(file name, TOML text)` pairs; files that fail are recorded in
    /// [`Catalogs::errors`] and left out.
    pub fn parse(files: &[(&'static str, &str)]) -> Catalogs {
        let mut catalogs = Catalogs::default();
        for (file, text) in files {
            match toml::from_str::<Framework>(text) {
                Ok(framework) => catalogs.frameworks.push(framework),
                Err(err) => catalogs.errors.push(CatalogLoadError {
                    file,
                    message: err.to_string(),
                }),
            }
        }
        catalogs.frameworks.sort_by(|a, b| a.slug.cmp(&b.slug));
        catalogs
    }

    /// All frameworks, sorted by slug.
    pub fn frameworks(&self) -> &[Framework] {
        &self.frameworks
    }

    /// Catalog files that failed to load.
    pub fn errors(&self) -> &[CatalogLoadError] {
        &self.errors
    }

    /// The framework with this slug or alias.
    pub fn framework(&self, name: &str) -> Option<&Framework> {
        self.frameworks.iter().find(|f| f.is_named(name))
    }

    /// Resolves `framework/id`: the framework is the text before the first `/`, the id
    /// everything after it.
    pub fn resolve(&self, reference: &str) -> Result<ControlRef<'_>, ControlError> {
        let Some((name, id)) = reference.split_once('/') else {
            return Err(ControlError::Malformed(reference.to_owned()));
        };
        if name.trim().is_empty() || id.trim().is_empty() {
            return Err(ControlError::Malformed(reference.to_owned()));
        }
        let Some(framework) = self.framework(name) else {
            let names = self
                .frameworks
                .iter()
                .flat_map(|f| std::iter::once(&f.slug).chain(&f.aliases));
            return Err(ControlError::UnknownFramework {
                name: name.to_owned(),
                suggestion: closest(name, names.map(String::as_str)),
            });
        };
        match framework.control(id) {
            Some(control) => Ok(ControlRef { framework, control }),
            None => Err(ControlError::UnknownControl {
                framework: framework.slug.clone(),
                id: id.to_owned(),
                suggestion: closest(id, framework.controls.iter().map(|c| c.id.as_str())),
            }),
        }
    }
}

/// The comparison key of a name or id: lower case, no white space.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The candidate closest to `name` within the usual "did you mean" distance (≤ 2 edits, or
/// ≤ a third of the length).
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let key = normalize(name);
    let limit = (key.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(&key, &normalize(c)), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
framework = "gdpr"
aliases = ["eu-gdpr"]
title = "General Data Protection Regulation"
version = "2016/679"
source = "https://eur-lex.europa.eu/eli/reg/2016/679/oj"

[[control]]
id = "Art. 32"
title = "Security of processing"
automatable = "partial"
aliases = ["art32"]

[[control]]
id = "Art. 32(1)(a)"
title = "Pseudonymisation and encryption"
automatable = "full"
"#;

    fn sample() -> Catalogs {
        Catalogs::parse(&[("gdpr.toml", SAMPLE)])
    }

    #[test]
    fn resolves_by_slug_alias_and_spelling() {
        let c = sample();
        assert!(c.errors().is_empty(), "{:?}", c.errors());
        let r = c.resolve("gdpr/art32").unwrap();
        assert_eq!(r.canonical(), "gdpr/Art. 32");
        let r = c.resolve("EU-GDPR/Art. 32(1)(a)").unwrap();
        assert_eq!(r.canonical(), "gdpr/Art. 32(1)(a)");
        assert_eq!(r.control.automatable, Automatable::Full);
        let r = c.resolve("gdpr/art.32(1)(a)").unwrap();
        assert_eq!(r.control.id, "Art. 32(1)(a)");
        let r = c.resolve("gdpr/art32(1)(a)").unwrap_err();
        assert!(matches!(r, ControlError::UnknownControl { .. }), "{r:?}");
    }

    #[test]
    fn unknown_names_suggest_close_ones() {
        let c = sample();
        let err = c.resolve("gpdr/Art. 32").unwrap_err();
        assert_eq!(err.suggestion(), Some("gdpr"));
        let err = c.resolve("gdpr/Art. 23").unwrap_err();
        assert_eq!(err.to_string(), "`Art. 23` is not a control of `gdpr`");
        assert_eq!(err.suggestion(), Some("Art. 32"));
        assert!(matches!(
            c.resolve("gdpr").unwrap_err(),
            ControlError::Malformed(_)
        ));
        assert!(matches!(
            c.resolve("gdpr/").unwrap_err(),
            ControlError::Malformed(_)
        ));
    }

    #[test]
    fn transposed_characters_are_one_edit() {
        assert_eq!(edit_distance("euaz-sr-3", "eauz-sr-3"), 1);
        assert_eq!(edit_distance("eaun-sr-1", "eauz-sr-3"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn builtin_references_resolve_by_alias() {
        let c = Catalogs::builtin();
        let canonical = |r: &str| c.resolve(r).map(|r| r.canonical()).ok();
        assert_eq!(
            canonical("owasp/API3:2023").as_deref(),
            Some("owasp-api-2023/API3")
        );
        assert_eq!(
            canonical("iso27001/8.24").as_deref(),
            Some("iso27001-2022/A.8.24")
        );
        assert_eq!(
            canonical("nist-sp800-207/tenet-3").as_deref(),
            Some("nist-800-207/ZT-3")
        );
        assert_eq!(
            canonical("pci-dss/8.4.2").as_deref(),
            Some("pci-dss-4.0/8.4.2")
        );
        assert_eq!(
            canonical("gdpr/art5(1)(f)").as_deref(),
            Some("gdpr/Art. 5(1)(f)")
        );
        assert_eq!(canonical("hipaa/164.312(e)(3)"), None);
    }

    #[test]
    fn a_bad_catalog_is_reported_not_loaded() {
        let c = Catalogs::parse(&[("bad.toml", "framework = 1")]);
        assert!(c.frameworks().is_empty());
        assert_eq!(c.errors().len(), 1);
        assert_eq!(c.errors()[0].file, "bad.toml");
    }

    #[test]
    fn builtin_catalogs_load_without_errors() {
        let c = Catalogs::builtin();
        assert!(c.errors().is_empty(), "{:?}", c.errors());
        let mut slugs: Vec<&str> = c.frameworks().iter().map(|f| f.slug.as_str()).collect();
        let n = slugs.len();
        slugs.dedup();
        assert_eq!(slugs.len(), n, "duplicate framework slugs");
    }
}
