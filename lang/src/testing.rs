//! `test` blocks compiled to [`TestCase`]s: the request in the JSON form `rampart eval`
//! reads, the entities to load, and the expected decision. Test data is type-checked
//! against the schema like any expression (E020 for what makes a test unable to run).

mod json;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde_json::{json, Map, Value as Json};

use rampart_engine::Value;

use crate::ast::{self, ExprKind, Item, Span, TestEntities, TestRequest};
use crate::check::expr::{Env, Place};
use crate::check::types::{RecordTy, Type};
use crate::check::{with_suggestion, FileId, Loc};
use crate::compile::Session;
use crate::diagnostics::Diagnostic;

/// One compiled `test` block.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub name: String,
    /// Display name of the file.
    pub file: String,
    /// 1-based line of the `test` keyword.
    pub line: u32,
    /// The request in the Request JSON form (exactly what `rampart eval` reads).
    pub request: Json,
    /// `entities` files, resolved relative to the folder of the `.rampart` file. Empty
    /// together with `inline_entities`: use the policy folder's `entities.json`, if any.
    pub entity_files: Vec<PathBuf>,
    /// `entity` lines, as Cedar entity JSON objects.
    pub inline_entities: Vec<Json>,
    pub expect_allow: bool,
    /// `by [...]`: the exact set of deciding rule ids.
    pub expect_rules: Option<Vec<String>>,
}

/// Compiles the tests of the policy set's own files (imported stdlib tests are not run).
pub(crate) fn compile_tests(
    session: &mut Session<'_>,
    rule_ids: &HashSet<String>,
) -> Vec<TestCase> {
    let program = session.program;
    let mut out = Vec::new();
    for (file_id, file) in program.files.iter().enumerate() {
        if file.from_stdlib {
            continue;
        }
        let mut names: HashMap<&str, Loc> = HashMap::new();
        for item in &file.ast.items {
            let Item::Test(test) = item else { continue };
            let here = Loc {
                file: file_id,
                span: test.name.span,
            };
            if let Some(first) = names.get(test.name.value.as_str()) {
                let msg = format!("duplicate test name `{}`", test.name.value);
                session
                    .diags
                    .push(crate::check::duplicate(program, "E020", msg, here, *first));
            } else {
                names.insert(&test.name.value, here);
            }
            if let Some(case) = compile_test(session, file_id, test, rule_ids) {
                out.push(case);
            }
        }
    }
    out
}

fn compile_test(
    session: &mut Session<'_>,
    file: FileId,
    test: &ast::Test,
    rule_ids: &HashSet<String>,
) -> Option<TestCase> {
    let before = session.diags.len();
    let request = request(session, file, &test.request);
    let mut entity_files = Vec::new();
    let mut inline_entities = Vec::new();
    for entities in &test.entities {
        match entities {
            TestEntities::File(path) => entity_files.extend(entity_file(session, file, path)),
            TestEntities::Inline {
                uid,
                attrs,
                parents,
                span,
            } => {
                inline_entities.extend(inline_entity(
                    session,
                    file,
                    uid,
                    attrs.as_ref(),
                    parents,
                    *span,
                ));
            }
        }
    }
    if let Some(ids) = &test.expect.rules {
        for id in ids {
            if !rule_ids.contains(&id.value) {
                let base = Diagnostic::error("E020", format!("no rule has id `{}`", id.value))
                    .with_label(id.span, "not a rule id of the policy set");
                let diag =
                    with_suggestion(base, &id.value, rule_ids.iter().map(String::as_str), None);
                session.report(file, diag);
            }
        }
    }
    if session.diags.len() > before {
        return None;
    }
    let source = &session.program.file(file)?.source;
    Some(TestCase {
        name: test.name.value.clone(),
        file: source.name().to_owned(),
        line: source.line_col(test.span.start).0,
        request: request?,
        entity_files,
        inline_entities,
        expect_allow: test.expect.allow,
        expect_rules: test
            .expect
            .rules
            .as_ref()
            .map(|ids| ids.iter().map(|s| s.value.clone()).collect()),
    })
}

