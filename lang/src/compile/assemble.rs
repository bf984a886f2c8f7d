//! Putting the compiled pieces together into a [`Bundle`].

use rampart_engine::bundle::{self as ir, Bundle, BUNDLE_FORMAT, BUNDLE_VERSION};

use super::ids::{fnv1a64, fnv1a64_extend};
use super::obligations::ObligationItem;
use super::rules::RuleItem;
use super::session::Session;
use crate::check::Program;

/// The compiled items of a program (moved into the bundle, not copied: at 100k rules a
/// copy of every rule's expressions was most of this phase).
pub(crate) struct Parts<'p> {
    pub routes: Vec<ir::Route>,
    pub principals: Vec<ir::PrincipalMapping>,
    pub rules: Vec<RuleItem<'p>>,
    pub obligations: Vec<ObligationItem<'p>>,
}

/// The bundle of a program that has no errors.
pub(crate) fn bundle(session: &mut Session<'_>, parts: Parts<'_>) -> Bundle {
    let schema = session.schema.to_ir(&mut session.symbols);
    let packages = session
        .program
        .packages
        .list
        .iter()
        .map(|p| ir::Package {
            name: p.name.clone(),
            imports: p.imports.clone(),
        })
        .collect();
    Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        version: BUNDLE_VERSION,
        revision: revision(session.program),
        symbols: std::mem::take(&mut session.symbols).into_table(),
        schema,
        packages,
        rules: parts.rules.into_iter().map(|r| r.rule).collect(),
        obligations: parts
            .obligations
            .into_iter()
            .map(|o| o.obligation)
            .collect(),
        routes: parts.routes,
        principals: parts.principals,
    }
}

/// A content hash of every source of the program (names and texts, each followed by a
/// zero byte), in hex.
pub(crate) fn revision(program: &Program) -> String {
    let mut hash = fnv1a64(b"");
    for f in &program.files {
        hash = fnv1a64_extend(hash, f.source.name().as_bytes());
        hash = fnv1a64_extend(hash, &[0]);
        hash = fnv1a64_extend(hash, f.source.text().as_bytes());
        hash = fnv1a64_extend(hash, &[0]);
    }
    format!("{hash:016x}")
}
