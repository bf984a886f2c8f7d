use rampart_engine::bundle::{self as ir, Condition, Expr, RuleKind};
use rampart_engine::Value;

use super::{declare_lint, Lint, LintContext, LintMeta, LintRule};
use crate::ast::{self, ScopeList};
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags an `allow` rule that can never take effect because one `deny` (or `require`)
    /// rule always applies to every request the allow is about.
    ///
    /// The deny counts when it is unconditional after const folding: no `when` (or one
    /// that is always true), no `unless` (or one that is always false), and for a
    /// `require`, a required condition that is always false. Its scope must cover the
    /// allow's whole scope, part by part: actions, resource types and principal types,
    /// where `*` or an omitted part covers everything, and a list covers the same or a
    /// shorter list (an allow's omitted principal types are covered only by a deny's `*`
    /// or omitted ones); a deny naming entities (`for User in Group::"g"`) covers only an
    /// allow naming the same ones. The deny must also be seen by requests for the allow's package:
    /// in the same package or one it imports. Several denies that only together cover an
    /// allow are not reported.
    ///
    /// ### Why is this bad?
    /// Deny wins over allow, so the allow is dead code that reads like a grant: whoever
    /// wrote it expects access that nobody gets. Either the deny is broader than intended
    /// (a missing `when`, a `*` that should be a list) or the allow should go.
    ///
    /// ### Example
    /// ```rampart
    /// deny * on Doc reason "documents are frozen"
    ///
    /// allow "docs:read" on Doc
    ///   when context.auth.scopes has_scope "docs:read"   // warns: always denied
    ///
    /// deny * on Doc when resource.archived                // ok: the deny is conditional
    /// ```
    pub struct AllowShadowedByDeny {
        code: "L006",
        name: "allow-shadowed-by-deny",
        severity: Warning,
        since: "0.1.0",
        summary: "allow rule that an unconditional deny always overrides",
    }
}

impl Lint for AllowShadowedByDeny {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let always_denying: Vec<&LintRule<'_>> = cx
            .set_rules
            .iter()
            .filter(|r| always_denies(r.compiled))
            .collect();
        for allow in cx
            .rules
            .iter()
            .filter(|r| r.compiled.kind == RuleKind::Allow)
        {
            let shadow = always_denying.iter().find(|deny| {
                cx.package_sees(allow.compiled.package, deny.compiled.package)
                    && scope_covers(&deny.ast.scope, &allow.ast.scope)
            });
            if let Some(deny) = shadow {
                out.push(finding(allow, deny));
            }
        }
    }
}

fn finding(allow: &LintRule<'_>, deny: &LintRule<'_>) -> Diagnostic {
    let kind = deny.ast.kind.keyword();
    let deny_id = &deny.compiled.id;
    let diag = AllowShadowedByDeny::META
        .diagnostic(format!(
            "allow rule `{}` is shadowed by {kind} rule `{deny_id}`",
            allow.compiled.id
        ))
        .with_label(
            allow.ast.scope.span,
            "every request this allow is about is denied",
        );
    let fix = "narrow it with `when`/`unless` or a smaller scope, or remove this allow";
    let diag = if deny.source.name() == allow.source.name() {
        diag.with_secondary(deny.ast.scope.span, "denied here, unconditionally")
            .with_help(format!("`{deny_id}` always applies: {fix}"))
    } else {
        let place = deny
            .compiled
            .source
            .as_ref()
            .map(|s| format!(" (`{}`, line {})", s.file, s.line))
            .unwrap_or_default();
        diag.with_help(format!("`{deny_id}`{place} always applies: {fix}"))
    };
    diag.in_file(allow.source)
}

/// A deny or require that applies to every request of its scope.
fn always_denies(rule: &ir::Rule) -> bool {
    let denies = match rule.kind {
        RuleKind::Allow => false,
        RuleKind::Deny => true,
        // `require C` denies when `C` does not hold; an error in `C` also denies.
        RuleKind::Require => rule.require.as_ref().is_some_and(has_false_conjunct),
    };
    // `when` holds when every conjunct does; `unless` never holds with a false conjunct
    // (an error before it would make the rule apply anyway: deny rules fail closed).
    denies
        && rule.when.conjuncts.iter().all(|c| c.expr == constant(true))
        && rule.unless.as_ref().is_none_or(has_false_conjunct)
}

fn has_false_conjunct(condition: &Condition) -> bool {
    condition
        .conjuncts
        .iter()
        .any(|c| c.expr == constant(false))
}

fn constant(b: bool) -> Expr {
    Expr::Const(Value::Bool(b))
}