/// A constant of the expected type, or `None` (reported).
fn data(session: &mut Session<'_>, file: FileId, e: &ast::Expr, expected: &Type) -> Option<Value> {
    let env = Env::constant(Place::TestData);
    let typed = {
        let mut cx = session.cx(file, &env);
        let t = cx.check(e, Some(expected));
        cx.expect(t, expected, e.span)
    };
    match typed.ir {
        _ if typed.ty.is_error() => None,
        rampart_engine::bundle::Expr::Const(v) => Some(v),
        _ => {
            let diag = Diagnostic::error("E020", "test data must be constant")
                .with_label(e.span, "not a constant")
                .with_help("write literal values in tests");
            session.report(file, diag);
            None
        }
    }
}

fn to_json(session: &Session<'_>, v: &Value) -> Json {
    json::to_json(v, session.schema, &session.symbols)
}

fn entity(session: &mut Session<'_>, file: FileId, e: &ast::Expr) -> Option<Json> {
    let v = data(session, file, e, &Type::Entity(Vec::new()))?;
    Some(to_json(session, &v))
}

fn request(session: &mut Session<'_>, file: FileId, request: &TestRequest) -> Option<Json> {
    let mut out = Map::new();
    let mut ok = true;
    match request {
        TestRequest::Parts {
            principal,
            action,
            resource,
            context,
            ..
        } => {
            let action_id = session.schema.action_id(&action.value);
            if action_id.is_none() {
                let diag = crate::check::schema::unknown_action(
                    session.schema,
                    &action.value,
                    action.span,
                );
                session.report(file, diag);
                ok = false;
            }
            if let Some(p) = principal {
                match entity(session, file, p) {
                    Some(j) => drop(out.insert("principal".into(), j)),
                    None => ok = false,
                }
            }
            out.insert("action".into(), Json::String(action.value.clone()));
            match entity(session, file, resource) {
                Some(j) => drop(out.insert("resource".into(), j)),
                None => ok = false,
            }
            if let Some(c) = context {
                let ty = context_type(session, action_id);
                match data(session, file, c, &ty) {
                    Some(v) => drop(out.insert("context".into(), to_json(session, &v))),
                    None => ok = false,
                }
            }
        }
        TestRequest::Http {
            method,
            path,
            principal,
            headers,
            context,
            ..
        } => {
            let upper = method.name.to_ascii_uppercase();
            if !crate::compile::text::is_http_method(&upper) {
                let diag =
                    Diagnostic::error("E020", format!("unknown HTTP method `{}`", method.name))
                        .with_label(method.span, "not an HTTP method");
                session.report(file, diag);
                ok = false;
            }
            if !path.value.starts_with('/') {
                let diag =
                    Diagnostic::error("E020", format!("invalid request path `{}`", path.value))
                        .with_label(path.span, "a path starts with `/`");
                session.report(file, diag);
                ok = false;
            }
            let headers = match headers {
                Some(h) => match data(session, file, h, &Type::Map(Box::new(Type::String))) {
                    Some(v) => to_json(session, &v),
                    None => {
                        ok = false;
                        Json::Null
                    }
                },
                None => json!({}),
            };
            out.insert(
                "http".into(),
                json!({"method": upper, "path": path.value, "headers": headers}),
            );
            if let Some(p) = principal {
                match entity(session, file, p) {
                    Some(j) => drop(out.insert("principal".into(), j)),
                    None => ok = false,
                }
            }
            if let Some(c) = context {
                let ty = Type::Record(session.schema.context.clone());
                match data(session, file, c, &ty) {
                    Some(v) => drop(out.insert("context".into(), to_json(session, &v))),
                    None => ok = false,
                }
            }
        }
    }
    ok.then_some(Json::Object(out))
}

