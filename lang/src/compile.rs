//! The compiler entry point: policy set in, [`Bundle`] + tests + diagnostics out.
//!
//! Pipeline: parse and resolve packages ([`crate::check::packages`]) → merge the schema →
//! fold consts → check and lower every route, principal mapping, rule and obligation →
//! assign rule ids → compile `test` blocks → (no errors?) lints and the bundle.
//! Every stage keeps going after an error so one run reports as many problems as it can;
//! a file that does not parse stops the run after parsing, since everything after would
//! only echo the syntax error.

mod assemble;
mod ids;
mod mappings;
pub(crate) mod obligations;
mod routes;
pub(crate) mod rules;
mod session;
pub(crate) mod text;

use std::path::Path;

use rampart_engine::Bundle;

use crate::check::{consts, packages, schema, symbols::Symbols};
use crate::controls::Catalogs;
use crate::diagnostics::Diagnostic;
use crate::sources::PolicySet;
use crate::testing::{self, TestCase};
use crate::timings::Timings;

pub(crate) use session::{conjuncts_of, Session};

/// The result of compiling a policy set.
#[derive(Debug)]
pub struct Compiled {
    /// `None` when there is at least one error.
    pub bundle: Option<Bundle>,
    /// The `test` blocks of the set's files (not of imported stdlib packages).
    pub tests: Vec<TestCase>,
    /// Errors and warnings, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, checks, lints and compiles every file of the set (and the stdlib packages it
/// imports).
pub fn compile(set: &PolicySet) -> Compiled {
    compile_timed(set, &mut Timings::new())
}

/// [`compile`], marking each phase in `timings` (`parse`, `check`, `rules`, `ids+tests`,
/// `lints`, `assemble`, `sort-diags`).
pub fn compile_timed(set: &PolicySet, timings: &mut Timings) -> Compiled {
    crate::diagnostics::reset_suggestion_budget();
    let mut diags = set.diagnostics.clone();
    if let Some(project) = &set.project {
        diags.extend(project.check(Catalogs::builtin()));
    }
    let Some(program) = packages::load(set, &mut diags) else {
        return finish(set, None, Vec::new(), diags);
    };
    timings.mark("parse");
    let schema = schema::build(&program, &mut diags);
    let mut symbols = Symbols::default();
    let consts = consts::evaluate(&program, &schema, &mut symbols, &mut diags);
    let mut session = Session {
        program: &program,
        schema: &schema,
        consts: &consts,
        symbols,
        diags,
    };

    timings.mark("check");
    let routes = routes::compile_all(&mut session);
    let principals = mappings::compile_all(&mut session);
    let mut rules = rules::compile_all(&mut session);
    let mut obligations = obligations::compile_all(&mut session);
    timings.mark("rules");
    let rule_ids = ids::assign(&mut session, &mut rules, &mut obligations);
    let tests = testing::compile_tests(&mut session, &rule_ids);
    let bad_allow_lints = crate::lints::check_allow_lint_annotations(&program);
    session.diags.extend(bad_allow_lints);

    timings.mark("ids+tests");
    if session.diags.iter().any(Diagnostic::is_error) {
        let diags = std::mem::take(&mut session.diags);
        return finish(set, None, tests, diags);
    }
    let lint_cx = crate::lints::LintContext::new(&program, &rules, &obligations)
        .with_routes(&program, &routes)
        .with_project(set.project.as_ref());
    let warnings = crate::lints::run(&lint_cx);
    session.diags.extend(warnings);
    timings.mark("lints");
    let parts = assemble::Parts {
        routes,
        principals,
        rules,
        obligations,
    };
    let bundle = assemble::bundle(&mut session, parts);
    let diags = std::mem::take(&mut session.diags);
    timings.mark("assemble");
    let compiled = finish(set, Some(bundle), tests, diags);
    timings.mark("sort-diags");
    compiled
}

fn finish(
    set: &PolicySet,
    bundle: Option<Bundle>,
    tests: Vec<TestCase>,
    mut diagnostics: Vec<Diagnostic>,
) -> Compiled {
    sort_diagnostics(set, &mut diagnostics);
    Compiled {
        bundle,
        tests,
        diagnostics,
    }
}

/// Sorts by file (policy files in path order, then the stdlib) and position.
fn sort_diagnostics(set: &PolicySet, diags: &mut [Diagnostic]) {
    let mut names: Vec<String> = set.files.iter().map(|f| f.name().to_owned()).collect();
    for d in diags.iter() {
        if let Some(f) = d.file() {
            if !names.iter().any(|n| n == f.name()) {
                names.push(f.name().to_owned());
            }
        }
    }
    let is_stdlib = |n: &str| n.starts_with("<stdlib>");
    names.sort_by(|a, b| {
        is_stdlib(a)
            .cmp(&is_stdlib(b))
            .then_with(|| Path::new(a).cmp(Path::new(b)))
    });
    let rank = |d: &Diagnostic| -> (usize, u32) {
        let file = d
            .file()
            .and_then(|f| names.iter().position(|n| n == f.name()))
            .map_or(0, |i| i + 1);
        (file, d.primary_span().map_or(0, |s| s.start))
    };
    diags.sort_by_key(rank);
}