/// Whether every (action, resource type, principal type) of `inner` is in `outer`.
fn scope_covers(outer: &ast::Scope, inner: &ast::Scope) -> bool {
    list_covers(outer.actions.as_ref(), inner.actions.as_ref(), |a| &a.value)
        && list_covers(outer.resources.as_ref(), inner.resources.as_ref(), |t| {
            &t.name
        })
        && list_covers(outer.principals.as_ref(), inner.principals.as_ref(), |t| {
            &t.name
        })
        && head_covers(outer.resource_head.as_ref(), inner.resource_head.as_ref())
        && head_covers(outer.principal_head.as_ref(), inner.principal_head.as_ref())
}

/// No head covers every entity; a head covers only the same head (the same entities with
/// the same operator), which is all the lint needs to stay sound.
fn head_covers(outer: Option<&ast::ScopeHead>, inner: Option<&ast::ScopeHead>) -> bool {
    fn key(head: &ast::ScopeHead) -> (ast::HeadOp, Vec<(&str, &str)>) {
        let entities = head
            .entities
            .iter()
            .map(|e| (e.ty.name.as_str(), e.id.value.as_str()))
            .collect();
        (head.op, entities)
    }
    match (outer, inner) {
        (None, _) => true,
        (Some(outer), Some(inner)) => key(outer) == key(inner),
        (Some(_), None) => false,
    }
}

/// `*` or omitted covers everything; a list covers a list of some of its names.
fn list_covers<T>(
    outer: Option<&ScopeList<T>>,
    inner: Option<&ScopeList<T>>,
    name: impl Fn(&T) -> &String,
) -> bool {
    match (outer, inner) {
        (None | Some(ScopeList::Any), _) => true,
        (Some(ScopeList::List(outer)), Some(ScopeList::List(inner))) => inner
            .iter()
            .all(|i| outer.iter().any(|o| name(o) == name(i))),
        (Some(ScopeList::List(_)), None | Some(ScopeList::Any)) => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::lints::test_support::{count, count_in, SCHEMA};

    const ALLOW: &str = "allow \"docs:read\" on Doc for User when principal.roles contains \"r\"";

    #[test]
    fn flags_allows_under_an_unconditional_deny() {
        for deny in [
            "deny * on Doc",
            "deny \"docs:read\", \"docs:write\"",
            "deny * for User",
            "deny [\"docs:read\"] on [Doc] for [User] when 1 < 2",
            "deny * unless false",
            "const frozen = true\ndeny * when frozen",
            "require false for *",
            "require 1 > 2 for \"docs:read\" on Doc",
            "require principal.roles contains \"x\" and false for User",
        ] {
            assert_eq!(
                count(&format!("{SCHEMA}{deny}\n{ALLOW}"), "L006"),
                1,
                "{deny}"
            );
        }
    }

    #[test]
    fn accepts_conditional_or_narrower_denies() {
        for deny in [
            "deny * on Doc when principal.roles contains \"banned\"",
            "deny * on Doc unless principal.roles contains \"staff\"",
            "deny \"docs:write\" on Doc",
            "deny \"health:read\"",
            "require principal.roles contains \"reader\" for User",
            "require true for *",
        ] {
            assert_eq!(
                count(&format!("{SCHEMA}{deny}\n{ALLOW}"), "L006"),
                0,
                "{deny}"
            );
        }
        // An allow of two actions is still live for the one the deny leaves out.
        let two = "deny \"docs:read\"\nallow \"docs:read\", \"docs:write\" on Doc for User when principal.roles contains \"r\"";
        assert_eq!(count(&format!("{SCHEMA}{two}"), "L006"), 0);
        // `for User` does not cover an allow for every principal type.
        let any_principal =
            "deny * for User\nallow \"docs:read\" on Doc when principal.roles contains \"r\"";
        assert_eq!(count(&format!("{SCHEMA}{any_principal}"), "L006"), 0);
    }

    #[test]
    fn needs_the_deny_to_be_seen_from_the_allow_package() {
        let schema = "package docs\nschema {\n  entity User { roles: Set<String> }\n  entity Doc\n  action \"docs:read\" on Doc for User\n}\n";
        let allow = format!("{schema}{ALLOW}\n");
        let frozen = "package frozen\ndeny * on Doc\n";
        assert_eq!(
            count_in(&[("a.rampart", &allow), ("b.rampart", frozen)], "L006"),
            0
        );
        let importing = format!(
            "package docs\nimport frozen\n{}",
            &allow["package docs\n".len()..]
        );
        assert_eq!(
            count_in(&[("a.rampart", &importing), ("b.rampart", frozen)], "L006"),
            1
        );
    }
}
