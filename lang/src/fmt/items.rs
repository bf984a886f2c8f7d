//! Lines of each kind of item but schema blocks and tests. A returned line may hold line
//! breaks: a construct that does not fit in [`WIDTH`] columns is laid out on several lines.

use super::doc::{bracketed, text, Doc};
use super::expr::{and_chain, expr_doc, format_expr, prec, quote};
use super::WIDTH;
use crate::ast::*;

/// The lines of an item.
pub(super) fn item_lines(item: &Item) -> Vec<String> {
    match item {
        Item::Schema(schema) => super::schema::schema_lines(schema),
        Item::Const(c) => {
            let doc = Doc::Concat(vec![
                text(format!("const {} = ", c.name.name)),
                expr_doc(&c.value, 0),
            ]);
            with_annotations(&c.annotations, vec![doc.render(WIDTH)])
        }
        Item::Route(r) => {
            let doc = Doc::Group(vec![
                text(format!("route {} {}", r.method.name, quote(&r.path.value))),
                Doc::Nest(
                    2,
                    vec![
                        Doc::Line,
                        text(format!("=> {} on ", quote(&r.action.value))),
                        expr_doc(&r.resource, prec::POSTFIX),
                    ],
                ),
            ]);
            with_annotations(&r.annotations, vec![doc.render(WIDTH)])
        }
        Item::Principal(p) => {
            let head = Doc::Concat(vec![text("principal "), expr_doc(&p.entity, prec::POSTFIX)]);
            let clauses: Vec<Clause<'_>> = p.when.iter().map(|w| Clause::Cond("when", w)).collect();
            with_annotations(&p.annotations, conditional(&head, &clauses))
        }
        Item::Rule(r) => {
            with_annotations(&r.annotations, conditional(&rule_head(r), &rule_clauses(r)))
        }
        Item::Obligation(o) => {
            let mut clauses = Vec::new();
            if let Some(w) = &o.when {
                clauses.push(Clause::Cond("when", w));
            }
            if let Some(u) = &o.unless {
                clauses.push(Clause::Cond("unless", u));
            }
            with_annotations(&o.annotations, conditional(&obligation_head(o), &clauses))
        }
        Item::Test(t) => super::test_block::test_lines(t),
    }
}

/// A rule without its annotations, on one line (the text rule ids are hashed from).
pub fn format_rule_body(r: &Rule) -> String {
    let mut line = rule_head(r).flat();
    for clause in rule_clauses(r) {
        line.push(' ');
        line.push_str(&clause.one_line());
    }
    line
}

fn with_annotations(annotations: &[Annotation], lines: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = annotations
        .iter()
        .map(|a| annotation(a).render(WIDTH))
        .collect();
    out.extend(lines);
    out
}

/// `@name` or `@name("a", "b")`, one argument per line when it does not fit.
fn annotation(a: &Annotation) -> Doc {
    if a.args.is_empty() {
        text(format!("@{}", a.name.name))
    } else {
        bracketed(
            &format!("@{}(", a.name.name),
            a.args.iter().map(|s| text(quote(&s.value))).collect(),
            ")",
            false,
        )
    }
}

/// `["a", "b"]`, one string per line when it does not fit.
pub(super) fn string_set(list: &[StrLit]) -> Doc {
    bracketed(
        "[",
        list.iter().map(|s| text(quote(&s.value))).collect(),
        "]",
        false,
    )
}

pub(super) fn names(list: &[Ident]) -> String {
    list.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An action list: `*`, `[]`, or `"a", "b"` (bracketed, one per line, when it does not fit).
fn action_list(list: &ScopeList<StrLit>) -> Doc {
    match list {
        ScopeList::Any => text("*"),
        ScopeList::List(items) if items.is_empty() => text("[]"),
        ScopeList::List(items) => string_list(items),
    }
}

/// `"a", "b"` on one line, else `[` one string per line `]`.
pub(super) fn string_list(items: &[StrLit]) -> Doc {
    let mut inner = vec![Doc::SoftLine];
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            inner.push(text(","));
            inner.push(Doc::Line);
        }
        inner.push(text(quote(&item.value)));
    }
    inner.push(Doc::IfBroken(","));
    Doc::Group(vec![
        Doc::IfBroken("["),
        Doc::Nest(2, inner),
        Doc::SoftLine,
        Doc::IfBroken("]"),
    ])
}

fn type_list(list: &ScopeList<Ident>) -> String {
    match list {
        ScopeList::Any => "*".to_owned(),
        ScopeList::List(items) if items.is_empty() => "[]".to_owned(),
        ScopeList::List(items) => names(items),
    }
}

/// What follows `on` or `for`: `T`, `T in E` or `E, …` (the entities of an `==` head
/// stand for their types).
pub(crate) fn scope_target(types: &ScopeList<Ident>, head: Option<&ScopeHead>) -> String {
    let entity = |e: &EntityLit| format!("{}::{}", e.ty.name, quote(&e.id.value));
    match head {
        None => type_list(types),
        Some(head) if head.op == HeadOp::Eq => head
            .entities
            .iter()
            .map(entity)
            .collect::<Vec<_>>()
            .join(", "),
        Some(head) => {
            let group: Vec<String> = head.entities.iter().map(entity).collect();
            format!("{} in {}", type_list(types), group.join(", "))
        }
    }
}

/// ` on T` and ` for U` parts of a scope.
fn types_suffix(scope: &Scope) -> String {
    let mut out = String::new();
    if let Some(resources) = &scope.resources {
        out.push_str(" on ");
        out.push_str(&scope_target(resources, scope.resource_head.as_ref()));
    }
    if let Some(principals) = &scope.principals {
        out.push_str(" for ");
        out.push_str(&scope_target(principals, scope.principal_head.as_ref()));
    }
    out
}

