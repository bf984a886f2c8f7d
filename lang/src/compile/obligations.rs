//! Obligations: what an allow decision asks the enforcer to do (E016 for values it could
//! not carry out).

use rampart_engine::bundle::{self as ir, Expr, SourceLoc};
use rampart_engine::Value;

use super::ids::meta;
use super::rules::anonymous_allowed;
use super::session::Session;
use crate::ast::{self, Item, ObligationKind, Span, StrLit};
use crate::check::expr::{Env, Place};
use crate::check::scope::{self, ScopeRole};
use crate::check::types::Type;
use crate::check::{FileId, Loc};
use crate::diagnostics::Diagnostic;

/// A compiled obligation with its source.
pub(crate) struct ObligationItem<'p> {
    pub file: FileId,
    pub ast: &'p ast::Obligation,
    pub obligation: ir::Obligation,
    pub id_span: Span,
}

/// Compiles every obligation of the program, in file and source order.
pub(crate) fn compile_all<'p>(session: &mut Session<'p>) -> Vec<ObligationItem<'p>> {
    let program = session.program;
    let anonymous = anonymous_allowed(session);
    let mut out = Vec::new();
    for (file_id, file) in program.files.iter().enumerate() {
        for item in &file.ast.items {
            if let Item::Obligation(o) = item {
                if let Some(compiled) = compile_one(session, file_id, file.package, o, anonymous) {
                    out.push(compiled);
                }
            }
        }
    }
    out
}

fn compile_one<'p>(
    session: &mut Session<'p>,
    file: FileId,
    package: u32,
    o: &'p ast::Obligation,
    anonymous_allowed: bool,
) -> Option<ObligationItem<'p>> {
    let meta = meta(session, file, &o.annotations);
    let mut local = Vec::new();
    let scope = scope::resolve(
        session.schema,
        &o.scope,
        ScopeRole::Obligation { anonymous_allowed },
        &mut local,
    );
    session.report_all(file, local);
    let env = Env::request(
        Place::Obligation,
        scope.principal,
        scope.resource,
        scope.context,
    );
    let when = o
        .when
        .as_ref()
        .map(|e| session.condition(file, &env, e))
        .unwrap_or_default();
    let unless = o.unless.as_ref().map(|e| session.condition(file, &env, e));
    let kind = kind(session, file, &env, &o.kind)?;
    let (name, line) = session.program.line_of(Loc { file, span: o.span });
    let id_span = meta.id.as_ref().map_or(o.span, |(_, s)| *s);
    Some(ObligationItem {
        file,
        ast: o,
        obligation: ir::Obligation {
            id: meta.id.map(|(id, _)| id).unwrap_or_default(),
            package,
            scope: scope.ir,
            when,
            unless,
            kind,
            controls: meta.controls,
            annotations: meta.annotations,
            source: Some(SourceLoc { file: name, line }),
        },
        id_span,
    })
}

fn kind(
    session: &mut Session<'_>,
    file: FileId,
    env: &Env,
    kind: &ObligationKind,
) -> Option<ir::ObligationKind> {
    match kind {
        ObligationKind::Mask { fields } => {
            for f in fields {
                if f.value.is_empty() || f.value.split('.').any(str::is_empty) {
                    let diag =
                        Diagnostic::error("E016", format!("invalid mask field `{}`", f.value))
                            .with_label(f.span, "empty field name")
                            .with_help("a mask field is a dotted path of names, e.g. `card.pan`");
                    session.report(file, diag);
                }
            }
            Some(ir::ObligationKind::Mask {
                fields: fields.iter().map(|f| f.value.clone()).collect(),
            })
        }
        ObligationKind::RateLimit {
            limit,
            limit_span,
            per,
            by,
        } => {
            if *limit == 0 {
                let diag = Diagnostic::error("E016", "rate limit of zero")
                    .with_label(*limit_span, "allows no request")
                    .with_help("to refuse requests write a `deny` rule");
                session.report(file, diag);
            }
            let per_ms = period(session, file, env, per);
            let key = match by {
                Some(e) => single_value(session, file, env, e, "rate limit key"),
                None => Expr::Principal,
            };
            Some(ir::ObligationKind::RateLimit {
                limit: *limit,
                per_ms: per_ms?,
                key,
            })
        }
        ObligationKind::RequestHeader { name, value } => {
            header_name(session, file, name);
            let value = single_value(session, file, env, value, "header value");
            Some(ir::ObligationKind::RequestHeader {
                name: name.value.clone(),
                value,
            })
        }
        ObligationKind::ResponseHeader { name, value } => {
            header_name(session, file, name);
            let value = single_value(session, file, env, value, "header value");
            Some(ir::ObligationKind::ResponseHeader {
                name: name.value.clone(),
                value,
            })
        }
        ObligationKind::RemoveHeader { name } => {
            header_name(session, file, name);
            Some(ir::ObligationKind::RemoveHeader {
                name: name.value.clone(),
            })
        }
    }
}

/// The rate-limit period in milliseconds: a constant, positive, whole number of seconds.
fn period(session: &mut Session<'_>, file: FileId, env: &Env, per: &ast::Expr) -> Option<i64> {
    let typed = {
        let mut cx = session.cx(file, env);
        let t = cx.check(per, Some(&Type::Duration));
        cx.expect(t, &Type::Duration, per.span)
    };
    match typed.ir {
        Expr::Const(Value::Duration(ms)) if ms > 0 && ms % 1000 == 0 => Some(ms),
        Expr::Const(Value::Duration(ms)) => {
            let why = if ms <= 0 {
                "must be longer than zero"
            } else {
                "is not a whole number of seconds"
            };
            let diag =
                Diagnostic::error("E016", format!("invalid rate limit period: {ms}ms {why}"))
                    .with_label(per.span, why)
                    .with_help("rate limit periods are whole seconds, e.g. `per 1s`, `per 1m`");
            session.report(file, diag);
            None
        }
        _ if typed.ty.is_error() => None,
        _ => {
            let diag = Diagnostic::error("E016", "rate limit period must be a constant duration")
                .with_label(per.span, "known only at request time")
                .with_help("write a duration literal, e.g. `per 1m`");
            session.report(file, diag);
            None
        }
    }
}

/// A key or header value: one scalar or entity, not a set, record or map.
fn single_value(
    session: &mut Session<'_>,
    file: FileId,
    env: &Env,
    e: &ast::Expr,
    what: &str,
) -> Expr {
    let typed = session.cx(file, env).check(e, None);
    if matches!(typed.ty, Type::Set(_) | Type::Record(_) | Type::Map(_)) {
        let found = session.schema.describe(&typed.ty);
        let diag = Diagnostic::error(
            "E016",
            format!("a {what} must be a single value, found {found}"),
        )
        .with_label(e.span, format!("this is {found}"))
        .with_help("use a String, a number, an entity or another single value");
        session.report(file, diag);
    }
    typed.ir
}

/// HTTP header names are tokens (RFC 9110): letters, digits and ``!#$%&'*+-.^_`|~``.
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

fn header_name(session: &mut Session<'_>, file: FileId, name: &StrLit) {
    if !is_header_name(&name.value) {
        let diag = Diagnostic::error("E016", format!("invalid header name `{}`", name.value))
            .with_label(name.span, "not a valid HTTP header name")
            .with_help("header names are letters, digits and `-`, e.g. `x-user-id`");
        session.report(file, diag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_http_tokens() {
        assert!(is_header_name("x-user-id"));
        assert!(is_header_name("Cache-Control"));
        assert!(!is_header_name("x user"));
        assert!(!is_header_name(""));
        assert!(!is_header_name("x:y"));
    }
}
