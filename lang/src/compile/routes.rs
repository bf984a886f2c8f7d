//! Routes: HTTP method and path template → action and resource (E015).

use std::collections::HashMap;

use rampart_engine::bundle::{self as ir, Segment};

use super::session::Session;
use crate::ast::{self, ExprKind, Item};
use crate::check::expr::Env;
use crate::check::types::Type;
use crate::check::{did_you_mean, duplicate, FileId, Loc};
use crate::diagnostics::Diagnostic;

/// The HTTP methods a route may name (`*` is any).
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Compiles every route of the program.
pub(crate) fn compile_all(session: &mut Session<'_>) -> Vec<ir::Route> {
    let program = session.program;
    let mut seen: HashMap<String, Loc> = HashMap::new();
    let mut out = Vec::new();
    for (file_id, file) in program.files.iter().enumerate() {
        for item in &file.ast.items {
            if let Item::Route(route) = item {
                if let Some(r) = compile_route(session, file_id, file.package, route, &mut seen) {
                    out.push(r);
                }
            }
        }
    }
    out
}

fn compile_route(
    session: &mut Session<'_>,
    file: FileId,
    package: u32,
    route: &ast::Route,
    seen: &mut HashMap<String, Loc>,
) -> Option<ir::Route> {
    let method = method(session, file, &route.method);
    let template = match parse_template(&route.path.value) {
        Ok(t) => Some(t),
        Err(why) => {
            let diag = Diagnostic::error(
                "E015",
                format!("invalid path template `{}`", route.path.value),
            )
            .with_label(route.path.span, why)
            .with_help("templates look like `/v1/accounts/{id}` or `/files/{path*}`");
            session.report(file, diag);
            None
        }
    };
    let action = session.schema.action_id(&route.action.value);
    if action.is_none() {
        let diag = crate::check::schema::unknown_action(
            session.schema,
            &route.action.value,
            route.action.span,
        );
        session.report(file, diag);
    }
    // A bad template has no parameters to check the resource against: stop here.
    let (segments, params) = template?;
    let method = method?;
    let shape_key = format!("{} {}", method.as_deref().unwrap_or("*"), shape(&segments));
    let here = Loc {
        file,
        span: route.span,
    };
    if let Some(first) = seen.get(&shape_key) {
        let msg = format!(
            "duplicate route `{} {}`",
            route.method.name, route.path.value
        );
        session
            .diags
            .push(duplicate(session.program, "E015", msg, here, *first));
    } else {
        seen.insert(shape_key, here);
    }
    let resource = resource(session, file, route, params.clone(), action)?;
    Some(ir::Route {
        method,
        segments,
        action: action?,
        resource,
        params,
        package,
        template: route.path.value.clone(),
    })
}

/// `Some(None)` for `*`, `Some(Some(m))` for a known method, `None` (reported) otherwise.
fn method(session: &mut Session<'_>, file: FileId, m: &ast::Ident) -> Option<Option<String>> {
    if m.name == "*" {
        return Some(None);
    }
    let upper = m.name.to_ascii_uppercase();
    if METHODS.contains(&upper.as_str()) {
        return Some(Some(upper));
    }
    let diag = Diagnostic::error("E015", format!("unknown HTTP method `{}`", m.name))
        .with_label(m.span, "not an HTTP method");
    let help = did_you_mean(&upper, METHODS)
        .unwrap_or_else(|| format!("methods are {} or `*`", METHODS.join(", ")));
    session.report(file, diag.with_help(help));
    None
}