/// The request context of an action: the schema's context plus the action's fields.
fn context_type(session: &Session<'_>, action: Option<u32>) -> Type {
    let base = session.schema.context.clone();
    let Some(info) = action.and_then(|a| session.schema.action(a)) else {
        return Type::Record(base);
    };
    if info.context.fields.is_empty() {
        return Type::Record(base);
    }
    let mut fields = base.fields.clone();
    for (name, f) in &info.context.fields {
        fields.entry(name.clone()).or_insert_with(|| f.clone());
    }
    Type::Record(std::rc::Rc::new(RecordTy { fields }))
}

fn entity_file(session: &mut Session<'_>, file: FileId, path: &ast::StrLit) -> Option<PathBuf> {
    let source = &session.program.file(file)?.source;
    let folder = source
        .path()
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let full = folder.join(&path.value);
    if full.is_file() {
        return Some(full);
    }
    let diag = Diagnostic::error(
        "E020",
        format!("entities file `{}` does not exist", path.value),
    )
    .with_label(path.span, "no such file")
    .with_help(format!(
        "paths are relative to the folder of `{}`",
        source.name()
    ));
    session.report(file, diag);
    None
}

fn inline_entity(
    session: &mut Session<'_>,
    file: FileId,
    uid: &ast::Expr,
    attrs: Option<&ast::Expr>,
    parents: &[ast::Expr],
    span: Span,
) -> Option<Json> {
    let uid_value = data(session, file, uid, &Type::Entity(Vec::new()))?;
    let Value::Entity(uid_entity) = &uid_value else {
        return None;
    };
    let info = session.schema.entity(uid_entity.ty)?;
    let type_name = info.name.clone();
    let attrs_ty = Type::Record(info.attrs.clone());
    let declared_parents = info.parents.clone();
    let written: Vec<&str> = match attrs.map(|a| &a.kind) {
        Some(ExprKind::Record(fields)) => fields.iter().map(|(k, _)| k.value.as_str()).collect(),
        _ => Vec::new(),
    };
    let missing: Vec<&str> = info
        .attrs
        .fields
        .iter()
        .filter(|(n, f)| !f.optional && !written.contains(&n.as_str()))
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() {
        let diag = Diagnostic::error(
            "E020",
            format!(
                "entity `{type_name}::{:?}` lacks required attributes: {}",
                &*uid_entity.id,
                missing.join(", ")
            ),
        )
        .with_label(attrs.map_or(span, |a| a.span), "missing attributes")
        .with_help("give every attribute the schema does not mark optional (`name?: Type`)");
        session.report(file, diag);
        return None;
    }
    let attrs_json = match attrs {
        Some(a) => {
            let value = data(session, file, a, &attrs_ty)?;
            to_json(session, &value)
        }
        None => json!({}),
    };
    let mut parents_json = Vec::new();
    for p in parents {
        let parent = data(session, file, p, &Type::Entity(Vec::new()))?;
        if let Value::Entity(pe) = &parent {
            if !declared_parents.contains(&pe.ty) {
                let wanted = Type::Entity(declared_parents.clone());
                let want = if declared_parents.is_empty() {
                    "no parent".to_owned()
                } else {
                    session.schema.describe(&wanted)
                };
                let found = session.schema.describe(&Type::entity(pe.ty));
                let diag = Diagnostic::error(
                    "E006",
                    format!("type mismatch: expected {want}, found {found}"),
                )
                .with_label(
                    p.span,
                    format!("`{type_name}` cannot have a `{found}` parent"),
                )
                .with_help(format!(
                    "parents of `{type_name}` are declared with `entity {type_name} in [...]`"
                ));
                session.report(file, diag);
                return None;
            }
        }
        parents_json.push(to_json(session, &parent));
    }
    Some(json!({"uid": to_json(session, &uid_value), "attrs": attrs_json, "parents": parents_json}))
}
