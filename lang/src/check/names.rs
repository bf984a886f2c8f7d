//! Bare and qualified names: variables, route parameters, consts (`name`, `alias.name`)
//! and enum variants (`pci` resolved by the expected type, `Class.pci`).

use rampart_engine::bundle::{EnumId, Expr, PackageId};
use rampart_engine::Value;

use super::builtins::VARIABLES;
use super::expr::{ExprCx, Place, Typed};
use super::types::Type;
use super::with_suggestion;
use crate::ast::{self, ExprKind, Ident};
use crate::diagnostics::Diagnostic;

impl ExprCx<'_> {
    pub(super) fn var(&mut self, id: &Ident, expected: Option<&Type>) -> Typed {
        let name = id.name.as_str();
        if let Some(Type::Enum(enum_id)) = expected {
            if let Some(index) = self.schema.variant_index(*enum_id, name) {
                return Typed::value(Type::Enum(*enum_id), Value::Enum(*enum_id, index));
            }
        }
        match name {
            "principal" => {
                let ty = self
                    .narrowed
                    .0
                    .clone()
                    .or_else(|| self.env.principal.clone());
                return self.request_var(id, ty, Expr::Principal);
            }
            "resource" => {
                let ty = self
                    .narrowed
                    .1
                    .clone()
                    .or_else(|| self.env.resource.clone());
                return self.request_var(id, ty, Expr::Resource);
            }
            "context" => return self.request_var(id, self.env.context.clone(), Expr::Context),
            "action" => {
                let ty = self.env.has_request().then_some(Type::String);
                return self.request_var(id, ty, Expr::Action);
            }
            "now" => {
                let ty = self.env.has_request().then_some(Type::Timestamp);
                return self.request_var(id, ty, Expr::Now);
            }
            _ => {}
        }
        if let Some(index) = self.env.params.iter().position(|p| p == name) {
            return Typed::new(
                Type::String,
                Expr::Param(u32::try_from(index).unwrap_or(u32::MAX)),
            );
        }
        if let Some(entry) = self.consts.get(self.package, name) {
            return match &entry.value {
                Some((ty, v)) => Typed::value(ty.clone(), v.clone()),
                None => Typed::error(),
            };
        }
        if let Some(Type::Enum(enum_id)) = expected {
            self.unknown_variant(*enum_id, id);
            return Typed::error();
        }
        if let Some(found) = self.unique_variant(id) {
            return found;
        }
        self.unknown_name(id);
        Typed::error()
    }

    pub(super) fn request_var(&mut self, id: &Ident, ty: Option<Type>, ir: Expr) -> Typed {
        match ty {
            Some(ty) => Typed::new(ty, ir),
            None => {
                let diag = self.unavailable(id);
                self.report(diag);
                Typed::error()
            }
        }
    }

    /// A request variable used where there is no request.
    pub(super) fn unavailable(&self, id: &Ident) -> Diagnostic {
        let name = &id.name;
        match self.env.place {
            Place::Const => Diagnostic::error("E014", format!("a const cannot use `{name}`"))
                .with_label(id.span, "not a constant")
                .with_help("consts are computed before any request: use literals and other consts"),
            Place::ImportParam => Diagnostic::error(
                "E024",
                format!("invalid import parameter: a parameter cannot use `{name}`"),
            )
            .with_label(id.span, "not a constant")
            .with_help("parameters are set before any request: use literals and consts"),
            Place::Route => {
                Diagnostic::error("E015", format!("a route resource cannot use `{name}`"))
                    .with_label(id.span, "not a path parameter")
                    .with_help("build the resource from the path parameters, e.g. `Account::{id}`")
            }
            Place::TestData => Diagnostic::error("E020", format!("test data cannot use `{name}`"))
                .with_label(id.span, "not a constant")
                .with_help("write the value itself, e.g. `User::\"alice\"`"),
            Place::Mapping => Diagnostic::error(
                "E003",
                format!("`{name}` is not available in a principal mapping"),
            )
            .with_label(id.span, "not known yet")
            .with_help("a mapping computes the principal from `context`"),
            Place::Rule | Place::Obligation => {
                Diagnostic::error("E003", format!("`{name}` is not available here"))
                    .with_label(id.span, "not available")
            }
        }
    }

    pub(super) fn unknown_variant(&mut self, enum_id: EnumId, id: &Ident) {
        let Some(info) = self.schema.enum_info(enum_id) else {
            return;
        };
        let base = Diagnostic::error(
            "E011",
            format!("unknown variant `{}` of enum `{}`", id.name, info.name),
        )
        .with_label(id.span, format!("not a variant of `{}`", info.name));
        let all = format!("`{}` has: {}", info.name, info.variants.join(", "));
        let diag = with_suggestion(
            base,
            &id.name,
            info.variants.iter().map(String::as_str),
            Some(all),
        );
        self.report(diag);
    }

    /// A bare name that is a variant of exactly one enum (when no type is expected).
    pub(super) fn unique_variant(&mut self, id: &Ident) -> Option<Typed> {
        let owners: Vec<(EnumId, u32)> = (0..self.schema.enums.len())
            .filter_map(|i| {
                let e = EnumId::try_from(i).ok()?;
                Some((e, self.schema.variant_index(e, &id.name)?))
            })
            .collect();
        match owners.as_slice() {
            [] => None,
            [(e, index)] => Some(Typed::value(Type::Enum(*e), Value::Enum(*e, *index))),
            _ => {
                let names: Vec<String> = owners
                    .iter()
                    .map(|(e, _)| {
                        format!(
                            "`{}.{}`",
                            self.schema.enum_info(*e).map_or("?", |i| &i.name),
                            id.name
                        )
                    })
                    .collect();
                let diag = Diagnostic::error("E003", format!("ambiguous name `{}`", id.name))
                    .with_label(id.span, "a variant of several enums")
                    .with_help(format!("qualify it: {}", names.join(" or ")));
                self.report(diag);
                Some(Typed::error())
            }
        }
    }

    pub(super) fn unknown_name(&mut self, id: &Ident) {
        if self.env.place == Place::Route {
            let base = Diagnostic::error("E015", format!("unknown path parameter `{}`", id.name))
                .with_label(id.span, "not a parameter of the path template");
            let params = if self.env.params.is_empty() {
                "the path template has no parameters".to_owned()
            } else {
                format!("the path template has: {}", self.env.params.join(", "))
            };
            let diag = with_suggestion(
                base,
                &id.name,
                self.env.params.iter().map(String::as_str),
                Some(params),
            );
            self.report(diag);
            return;
        }
        let file = self.program.file(self.file);
        if file.is_some_and(|f| f.aliases.contains_key(&id.name)) {
            let diag =
                Diagnostic::error("E003", format!("`{}` is a package, not a value", id.name))
                    .with_label(id.span, "an imported package")
                    .with_help(format!("refer to one of its consts: `{}.NAME`", id.name));
            self.report(diag);
            return;
        }
        let mut candidates: Vec<String> = VARIABLES.iter().map(|v| (*v).to_owned()).collect();
        candidates.extend(self.env.params.iter().cloned());
        candidates.extend(self.consts.names(self.package).map(str::to_owned));
        for e in &self.schema.enums {
            candidates.extend(e.variants.iter().cloned());
        }
        let base = Diagnostic::error("E003", format!("unknown name `{}`", id.name))
            .with_label(id.span, "not a variable, const or enum variant");
        let diag = with_suggestion(
            base,
            &id.name,
            candidates.iter().map(String::as_str),
            Some("names are `principal`, `resource`, `action`, `context`, `now`, consts and enum variants".into()),
        );
        self.report(diag);
    }

    /// `base.name`: an attribute, or `alias.const`, or `Enum.variant`.
    pub(super) fn attr(&mut self, base: &ast::Expr, name: &Ident) -> Typed {
        if let ExprKind::Var(b) = &base.kind {
            if !self.is_value_name(&b.name) {
                let alias = self
                    .program
                    .file(self.file)
                    .and_then(|f| f.aliases.get(&b.name).copied());
                if let Some(pkg) = alias {
                    return self.package_const(pkg, b, name);
                }
                if let Some(enum_id) = self.schema.enum_id(&b.name) {
                    return match self.schema.variant_index(enum_id, &name.name) {
                        Some(index) => {
                            Typed::value(Type::Enum(enum_id), Value::Enum(enum_id, index))
                        }
                        None => {
                            self.unknown_variant(enum_id, name);
                            Typed::error()
                        }
                    };
                }
            }
        }
        let base_typed = self.check(base, None);
        self.attr_of(base, base_typed, name)
    }

    pub(super) fn package_const(&mut self, pkg: PackageId, alias: &Ident, name: &Ident) -> Typed {
        if let Some(entry) = self.consts.get(pkg, &name.name) {
            return match &entry.value {
                Some((ty, v)) => Typed::value(ty.clone(), v.clone()),
                None => Typed::error(),
            };
        }
        let package = self.program.packages.name(pkg).to_owned();
        let base = Diagnostic::error(
            "E003",
            format!("package `{package}` has no const `{}`", name.name),
        )
        .with_label(name.span, format!("not a const of `{}`", alias.name));
        let names: Vec<&str> = self.consts.names(pkg).collect();
        let diag = with_suggestion(base, &name.name, names, None);
        self.report(diag);
        Typed::error()
    }
}