fn resource(
    session: &mut Session<'_>,
    file: FileId,
    route: &ast::Route,
    params: Vec<String>,
    action: Option<u32>,
) -> Option<ir::Expr> {
    if !matches!(
        route.resource.kind,
        ExprKind::EntityRef { .. } | ExprKind::EntityCtor { .. }
    ) {
        let diag = Diagnostic::error("E015", "a route resource is an entity")
            .with_label(route.resource.span, "not an entity")
            .with_help("write `Type::{param}` or `Type::\"id\"`");
        session.report(file, diag);
        return None;
    }
    let env = Env::route(params);
    let typed = session.cx(file, &env).check(&route.resource, None);
    let Type::Entity(ids) = &typed.ty else {
        return None;
    };
    let (Some(ty), Some(action)) = (ids.first(), action) else {
        return Some(typed.ir);
    };
    let info = session.schema.action(action)?;
    if let Some(allowed) = &info.resources {
        if !allowed.contains(ty) {
            let type_name = session.schema.describe(&typed.ty);
            let names: Vec<String> = allowed
                .iter()
                .filter_map(|t| session.schema.entity(*t))
                .map(|e| format!("`{}`", e.name))
                .collect();
            let diag = Diagnostic::error(
                "E015",
                format!("action `{}` is not declared on `{type_name}`", info.name),
            )
            .with_label(route.resource.span, "wrong resource type for this action")
            .with_help(format!(
                "`{}` is declared on {}",
                info.name,
                names.join(", ")
            ));
            session.report(file, diag);
            return None;
        }
    }
    Some(typed.ir)
}

/// The template's shape, parameters unnamed: two routes with the same shape collide.
fn shape(segments: &[Segment]) -> String {
    let parts: Vec<String> = segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => l.clone(),
            Segment::Param(_) => "{}".to_owned(),
            Segment::Rest(_) => "{*}".to_owned(),
        })
        .collect();
    format!("/{}", parts.join("/"))
}

/// Splits a path template into segments and parameter names.
pub fn parse_template(path: &str) -> Result<(Vec<Segment>, Vec<String>), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("a path template starts with `/`".into());
    };
    if path.contains('?') || path.contains('#') {
        return Err("a path template has no query string or fragment".into());
    }
    let mut segments = Vec::new();
    let mut params: Vec<String> = Vec::new();
    if rest.is_empty() {
        return Ok((segments, params));
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err("empty segment (`//` or a trailing `/`)".into());
        }
        let Some(inner) = part.strip_prefix('{') else {
            if part.contains('{') || part.contains('}') {
                return Err(format!(
                    "`{part}`: a parameter is a whole segment, like `{{id}}`"
                ));
            }
            segments.push(Segment::Literal((*part).to_owned()));
            continue;
        };
        let Some(inner) = inner.strip_suffix('}') else {
            return Err(format!(
                "`{part}`: a parameter is a whole segment, like `{{id}}`"
            ));
        };
        let (name, is_rest) = match inner.strip_suffix('*') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if !crate::fmt::is_identifier(name) {
            return Err(format!("invalid parameter name `{name}`"));
        }
        if params.iter().any(|p| p == name) {
            return Err(format!("parameter `{name}` appears twice"));
        }
        if is_rest && i != last {
            return Err(format!(
                "the rest parameter `{{{name}*}}` must be the last segment"
            ));
        }
        let index = u32::try_from(params.len()).unwrap_or(u32::MAX);
        segments.push(if is_rest {
            Segment::Rest(index)
        } else {
            Segment::Param(index)
        });
        params.push(name.to_owned());
    }
    Ok((segments, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_templates() {
        let (segs, params) = parse_template("/v1/accounts/{id}/files/{path*}").unwrap_or_default();
        assert_eq!(
            segs,
            vec![
                Segment::Literal("v1".into()),
                Segment::Literal("accounts".into()),
                Segment::Param(0),
                Segment::Literal("files".into()),
                Segment::Rest(1)
            ]
        );
        assert_eq!(params, vec!["id".to_owned(), "path".to_owned()]);
        assert_eq!(parse_template("/"), Ok((Vec::new(), Vec::new())));
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "v1",
            "/v1//x",
            "/v1/",
            "/{a}/{a}",
            "/{rest*}/x",
            "/x{id}",
            "/{1x}",
            "/a?b=1",
            "/{id",
        ] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
    }
}
