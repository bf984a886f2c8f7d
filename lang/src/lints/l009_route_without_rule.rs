use std::collections::HashMap;

use rampart_engine::bundle::{self as ir, ActionId, Expr, RuleKind, TypeId};
use rampart_engine::Value;

use super::{declare_lint, Lint, LintContext, LintMeta, LintRoute};
use crate::ast::ExprKind;
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags a `route` whose action no rule of the policy set could ever apply to. Rules
    /// of the set's files and of the packages they import count when their scope covers
    /// the route's action on the route's resource type:
    ///
    /// - an `allow` whose actions and resource types cover them (`*` or omitted parts
    ///   cover everything);
    /// - a `deny` or `require` that names the action in its list: a deliberate "closed"
    ///   decision. Blanket guards such as `require context.tls.mtls for *` (the stdlib
    ///   packs have several) apply to every route and say nothing about this one, so they
    ///   do not count.
    ///
    /// Rules whose `when` is always false, or whose `unless` always holds, do not count.
    ///
    /// ### Why is this bad?
    /// Every request the gateway maps to this route is denied by default, whoever sends
    /// it: the route is dead, or the rules for it were forgotten (often an action renamed
    /// in the rules but not in the route). Either write the rules that decide it or remove
    /// the route.
    ///
    /// ### Example
    /// ```rampart
    /// route GET "/v1/docs/{id}" => "docs:read" on Doc::{id}
    /// route DELETE "/v1/docs/{id}" => "docs:delete" on Doc::{id}   // warns: no rule
    ///
    /// allow "docs:read" on Doc when principal == resource.owner
    /// ```
    pub struct RouteWithoutRule {
        code: "L009",
        name: "route-without-rule",
        severity: Warning,
        since: "0.1.0",
        summary: "route that no rule can apply to",
    }
}

impl Lint for RouteWithoutRule {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        if cx.routes.is_empty() {
            return;
        }
        // The rules that name each action, and those on every action: a route looks only
        // at its action's rules, so many routes over many rules stay linear.
        let mut by_action: HashMap<ActionId, Vec<&ir::Rule>> = HashMap::new();
        let mut any_action = Vec::new();
        for rule in &cx.set_rules {
            match &rule.compiled.scope.actions {
                Some(actions) => {
                    for action in actions {
                        by_action.entry(*action).or_default().push(rule.compiled);
                    }
                }
                None => any_action.push(rule.compiled),
            }
        }
        for route in &cx.routes {
            let action = route.compiled.action;
            let resource = resource_type(&route.compiled.resource);
            let named = by_action.get(&action).map_or(&[][..], Vec::as_slice);
            let covered = named
                .iter()
                .chain(&any_action)
                .any(|rule| can_apply(rule, action, resource));
            if !covered {
                out.push(finding(route));
            }
        }
    }
}

fn finding(route: &LintRoute<'_>) -> Diagnostic {
    let ast = route.ast;
    let action = &ast.action.value;
    let on = match &ast.resource.kind {
        ExprKind::EntityRef { ty, .. } | ExprKind::EntityCtor { ty, .. } => {
            format!(" on `{}`", ty.name)
        }
        _ => String::new(),
    };
    RouteWithoutRule::META
        .diagnostic(format!(
            "route `{} {}` has no rule that can apply to it",
            ast.method.name, ast.path.value
        ))
        .with_label(
            ast.action.span,
            format!("no rule covers `{action}`{on}"),
        )
        .with_help(format!(
            "write the rules for `{action}`{on} (every request of this route is denied by default), or remove the route"
        ))
        .in_file(route.source)
}

/// The entity type a route's resource expression builds, when it is known statically.
fn resource_type(resource: &Expr) -> Option<TypeId> {
    match resource {
        Expr::EntityCtor(ty, _) => Some(*ty),
        Expr::Const(Value::Entity(uid)) => Some(uid.ty),
        _ => None,
    }
}

/// Whether the rule's scope covers the action on the resource type (an unknown type is
/// covered by any list) and its conditions are not constant against it. A deny or require
/// must name the action.
fn can_apply(rule: &ir::Rule, action: ActionId, resource: Option<TypeId>) -> bool {
    let scope = &rule.scope;
    let action_ok = match (&scope.actions, rule.kind) {
        (None, RuleKind::Allow) => true,
        (None, RuleKind::Deny | RuleKind::Require) => false,
        (Some(actions), _) => actions.contains(&action),
    };
    let resource_ok = match (&scope.resources, resource) {
        (None, _) | (Some(_), None) => true,
        (Some(types), Some(ty)) => types.contains(&ty),
    };
    let never = rule
        .when
        .conjuncts
        .iter()
        .any(|c| c.expr == constant(false))
        || rule.unless.as_ref().is_some_and(|u| {
            !u.conjuncts.is_empty() && u.conjuncts.iter().all(|c| c.expr == constant(true))
        });
    action_ok && resource_ok && !never
}

fn constant(b: bool) -> Expr {
    Expr::Const(Value::Bool(b))
}

#[cfg(test)]
mod tests {
    use crate::lints::test_support::{count, count_in, SCHEMA};

    const ROUTES: &str = "route GET \"/v1/docs/{id}\" => \"docs:read\" on Doc::{id}\n";

    #[test]
    fn flags_a_route_no_rule_covers() {
        let src = format!(
            "{SCHEMA}{ROUTES}allow \"docs:write\" on Doc when principal.roles contains \"w\""
        );
        assert_eq!(count(&src, "L009"), 1);
        let none = format!("{SCHEMA}{ROUTES}");
        assert_eq!(count(&none, "L009"), 1);
        let guards_only = format!(
            "{SCHEMA}{ROUTES}require context.tls.mtls for *\ndeny * on Doc when principal.roles contains \"banned\""
        );
        assert_eq!(count(&guards_only, "L009"), 1);
        let dead =
            format!("{SCHEMA}{ROUTES}const off = false\nallow \"docs:read\" on Doc when off");
        assert_eq!(count(&dead, "L009"), 1);
        let other_type = format!(
            "{SCHEMA}route GET \"/health\" => \"health:read\" on Health::\"api\"\nallow \"docs:read\" on Doc when principal.roles contains \"r\""
        );
        assert_eq!(count(&other_type, "L009"), 1);
    }

    #[test]
    fn accepts_routes_some_rule_covers() {
        for rule in [
            "allow \"docs:read\" on Doc when principal.roles contains \"r\"",
            "allow \"docs:read\", \"docs:write\" when principal.roles contains \"r\"",
            "deny \"docs:read\" on Doc when principal.roles contains \"banned\"",
            "allow * on Doc when principal.roles contains \"admin\"",
            "require context.tls.mtls for \"docs:read\"",
        ] {
            let src = format!("{SCHEMA}{ROUTES}{rule}");
            assert_eq!(count(&src, "L009"), 0, "{rule}");
        }
    }

    #[test]
    fn rules_of_other_files_count_and_allow_lint_silences() {
        let files = [
            ("a.rampart", &*format!("{SCHEMA}{ROUTES}")),
            (
                "b.rampart",
                "package lints\nallow \"docs:read\" on Doc when principal.roles contains \"r\"",
            ),
        ];
        assert_eq!(count_in(&files, "L009"), 0);
        let silenced =
            format!("{SCHEMA}@allow_lint(\"L009\", \"decided by the upstream service\")\n{ROUTES}");
        assert_eq!(count(&silenced, "L009"), 0);
    }
}
