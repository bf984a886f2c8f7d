use rampart_engine::bundle::RuleKind;

use super::{declare_lint, Lint, LintContext, LintMeta};
use crate::diagnostics::Diagnostic;
use crate::project::PROJECT_FILE;

declare_lint! {
    /// ### What it does
    /// When the policy folder's `rampart.toml` declares at least one compliance framework
    /// (`[compliance] frameworks = [...]`), flags every `allow` rule of the folder's own
    /// files that names no control with `@control("framework/id")`. Rules of imported
    /// stdlib packages are not checked: they carry their own controls.
    ///
    /// ### Why is this bad?
    /// A repository that answers to a framework has to show an auditor why each grant
    /// exists. An allow without a control is access nobody mapped to a requirement:
    /// `rampart compliance` cannot count it as evidence, and a reviewer cannot tell a
    /// deliberate grant from a leftover. Name the control the rule implements, or silence
    /// the lint on the rule with the reason it needs none.
    ///
    /// ### Example
    /// ```rampart
    /// // rampart.toml: [compliance] frameworks = ["owasp-api-2023"]
    ///
    /// allow "docs:read" on Doc
    ///   when principal == resource.owner                 // warns: no @control
    ///
    /// @control("owasp-api-2023/API1")
    /// allow "docs:read" on Doc
    ///   when principal == resource.owner                 // ok
    ///
    /// @allow_lint("L010", "public health probe, no data")
    /// allow "health:read" on Health for Anonymous        // ok: silenced with a reason
    /// ```
    pub struct AllowWithoutControl {
        code: "L010",
        name: "allow-without-control",
        severity: Warning,
        since: "0.1.0",
        summary: "allow rule without `@control` in a repository that declares a framework",
    }
}

impl Lint for AllowWithoutControl {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let Some(project) = cx.project else {
            return;
        };
        let frameworks: Vec<&str> = project
            .compliance
            .frameworks
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        let Some(first) = frameworks.first() else {
            return;
        };
        let declared = frameworks
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        for rule in &cx.rules {
            if rule.compiled.kind != RuleKind::Allow || !rule.compiled.controls.is_empty() {
                continue;
            }
            let diag = Self::META
                .diagnostic(format!(
                    "allow rule `{}` names no `@control`",
                    rule.compiled.id
                ))
                .with_label(
                    rule.ast.scope.span,
                    format!("`{PROJECT_FILE}` declares {declared}"),
                )
                .with_help(format!(
                    "name the control this grant implements, e.g. `@control(\"{first}/…\")`, or add `@allow_lint(\"L010\", \"why no control applies\")`"
                ))
                .in_file(rule.source);
            out.push(diag);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lints::test_support::{count, count_with_project, SCHEMA};

    const OWASP: &str = "[compliance]\nframeworks = [\"owasp-api-2023\"]\n";
    const ALLOW: &str = "allow \"docs:read\" on Doc when principal == resource.owner\n";

    #[test]
    fn flags_allow_without_control_when_a_framework_is_declared() {
        let src = format!("{SCHEMA}{ALLOW}");
        assert_eq!(count_with_project(&src, OWASP, "L010"), 1);
    }

    #[test]
    fn accepts_controlled_allows_denies_and_repositories_without_frameworks() {
        let controlled = format!("{SCHEMA}@control(\"owasp-api-2023/API1\")\n{ALLOW}");
        assert_eq!(count_with_project(&controlled, OWASP, "L010"), 0);
        let deny =
            format!("{SCHEMA}deny \"docs:write\" on Doc when principal.roles contains \"x\"");
        assert_eq!(count_with_project(&deny, OWASP, "L010"), 0);
        let src = format!("{SCHEMA}{ALLOW}");
        assert_eq!(
            count_with_project(&src, "[compliance]\nframeworks = []\n", "L010"),
            0
        );
        assert_eq!(count(&src, "L010"), 0);
        let silenced = format!("{SCHEMA}@allow_lint(\"L010\", \"internal tool\")\n{ALLOW}");
        assert_eq!(count_with_project(&silenced, OWASP, "L010"), 0);
    }
}
