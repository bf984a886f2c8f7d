//! Walking expression trees without recursion (trees from long flat chains can be deep).

use crate::ast::{Expr, ExprKind};

/// The direct sub-expressions of `e`, in source order.
pub fn children(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::EntityRef { .. } => Vec::new(),
        ExprKind::Attr(base, _) | ExprKind::Index(base, _) => vec![base],
        ExprKind::Has { expr, .. } | ExprKind::Is(expr, _) => vec![expr],
        ExprKind::EntityCtor { id, .. } => vec![id],
        ExprKind::Set(items) => items.iter().collect(),
        ExprKind::Record(fields) => fields.iter().map(|(_, v)| v).collect(),
        ExprKind::Unary(_, x) | ExprKind::Like(x, _) | ExprKind::Matches(x, _) => vec![x],
        ExprKind::Binary(_, l, r) | ExprKind::Tag(_, l, r) => vec![l, r],
        ExprKind::If(c, a, b) => vec![c, a, b],
    }
}

/// Calls `f` on `root` and every expression inside it, parents before children.
pub fn for_each_expr<'e>(root: &'e Expr, mut f: impl FnMut(&'e Expr)) {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        f(e);
        let mut kids = children(e);
        kids.reverse();
        stack.extend(kids);
    }
}

/// Whether any expression inside `root` satisfies `pred`.
pub fn any_expr(root: &Expr, mut pred: impl FnMut(&Expr) -> bool) -> bool {
    let mut found = false;
    for_each_expr(root, |e| found = found || pred(e));
    found
}