fn rule_head(r: &Rule) -> Doc {
    let scope = &r.scope;
    match r.kind {
        RuleKind::Allow | RuleKind::Deny => {
            let actions = scope
                .actions
                .as_ref()
                .map_or_else(|| text("*"), action_list);
            Doc::Concat(vec![
                text(format!("{} ", r.kind.keyword())),
                actions,
                text(types_suffix(scope)),
            ])
        }
        RuleKind::Require => {
            let condition = r
                .require
                .as_ref()
                .map_or_else(|| text("true"), |e| expr_doc(e, 0));
            let target = match (&scope.actions, &scope.principals) {
                (Some(actions), _) => Doc::Concat(vec![
                    text("for "),
                    action_list(actions),
                    text(types_suffix(scope)),
                ]),
                (None, Some(principals)) => text(format!(
                    "for {}",
                    scope_target(principals, scope.principal_head.as_ref())
                )),
                (None, None) => text("for *"),
            };
            // `require C` then `  for T` on a line of its own when they do not fit.
            Doc::Group(vec![
                text("require "),
                Doc::Nest(2, vec![condition, Doc::Line, target]),
            ])
        }
    }
}

fn rule_clauses(r: &Rule) -> Vec<Clause<'_>> {
    let mut clauses = Vec::new();
    if let Some(w) = &r.when {
        clauses.push(Clause::Cond("when", w));
    }
    if let Some(u) = &r.unless {
        clauses.push(Clause::Cond("unless", u));
    }
    if let Some(reason) = &r.reason {
        clauses.push(Clause::Reason(reason));
    }
    clauses
}

fn obligation_head(o: &Obligation) -> Doc {
    let mut parts = vec![text("obligation ")];
    match &o.kind {
        ObligationKind::Mask { fields } => {
            parts.push(text("mask "));
            parts.push(string_set(fields));
        }
        ObligationKind::RateLimit { limit, per, by, .. } => {
            parts.push(text(format!("rate_limit {limit} per ")));
            parts.push(expr_doc(per, 0));
            if let Some(by) = by {
                parts.push(text(" by "));
                parts.push(expr_doc(by, 0));
            }
        }
        ObligationKind::RequestHeader { name, value } => {
            parts.push(text(format!("request_header {} = ", quote(&name.value))));
            parts.push(expr_doc(value, 0));
        }
        ObligationKind::ResponseHeader { name, value } => {
            parts.push(text(format!("response_header {} = ", quote(&name.value))));
            parts.push(expr_doc(value, 0));
        }
        ObligationKind::RemoveHeader { name } => {
            parts.push(text(format!("remove_header {}", quote(&name.value))));
        }
    }
    // The scope goes to a line of its own when the head does not fit.
    let mut scope = Vec::new();
    if let Some(actions) = &o.scope.actions {
        scope.push(text("on "));
        scope.push(action_list(actions));
    }
    let types = types_suffix(&o.scope);
    if scope.is_empty() {
        scope.push(text(types.trim_start()));
    } else {
        scope.push(text(types));
    }
    if o.scope.actions.is_some() || o.scope.resources.is_some() || o.scope.principals.is_some() {
        parts.push(Doc::Nest(2, vec![Doc::Line, Doc::Concat(scope)]));
    }
    Doc::Group(parts)
}

/// A `when`/`unless` condition or a `reason`.
enum Clause<'a> {
    Cond(&'static str, &'a Expr),
    Reason(&'a StrLit),
}

impl Clause<'_> {
    fn one_line(&self) -> String {
        match self {
            Clause::Cond(keyword, e) => format!("{keyword} {}", format_expr(e)),
            Clause::Reason(r) => format!("reason {}", quote(&r.value)),
        }
    }

    /// The clause on its own line(s) under a head. A condition that does not fit is split
    /// at its top-level `and`s (`  when  a` / `    and b`, `a` aligned with `b`), and each
    /// operand that still does not fit breaks inside.
    fn lines(&self) -> String {
        let Clause::Cond(keyword, e) = self else {
            return format!("  {}", self.one_line());
        };
        let operands = and_chain(e);
        let doc = if operands.len() < 2 {
            Doc::Concat(vec![
                text(format!("  {keyword} ")),
                Doc::Nest(4, vec![expr_doc(e, 0)]),
            ])
        } else {
            let mut chain = Vec::new();
            for (i, operand) in operands.iter().enumerate() {
                if i > 0 {
                    chain.push(Doc::Line);
                    chain.push(text("and "));
                }
                chain.push(expr_doc(operand, prec::NOT));
            }
            // `when  a` aligns `a` with the operands of the `    and` lines below it.
            let gap = if *keyword == "when" { " " } else { "" };
            Doc::Group(vec![
                text(format!("  {keyword} ")),
                Doc::IfBroken(gap),
                Doc::Nest(4, chain),
            ])
        };
        doc.render(WIDTH)
    }
}

/// A head and its clauses: one line when it fits, else one clause per line.
fn conditional(head: &Doc, clauses: &[Clause<'_>]) -> Vec<String> {
    let mut one_line = head.flat();
    for clause in clauses {
        one_line.push(' ');
        one_line.push_str(&clause.one_line());
    }
    if one_line.chars().count() <= WIDTH {
        return vec![one_line];
    }
    let mut lines = vec![head.render(WIDTH)];
    lines.extend(clauses.iter().map(Clause::lines));
    lines
}
