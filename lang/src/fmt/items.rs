//! Lines of each kind of item and schema declaration.

use super::expr::{and_chain, expr_at, format_expr, prec, quote};
use super::WIDTH;
use crate::ast::*;

/// The lines of a non-schema item (schema blocks are laid out by the caller).
pub(super) fn item_lines(item: &Item) -> Vec<String> {
    match item {
        Item::Schema(schema) => {
            let mut lines = vec!["schema {".to_owned()];
            for decl in &schema.decls {
                lines.extend(
                    decl_lines(decl, WIDTH - 2)
                        .into_iter()
                        .map(|l| format!("  {l}")),
                );
            }
            lines.push("}".to_owned());
            lines
        }
        Item::Const(c) => with_annotations(
            &c.annotations,
            vec![format!("const {} = {}", c.name.name, format_expr(&c.value))],
        ),
        Item::Route(r) => {
            let line = format!(
                "route {} {} => {} on {}",
                r.method.name,
                quote(&r.path.value),
                quote(&r.action.value),
                expr_at(&r.resource, prec::POSTFIX)
            );
            with_annotations(&r.annotations, vec![line])
        }
        Item::Principal(p) => {
            let head = format!("principal {}", expr_at(&p.entity, prec::POSTFIX));
            let clauses: Vec<Clause<'_>> = p.when.iter().map(|w| Clause::Cond("when", w)).collect();
            with_annotations(&p.annotations, conditional(head, &clauses))
        }
        Item::Rule(r) => {
            with_annotations(&r.annotations, conditional(rule_head(r), &rule_clauses(r)))
        }
        Item::Obligation(o) => {
            let mut clauses = Vec::new();
            if let Some(w) = &o.when {
                clauses.push(Clause::Cond("when", w));
            }
            if let Some(u) = &o.unless {
                clauses.push(Clause::Cond("unless", u));
            }
            with_annotations(&o.annotations, conditional(obligation_head(o), &clauses))
        }
        Item::Test(t) => test_lines(t),
    }
}

/// A rule without its annotations, on one line (the text rule ids are hashed from).
pub fn format_rule_body(r: &Rule) -> String {
    let mut line = rule_head(r);
    for clause in rule_clauses(r) {
        line.push(' ');
        line.push_str(&clause.one_line());
    }
    line
}

fn with_annotations(annotations: &[Annotation], lines: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = annotations.iter().map(annotation).collect();
    out.extend(lines);
    out
}

fn annotation(a: &Annotation) -> String {
    if a.args.is_empty() {
        format!("@{}", a.name.name)
    } else {
        format!("@{}({})", a.name.name, strings(&a.args))
    }
}

