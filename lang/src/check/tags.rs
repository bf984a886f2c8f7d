//! Entity tags: `e.has_tag(k)` and `e.get_tag(k)` (Cedar's `hasTag`/`getTag`). Tags are a
//! string-keyed namespace of their own, apart from the attributes; an entity type declares
//! their type with `entity T … tags TYPE`.

use rampart_engine::bundle::Expr;

use super::expr::{path_text, ExprCx, Typed};
use super::types::{join, Type};
use crate::ast::{self, Span, TagOp};
use crate::diagnostics::Diagnostic;

impl ExprCx<'_> {
    /// `x.has_tag(k)` (Bool) or `x.get_tag(k)` (the tag type): `x` is an entity whose every
    /// possible type declares tags (E005 otherwise), `k` a String (E006), and the types'
    /// tags have one type (E006).
    pub(super) fn tag(&mut self, op: TagOp, x: &ast::Expr, k: &ast::Expr) -> Typed {
        let target = self.check(x, None);
        let key = self.check(k, Some(&Type::String));
        let key = self.expect(key, &Type::String, k.span);
        let tag_ty = self.tag_type(op, x, &target.ty);
        let (Some(tag_ty), false) = (tag_ty, key.ty == Type::Error) else {
            return Typed::error();
        };
        let (target, key) = (Box::new(target.ir), Box::new(key.ir));
        match op {
            TagOp::Has => Typed::new(Type::Bool, Expr::HasTag(target, key)),
            TagOp::Get => Typed::new(tag_ty, Expr::GetTag(target, key)),
        }
    }

    /// The type of the tags of a value of type `ty`, or `None` after a diagnostic.
    fn tag_type(&mut self, op: TagOp, x: &ast::Expr, ty: &Type) -> Option<Type> {
        let method = op.method();
        let ids = match ty {
            Type::Error => return None,
            Type::Entity(ids) => ids.clone(),
            other => {
                let other = other.clone();
                let help = format!("`.{method}(…)` reads a tag of an entity");
                self.mismatch(x.span, "an entity", &other, Some(&help));
                return None;
            }
        };
        let what = path_text(x).unwrap_or_else(|| "this entity".to_owned());
        if ids.is_empty() {
            let diag = Diagnostic::error(
                "E005",
                format!("`.{method}(…)`: the type of `{what}` is not known"),
            )
            .with_label(x.span, "may be an entity of any type")
            .with_help(
                "narrow the rule's scope with `on TYPE` or `for TYPE` to types that declare tags",
            );
            self.report(diag);
            return None;
        }
        let mut having = Vec::new();
        let mut lacking = Vec::new();
        for id in &ids {
            match self.schema.entity(*id).map(|e| (e.name.as_str(), &e.tags)) {
                Some((name, Some(tags))) => having.push((name, tags)),
                Some((name, None)) => lacking.push(name),
                None => return None,
            }
        }
        if let Some(first_lacking) = lacking.first() {
            let only = ids.len() == 1;
            self.no_tags(x.span, (&what, only), first_lacking, &having);
            return None;
        }
        let mut found: Option<Type> = None;
        for (_, tags) in &having {
            found = match found {
                None => Some((*tags).clone()),
                Some(ty) => match join(&ty, tags) {
                    Some(joined) => Some(joined),
                    None => {
                        let listed: Vec<String> = having
                            .iter()
                            .map(|(name, tags)| format!("`{name}`: `{}`", self.describe(tags)))
                            .collect();
                        let diag = Diagnostic::error(
                            "E006",
                            format!("the tags of the types of `{what}` have different types"),
                        )
                        .with_label(x.span, "tag types differ")
                        .with_help(format!(
                            "{}; narrow the rule's scope to types whose tags have one type",
                            listed.join(", ")
                        ));
                        self.report(diag);
                        return None;
                    }
                },
            };
        }
        match found {
            Some(Type::Error) | None => None,
            Some(ty) => Some(ty),
        }
    }

    /// E005: `what` may be an entity of type `lacking` (`only`: it is one), which declares
    /// no tags.
    fn no_tags(
        &mut self,
        span: Span,
        (what, only): (&str, bool),
        lacking: &str,
        having: &[(&str, &Type)],
    ) {
        let names: Vec<&str> = having.iter().map(|(name, _)| *name).collect();
        let help = match (names.split_last(), what.split('.').next()) {
            (None, _) => format!(
                "declare the type of its tags in the schema: `entity {lacking} … tags String`"
            ),
            (Some((last, rest)), variable) => {
                let owners = if rest.is_empty() {
                    format!("only `{last}` declares tags")
                } else {
                    format!("only `{}` and `{last}` declare tags", rest.join("`, `"))
                };
                let scope = names.join(", ");
                let first = names.first().copied().unwrap_or("T");
                match variable {
                    Some("resource") => format!(
                        "{owners}: narrow the rule's resource scope, e.g. `on {scope}`, or test the type first: `resource is {first} and …`"
                    ),
                    Some("principal") => format!(
                        "{owners}: narrow the rule's principal scope, e.g. `for {scope}`, or test the type first: `principal is {first} and …`"
                    ),
                    _ => format!("{owners}: narrow the rule's scope (`on` for the resource, `for` for the principal)"),
                }
            }
        };
        let label = if only {
            format!("`{what}` is a `{lacking}`")
        } else {
            format!("`{what}` may be of type `{lacking}` here")
        };
        let diag = Diagnostic::error("E005", format!("entity type `{lacking}` has no tags"))
            .with_label(span, label)
            .with_help(help);
        self.report(diag);
    }
}
