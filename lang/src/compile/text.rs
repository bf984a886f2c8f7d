//! Source text of expressions and rules, for conjunct texts and generated rule ids.
//!
//! Rules and expressions use the formatter's canonical forms; obligations (which the
//! formatter has no one-line form for) are printed here from formatted parts.

use crate::ast::{self, ScopeList};

/// The canonical text of an expression.
pub fn expr_text(e: &ast::Expr) -> String {
    crate::fmt::format_expr(e)
}

/// The canonical text of a rule without its annotations (the input of generated ids).
pub fn rule_body_text(rule: &ast::Rule) -> String {
    crate::fmt::format_rule_body(rule)
}

/// The canonical text of an obligation without its annotations.
pub fn obligation_text(o: &ast::Obligation) -> String {
    let mut out = String::from("obligation ");
    match &o.kind {
        ast::ObligationKind::Mask { fields } => {
            let names: Vec<String> = fields.iter().map(|f| format!("{:?}", f.value)).collect();
            out.push_str(&format!("mask [{}]", names.join(", ")));
        }
        ast::ObligationKind::RateLimit { limit, per, by, .. } => {
            out.push_str(&format!("rate_limit {limit} per {}", expr_text(per)));
            if let Some(by) = by {
                out.push_str(&format!(" by {}", expr_text(by)));
            }
        }
        ast::ObligationKind::RequestHeader { name, value } => {
            out.push_str(&format!(
                "request_header {:?} = {}",
                name.value,
                expr_text(value)
            ));
        }
        ast::ObligationKind::ResponseHeader { name, value } => {
            out.push_str(&format!(
                "response_header {:?} = {}",
                name.value,
                expr_text(value)
            ));
        }
        ast::ObligationKind::RemoveHeader { name } => {
            out.push_str(&format!("remove_header {:?}", name.value))
        }
    }
    scope_text(&mut out, &o.scope);
    clauses(&mut out, o.when.as_ref(), o.unless.as_ref());
    out
}

/// An obligation's scope: `on "a", "b"`, `on T`, `for U`.
fn scope_text(out: &mut String, scope: &ast::Scope) {
    let actions = |list: &ScopeList<ast::StrLit>| match list {
        ScopeList::Any => "*".to_owned(),
        ScopeList::List(names) => names
            .iter()
            .map(|n| format!("{:?}", n.value))
            .collect::<Vec<_>>()
            .join(", "),
    };
    if let Some(a) = &scope.actions {
        out.push_str(&format!(" on {}", actions(a)));
    }
    if let Some(r) = &scope.resources {
        let target = crate::fmt::items::scope_target(r, scope.resource_head.as_ref());
        out.push_str(&format!(" on {target}"));
    }
    if let Some(p) = &scope.principals {
        let target = crate::fmt::items::scope_target(p, scope.principal_head.as_ref());
        out.push_str(&format!(" for {target}"));
    }
}

fn clauses(out: &mut String, when: Option<&ast::Expr>, unless: Option<&ast::Expr>) {
    if let Some(w) = when {
        out.push_str(&format!(" when {}", expr_text(w)));
    }
    if let Some(u) = unless {
        out.push_str(&format!(" unless {}", expr_text(u)));
    }
}

/// Whether `m` (upper-case) is an HTTP method routes and tests accept.
pub fn is_http_method(m: &str) -> bool {
    super::routes::METHODS.contains(&m)
}