/// `"a", "b"`
fn strings(list: &[StrLit]) -> String {
    list.iter()
        .map(|s| quote(&s.value))
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(list: &[Ident]) -> String {
    list.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn action_list(list: &ScopeList<StrLit>) -> String {
    match list {
        ScopeList::Any => "*".to_owned(),
        ScopeList::List(items) if items.is_empty() => "[]".to_owned(),
        ScopeList::List(items) => strings(items),
    }
}

fn type_list(list: &ScopeList<Ident>) -> String {
    match list {
        ScopeList::Any => "*".to_owned(),
        ScopeList::List(items) if items.is_empty() => "[]".to_owned(),
        ScopeList::List(items) => names(items),
    }
}

/// ` on T` and ` for U` parts of a scope.
fn types_suffix(scope: &Scope) -> String {
    let mut out = String::new();
    if let Some(resources) = &scope.resources {
        out.push_str(" on ");
        out.push_str(&type_list(resources));
    }
    if let Some(principals) = &scope.principals {
        out.push_str(" for ");
        out.push_str(&type_list(principals));
    }
    out
}

fn rule_head(r: &Rule) -> String {
    let scope = &r.scope;
    match r.kind {
        RuleKind::Allow | RuleKind::Deny => {
            let actions = scope
                .actions
                .as_ref()
                .map_or_else(|| "*".to_owned(), action_list);
            format!("{} {actions}{}", r.kind.keyword(), types_suffix(scope))
        }
        RuleKind::Require => {
            let condition = r
                .require
                .as_ref()
                .map_or_else(|| "true".to_owned(), format_expr);
            let target = match (&scope.actions, &scope.principals) {
                (Some(actions), _) => format!("{}{}", action_list(actions), types_suffix(scope)),
                (None, Some(principals)) => type_list(principals),
                (None, None) => "*".to_owned(),
            };
            format!("require {condition} for {target}")
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

fn obligation_head(o: &Obligation) -> String {
    let kind = match &o.kind {
        ObligationKind::Mask { fields } => format!("mask [{}]", strings(fields)),
        ObligationKind::RateLimit { limit, per, by, .. } => {
            let mut s = format!("rate_limit {limit} per {}", format_expr(per));
            if let Some(by) = by {
                s.push_str(" by ");
                s.push_str(&format_expr(by));
            }
            s
        }
        ObligationKind::RequestHeader { name, value } => {
            format!(
                "request_header {} = {}",
                quote(&name.value),
                format_expr(value)
            )
        }
        ObligationKind::ResponseHeader { name, value } => {
            format!(
                "response_header {} = {}",
                quote(&name.value),
                format_expr(value)
            )
        }
        ObligationKind::RemoveHeader { name } => format!("remove_header {}", quote(&name.value)),
    };
    let mut head = format!("obligation {kind}");
    if let Some(actions) = &o.scope.actions {
        head.push_str(" on ");
        head.push_str(&action_list(actions));
    }
    head.push_str(&types_suffix(&o.scope));
    head
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

    /// The clause on its own lines under a head, split at top-level `and`s when too long.
    fn lines(&self) -> Vec<String> {
        let line = format!("  {}", self.one_line());
        let Clause::Cond(keyword, e) = self else {
            return vec![line];
        };
        let operands = and_chain(e);
        if line.chars().count() <= WIDTH || operands.len() < 2 {
            return vec![line];
        }
        // `when  a` aligns `a` with the operands of the `    and` lines below it.
        let gap = if *keyword == "when" { "  " } else { " " };
        operands
            .iter()
            .enumerate()
            .map(|(i, operand)| {
                let text = expr_at(operand, prec::NOT);
                if i == 0 {
                    format!("  {keyword}{gap}{text}")
                } else {
                    format!("    and {text}")
                }
            })
            .collect()
    }
}

/// A head and its clauses: one line when it fits, else one clause per line.
fn conditional(head: String, clauses: &[Clause<'_>]) -> Vec<String> {
    let mut one_line = head.clone();
    for clause in clauses {
        one_line.push(' ');
        one_line.push_str(&clause.one_line());
    }
    if one_line.chars().count() <= WIDTH {
        return vec![one_line];
    }
    let mut lines = vec![head];
    for clause in clauses {
        lines.extend(clause.lines());
    }
    lines
}

// ---------------------------------------------------------------------------------------
// Schema declarations
// ---------------------------------------------------------------------------------------

/// The lines of one schema declaration, for a line of `width` columns.
pub(super) fn decl_lines(decl: &SchemaDecl, width: usize) -> Vec<String> {
    match decl {
        SchemaDecl::Entity(e) => {
            let head = format!("entity {}", e.name.name);
            let tail = if e.parents.is_empty() {
                String::new()
            } else {
                format!(" in [{}]", names(&e.parents))
            };
            if e.attrs.is_empty() {
                vec![format!("{head}{tail}")]
            } else {
                braced(&head, &attr_items(&e.attrs), &tail, width)
            }
        }
        SchemaDecl::Enum(e) => {
            let variants: Vec<String> = e.variants.iter().map(|v| v.name.clone()).collect();
            braced(&format!("enum {}", e.name.name), &variants, "", width)
        }
        SchemaDecl::Action(a) => {
            let mut head = format!("action {}", strings(&a.names));
            if !a.resources.is_empty() {
                head.push_str(" on ");
                head.push_str(&names(&a.resources));
            }
            if !a.principals.is_empty() {
                head.push_str(" for ");
                head.push_str(&names(&a.principals));
            }
            if a.context.is_empty() {
                vec![head]
            } else {
                braced(
                    &format!("{head} context"),
                    &attr_items(&a.context),
                    "",
                    width,
                )
            }
        }
        SchemaDecl::Context(c) => braced("context", &attr_items(&c.attrs), "", width),
    }
}

/// `head { a, b }tail` on one line when it fits, else one item per line.
fn braced(head: &str, items: &[String], tail: &str, width: usize) -> Vec<String> {
    let one_line = if items.is_empty() {
        format!("{head} {{}}{tail}")
    } else {
        format!("{head} {{ {} }}{tail}", items.join(", "))
    };
    if one_line.chars().count() <= width || items.is_empty() {
        return vec![one_line];
    }
    let mut lines = vec![format!("{head} {{")];
    lines.extend(items.iter().map(|i| format!("  {i},")));
    lines.push(format!("}}{tail}"));
    lines
}

fn attr_items(attrs: &[AttrDecl]) -> Vec<String> {
    attrs.iter().map(attr).collect()
}

fn attr(a: &AttrDecl) -> String {
    let optional = if a.optional { "?" } else { "" };
    format!(
        "{}{optional}: {}",
        super::expr::record_key(&a.name.name),
        type_expr(&a.ty)
    )
}

fn type_expr(t: &TypeExpr) -> String {
    match &t.kind {
        TypeExprKind::Named(name) => name.name.clone(),
        TypeExprKind::Set(inner) => format!("Set<{}>", type_expr(inner)),
        TypeExprKind::Map(inner) => format!("Map<{}>", type_expr(inner)),
        TypeExprKind::Record(attrs) if attrs.is_empty() => "{}".to_owned(),
        TypeExprKind::Record(attrs) => format!("{{ {} }}", attr_items(attrs).join(", ")),
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

fn test_lines(t: &Test) -> Vec<String> {
    let mut lines = vec![format!("test {} {{", quote(&t.name.value))];
    lines.extend(request_lines(&t.request));
    for source in &t.entities {
        lines.push(match source {
            TestEntities::File(path) => format!("  entities {}", quote(&path.value)),
            TestEntities::Inline {
                uid,
                attrs,
                parents,
                ..
            } => {
                let mut line = format!("  entity {}", expr_at(uid, prec::POSTFIX));
                if let Some(attrs) = attrs {
                    line.push(' ');
                    // `entity U ["k"]` would read as the index `U["k"]`.
                    let min = if matches!(attrs.kind, ExprKind::Set(_)) {
                        prec::PRIMARY + 1
                    } else {
                        prec::POSTFIX
                    };
                    line.push_str(&expr_at(attrs, min));
                }
                if !parents.is_empty() {
                    let parents: Vec<String> =
                        parents.iter().map(|p| expr_at(p, prec::POSTFIX)).collect();
                    line.push_str(&format!(" in [{}]", parents.join(", ")));
                }
                line
            }
        });
    }
    let mut expect = format!("  expect {}", if t.expect.allow { "allow" } else { "deny" });
    if let Some(rules) = &t.expect.rules {
        expect.push_str(&format!(" by [{}]", strings(rules)));
    }
    lines.push(expect);
    lines.push("}".to_owned());
    lines
}

/// `  request …` on one line when it fits; else `headers`/`context` on lines of their own.
fn request_lines(request: &TestRequest) -> Vec<String> {
    let clause = |keyword: &str, e: &Option<Expr>| {
        e.as_ref()
            .map(|e| format!("{keyword} {}", expr_at(e, prec::POSTFIX)))
    };
    let (mut head, extra) = match request {
        TestRequest::Parts {
            principal,
            action,
            resource,
            context,
            ..
        } => {
            let mut head = String::from("  request");
            if let Some(p) = clause("principal", principal) {
                head.push(' ');
                head.push_str(&p);
            }
            head.push_str(&format!(
                " action {} resource {}",
                quote(&action.value),
                expr_at(resource, prec::POSTFIX)
            ));
            (head, vec![clause("context", context)])
        }
        TestRequest::Http {
            method,
            path,
            principal,
            headers,
            context,
            ..
        } => {
            let mut head = format!("  request {} {}", method.name, quote(&path.value));
            if let Some(p) = clause("principal", principal) {
                head.push(' ');
                head.push_str(&p);
            }
            (
                head,
                vec![clause("headers", headers), clause("context", context)],
            )
        }
    };
    let extra: Vec<String> = extra.into_iter().flatten().collect();
    let one_line = extra
        .iter()
        .fold(head.clone(), |line, e| format!("{line} {e}"));
    if one_line.chars().count() <= WIDTH {
        return vec![one_line];
    }
    let mut lines = vec![std::mem::take(&mut head)];
    lines.extend(extra.into_iter().map(|e| format!("    {e}")));
    lines
}
