//! Putting the compiled pieces together into a [`Bundle`].

use rampart_engine::bundle::{self as ir, Bundle, BUNDLE_FORMAT, BUNDLE_VERSION};

use super::ids::fnv1a64;
use super::obligations::ObligationItem;
use super::rules::RuleItem;
use super::session::Session;
use crate::check::Program;

/// The compiled items of a program.
pub(crate) struct Parts<'a, 'p> {
    pub routes: Vec<ir::Route>,
    pub principals: Vec<ir::PrincipalMapping>,
    pub rules: &'a [RuleItem<'p>],
    pub obligations: &'a [ObligationItem<'p>],
}

/// The bundle of a program that has no errors.
pub(crate) fn bundle(session: &mut Session<'_>, parts: Parts<'_, '_>) -> Bundle {
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
        rules: parts.rules.iter().map(|r| r.rule.clone()).collect(),
        obligations: parts
            .obligations
            .iter()
            .map(|o| o.obligation.clone())
            .collect(),
        routes: parts.routes,
        principals: parts.principals,
    }
}

/// A content hash of every source of the program (names and texts), in hex.
pub(crate) fn revision(program: &Program) -> String {
    let mut bytes = Vec::new();
    for f in &program.files {
        bytes.extend_from_slice(f.source.name().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(f.source.text().as_bytes());
        bytes.push(0);
    }
    format!("{:016x}", fnv1a64(&bytes))
}
