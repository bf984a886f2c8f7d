use std::collections::HashMap;

use rampart_engine::bundle::RuleKind;

use super::{declare_lint, Lint, LintContext, LintMeta, LintRule};
use crate::ast::{self, SchemaDecl, ScopeList, TypeExprKind};
use crate::diagnostics::Diagnostic;

declare_lint! {
    /// ### What it does
    /// Flags an `allow` rule that reaches classified data while nothing in the policy set
    /// requires transport security for it.
    ///
    /// A resource type holds classified data when one of its attributes has an enum type
    /// (or a set of one) with a variant named like a classification: `confidential`,
    /// `restricted`, `secret`, `pci`, `phi`, `pii` or `sensitive`, alone or as a part
    /// between underscores (`top_secret`, `pii_high`). The allow reaches the types it names
    /// with `on`; without `on`, the types its actions are declared `on` (actions declared
    /// for any resource type are not counted). For each such type, the lint looks for a
    /// `deny` or `require` rule anywhere in the policy set, imported packages included,
    /// whose resource scope is `*`, omitted or names that type, and whose conditions read
    /// `context.tls.version` or `context.tls.mtls`. There is no finding when one exists or
    /// when the allow itself reads one of them. Whether the TLS condition is strict enough
    /// is not judged.
    ///
    /// ### Why is this bad?
    /// Cardholder, health and personal data must not travel in clear text or over
    /// outdated TLS (PCI DSS 4.2.1, HIPAA 164.312(e)(1), GDPR art. 32). A gateway that
    /// terminates TLS leniently, or an internal hop without it, would be served the data
    /// as long as the caller is authorized.
    ///
    /// ### Example
    /// ```rampart
    /// schema {
    ///   enum Class { public, internal, pci }
    ///   entity Account { classification: Class }
    ///   action "payments:read" on Account
    /// }
    /// allow "payments:read" on Account
    ///   when context.auth.scopes has_scope "payments:read"      // warns
    ///
    /// require context.tls.version >= tls1.2 for *               // fixes it, as does
    /// import std.zerotrust                                       // (at the top)
    /// ```
    pub struct ClassifiedWithoutTransportSecurity {
        code: "L007",
        name: "classified-without-transport-security",
        severity: Warning,
        since: "0.1.0",
        summary: "allow reaching classified data without a TLS or mTLS requirement",
    }
}

/// Variant names (or `_`-separated parts of them) that mark classified data.
const CLASSIFIED_WORDS: [&str; 7] = [
    "confidential",
    "restricted",
    "secret",
    "pci",
    "phi",
    "pii",
    "sensitive",
];

/// Condition paths that require transport security.
const TRANSPORT_PATHS: [&str; 2] = ["context.tls.version", "context.tls.mtls"];

impl Lint for ClassifiedWithoutTransportSecurity {
    fn meta(&self) -> &'static LintMeta {
        &Self::META
    }

    fn check(&self, cx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let schema = SchemaView::new(cx);
        if schema.classified.is_empty() {
            return;
        }
        let guards: Vec<&LintRule<'_>> = cx
            .set_rules
            .iter()
            .filter(|r| r.compiled.kind != RuleKind::Allow && reads_transport(r))
            .collect();
        for allow in cx
            .rules
            .iter()
            .filter(|r| r.compiled.kind == RuleKind::Allow)
        {
            if reads_transport(allow) {
                continue;
            }
            let unguarded = schema
                .reached_types(&allow.ast.scope)
                .into_iter()
                .find_map(|ty| {
                    let classified = schema.classified.get(ty)?;
                    let guarded = guards.iter().any(|g| covers_type(&g.ast.scope, ty));
                    (!guarded).then_some((ty, classified))
                });
            if let Some((ty, classified)) = unguarded {
                out.push(finding(allow, ty, classified));
            }
        }
    }
}

fn finding(allow: &LintRule<'_>, ty: &str, classified: &Classified<'_>) -> Diagnostic {
    let attr = &classified.attr.name.name;
    ClassifiedWithoutTransportSecurity::META
        .diagnostic(format!(
            "rule `{}` allows classified `{ty}` data without requiring TLS",
            allow.compiled.id
        ))
        .with_label(
            allow.ast.scope.span,
            format!("reaches `{ty}`, whose `{attr}` can be `{}`", classified.variant),
        )
        .with_help("require transport security for it, e.g. `require context.tls.version >= tls1.2 for *` or `require context.tls.mtls for …`, or import `std.zerotrust`")
        .in_file(allow.source)
}

fn reads_transport(rule: &LintRule<'_>) -> bool {
    TRANSPORT_PATHS.iter().any(|p| rule.reads(p))
}

/// Whether a deny/require scope covers resource type `ty`.
fn covers_type(scope: &ast::Scope, ty: &str) -> bool {
    match &scope.resources {
        None | Some(ScopeList::Any) => true,
        Some(ScopeList::List(types)) => types.iter().any(|t| t.name == ty),
    }
}

/// Whether an enum variant's name marks classified data.
fn is_classified_variant(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower
        .split('_')
        .any(|part| CLASSIFIED_WORDS.contains(&part))
}

/// A classified attribute of an entity type.
struct Classified<'a> {
    attr: &'a ast::AttrDecl,
    /// The first classified variant of its enum.
    variant: &'a str,
}

/// What this lint needs of the merged schema, from the declarations as written.
struct SchemaView<'a> {
    /// Entity type → its first classified attribute.
    classified: HashMap<&'a str, Classified<'a>>,
    /// Action → the resource types it is declared on (empty: any).
    action_resources: Vec<(&'a str, &'a [ast::Ident])>,
}

