//! The state shared while compiling items: the resolved program and the diagnostics.

use rampart_engine::bundle::{Condition, Conjunct};

use super::text::expr_text;
use crate::ast::{self, BinOp, ExprKind};
use crate::check::consts::ConstTable;
use crate::check::expr::{Env, ExprCx};
use crate::check::schema::SchemaInfo;
use crate::check::symbols::Symbols;
use crate::check::{FileId, Program};
use crate::diagnostics::Diagnostic;

/// What every item compiler needs.
pub(crate) struct Session<'p> {
    pub program: &'p Program,
    pub schema: &'p SchemaInfo,
    pub consts: &'p ConstTable,
    pub symbols: Symbols,
    pub diags: Vec<Diagnostic>,
}

impl<'p> Session<'p> {
    /// An expression checker for one file and environment.
    pub fn cx<'s>(&'s mut self, file: FileId, env: &'s Env) -> ExprCx<'s> {
        ExprCx::new(
            self.program,
            self.schema,
            self.consts,
            file,
            &mut self.symbols,
            &mut self.diags,
            env,
        )
    }

    pub fn report(&mut self, file: FileId, diag: Diagnostic) {
        let diag = self.program.in_file(file, diag);
        self.diags.push(diag);
    }

    /// Reports diagnostics made without a file.
    pub fn report_all(&mut self, file: FileId, diags: Vec<Diagnostic>) {
        for d in diags {
            self.report(file, d);
        }
    }

    /// A condition: its top-level `and` chain split into conjuncts, each with its text.
    /// A conjunct sees the narrowing of those before it (`principal is User and
    /// principal.mfa`), as inside any `and` chain.
    pub fn condition(&mut self, file: FileId, env: &Env, e: &ast::Expr) -> Condition {
        let mut conjuncts = Vec::new();
        let mut cx = self.cx(file, env);
        for part in conjuncts_of(e) {
            let expr = cx.condition(part);
            cx.narrow_after(part);
            conjuncts.push(Conjunct {
                expr,
                text: expr_text(part),
            });
        }
        Condition { conjuncts }
    }
}

/// The operands of a top-level `and` chain, left to right (iteratively: chains can be long).
pub(crate) fn conjuncts_of(e: &ast::Expr) -> Vec<&ast::Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Binary(BinOp::And, l, r) => {
                stack.push(r);
                stack.push(l);
            }
            _ => out.push(e),
        }
    }
    out
}
