use rampart_engine::bundle::RuleKind;

use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::ast::ScopeList;
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags an `allow` rule whose actions are `*`.
    ///
    /// ### Why is this bad?
    /// Least privilege: an `allow *` grants every action that exists today and every action
    /// added to the schema tomorrow, including ones its author never thought about. Name
    /// the actions the rule is meant to grant.
    ///
    /// ### Example
    /// ```rampart
    /// allow * on Doc when principal in Group::"admins"           // warns
    ///
    /// allow "docs:read", "docs:write" on Doc
    ///   when principal in Group::"admins"                         // ok
    /// ```
    pub struct WildcardActionInAllow {
        code: "L002",
        name: "wildcard-action-in-allow",
        severity: Warning,
        since: "0.1.0",
        summary: "allow rule for every action (`allow *`)",
    }
}

impl Lint for WildcardActionInAllow {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for rule in &cx.rules {
            if rule.compiled.kind != RuleKind::Allow
                || !matches!(rule.ast.scope.actions, Some(ScopeList::Any))
            {
                continue;
            }
            let diag = Self::META
                .diagnostic(format!("rule `{}` allows every action", rule.compiled.id))
                .with_label(rule.ast.scope.span, "`*` grants every action, also ones added later")
                .with_help("list the actions this rule should grant, e.g. `allow \"docs:read\", \"docs:write\"`")
                .in_file(rule.source);
            out.push(diag);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lints::test_support::{count, SCHEMA};

    #[test]
    fn flags_allow_star() {
        let src = format!("{SCHEMA}allow * on Doc when principal.roles contains \"admin\"");
        assert_eq!(count(&src, "L002"), 1);
    }

    #[test]
    fn accepts_named_actions_and_deny_star() {
        let named =
            format!("{SCHEMA}allow \"docs:read\" on Doc when principal.roles contains \"admin\"");
        assert_eq!(count(&named, "L002"), 0);
        let deny = format!("{SCHEMA}deny * on Doc when principal.roles contains \"banned\"");
        assert_eq!(count(&deny, "L002"), 0);
    }
}