impl<'a> SchemaView<'a> {
    fn new(cx: &LintContext<'a>) -> Self {
        let mut classified_enums: HashMap<&str, &str> = HashMap::new();
        let mut action_resources = Vec::new();
        for decl in &cx.schema {
            match decl {
                SchemaDecl::Enum(e) => {
                    let variant = e.variants.iter().find(|v| is_classified_variant(&v.name));
                    if let Some(v) = variant {
                        classified_enums.insert(&e.name.name, &v.name);
                    }
                }
                SchemaDecl::Action(a) => {
                    for name in &a.names {
                        action_resources.push((name.value.as_str(), a.resources.as_slice()));
                    }
                }
                SchemaDecl::Entity(_) | SchemaDecl::Context(_) | SchemaDecl::Type(_) => {}
            }
        }
        let mut classified = HashMap::new();
        for decl in &cx.schema {
            let SchemaDecl::Entity(entity) = decl else {
                continue;
            };
            let found = entity.attrs.iter().find_map(|attr| {
                let variant = classified_enums.get(enum_name(&attr.ty)?)?;
                Some(Classified { attr, variant })
            });
            if let Some(c) = found {
                classified.insert(entity.name.name.as_str(), c);
            }
        }
        Self {
            classified,
            action_resources,
        }
    }

    /// The resource types an allow with this scope reaches: those named with `on`, else
    /// those its actions are declared on.
    fn reached_types(&self, scope: &'a ast::Scope) -> Vec<&'a str> {
        if let Some(ScopeList::List(types)) = &scope.resources {
            return types.iter().map(|t| t.name.as_str()).collect();
        }
        let named: Option<Vec<&str>> = match &scope.actions {
            Some(ScopeList::List(actions)) => {
                Some(actions.iter().map(|a| a.value.as_str()).collect())
            }
            None | Some(ScopeList::Any) => None,
        };
        let mut out: Vec<&str> = Vec::new();
        for (action, resources) in &self.action_resources {
            if named.as_ref().is_some_and(|n| !n.contains(action)) {
                continue;
            }
            for r in resources.iter() {
                if !out.contains(&r.name.as_str()) {
                    out.push(&r.name);
                }
            }
        }
        out
    }
}

/// `E` or `Set<E>`: the name `E` (an enum or not: the caller checks).
fn enum_name(ty: &ast::TypeExpr) -> Option<&str> {
    match &ty.kind {
        TypeExprKind::Named(name) => Some(&name.name),
        TypeExprKind::Set(inner) => match &inner.kind {
            TypeExprKind::Named(name) => Some(&name.name),
            _ => None,
        },
        TypeExprKind::Map(_) | TypeExprKind::Record(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::is_classified_variant;
    use crate::lints::test_support::{count, count_in};

    const SCHEMA: &str = r#"
package bank
schema {
  entity User { roles: Set<String> }
  enum Class { public, internal, pci }
  entity Account { owner: User, class: Class }
  entity Branch { name: String }
  action "acct:read", "acct:write" on Account for User
  action "branch:read" on Branch for User
}
"#;

    const ALLOW: &str = "allow \"acct:read\" on Account when resource.owner == principal";

    #[test]
    fn recognises_classification_names() {
        for yes in [
            "pci",
            "PHI",
            "top_secret",
            "pii_high",
            "confidential",
            "Restricted",
        ] {
            assert!(is_classified_variant(yes), "{yes}");
        }
        for no in [
            "public",
            "internal",
            "phil",
            "secretary",
            "pcie",
            "unrestricted",
        ] {
            assert!(!is_classified_variant(no), "{no}");
        }
    }

    #[test]
    fn flags_classified_resources_without_a_tls_rule() {
        for allow in [
            ALLOW,
            "allow \"acct:read\" when resource.owner == principal",
            "allow * on Account when principal.roles contains \"auditor\"",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{allow}"), "L007"), 1, "{allow}");
        }
        // A TLS rule that does not cover the type, or an allow-only mTLS read elsewhere.
        for other in [
            "require context.tls.mtls for * on Branch",
            "allow \"branch:read\" on Branch when context.tls.mtls and principal.roles contains \"x\"",
            "deny * when context.tls.cipher == \"RC4\"",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{other}\n{ALLOW}"), "L007"), 1, "{other}");
        }
    }

    #[test]
    fn accepts_tls_requirements_and_unclassified_types() {
        for guard in [
            "require context.tls.version >= tls1.2 for *",
            "require context.tls.mtls for User",
            "deny \"acct:read\" on Account unless context.tls.mtls",
            "deny * on [Account, Branch] when context.tls has version and context.tls.version < tls1.2",
        ] {
            assert_eq!(count(&format!("{SCHEMA}{guard}\n{ALLOW}"), "L007"), 0, "{guard}");
        }
        let own_mtls = format!("{SCHEMA}allow \"acct:read\" on Account when context.tls.mtls and resource.owner == principal");
        assert_eq!(count(&own_mtls, "L007"), 0);
        let branch =
            format!("{SCHEMA}allow \"branch:read\" on Branch when principal.roles contains \"x\"");
        assert_eq!(count(&branch, "L007"), 0);
    }

    #[test]
    fn counts_tls_rules_of_imported_stdlib_packages() {
        let with_import = SCHEMA.replace("package bank\n", "package bank\nimport std.zerotrust\n");
        let src = format!("{with_import}{ALLOW}");
        assert_eq!(count_in(&[("bank.rampart", &src)], "L007"), 0);
    }
}
