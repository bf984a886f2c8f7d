//! Reading attributes: `e.name`, `e["key"]`, `e has name` on records, entities (also
//! unions of entity types: the attribute must exist on each), maps and `Any` data.

use rampart_engine::bundle::Expr;
use rampart_engine::Value;

use super::expr::{path_text, ExprCx, Typed};
use super::fold;
use super::types::{join, FieldTy, RecordTy, Type};
use super::with_suggestion;
use crate::ast::{self, Ident, StrLit};
use crate::diagnostics::Diagnostic;

impl ExprCx<'_> {
    /// Reads attribute `name` of a value of type `base.ty`.
    pub fn attr_of(&mut self, base_expr: &ast::Expr, base: Typed, name: &Ident) -> Typed {
        match &base.ty {
            Type::Error => Typed::error(),
            Type::Any => Typed::new(Type::Any, fold::index(base.ir, &name.name)),
            Type::Map(elem) => Typed::new((**elem).clone(), fold::index(base.ir, &name.name)),
            Type::Record(record) => match record.get(&name.name) {
                Some(field) => {
                    let sym = self.symbols.intern(&name.name);
                    Typed::new(field.ty.clone(), fold::attr(base.ir, sym))
                }
                None => {
                    let what = path_text(base_expr).unwrap_or_else(|| "this record".to_owned());
                    let base_diag = Diagnostic::error(
                        "E005",
                        format!("unknown attribute `{}` of `{what}`", name.name),
                    )
                    .with_label(name.span, format!("not a field of `{what}`"));
                    let fields = format!("`{what}` has: {}", field_list(record));
                    let diag = with_suggestion(
                        base_diag,
                        &name.name,
                        record.fields.keys().map(String::as_str),
                        Some(fields),
                    );
                    self.report(diag);
                    Typed::error()
                }
            },
            Type::Entity(ids) => self.entity_attr(base_expr, base.ir, &ids.clone(), name),
            Type::Timestamp | Type::Duration => {
                use rampart_engine::bundle::TimePart;
                let timestamp = base.ty == Type::Timestamp;
                match TimePart::named(&name.name, timestamp) {
                    Some(part) => {
                        let ty = match part {
                            TimePart::TimeOfDay => Type::Duration,
                            TimePart::Date => Type::Timestamp,
                            _ => Type::Int,
                        };
                        Typed::new(ty, fold::time_part(base.ir, part))
                    }
                    None => {
                        let kind = if timestamp { "Timestamp" } else { "Duration" };
                        let parts = TimePart::names(timestamp);
                        let base_diag = Diagnostic::error(
                            "E005",
                            format!("unknown attribute `{}` of a {kind}", name.name),
                        )
                        .with_label(name.span, format!("a {kind} has no such part"));
                        let listed = format!(
                            "a {kind} has: {}",
                            parts
                                .iter()
                                .map(|p| format!("`.{p}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        let diag = with_suggestion(
                            base_diag,
                            &name.name,
                            parts.iter().copied(),
                            Some(listed),
                        );
                        self.report(diag);
                        Typed::error()
                    }
                }
            }
            other => {
                let other = other.clone();
                self.mismatch(
                    base_expr.span,
                    "an entity or a record",
                    &other,
                    Some(&format!("`.{}` reads an attribute", name.name)),
                );
                Typed::error()
            }
        }
    }

    pub(super) fn entity_attr(
        &mut self,
        base_expr: &ast::Expr,
        ir: Expr,
        ids: &[u32],
        name: &Ident,
    ) -> Typed {
        let what = path_text(base_expr).unwrap_or_else(|| "this entity".to_owned());
        if ids.is_empty() {
            let diag = Diagnostic::error(
                "E005",
                format!(
                    "unknown attribute `{}`: the type of `{what}` is not known",
                    name.name
                ),
            )
            .with_label(base_expr.span, "may be an entity of any type")
            .with_help("narrow the rule's scope with `on TYPE` or `for TYPE`");
            self.report(diag);
            return Typed::error();
        }
        let mut found: Vec<&FieldTy> = Vec::new();
        let mut lacking: Vec<u32> = Vec::new();
        for id in ids {
            match self
                .schema
                .entity(*id)
                .and_then(|e| e.attrs.get(&name.name))
            {
                Some(f) => found.push(f),
                None => lacking.push(*id),
            }
        }
        if found.is_empty() {
            let type_name = self.describe(&Type::Entity(ids.to_vec()));
            let base = Diagnostic::error(
                "E005",
                format!("unknown attribute `{}` of `{type_name}`", name.name),
            )
            .with_label(name.span, format!("`{type_name}` has no such attribute"));
            let mut candidates: Vec<&str> = Vec::new();
            for id in ids {
                if let Some(e) = self.schema.entity(*id) {
                    candidates.extend(e.attrs.fields.keys().map(String::as_str));
                }
            }
            let diag = with_suggestion(base, &name.name, candidates, None);
            self.report(diag);
            return Typed::error();
        }
        if let Some(first_lacking) = lacking.first() {
            let lacking_name = self
                .schema
                .entity(*first_lacking)
                .map_or("?", |e| e.name.as_str())
                .to_owned();
            let having: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|i| !lacking.contains(i))
                .collect();
            // The scope is written the way the rule writes it: `on A, B` for the resource,
            // `for A, B` for the principal.
            let names: Vec<&str> = having
                .iter()
                .filter_map(|id| self.schema.entity(*id).map(|e| e.name.as_str()))
                .collect();
            let scope_types = names.join(", ");
            let first = names.first().copied().unwrap_or("T");
            let attr = &name.name;
            let owners = match names.split_last() {
                Some((last, [])) => format!("only `{last}` has it"),
                Some((last, rest)) => format!("only `{}` and `{last}` have it", rest.join("`, `")),
                None => String::from("no type has it"),
            };
            let help = match what.split('.').next() {
                Some("resource") => format!(
                    "{owners}: narrow the rule's resource scope, e.g. `on {scope_types}`, or test the type first: `resource is {first} and {what}.{attr}`"
                ),
                Some("principal") => format!(
                    "{owners}: narrow the rule's principal scope, e.g. `for {scope_types}`, or test the type first: `principal is {first} and {what}.{attr}`"
                ),
                _ => format!(
                    "{owners}: narrow the rule's scope (`on` for the resource, `for` for the principal)"
                ),
            };
            let diag = Diagnostic::error(
                "E005",
                format!("`{lacking_name}` has no attribute `{}`", name.name),
            )
            .with_label(
                name.span,
                format!("`{what}` may be of type `{lacking_name}` here"),
            )
            .with_help(help);
            self.report(diag);
            return Typed::error();
        }
        let mut ty = found.first().map_or(Type::Error, |f| f.ty.clone());
        for f in found.iter().skip(1) {
            match join(&ty, &f.ty) {
                Some(t) => ty = t,
                None => {
                    let diag = Diagnostic::error(
                        "E006",
                        format!(
                            "attribute `{}` has different types on the types of `{what}`",
                            name.name
                        ),
                    )
                    .with_label(name.span, "types differ")
                    .with_help("narrow the rule's scope to one type");
                    self.report(diag);
                    return Typed::error();
                }
            }
        }
        let sym = self.symbols.intern(&name.name);
        Typed::new(ty, fold::attr(ir, sym))
    }

    pub(super) fn index(&mut self, base: &ast::Expr, key: &StrLit) -> Typed {
        let typed = self.check(base, None);
        match &typed.ty {
            Type::Record(_) | Type::Entity(_) => {
                let name = Ident {
                    name: key.value.clone(),
                    span: key.span,
                };
                self.attr_of(base, typed, &name)
            }
            Type::Map(elem) => Typed::new((**elem).clone(), fold::index(typed.ir, &key.value)),
            Type::Any => Typed::new(Type::Any, fold::index(typed.ir, &key.value)),
            Type::Error => Typed::error(),
            other => {
                let other = other.clone();
                self.mismatch(base.span, "a map, an entity or a record", &other, None);
                Typed::error()
            }
        }
    }

    pub(super) fn has(&mut self, base: &ast::Expr, attr: &StrLit) -> Typed {
        let typed = self.check(base, None);
        let what = path_text(base).unwrap_or_else(|| "this value".to_owned());
        let known = match &typed.ty {
            Type::Record(r) => {
                let known = r.fields.contains_key(&attr.value);
                if !known {
                    let candidates: Vec<&str> = r.fields.keys().map(String::as_str).collect();
                    self.unknown_has(attr, &what, candidates);
                    return Typed::error();
                }
                true
            }
            Type::Entity(ids) if !ids.is_empty() => {
                let ids = ids.clone();
                let attrs: Vec<&str> = ids
                    .iter()
                    .filter_map(|i| self.schema.entity(*i))
                    .flat_map(|e| e.attrs.fields.keys().map(String::as_str))
                    .collect();
                if !attrs.contains(&attr.value.as_str()) {
                    let attrs: Vec<String> = attrs.iter().map(|s| (*s).to_owned()).collect();
                    self.unknown_has(attr, &what, attrs.iter().map(String::as_str).collect());
                    return Typed::error();
                }
                true
            }
            Type::Entity(_) | Type::Map(_) | Type::Any => false,
            Type::Error => return Typed::new(Type::Bool, Expr::Const(Value::Bool(false))),
            other => {
                let other = other.clone();
                self.mismatch(
                    base.span,
                    "an entity, a record or a map",
                    &other,
                    Some("`has` tests whether an attribute is present"),
                );
                return Typed::error();
            }
        };
        let sym = known.then(|| self.symbols.intern(&attr.value));
        Typed::new(Type::Bool, fold::has(typed.ir, &attr.value, sym))
    }

    pub(super) fn unknown_has(&mut self, attr: &StrLit, what: &str, candidates: Vec<&str>) {
        let base = Diagnostic::error(
            "E005",
            format!("unknown attribute `{}` of `{what}`", attr.value),
        )
        .with_label(attr.span, "never present: not declared");
        let diag = with_suggestion(base, &attr.value, candidates, None);
        self.report(diag);
    }
}

pub(super) fn field_list(record: &RecordTy) -> String {
    let names: Vec<&str> = record.fields.keys().map(String::as_str).collect();
    if names.is_empty() {
        "no fields".to_owned()
    } else {
        names.join(", ")
    }
}
