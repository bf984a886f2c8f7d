//! The checker: resolves names, merges the schema, types every expression and lowers it to
//! the engine's IR in the same pass.
//!
//! **Key design decision:** checking and lowering are one walk. Resolving a bare name like
//! `pci` needs the type expected at that place (the enum of the other side of `in`), and
//! the same resolution decides what the compiled expression is; doing both at once means
//! the compiler can never disagree with the checker. An expression that has an error gets
//! [`Type::Error`], which every later check accepts silently, so one
//! mistake yields one diagnostic.
//!
//! Module map: [`packages`] (parse, imports, stdlib), [`schema`] (declarations),
//! [`consts`] (const folding and cycles), [`scope`] (which principals, resources and
//! actions a rule covers), [`expr`] and [`ops`] (expression typing), [`fold`] (constant
//! folding of IR), [`builtins`], [`types`], [`symbols`], [`docs`] (the `E0xx` texts).

pub mod attrs;
pub mod builtins;
pub mod collections;
pub mod consts;
pub mod docs;
pub mod expr;
pub mod fold;
pub mod import_params;
pub mod names;
pub mod ops;
pub mod packages;
pub mod schema;
pub mod scope;
pub mod symbols;
pub mod tags;
pub mod types;
pub mod visit;

use std::collections::HashMap;

use rampart_engine::bundle::PackageId;

use crate::ast::{self, Span};
use crate::diagnostics::{Diagnostic, SourceFile};

pub use builtins::{ANONYMOUS, AUTH_METHOD, AUTH_METHOD_VARIANTS};
pub use types::Type;

/// Index into [`Program::files`].
pub type FileId = usize;

/// A place in one file of the program.
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    pub file: FileId,
    pub span: Span,
}

/// One parsed file of the program: a file of the policy set or an imported stdlib file.
#[derive(Debug)]
pub struct ProgramFile {
    pub source: SourceFile,
    pub ast: ast::File,
    pub package: PackageId,
    /// Imported from the stdlib rather than read from the policy folder.
    pub from_stdlib: bool,
    /// Import names visible in this file (alias, else last segment) → package.
    pub aliases: HashMap<String, PackageId>,
}

/// Everything parsed and resolved at the level of files and packages.
#[derive(Debug)]
pub struct Program {
    pub files: Vec<ProgramFile>,
    pub packages: packages::Packages,
}

impl Program {
    pub fn file(&self, id: FileId) -> Option<&ProgramFile> {
        self.files.get(id)
    }

    /// The display name and 1-based line of a location.
    pub fn line_of(&self, loc: Loc) -> (String, u32) {
        match self.files.get(loc.file) {
            Some(f) => (
                f.source.name().to_owned(),
                f.source.line_col(loc.span.start).0,
            ),
            None => (String::new(), 0),
        }
    }

    /// `diag` attached to the file of `loc`.
    pub fn in_file(&self, file: FileId, diag: Diagnostic) -> Diagnostic {
        match self.files.get(file) {
            Some(f) => diag.in_file(&f.source),
            None => diag,
        }
    }
}

/// A duplicate declaration: primary label here, secondary at the first one when it is in
/// the same file, else a help line saying where it is.
pub fn duplicate(
    program: &Program,
    code: &'static str,
    message: String,
    here: Loc,
    first: Loc,
) -> Diagnostic {
    let diag = Diagnostic::error(code, message).with_label(here.span, "declared again here");
    let diag = if first.file == here.file {
        diag.with_secondary(first.span, "first declared here")
    } else {
        let (name, line) = program.line_of(first);
        diag.with_help(format!(
            "the first declaration is in `{name}` at line {line}"
        ))
    };
    program.in_file(here.file, diag)
}

/// `did you mean `x`?` when a candidate is close to `name`.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    crate::diagnostics::closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Adds a did-you-mean help line when a candidate is close, else `fallback` when given.
pub fn with_suggestion<'a>(
    diag: Diagnostic,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    fallback: Option<String>,
) -> Diagnostic {
    match did_you_mean(name, candidates).or(fallback) {
        Some(help) => diag.with_help(help),
        None => diag,
    }
}
